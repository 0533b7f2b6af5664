"""The login provisioning path shared by OIDC and SAML (docs/architecture.md "Space and role
assignment from IdP attributes"; the Torque guide's six rules, timezone and group sync): each
test runs once per protocol through the real gateway and must give the same result, because
both flows end in the same ProvisionLogin call (auth.sso.provisioning)."""

from __future__ import annotations

import base64
import uuid
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest
from lxml import etree

from idmesh.auth.v1 import auth_pb2
from idmesh.directory.v1 import directory_pb2
from tests.idps.oidc.fake_idp import FakeIdp
from tests.idps.saml.metadata import idp_metadata
from tests.idps.saml.responses import ResponseSpec, build, encode, sign
from tests.integration.sso.harness import Tenant, browser, create_space, last_trace
from tests.integration.sso.test_saml_through_the_gateway import IDP, IDP_KEYS
from tests.integration.sso.test_sso_login_flow import login
from tests.support.directory import ADMIN, Stub, new_account, new_group

if TYPE_CHECKING:
    from idmesh.auth.v1.auth_pb2_grpc import AuthServiceAsyncStub

pytestmark = pytest.mark.integration

Claims = dict[str, Any]


@dataclass
class Made:
    account_id: str
    domain: str
    sign_in: Callable[[str, Claims], Awaitable[int]]


async def _saml_tenant(auth: AuthServiceAsyncStub, directory: Stub, gateway_url: str) -> Made:
    account = await new_account(directory)
    domain = f"s{uuid.uuid4().hex[:10]}.test"
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

    async def sign_in(login_name: str, claims: Claims) -> int:
        email = f"{login_name}@{domain}"
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
                data={"SAMLResponse": encode(sign(build(spec), IDP_KEYS)),
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

        async def sign_in(login_name: str, claims: Claims) -> int:
            idp.users[login_name] = {
                "subject": login_name, "email": f"{login_name}@{made.domain}", **claims
            }  # fmt: skip
            client, response = await login(gateway_url, made, login_hint=login_name)
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
