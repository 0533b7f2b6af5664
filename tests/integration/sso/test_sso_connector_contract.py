"""The connector contract: every login case runs once per connector (OIDC, SAML) through the
real gateway and must give the same result, because both connectors hand an Identity to the one
login pipeline (auth.sso.connector, auth.sso.pipeline): a valid login signs in, an answer signed
by a key the connection does not trust is refused, an email outside the verified domains the
connection serves links and creates no one (nOAuth), a deactivated user is refused, and the
Torque guide's six space rules, timezone and group sync apply alike."""

from __future__ import annotations

import base64
import uuid
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwk
from lxml import etree

from idmesh.auth.v1 import auth_pb2
from idmesh.directory.v1 import directory_pb2
from tests.idps.oidc import tokens
from tests.idps.oidc.fake_idp import FakeIdp, Grant, signed_token
from tests.idps.saml.metadata import idp_metadata
from tests.idps.saml.responses import KeyPair, ResponseSpec, build, encode, sign
from tests.integration.sso.harness import Tenant, browser, create_space, last_trace, verify_domain
from tests.integration.sso.test_saml_through_the_gateway import IDP, IDP_KEYS
from tests.integration.sso.test_sso_login_flow import login
from tests.support.directory import ADMIN, Stub, new_account, new_group

if TYPE_CHECKING:
    from idmesh.auth.v1.auth_pb2_grpc import AuthServiceAsyncStub

pytestmark = pytest.mark.integration

Claims = dict[str, Any]
# Keys with the names and kids the connections trust, and other key material.
STRANGER_KEYS = KeyPair.generate("idp.acme.test")
STRANGER_JWK = tokens.SigningKey("k1", "RS256", jwk.RSAKey.generate_key(2048, private=True))


def _signed_by_stranger(idp: FakeIdp, grant: Grant) -> str:
    claims = {"email_domain": idp.email_domain, **grant.claims}
    return tokens.sign(tokens.claims(idp.issuer, grant.client_id, grant.nonce, **claims),
                       STRANGER_JWK)  # fmt: skip


@dataclass
class Made:
    account_id: str
    domain: str
    # sign_in(login, claims, email=…, stranger=…): the status of the login's last answer; the
    # email defaults to <login>@<domain>; ``stranger`` signs the IdP's answer with a key the
    # connection does not trust.
    sign_in: Callable[..., Awaitable[int]]


async def _saml_tenant(auth: AuthServiceAsyncStub, directory: Stub, gateway_url: str) -> Made:
    account = await new_account(directory)
    domain = f"s{uuid.uuid4().hex[:10]}.test"
    await verify_domain(directory, account.id, domain)
    created = await auth.CreateSamlConnection(
        auth_pb2.CreateSamlConnectionRequest(
            connection=auth_pb2.Connection(
                account_id=account.id, domains=[domain],
                profile_update=auth_pb2.PROFILE_UPDATE_EVERY_LOGIN,
                saml=auth_pb2.SamlSettings(
                    metadata_xml=idp_metadata(IDP, IDP_KEYS), vendor=auth_pb2.SAML_VENDOR_OKTA
                ),
            ),
            public_url=gateway_url,
        )
    )  # fmt: skip
    connection = created.connection

    async def sign_in(
        login_name: str, claims: Claims, *, email: str = "", stranger: bool = False
    ) -> int:
        email = email or f"{login_name}@{domain}"
        attributes = {"email": [email]}
        for name, value in claims.items():
            attributes[name] = value if isinstance(value, list) else [value]
        async with browser() as client:
            async with client.get(
                f"{gateway_url}/sso/saml/{connection.id}/start", allow_redirects=False
            ) as started:
                query = parse_qs(urlsplit(started.headers["Location"]).query)
            raw = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15)
            spec = ResponseSpec(
                acs_url=connection.saml.acs_url, audience=connection.saml.sp_entity_id,
                issuer=IDP, request_id=etree.fromstring(raw).get("ID"), name_id=email,
                attributes=attributes,
            )  # fmt: skip
            async with client.post(
                connection.saml.acs_url,
                data={"SAMLResponse": encode(sign(build(spec),
                                                  STRANGER_KEYS if stranger else IDP_KEYS)),
                      "RelayState": query["RelayState"][0]},
                allow_redirects=False,
            ) as response:  # fmt: skip
                return response.status

    return Made(account.id, domain, sign_in)


@pytest.fixture(params=["oidc", "saml"])
def make_tenant(
    request: pytest.FixtureRequest,
    tenant: Callable[..., Any],
    idp: FakeIdp,
    auth: AuthServiceAsyncStub,
    directory: Stub,
    gateway_url: str,
) -> Callable[[], Awaitable[Made]]:
    """A new account with one connection of the parametrised protocol, and how to sign a
    user in through it with given claims / attributes."""

    async def make() -> Made:
        if request.param == "saml":
            return await _saml_tenant(auth, directory, gateway_url)
        made: Tenant = await tenant(profile_update=auth_pb2.PROFILE_UPDATE_EVERY_LOGIN)

        async def sign_in(
            login_name: str, claims: Claims, *, email: str = "", stranger: bool = False
        ) -> int:
            idp.users[login_name] = {
                "subject": login_name, "email": email or f"{login_name}@{made.domain}", **claims
            }  # fmt: skip
            if stranger:
                idp.forge = _signed_by_stranger
            client, response = await login(gateway_url, made, login_hint=login_name)
            idp.forge = signed_token
            await client.close()
            return response.status

        return Made(made.account_id, made.domain, sign_in)

    return make


async def test_the_six_space_and_role_rules_apply_alike(
    make_tenant: Callable[[], Awaitable[Made]], directory: Stub, auth: AuthServiceAsyncStub
) -> None:
    """Rules 2, 3, 4, 5 and 6 in one login: spaces paired with roles by position."""
    made = await make_tenant()
    for name in ("DevOps", "QA", "Docs"):
        await create_space(directory, made.account_id, name)
    claims = {
        "space_name": "DevOps,QA,Nowhere,Docs",
        "space_role": "Space Developer,Bogus Role,Space Admin",
    }
    assert await made.sign_in("ada", claims) == 303
    detail = (await last_trace(auth, made.account_id)).detail
    assert "DevOps: Space Developer" in detail
    assert "QA: Space Member" in detail  # rule 3: unknown role
    assert "Docs: Space Member" in detail  # rule 4: more spaces than roles
    assert "unknown spaces ignored: Nowhere" in detail  # rule 6 (its role ignored too)
    assert "unknown roles (Space Member given): Bogus Role" in detail


async def test_one_role_for_several_spaces_applies_to_each(
    make_tenant: Callable[[], Awaitable[Made]], directory: Stub, auth: AuthServiceAsyncStub
) -> None:
    """Rule 1: several spaces and a single role."""
    made = await make_tenant()
    for name in ("Alpha", "Beta"):
        await create_space(directory, made.account_id, name)
    claims = {"space_name": "Alpha,Beta", "space_role": "Space Admin"}
    assert await made.sign_in("bo", claims) == 303
    detail = (await last_trace(auth, made.account_id)).detail
    assert "Alpha: Space Admin" in detail
    assert "Beta: Space Admin" in detail


async def test_a_valid_timezone_is_set_and_an_invalid_one_ignored(
    make_tenant: Callable[[], Awaitable[Made]], directory: Stub, auth: AuthServiceAsyncStub
) -> None:
    """docs/architecture.md: the timezone attribute sets the user's timezone when it is IANA."""
    made = await make_tenant()
    assert await made.sign_in("cy", {"timezone": "Europe/London"}) == 303
    users = await directory.ListUsers(directory_pb2.ListUsersRequest(account_id=made.account_id))
    assert [u.timezone for u in users.users] == ["Europe/London"]
    assert await made.sign_in("cy", {"timezone": "Mars/Olympus_Mons"}) == 303
    assert "timezone ignored" in (await last_trace(auth, made.account_id)).detail
    users = await directory.ListUsers(directory_pb2.ListUsersRequest(account_id=made.account_id))
    assert [u.timezone for u in users.users] == ["Europe/London"]


async def test_groups_are_assigned_and_removed_at_every_login_and_manual_ones_stay(
    make_tenant: Callable[[], Awaitable[Made]], directory: Stub, auth: AuthServiceAsyncStub
) -> None:
    """The groups claim (OIDC) or multi-valued groups attribute (SAML) is the exact set of
    IdP-managed groups; a membership added by hand is left alone."""
    made = await make_tenant()
    one = await new_group(directory, made.account_id, "One", idp_identifier="gid-one")
    await new_group(directory, made.account_id, "Two", idp_identifier="gid-two")
    manual = await new_group(directory, made.account_id, "Manual")
    assert await made.sign_in("di", {"groups": ["gid-one", "gid-two"]}) == 303
    assert "groups +2 -0" in (await last_trace(auth, made.account_id)).detail
    users = await directory.ListUsers(directory_pb2.ListUsersRequest(account_id=made.account_id))
    user_id = users.users[0].id
    await directory.ModifyGroupMembers(
        directory_pb2.ModifyGroupMembersRequest(
            account_id=made.account_id,
            group_id=manual.id,
            add_user_ids=[user_id],
            source=directory_pb2.MEMBERSHIP_SOURCE_MANUAL,
            actor=ADMIN,
        )
    )
    assert await made.sign_in("di", {"groups": ["gid-two"]}) == 303
    assert "groups +0 -1" in (await last_trace(auth, made.account_id)).detail
    members = await directory.ListGroupMembers(
        directory_pb2.ListGroupMembersRequest(account_id=made.account_id, group_id=one.id)
    )
    assert list(members.members) == []
    kept = await directory.ListGroupMembers(
        directory_pb2.ListGroupMembersRequest(account_id=made.account_id, group_id=manual.id)
    )
    assert len(kept.members) == 1


async def test_a_scim_provisioned_pending_user_signing_in_becomes_active(
    make_tenant: Callable[[], Awaitable[Made]], directory: Stub
) -> None:
    """The Torque guide: the user created by provisioning is the one who signs in."""
    made = await make_tenant()
    created = await directory.CreateUser(
        directory_pb2.CreateUserRequest(
            user=directory_pb2.User(account_id=made.account_id, user_name=f"Pat@{made.domain}"),
            actor=directory_pb2.Actor(type=directory_pb2.ACTOR_TYPE_SCIM_TOKEN, id="tok"),
        )
    )
    assert created.user.status == directory_pb2.USER_STATUS_PENDING
    assert await made.sign_in("pat", {}) == 303
    now = await directory.GetUser(
        directory_pb2.GetUserRequest(account_id=made.account_id, user_id=created.user.id)
    )
    assert now.user.status == directory_pb2.USER_STATUS_ACTIVE


async def _users(directory: Stub, account_id: str) -> list[directory_pb2.User]:
    listed = await directory.ListUsers(directory_pb2.ListUsersRequest(account_id=account_id))
    return list(listed.users)


async def test_a_valid_login_signs_in_once_and_records_its_success(
    make_tenant: Callable[[], Awaitable[Made]], directory: Stub, auth: AuthServiceAsyncStub
) -> None:
    """The IdP's signed answer proves an identity; the pipeline creates the user, opens the
    session and records the trace; a second login is the same user."""
    made = await make_tenant()
    assert await made.sign_in("eva", {}) == 303
    trace = await last_trace(auth, made.account_id)
    assert (trace.outcome, trace.stage) == (auth_pb2.LOGIN_OUTCOME_SUCCESS, "session")
    assert "user created" in trace.detail
    assert await made.sign_in("eva", {}) == 303
    [user] = await _users(directory, made.account_id)
    assert (user.user_name, user.status) == (f"eva@{made.domain}", directory_pb2.USER_STATUS_ACTIVE)


async def test_an_answer_signed_with_a_key_the_connection_does_not_trust_is_refused(
    make_tenant: Callable[[], Awaitable[Made]], directory: Stub, auth: AuthServiceAsyncStub
) -> None:
    """sso-security.md §1 (ID token signature) and §2 rows 1 and 11 (only pinned signing
    certificates): another key under the trusted names signs nobody in."""
    made = await make_tenant()
    assert await made.sign_in("fay", {}, stranger=True) == 403
    trace = await last_trace(auth, made.account_id)
    assert trace.outcome == auth_pb2.LOGIN_OUTCOME_FAILURE
    assert trace.reason in ("invalid_signature", "certificate_not_pinned"), trace.reason
    assert await _users(directory, made.account_id) == []


async def test_an_email_outside_the_verified_domains_served_links_and_creates_no_one(
    make_tenant: Callable[[], Awaitable[Made]], directory: Stub, auth: AuthServiceAsyncStub
) -> None:
    """nOAuth (login trust): an unlinked identity whose email is in a domain the connection
    does not serve neither takes over the user who has that email nor creates one."""
    made = await make_tenant()
    victim = f"ceo@v{uuid.uuid4().hex[:8]}.test"
    await directory.CreateUser(
        directory_pb2.CreateUserRequest(
            user=directory_pb2.User(account_id=made.account_id, user_name=victim), actor=ADMIN
        )
    )
    before = await _users(directory, made.account_id)
    assert await made.sign_in("gil", {}, email=victim) == 403
    trace = await last_trace(auth, made.account_id)
    assert (trace.stage, trace.reason) == ("provisioning", "email_domain_not_served")
    assert await _users(directory, made.account_id) == before


async def test_a_deactivated_user_is_refused(
    make_tenant: Callable[[], Awaitable[Made]], directory: Stub, auth: AuthServiceAsyncStub
) -> None:
    """A user deactivated after their first login (SCIM active=false, an admin) cannot sign in
    again through either connector; nothing about them changes."""
    made = await make_tenant()
    assert await made.sign_in("hal", {}) == 303
    [user] = await _users(directory, made.account_id)
    user.active = False
    await directory.UpdateUser(directory_pb2.UpdateUserRequest(user=user, actor=ADMIN))
    [before] = await _users(directory, made.account_id)
    assert await made.sign_in("hal", {"given_name": "Changed"}) == 403
    trace = await last_trace(auth, made.account_id)
    assert (trace.stage, trace.reason) == ("provisioning", "user_deactivated")
    assert await _users(directory, made.account_id) == [before]
