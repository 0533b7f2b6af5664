"""Discovery and the protocol around the resources: status codes, media types, sizes, routing
(RFC 7644 §3.1, §3.12, §4; Okta's SPEC test, docs/scim-clients.md §5)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from idmesh.directory.v1 import directory_pb2 as pb
from tests.support.directory import ADMIN, Stub, new_account

from .harness import BASE_URL, Scim

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"


async def test_service_provider_config_is_served_fast(scim: Scim) -> None:
    """Okta SPEC test: 200 with every field, under 400 ms (docs/scim-clients.md §5)."""
    started = time.perf_counter()
    reply = await scim.get("/ServiceProviderConfig")
    assert time.perf_counter() - started < 0.4
    assert reply.status == 200
    assert reply.body["patch"]["supported"] is True
    assert reply.body["bulk"]["supported"] is False
    assert reply.body["filter"] == {"supported": True, "maxResults": 1000}
    assert reply.body["etag"]["supported"] is True
    assert reply.body["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    assert reply.body["meta"]["location"] == f"{BASE_URL}/ServiceProviderConfig"


async def test_resource_types_and_schemas_are_listed_and_found_by_id(scim: Scim) -> None:
    """Okta SPEC test: Resources[0].name/endpoint/schema and id/attributes."""
    types = await scim.get("/ResourceTypes")
    assert [t["name"] for t in types.body["Resources"]] == ["User", "Group"]
    assert (await scim.get("/ResourceTypes/User")).body["endpoint"] == "/Users"
    schemas = await scim.get("/Schemas")
    assert schemas.body["Resources"][0]["id"] == CORE
    assert schemas.body["Resources"][0]["attributes"]
    assert (await scim.get(f"/Schemas/{CORE}")).body["id"] == CORE
    assert (await scim.get("/Schemas/urn:nope")).status == 404
    assert (await scim.get("/ResourceTypes/Nope")).status == 404


@pytest.mark.parametrize("path", ["/ServiceProviderConfig", "/ResourceTypes", "/Schemas"])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_writes_to_discovery_endpoints_are_405(scim: Scim, path: str, method: str) -> None:
    """Okta SPEC test: POST with body `test` → 405 (docs/scim-clients.md §5)."""
    reply = await scim.request(method, path, raw=b"test", content_type="application/json")
    assert reply.status == 405
    assert reply.body["status"] == "405"


async def test_a_filter_on_a_discovery_endpoint_is_403(scim: Scim) -> None:
    """RFC 7644 §4: the service provider SHOULD answer 403 to a filter on discovery."""
    reply = await scim.request("GET", "/Schemas", query={"filter": 'id eq "x"'})
    assert reply.status == 403


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 404),
        ("GET", "/Nope", 404),
        ("GET", "/Users/a/b", 404),
        ("DELETE", "/Users", 405),
        ("PATCH", "/Groups", 405),
        ("POST", "/Users/2819c223", 405),
        ("GET", "/Users/.search", 405),
        ("POST", "/Bulk", 501),
        ("GET", "/Me", 501),
        ("GET", "/.search", 405),
    ],
)
async def test_routing_statuses(scim: Scim, method: str, path: str, status: int) -> None:
    """RFC 7644 §3.12: 404 for what does not exist, 405 for a method, 501 for what is not
    supported (bulk, /Me); always a SCIM error body."""
    body = (
        {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}
        if method == "POST"
        else None
    )
    reply = await scim.request(method, path, body)
    assert reply.status == status
    assert reply.body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert reply.body["status"] == str(status)


async def test_bodies_must_be_json(scim: Scim) -> None:
    """RFC 7644 §3.1/§3.12: a wrong media type is 415; malformed JSON is 400 invalidSyntax;
    application/json is accepted (Okta SPEC test)."""
    body = {"schemas": [CORE], "userName": "media@example.com"}
    reply = await scim.post("/Users", body, content_type="text/plain")
    assert reply.status == 415
    reply = await scim.request("POST", "/Users", raw=b"{not json", content_type="application/json")
    assert (reply.status, reply.body["scimType"]) == (400, "invalidSyntax")
    reply = await scim.request("POST", "/Users", raw=b'{"userName": NaN}')
    assert (reply.status, reply.body["scimType"]) == (400, "invalidSyntax")
    reply = await scim.request("POST", "/Users", raw=b"[" * 100_000)
    assert (reply.status, reply.body["scimType"]) == (400, "invalidSyntax")
    reply = await scim.post("/Users", body, content_type="application/json; charset=utf-8")
    assert reply.status == 201


async def test_a_body_over_the_maximum_is_413(scim: Scim) -> None:
    """The advertised maximum payload (1 MiB, /ServiceProviderConfig bulk.maxPayloadSize)."""
    raw = b'{"userName": "' + b"x" * (1024 * 1024) + b'"}'
    reply = await scim.request("POST", "/Users", raw=raw)
    assert reply.status == 413


def _attribute(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(a for a in schema["attributes"] if a["name"] == name)


async def test_schemas_list_the_accounts_role_names_as_the_only_values_of_roles_and_user_type(
    scim: Scim, directory: Stub
) -> None:
    """/Schemas tells the truth (docs/scim-clients.md §2 row 13): `roles` and `userType`
    accept exactly the account's role names (policy.py), so they are its canonicalValues
    (RFC 7643 §7), a custom role included; each account sees its own."""
    await directory.CreateRole(
        pb.CreateRoleRequest(
            role=pb.Role(account_id=scim.account_id, name="Auditor", scope=pb.ROLE_SCOPE_ACCOUNT),
            actor=ADMIN,
        )
    )
    for reply in (await scim.get(f"/Schemas/{CORE}"), await scim.get("/Schemas")):
        user = reply.body if "attributes" in reply.body else reply.body["Resources"][0]
        roles = _attribute(user, "roles")
        value = next(s for s in roles["subAttributes"] if s["name"] == "value")
        expected = ["Account Admin", "Account Member", "Auditor"]
        assert value["canonicalValues"] == expected
        assert _attribute(user, "userType")["canonicalValues"] == expected

    neighbour = Scim(scim.stub, (await new_account(directory)).id)
    schema = (await neighbour.get(f"/Schemas/{CORE}")).body
    assert _attribute(schema, "userType")["canonicalValues"] == ["Account Admin", "Account Member"]


async def test_schemas_list_the_iana_time_zones_as_the_values_of_timezone(scim: Scim) -> None:
    """RFC 7643 §4.1.1: timezone is an IANA name; the directory refuses anything else, so the
    schema lists those names rather than letting a client guess (scim2-tester generates values
    from canonicalValues, and random strings otherwise)."""
    schema = (await scim.get(f"/Schemas/{CORE}")).body
    zones = _attribute(schema, "timezone")["canonicalValues"]
    assert {"Europe/Berlin", "America/Los_Angeles", "UTC"} <= set(zones)
    assert zones == sorted(zones)
    user = (await scim.post("/Users", {"userName": "tz@example.com", "timezone": zones[7]})).body
    assert user["timezone"] == zones[7]
    refused = await scim.post("/Users", {"userName": "tz2@example.com", "timezone": "Mars/Base"})
    assert refused.status == 400
    assert refused.body["detail"].startswith("timezone:")


async def test_a_search_at_the_root_returns_users_then_groups_paged_over_both(scim: Scim) -> None:
    """RFC 7644 §3.4.3: POST /.search searches every resource type; totalResults is their sum,
    startIndex/count page over users then groups; attributes apply to each type."""
    users = [
        (await scim.post("/Users", {"userName": f"root{i}@example.com"})).body["id"]
        for i in range(3)
    ]
    groups = [
        (await scim.post("/Groups", {"displayName": f"Root {i}"})).body["id"] for i in range(2)
    ]
    search = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}

    everything = await scim.post("/.search", {**search, "attributes": ["displayName"]})
    assert everything.status == 200, everything.body
    assert everything.body["totalResults"] == 5
    assert [r["id"] for r in everything.body["Resources"]] == users + groups
    assert everything.body["Resources"][3] == {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": groups[0],
        "displayName": "Root 0",
    }
    middle = await scim.post("/.search", {**search, "startIndex": 3, "count": 2})
    assert [r["id"] for r in middle.body["Resources"]] == [users[2], groups[0]]
    assert (middle.body["totalResults"], middle.body["startIndex"]) == (5, 3)
    last = await scim.post("/.search", {**search, "startIndex": 5, "count": 10})
    assert [r["id"] for r in last.body["Resources"]] == [groups[1]]


async def test_a_root_search_filter_applies_to_the_types_that_have_its_attributes(
    scim: Scim,
) -> None:
    """RFC 7644 §3.4.2.2: a userName filter finds users (groups have no userName); a filter no
    type can evaluate is 400 invalidFilter, never an empty or full list; sortBy across types
    is refused rather than ignored."""
    user = (await scim.post("/Users", {"userName": "only@example.com"})).body
    await scim.post("/Groups", {"displayName": "only@example.com"})
    search = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}

    found = await scim.post("/.search", {**search, "filter": 'userName eq "ONLY@example.com"'})
    assert [r["id"] for r in found.body["Resources"]] == [user["id"]]
    both = await scim.post("/.search", {**search, "filter": 'displayName sw "only"'})
    assert both.body["totalResults"] == 1  # the user has no displayName
    bad = await scim.post("/.search", {**search, "filter": 'nothing eq "x"'})
    assert (bad.status, bad.body["scimType"]) == (400, "invalidFilter")
    unsorted = await scim.post("/.search", {**search, "sortBy": "userName"})
    assert (unsorted.status, unsorted.body["scimType"]) == (400, "invalidValue")
