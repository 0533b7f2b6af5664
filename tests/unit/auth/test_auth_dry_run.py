"""What a test sign-in tells the IT admin to change (auth.sso.dry_run), in each IdP console's
own words: Entra's "Add a group claim" and Okta's "Group Attribute Statements" for SAML, a
role name the account does not know (Torque rule 3: Space Member is given instead), an IANA
timezone, and a domain the connection does not serve (nOAuth: refused)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from auth.sso import dry_run
from auth.sso.identity import Identity
from auth.sso.models import Connection, SamlConfig
from auth.sso.saml.presets import ENTRA_GROUPS, SAML_MAPPINGS
from idmesh.directory.v1 import directory_pb2


def _saml(vendor: str) -> Connection:
    now = datetime.now(UTC)
    return Connection(
        id=uuid.uuid4(), account_id=uuid.uuid4(), name="c", display_name="C", protocol="saml",
        domains=("acme.test",), mapping=SAML_MAPPINGS[vendor], provisioning_policy="create_users",
        profile_update="first_login", default_space="Trial", default_space_role="",
        enabled=False, created_by="", create_time=now, update_time=now, version=1, oidc=None,
        saml=SamlConfig(idp_entity_id="idp", sso_url="https://idp/sso", certificates=("x",),
                        sp_entity_id="https://sp/md", acs_url="https://sp/acs", vendor=vendor),
    )  # fmt: skip


def _identity(**fields: object) -> Identity:
    base: dict[str, object] = {
        "subject": "idp|ada", "email": "ada@acme.test", "email_verified": True,
        "given_name": "", "family_name": "", "display_name": "", "timezone": "",
        "spaces_present": False, "space_names": (), "space_roles": (), "sync_groups": True,
        "groups": (), "groups_overage": False,
    }  # fmt: skip
    return Identity(**{**base, **fields})  # type: ignore[arg-type]


def _settings(result: dict[str, object]) -> str:
    fixes = result["fixes"]
    assert isinstance(fixes, list)
    return " | ".join(f"{f['problem']} {f['setting']}" for f in fixes)


def test_entra_saml_without_groups_names_add_a_group_claim() -> None:
    result = dry_run.outcome(
        _saml("azure_ad"), _identity(), {"space_name": "Trial"},
        directory_pb2.ProvisionLoginResponse(created=True, user=directory_pb2.User(id="u")),
    )  # fmt: skip
    text = _settings(result)
    assert ENTRA_GROUPS in text
    assert "Attributes & Claims → Add a group claim" in text
    assert result["outcome"] == "new_user"


def test_okta_saml_unknown_role_and_timezone_name_the_user_attribute() -> None:
    claims = {"groups": ["devs"], "space_name": "DevOps", "space_role": "Wizard"}
    response = directory_pb2.ProvisionLoginResponse(
        linked=True, user=directory_pb2.User(id="u", user_name="ada@acme.test"),
        unknown_roles=["Wizard"], timezone_ignored=True,
        spaces=[directory_pb2.LoginSpaceGrant(space_name="DevOps", role_name="Space Member")],
    )  # fmt: skip
    result = dry_run.outcome(_saml("okta"), _identity(timezone="Mars/Base"), claims, response)
    text = _settings(result)
    assert '"Wizard"' in text
    assert "Space Member would be given" in text
    assert "Directory → People" in text
    assert '"Mars/Base" is not an IANA name' in text
    assert "Group Attribute Statements" not in text  # the groups attribute arrived
    assert result["outcome"] == "link_existing_user"
    assert result["existing_user_id"] == "u"


def test_a_domain_not_served_names_the_entra_email_source_and_the_domains_step() -> None:
    result = dry_run.refused(
        _saml("azure_ad"), _identity(email="ada@elsewhere.test"), {ENTRA_GROUPS: ["g"]},
        "email_domain_not_served", "the email's domain is not served",
    )  # fmt: skip
    assert result["outcome"] == "refused"
    text = _settings(result)
    assert "user.mail" in text
    assert "acme.test" in text
    assert "Domains step" in text
