"""Bad input through the real gateway: whatever a client sends, the answer is a 4xx with an
RFC 7644 §3.12 error body (schemas Error, status as a string, a detail, a scimType where one
applies), never a 5xx (docs/architecture.md: "never turns a downstream failure into a bare 500");
and a burst of concurrent creates of one userName leaves exactly one user (reference §1: a live
duplicate is 409 uniqueness)."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from idmesh.directory.v1 import directory_pb2 as pb
from tests.e2e.scim.gateway_client import GatewayScim
from tests.e2e.tenants import Tenant

pytestmark = pytest.mark.e2e

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
USER_ID = "00000000-0000-4000-8000-000000000000"  # replaced by a real user's id


def _user(**fields: Any) -> bytes:
    return json.dumps({"schemas": [CORE], "userName": "bad@example.com", **fields}).encode()


def _patch(*operations: Any) -> bytes:
    return json.dumps({"schemas": [PATCH_OP], "Operations": list(operations)}).encode()


@dataclass(frozen=True)
class Bad:
    """A request a client may send and the SCIM error it must get."""

    name: str
    method: str
    path: str
    body: bytes | None
    query: dict[str, str]
    status: int
    scim_type: str | None


CASES = [
    Bad(
        "malformed JSON",
        "POST",
        "/Users",
        b'{"userName": "x@example.com",',
        {},
        400,
        "invalidSyntax",
    ),
    Bad("empty body", "POST", "/Users", b"", {}, 400, "invalidSyntax"),
    Bad("a JSON array", "POST", "/Users", b"[]", {}, 400, "invalidSyntax"),
    Bad("a JSON string", "POST", "/Groups", b'"Group"', {}, 400, "invalidSyntax"),
    Bad("JSON null", "PUT", f"/Users/{USER_ID}", b"null", {}, 400, "invalidSyntax"),
    Bad("NaN is not JSON", "POST", "/Users", b'{"userName": NaN}', {}, 400, "invalidSyntax"),
    Bad("invalid UTF-8", "POST", "/Users", b'{"userName": "\xff\xfe"}', {}, 400, "invalidSyntax"),
    Bad(
        "deep nesting", "POST", "/Users", b"[" * 100_000 + b"]" * 100_000, {}, 400, "invalidSyntax"
    ),
    Bad("userName a number", "POST", "/Users", _user(userName=123), {}, 400, "invalidValue"),
    Bad("active not a boolean", "POST", "/Users", _user(active="maybe"), {}, 400, "invalidValue"),
    Bad("name a list", "POST", "/Users", _user(name=["Ada"]), {}, 400, "invalidValue"),
    Bad("emails a number", "POST", "/Users", _user(emails=5), {}, 400, "invalidValue"),
    Bad(
        "a NUL in a string",
        "POST",
        "/Users",
        _user(displayName="a\u0000b"),
        {},
        400,
        "invalidValue",
    ),
    Bad(
        "missing userName",
        "POST",
        "/Users",
        json.dumps({"schemas": [CORE]}).encode(),
        {},
        400,
        "invalidValue",
    ),
    Bad("unknown attribute", "POST", "/Users", _user(shoeSize="44"), {}, 400, "invalidSyntax"),
    Bad(
        "unknown sub-attribute",
        "POST",
        "/Users",
        _user(name={"nick": "x"}),
        {},
        400,
        "invalidSyntax",
    ),
    Bad(
        "unknown schema URI only",
        "POST",
        "/Users",
        json.dumps({"schemas": ["urn:nope"], "userName": "u@example.com"}).encode(),
        {},
        400,
        "invalidSyntax",
    ),
    Bad("schemas not a list", "POST", "/Users", _user(schemas=CORE), {}, 400, "invalidSyntax"),
    Bad(
        "unknown extension with data",
        "POST",
        "/Users",
        _user(**{"urn:example:ext:2.0:User": {"x": 1}}),
        {},
        400,
        "invalidSyntax",
    ),
    Bad(
        "unknown role",
        "POST",
        "/Users",
        _user(roles=[{"value": "Overlord"}]),
        {},
        400,
        "invalidValue",
    ),
    Bad(
        "invalid time zone",
        "POST",
        "/Users",
        _user(timezone="Mars/Olympus_Mons"),
        {},
        400,
        "invalidValue",
    ),
    Bad(
        "unknown manager",
        "POST",
        "/Users",
        _user(
            **{
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                    "manager": str(uuid.uuid4())
                }
            }
        ),
        {},
        400,
        "invalidValue",
    ),
    Bad(
        "group without displayName", "POST", "/Groups", b'{"members": []}', {}, 400, "invalidValue"
    ),
    Bad(
        "filter without a value",
        "GET",
        "/Users",
        None,
        {"filter": "userName eq"},
        400,
        "invalidFilter",
    ),
    Bad(
        "filter on an unknown attribute",
        "GET",
        "/Users",
        None,
        {"filter": 'shoeSize eq "44"'},
        400,
        "invalidFilter",
    ),
    Bad(
        "filter with an unknown operator",
        "GET",
        "/Users",
        None,
        {"filter": 'userName xx "a"'},
        400,
        "invalidFilter",
    ),
    Bad(
        "unbalanced parentheses",
        "GET",
        "/Groups",
        None,
        {"filter": '(displayName eq "a"'},
        400,
        "invalidFilter",
    ),
    Bad(
        "a filter nested 500 deep",
        "GET",
        "/Users",
        None,
        {"filter": "(" * 500 + 'userName eq "a"' + ")" * 500},
        400,
        "invalidFilter",
    ),
    Bad(
        "a bare word filter (Okta 2016)",
        "GET",
        "/Users",
        None,
        {"filter": "ADA@EXAMPLE.COM"},
        400,
        "invalidFilter",
    ),
    Bad("count not a number", "GET", "/Users", None, {"count": "ten"}, 400, "invalidValue"),
    Bad("sortBy unknown", "GET", "/Users", None, {"sortBy": "shoeSize"}, 400, "invalidValue"),
    Bad(
        "search with an unknown parameter",
        "POST",
        "/Users/.search",
        json.dumps({"schemas": [SEARCH], "shoeSize": 1}).encode(),
        {},
        400,
        "invalidSyntax",
    ),
    Bad(
        "PATCH with an unknown op",
        "PATCH",
        f"/Users/{USER_ID}",
        _patch({"op": "frobnicate", "path": "title", "value": "x"}),
        {},
        400,
        "invalidSyntax",
    ),
    Bad(
        "PATCH Operations not a list",
        "PATCH",
        f"/Users/{USER_ID}",
        json.dumps({"schemas": [PATCH_OP], "Operations": {}}).encode(),
        {},
        400,
        "invalidSyntax",
    ),
    Bad(
        "PATCH on an unknown path",
        "PATCH",
        f"/Users/{USER_ID}",
        _patch({"op": "replace", "path": "shoeSize", "value": "44"}),
        {},
        400,
        "invalidPath",
    ),
    Bad(
        "PATCH remove without a path",
        "PATCH",
        f"/Users/{USER_ID}",
        _patch({"op": "remove"}),
        {},
        400,
        "noTarget",
    ),
    Bad(
        "PATCH of a read-only attribute",
        "PATCH",
        f"/Users/{USER_ID}",
        _patch({"op": "replace", "path": "id", "value": "x"}),
        {},
        400,
        "mutability",
    ),
    Bad(
        "PATCH removing a required attribute",
        "PATCH",
        f"/Users/{USER_ID}",
        _patch({"op": "remove", "path": "userName"}),
        {},
        400,
        "mutability",
    ),
    Bad(
        "If-Match of another version",
        "PUT",
        f"/Users/{USER_ID}",
        _user(),
        {"_if_match": 'W/"999"'},
        412,
        None,
    ),
    Bad("an unknown id", "GET", f"/Users/{uuid.uuid4()}", None, {}, 404, None),
    Bad("an id that is not an id", "DELETE", "/Groups/not-a-uuid", None, {}, 404, None),
    Bad("an unknown endpoint", "GET", "/Widgets", None, {}, 404, None),
    Bad("a method not allowed", "DELETE", "/Users", None, {}, 405, None),
    Bad("bulk", "POST", "/Bulk", b"{}", {}, 501, None),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_bad_input_is_a_scim_error_never_a_5xx(entra: GatewayScim, case: Bad) -> None:
    """RFC 7644 §3.12: the status, the scimType when one applies, a non-empty detail."""
    path = case.path
    if USER_ID in path:
        created = await entra.request("POST", "/Users", {"userName": f"{uuid.uuid4()}@e.com"})
        path = path.replace(USER_ID, created.body["id"])
    params = dict(case.query)
    if_match = params.pop("_if_match", "")
    reply = await entra.request(case.method, path, raw=case.body, query=params, if_match=if_match)
    assert reply.status == case.status, reply.body
    assert reply.body["schemas"] == [ERROR]
    assert reply.body["status"] == str(case.status)
    assert reply.body["detail"]
    assert reply.body.get("scimType") == case.scim_type


async def test_a_body_over_one_mebibyte_is_413_with_a_scim_error(entra: GatewayScim) -> None:
    """ServiceProviderConfig bulk.maxPayloadSize is 1 MiB; a larger body is refused by the
    gateway before it is read whole."""
    huge = _user(displayName="x" * (1024 * 1024 + 1))
    reply = await entra.request("POST", "/Users", raw=huge)
    assert reply.status == 413
    assert (reply.body["schemas"], reply.body["status"]) == ([ERROR], "413")


async def test_a_body_that_is_not_json_is_415_with_a_scim_error(entra: GatewayScim) -> None:
    """RFC 7644 §3.1 (application/scim+json; application/json accepted for Okta)."""
    reply = await entra.request(
        "POST", "/Users", raw=b"userName=ada", content_type="application/x-www-form-urlencoded"
    )
    assert reply.status == 415
    assert (reply.body["schemas"], reply.body["status"]) == ([ERROR], "415")


async def test_thirty_concurrent_creates_of_one_user_name_create_exactly_one_user(
    entra: GatewayScim, tenant: Tenant, directory: Any
) -> None:
    """docs/scim-clients.md §1: 201 once, 409 uniqueness for the rest, one row (the
    directory's unique index decides, whatever the interleaving; a retrying IdP job sends
    exactly this)."""
    user_name = f"burst.{uuid.uuid4().hex[:8]}@example.com"
    body = {"schemas": [CORE], "userName": user_name, "name": {"givenName": "Burst"}}

    replies = await asyncio.gather(
        *(
            entra.request(
                "POST", "/Users", {**body, "userName": user_name.upper() if i % 2 else user_name}
            )
            for i in range(30)
        )
    )

    statuses = sorted(reply.status for reply in replies)
    assert statuses == [201] + [409] * 29, statuses
    assert {r.body["scimType"] for r in replies if r.status == 409} == {"uniqueness"}
    stored = await directory.ListUsers(
        pb.ListUsersRequest(
            account_id=tenant.account_id,
            filter=pb.Filter(
                comparison=pb.Comparison(
                    attribute="user_name",
                    operator=pb.OPERATOR_EQUAL,
                    value=pb.FilterValue(string_value=user_name),
                )
            ),
            page=pb.PageRequest(include_total=True),
        )
    )
    assert stored.page.total_size == 1
    assert stored.users[0].id == next(r.body["id"] for r in replies if r.status == 201)
