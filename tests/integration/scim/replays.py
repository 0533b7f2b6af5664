"""What Entra ID and Okta send, request by request, as replays any SCIM client can drive.

The sequences follow docs/scim-clients.md §2 (Entra ID), §3 (its default dialect and the
``?aadOptscim062020`` one) and §5 (Okta), including the bodies those clients send. They run
against the scim service in-process (tests/integration/scim, harness.Scim) and through the real
gateway over HTTP (tests/e2e/scim, GatewayScim): one definition, two transports. Each step
states the status it expects and fails with the step's name and the answer otherwise; each
replay returns what it provisioned, so a test can check what the directory holds afterwards.

Imported as ``tests.integration.scim.replays`` from both suites (absolute, not relative, so that
the two suites share one module).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from idmesh.directory.v1 import directory_pb2 as pb

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ADSCIM = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
# Appended by Entra to every request when the tenant URL carries it (reference §3).
ENTRA_2020_FLAG = "aadOptscim062020"

Query = list[tuple[str, str]]


@dataclass
class Reply:
    status: int
    body: Any
    etag: str
    location: str


class Client(Protocol):
    """A SCIM client of one account: the in-process harness or the gateway over HTTP."""

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, str] | list[tuple[str, str]] | None = None,
        if_match: str = "",
        content_type: str = "application/scim+json",
        raw: bytes | None = None,
    ) -> Reply: ...


def entra_user(user_name: str | None = None) -> dict[str, Any]:
    """Entra's create request (docs/scim-clients.md §2 row 4)."""
    name = user_name or f"Test_User_{uuid.uuid4().hex[:8]}@testuser.com"
    return {
        "schemas": [CORE, ENTERPRISE],
        "externalId": str(uuid.uuid4()),
        "userName": name,
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Given Family", "familyName": "Family", "givenName": "Given"},
        "roles": [],
    }


def okta_user(user_name: str | None = None) -> dict[str, Any]:
    """Okta's create request (docs/scim-clients.md §5 row 3)."""
    name = user_name or f"okta.{uuid.uuid4().hex[:8]}@example.com"
    return {
        "schemas": [CORE],
        "userName": name,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": True, "value": name, "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": f"00u{uuid.uuid4().hex[:17]}",
        "groups": [],
        "password": "1mz050nq",
        "active": True,
    }


def patch_body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


class Session:
    """Steps of one replay: each request with the status it must get."""

    def __init__(
        self,
        client: Client,
        *,
        extra_query: Query | None = None,
        content_type: str = "application/scim+json",
    ) -> None:
        self.client = client
        self.extra_query = list(extra_query or [])
        self.content_type = content_type
        self.log: list[tuple[str, str, int]] = []

    async def expect(
        self,
        status: int | tuple[int, ...],
        step: str,
        method: str,
        path: str,
        body: Any = None,
        **query: str,
    ) -> Any:
        """Sends the step's request; its JSON body when it got ``status`` (one of them)."""
        reply = await self.client.request(
            method,
            path,
            body,
            query=[*query.items(), *self.extra_query],
            content_type=self.content_type,
        )
        self.log.append((method, path, reply.status))
        allowed = status if isinstance(status, tuple) else (status,)
        assert reply.status in allowed, f"{step}: {method} {path} → {reply.status} {reply.body}"
        return reply.body

    async def found(self, step: str, path: str, **query: str) -> list[dict[str, Any]]:
        """A list/filter step: 200 with a ListResponse (never 404); its resources."""
        body = await self.expect(200, step, "GET", path, **query)
        assert body["schemas"] == [LIST], step
        assert isinstance(body["totalResults"], int), step
        return body["Resources"]  # type: ignore[no-any-return]


def entra_session(client: Client, *, optscim062020: bool) -> Session:
    """Entra's requests; with the flag in the tenant URL, it is on every request."""
    return Session(client, extra_query=[(ENTRA_2020_FLAG, "")] if optscim062020 else None)


# -- Entra ID --------------------------------------------------------------------------------------


@dataclass
class EntraUser:
    id: str
    user_name: str
    external_id: str
    work_email: str
    manager_id: str


async def entra_tests_the_connection(client: Client, *, optscim062020: bool = False) -> None:
    """§2 row 1: a filter on a random GUID answers 200 with an empty list, for users and
    groups; a random id answers 404 with a SCIM error."""
    s = entra_session(client, optscim062020=optscim062020)
    guid = str(uuid.uuid4())
    assert await s.found("test connection", "/Users", filter=f'userName eq "{guid}"') == []
    groups = await s.found(
        "test connection (groups)",
        "/Groups",
        excludedAttributes="members",
        filter=f'displayName eq "{guid}"',
    )
    assert groups == []
    error = await s.expect(404, "random user", "GET", f"/Users/{uuid.uuid4()}")
    assert error["status"] == "404"


async def entra_provisions_a_user(client: Client, *, optscim062020: bool = False) -> EntraUser:
    """§2 rows 2, 4, 6–10 and §3: match, create, read, update (one op per path by default; a
    no-path value with dotted and URN keys with the flag), the manager as a bare string with the
    reference check around it, then the soft delete (active=false, "False" by default)."""
    s = entra_session(client, optscim062020=optscim062020)
    add, replace = ("add", "replace") if optscim062020 else ("Add", "Replace")
    body = entra_user()
    name = body["userName"]
    assert await s.found("match user", "/Users", filter=f'userName eq "{name}"') == []
    user = await s.expect(201, "create user", "POST", "/Users", body)
    user_id = user["id"]
    await s.expect(200, "read user", "GET", f"/Users/{user_id}")
    matched = await s.found(
        "match by work email", "/Users", filter=f'emails[type eq "work"].value eq "{name}"'
    )
    assert [u["id"] for u in matched] == [user_id]

    work_email = f"moved.{uuid.uuid4().hex[:6]}@testuser.com"
    operations: list[dict[str, Any]]
    if optscim062020:
        operations = [
            {
                "op": replace,
                "value": {
                    "displayName": "Babs Jensen",
                    "name.givenName": "Barbara",
                    "name.familyName": "Jensen",
                    f"{ENTERPRISE}:employeeNumber": "701984",
                },
            },
            {"op": replace, "path": 'emails[type eq "work"].value', "value": work_email},
            {"op": add, "path": "nickName", "value": "Babs"},
        ]
    else:
        operations = [
            {"op": replace, "path": 'emails[type eq "work"].value', "value": work_email},
            {"op": replace, "path": "name.givenName", "value": "Barbara"},
            {"op": replace, "path": "name.familyName", "value": "Jensen"},
            {"op": add, "path": "displayName", "value": "Babs Jensen"},
            {"op": add, "path": "nickName", "value": "Babs"},
            {"op": replace, "path": f"{ENTERPRISE}:employeeNumber", "value": "701984"},
            {"op": add, "path": 'phoneNumbers[type eq "mobile"].value', "value": "+1 555 0100"},
            {"op": add, "path": 'addresses[type eq "work"].streetAddress', "value": "1 Main St"},
        ]
    await s.expect((200, 204), "update user", "PATCH", f"/Users/{user_id}", patch_body(*operations))

    manager = await s.expect(201, "create manager", "POST", "/Users", entra_user())
    check = f'id eq "{user_id}" and {ENTERPRISE}:manager eq "{manager["id"]}"'
    assert await s.found("manager reference check", "/Users", filter=check) == []
    await s.expect(
        (200, 204),
        "set manager",
        "PATCH",
        f"/Users/{user_id}",
        patch_body({"op": add, "path": f"{ENTERPRISE}:manager", "value": manager["id"]}),
    )
    assert len(await s.found("manager reference check", "/Users", filter=check)) == 1

    disable = False if optscim062020 else "False"
    await s.expect(
        (200, 204),
        "deactivate",
        "PATCH",
        f"/Users/{user_id}",
        patch_body({"op": replace, "path": "active", "value": disable}),
    )
    read = await s.expect(200, "read deactivated user", "GET", f"/Users/{user_id}")
    assert read["active"] is False
    listed = await s.found("match deactivated user", "/Users", filter=f'userName eq "{name}"')
    assert [u["active"] for u in listed] == [False]
    return EntraUser(user_id, name, body["externalId"], work_email, manager["id"])


async def entra_hard_deletes_a_user(client: Client, user_id: str) -> None:
    """§2 row 11: DELETE on a hard delete (30 days after the soft delete): 204, then 404."""
    s = entra_session(client, optscim062020=False)
    await s.expect(204, "hard delete", "DELETE", f"/Users/{user_id}")
    await s.expect(404, "read deleted user", "GET", f"/Users/{user_id}")


@dataclass
class EntraGroup:
    id: str
    external_id: str
    display_name: str
    members: list[str] = field(default_factory=list)


async def entra_provisions_a_group(
    client: Client, member_ids: list[str], *, optscim062020: bool = False
) -> EntraGroup:
    """§2 rows 3, 5–7 and 12, §3 row 4: match by displayName with members excluded, create
    with the ADSCIM schema URI, read, the membership reference check, one PATCH adding every
    member, a rename, and the removal of the first member (Entra's non-standard
    remove-with-value by default, a ``members[value eq]`` path with the flag). Each PATCH is
    answered 200 with the entire group, the default, which Entra accepts besides the 204 it
    recommends (§2 row 12, docs/scim-clients.md §8)."""
    s = entra_session(client, optscim062020=optscim062020)
    add, replace, remove = (
        ("add", "replace", "remove") if optscim062020 else ("Add", "Replace", "Remove")
    )
    name = f"Entra Group {uuid.uuid4().hex[:6]}"
    external_id = str(uuid.uuid4())
    matched = await s.found(
        "match group", "/Groups", excludedAttributes="members", filter=f'displayName eq "{name}"'
    )
    assert matched == []
    group = await s.expect(
        201,
        "create group",
        "POST",
        "/Groups",
        {
            "schemas": [GROUP, ADSCIM],
            "externalId": external_id,
            "displayName": name,
            "meta": {"resourceType": "Group"},
        },
    )
    group_id = group["id"]
    read = await s.expect(
        200, "read group", "GET", f"/Groups/{group_id}", excludedAttributes="members"
    )
    assert "members" not in read
    first = member_ids[0]
    check = f'id eq "{group_id}" and members[value eq "{first}"]'
    assert await s.found("membership check", "/Groups", filter=check) == []
    added = await s.expect(
        200,
        "add members",
        "PATCH",
        f"/Groups/{group_id}",
        patch_body(
            {
                "op": add,
                "path": "members",
                "value": [{"$ref": None, "value": m} for m in member_ids],
            }
        ),
    )
    assert sorted(m["value"] for m in added["members"]) == sorted(member_ids)
    assert len(await s.found("membership check", "/Groups", filter=check)) == 1
    renamed = f"{name} (renamed)"
    await s.expect(
        200,
        "rename group",
        "PATCH",
        f"/Groups/{group_id}",
        patch_body({"op": replace, "path": "displayName", "value": renamed}),
    )
    removal: dict[str, Any]
    if optscim062020:
        removal = {"op": remove, "path": f'members[value eq "{first}"]'}
    else:
        removal = {"op": remove, "path": "members", "value": [{"value": first}]}
    after = await s.expect(
        200, "remove member", "PATCH", f"/Groups/{group_id}", patch_body(removal)
    )
    assert sorted(m["value"] for m in after["members"]) == sorted(member_ids[1:])
    assert await s.found("membership check", "/Groups", filter=check) == []
    return EntraGroup(group_id, external_id, renamed, member_ids[1:])


# -- Okta --------------------------------------------------------------------------------------


@dataclass
class OktaUser:
    id: str
    user_name: str
    external_id: str


def okta_session(client: Client) -> Session:
    """Okta's requests: application/json bodies (its SPEC test), pages of 100."""
    return Session(client, content_type="application/json")


async def okta_provisions_a_user(client: Client) -> OktaUser:
    """§5 rows 1–7: test connection, existence check, create (password and groups: [], no
    password echoed), the recreate 409, import pages, GET + full PUT, deactivate and reactivate
    by a no-path PATCH."""
    s = okta_session(client)
    await s.found("test connection", "/Users", startIndex="1", count="2")
    body = okta_user()
    name = body["userName"]
    exists = await s.found(
        "existence check", "/Users", filter=f'userName eq "{name}"', startIndex="1", count="100"
    )
    assert exists == []
    user = await s.expect(201, "create user", "POST", "/Users", body)
    assert user["active"] is True
    assert "password" not in user
    error = await s.expect(409, "recreate", "POST", "/Users", body)
    assert (error["status"], error["scimType"]) == ("409", "uniqueness")
    imported = await s.found("import", "/Users", startIndex="1", count="100")
    assert user["id"] in [u["id"] for u in imported]

    current = await s.expect(200, "read before push", "GET", f"/Users/{user['id']}")
    current["name"]["givenName"] = "Updated"
    current["title"] = "Guide"
    pushed = await s.expect(200, "profile push", "PUT", f"/Users/{user['id']}", current)
    assert pushed["name"]["givenName"] == "Updated"

    for active in (False, True):
        changed = await s.expect(
            200,
            "deactivate" if not active else "reactivate",
            "PATCH",
            f"/Users/{user['id']}",
            patch_body({"op": "replace", "value": {"active": active}}),
        )
        assert changed["active"] is active
    return OktaUser(user["id"], name, body["externalId"])


@dataclass
class OktaGroup:
    id: str
    display_name: str
    members: list[str]


async def okta_pushes_a_group(client: Client, member_ids: list[str]) -> OktaGroup:
    """§5 rows 8–10 and §4: Group Push creates with members: [], renames with a no-path PATCH
    carrying the group's id, pushes members as remove + add in one PATCH, then a full
    replace. Three members needed."""
    s = okta_session(client)
    a, b, c = member_ids[:3]
    name = f"Okta Group {uuid.uuid4().hex[:6]}"
    group = await s.expect(
        201,
        "push group",
        "POST",
        "/Groups",
        {"schemas": [GROUP], "displayName": name, "members": []},
    )
    group_id = group["id"]
    renamed = f"{name} (renamed)"
    await s.expect(
        (200, 204),
        "rename",
        "PATCH",
        f"/Groups/{group_id}",
        patch_body({"op": "replace", "value": {"id": group_id, "displayName": renamed}}),
    )
    await s.expect(
        (200, 204),
        "push members",
        "PATCH",
        f"/Groups/{group_id}",
        patch_body({"op": "add", "path": "members", "value": [{"value": a, "display": "A"}]}),
    )
    await s.expect(
        (200, 204),
        "membership update",
        "PATCH",
        f"/Groups/{group_id}",
        patch_body(
            {"op": "replace", "value": {"id": group_id, "displayName": renamed}},
            {"op": "remove", "path": f'members[value eq "{a}"]'},
            {"op": "add", "path": "members", "value": [{"value": b}, {"value": c}]},
        ),
    )
    await s.expect(
        (200, 204),
        "full push",
        "PATCH",
        f"/Groups/{group_id}",
        patch_body({"op": "replace", "path": "members", "value": [{"value": c}]}),
    )
    return OktaGroup(group_id, renamed, [c])


async def okta_deletes_a_group(client: Client, group_id: str) -> None:
    """§5 row 11: DELETE when the admin unlinks the group and deletes it in the app."""
    s = okta_session(client)
    await s.expect(204, "delete group", "DELETE", f"/Groups/{group_id}")
    await s.expect(404, "read deleted group", "GET", f"/Groups/{group_id}")


# -- what the directory holds afterwards ---------------------------------------------------------


async def _audit(directory: Any, account_id: str, target_id: str) -> list[pb.AuditEvent]:
    target = pb.Filter(
        comparison=pb.Comparison(
            attribute="target_id",
            operator=pb.OPERATOR_EQUAL,
            value=pb.FilterValue(string_value=target_id),
        )
    )
    request = pb.ListAuditEventsRequest(account_id=account_id, filter=target)
    return list((await directory.ListAuditEvents(request)).events)


def _by_token(events: list[pb.AuditEvent], token_id: str) -> None:
    """Every change names the SCIM token that made it (docs/architecture.md: audit "through which
    channel")."""
    assert events
    assert {(e.actor.type, e.actor.id) for e in events} == {(pb.ACTOR_TYPE_SCIM_TOKEN, token_id)}


async def check_entra_user(
    directory: Any, account_id: str, user: EntraUser, *, token_id: str, optscim062020: bool
) -> None:
    """The directory holds Entra's values as sent (§2 "values stored as sent"): the user
    deactivated (soft delete), matched attributes, the manager reference, and an audit trail
    naming the token."""
    stored = (
        await directory.GetUser(pb.GetUserRequest(account_id=account_id, user_id=user.id))
    ).user
    assert stored.status == pb.USER_STATUS_DEACTIVATED
    assert (stored.user_name, stored.external_id) == (user.user_name, user.external_id)
    assert [(e.type, e.value, e.primary) for e in stored.emails] == [
        ("work", user.work_email, True)
    ]
    assert (stored.name.given_name, stored.name.family_name) == ("Barbara", "Jensen")
    assert (stored.display_name, stored.nick_name) == ("Babs Jensen", "Babs")
    assert stored.enterprise.employee_number == "701984"
    assert stored.enterprise.manager_id == user.manager_id
    assert stored.account_role_name == "Account Member"
    if not optscim062020:
        assert [(p.type, p.value) for p in stored.phone_numbers] == [("mobile", "+1 555 0100")]
        assert [(a.type, a.street_address) for a in stored.addresses] == [("work", "1 Main St")]
    events = await _audit(directory, account_id, user.id)
    _by_token(events, token_id)
    actions = [e.action for e in events]
    assert actions[0] == "user.created"
    assert actions[-1] == "user.deactivated"


async def check_entra_group(
    directory: Any, account_id: str, group: EntraGroup, *, token_id: str
) -> None:
    """The group's IdP identifier is Entra's externalId (where SCIM groups and a login's groups
    claim meet); its members are exactly those left, each recorded as a SCIM membership."""
    stored = (
        await directory.GetGroup(
            pb.GetGroupRequest(account_id=account_id, group_id=group.id, include_members=True)
        )
    ).group
    assert (stored.display_name, stored.idp_identifier) == (group.display_name, group.external_id)
    assert sorted(m.user_id for m in stored.members) == sorted(group.members)
    assert {m.source for m in stored.members} == {pb.MEMBERSHIP_SOURCE_SCIM}
    _by_token(await _audit(directory, account_id, group.id), token_id)


async def check_okta_user(
    directory: Any, account_id: str, user: OktaUser, *, token_id: str
) -> None:
    """Okta's profile push landed, the user is pending (provisioned, never signed in) after its
    reactivation, and the password it sent is nowhere."""
    stored = (
        await directory.GetUser(pb.GetUserRequest(account_id=account_id, user_id=user.id))
    ).user
    assert stored.status == pb.USER_STATUS_PENDING
    assert stored.active
    assert (stored.user_name, stored.external_id) == (user.user_name, user.external_id)
    assert (stored.name.given_name, stored.title, stored.locale) == ("Updated", "Guide", "en-US")
    assert "1mz050nq" not in str(stored)
    events = await _audit(directory, account_id, user.id)
    _by_token(events, token_id)
    assert [e.action for e in events][-2:] == ["user.deactivated", "user.reactivated"]


async def check_okta_group(directory: Any, account_id: str, group: OktaGroup) -> None:
    stored = (
        await directory.GetGroup(
            pb.GetGroupRequest(account_id=account_id, group_id=group.id, include_members=True)
        )
    ).group
    assert stored.display_name == group.display_name
    assert [m.user_id for m in stored.members] == group.members
