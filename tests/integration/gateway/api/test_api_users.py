"""/api/v1/users on the real directory: filtered, paged lists; JSON merge patch with ETag and
If-Match; deactivation, reactivation and deletion, audited as the admin API token."""

from __future__ import annotations

import asyncio

from idmesh.directory.v1 import directory_pb2 as pb
from tests.integration.gateway.api.stack import Tenant


def _names(body: dict[str, list[dict[str, str]]]) -> list[str]:
    return [user["user_name"] for user in body["items"]]


async def test_users_are_filtered_by_the_attributes_admins_search_by(tenant: Tenant) -> None:
    """Brief: ?user_name=, ?email=, ?status=, ?external_id=, ?group_id= become the directory's
    structured filter (AND-ed); user_name and email compare case-insensitively (RFC 7643
    §2.2 caseExact=false)."""
    ada = await tenant.user(
        "ada@example.com",
        external_id="okta-ada",
        emails=[pb.MultiValue(value="Ada.Work@Example.com", type="work")],
    )
    await tenant.user("bob@example.com", initial_status=pb.USER_STATUS_ACTIVE)
    grace = await tenant.user("grace@example.com")
    group = await tenant.group()
    await tenant.stack.directory.ModifyGroupMembers(
        pb.ModifyGroupMembersRequest(
            account_id=tenant.id, group_id=group.id, add_user_ids=[ada.id, grace.id]
        )
    )

    assert _names(await tenant.json("GET", "/users")) == [
        "ada@example.com",
        "bob@example.com",
        "grace@example.com",
    ]
    assert _names(await tenant.json("GET", "/users?user_name=ADA@example.com")) == [
        "ada@example.com"
    ]
    assert _names(await tenant.json("GET", "/users?email=ada.work@example.com")) == [
        "ada@example.com"
    ]
    assert _names(await tenant.json("GET", "/users?external_id=okta-ada")) == ["ada@example.com"]
    assert _names(await tenant.json("GET", "/users?status=pending")) == [
        "ada@example.com",
        "grace@example.com",
    ]
    members = await tenant.json("GET", f"/users?group_id={group.id}")
    assert sorted(_names(members)) == ["ada@example.com", "grace@example.com"]
    both = await tenant.json("GET", f"/users?group_id={group.id}&user_name=grace@example.com")
    assert _names(both) == ["grace@example.com"]


async def test_a_filter_value_is_data_not_query_text(tenant: Tenant) -> None:
    """No string-built SQL: quotes, wildcards and boolean syntax in a value match literally."""
    await tenant.user("o'brien@example.com")
    await tenant.user("plain@example.com")
    for hostile in ("' OR '1'='1", "%", "_lain@example.com", 'x" or "1"="1'):
        body = await tenant.json("GET", "/users", params={"user_name": hostile})
        assert body["items"] == [], hostile
    body = await tenant.json("GET", "/users", params={"user_name": "o'brien@example.com"})
    assert _names(body) == ["o'brien@example.com"]


async def test_lists_are_paged_with_next_page_token(tenant: Tenant) -> None:
    """Brief: page_size and page_token; next_page_token is null on the last page."""
    for index in range(5):
        await tenant.user(f"user{index}@example.com")
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params = {"page_size": "2", **({"page_token": token} if token else {})}
        body = await tenant.json("GET", "/users", params=params)
        seen.extend(_names(body))
        pages += 1
        token = body["next_page_token"]
        if token is None:
            break
    assert pages == 3
    assert seen == [f"user{index}@example.com" for index in range(5)]


async def test_a_group_filter_pages_through_the_groups_members(tenant: Tenant) -> None:
    """?group_id= follows the group's member pages (the directory has no user filter on groups)."""
    group = await tenant.group()
    users = [await tenant.user(f"m{index}@example.com") for index in range(3)]
    await tenant.stack.directory.ModifyGroupMembers(
        pb.ModifyGroupMembersRequest(
            account_id=tenant.id, group_id=group.id, add_user_ids=[u.id for u in users]
        )
    )
    first = await tenant.json("GET", f"/users?group_id={group.id}&page_size=2")
    assert len(first["items"]) == 2
    second = await tenant.json(
        "GET", f"/users?group_id={group.id}&page_size=2&page_token={first['next_page_token']}"
    )
    assert len(second["items"]) == 1
    assert second["next_page_token"] is None
    ids = {u["id"] for u in first["items"] + second["items"]}
    assert ids == {u.id for u in users}


async def test_bad_list_parameters_are_400_problems_naming_the_parameter(tenant: Tenant) -> None:
    """RFC 9457: a misspelt filter never silently lists everything; each refusal names it."""
    cases = {
        "/users?stauts=active": "stauts",
        "/users?status=enabled": "status",
        "/users?group_id=not-a-uuid": "group_id",
        "/users?page_size=0": "page_size",
        "/users?page_size=1001": "page_size",
        "/users?status=active&status=pending": "status",
        "/users?page_token=garbage": "page_token",
    }
    for path, field in cases.items():
        response = await tenant.request("GET", path)
        assert response.status == 400, path
        assert response.content_type == "application/problem+json"
        body = await response.json()
        assert body["errors"][0]["field"] == field, (path, body)


async def test_a_user_is_read_with_its_version_as_etag(tenant: Tenant) -> None:
    """RFC 9110 §8.8.3: the ETag is the resource's version as a strong entity tag."""
    user = await tenant.user("ada@example.com", timezone="Europe/London")
    response = await tenant.request("GET", f"/users/{user.id}")
    assert response.status == 200
    body = await response.json()
    assert response.headers["ETag"] == f'"{body["version"]}"'
    assert body["user_name"] == "ada@example.com"
    assert body["timezone"] == "Europe/London"
    assert body["status"] == "pending"
    assert body["active"] is True
    assert body["account_role_name"] == "Account Member"
    assert body["last_login_time"] is None


async def test_patch_merges_the_writable_members(tenant: Tenant) -> None:
    """RFC 7396: members left out keep their value, null clears one, objects merge, arrays are
    replaced whole."""
    user = await tenant.user(
        "ada@example.com",
        nick_name="ada",
        title="Analyst",
        name=pb.Name(given_name="Ada", family_name="Byron"),
        emails=[pb.MultiValue(value="ada@example.com", type="work", primary=True)],
    )
    body = await tenant.json(
        "PATCH",
        f"/users/{user.id}",
        json={
            "name": {"family_name": "Lovelace"},
            "nick_name": None,
            "emails": [{"value": "ada@lovelace.example", "type": "home"}],
            "timezone": "Europe/London",
        },
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert body["name"]["given_name"] == "Ada"
    assert body["name"]["family_name"] == "Lovelace"
    assert body["nick_name"] == ""
    assert body["title"] == "Analyst"
    assert [e["value"] for e in body["emails"]] == ["ada@lovelace.example"]
    assert body["timezone"] == "Europe/London"
    assert body["version"] == user.version + 1


async def test_patch_refuses_read_only_and_invalid_members_naming_them(tenant: Tenant) -> None:
    """400 problems whose errors[].field names the member; the directory's own checks (an
    IANA time zone, a unique userName) are reported the same way."""
    user = await tenant.user("ada@example.com")
    await tenant.user("bob@example.com")
    cases = [
        ({"status": "active"}, 400, "status"),
        ({"id": user.id}, 400, "id"),
        ({"name": {"given": "Ada"}}, 400, "name.given"),
        ({"emails": [{"value": 7}]}, 400, "emails[0].value"),
        ({"user_name": None}, 400, "user_name"),
        ({"timezone": "Mars/Olympus"}, 400, "timezone"),
        ({"user_name": "BOB@example.com"}, 409, "user_name"),
    ]
    for patch, status, field in cases:
        response = await tenant.request("PATCH", f"/users/{user.id}", json=patch)
        assert response.status == status, (patch, await response.text())
        body = await response.json()
        assert body["errors"][0]["field"] == field, (patch, body)


async def test_patch_with_a_stale_if_match_is_412_and_changes_nothing(tenant: Tenant) -> None:
    """RFC 9110 §13.1.1: If-Match with the ETag read applies the change; a stale one, or a weak
    tag (strong comparison), is 412 Precondition Failed; * matches any current version."""
    user = await tenant.user("ada@example.com")
    etag = f'"{user.version}"'
    updated = await tenant.json(
        "PATCH", f"/users/{user.id}", json={"title": "CEO"}, headers={"If-Match": etag}
    )
    assert updated["title"] == "CEO"
    for stale in (etag, f'W/"{updated["version"]}"', '"0"', "garbage"):
        response = await tenant.request(
            "PATCH", f"/users/{user.id}", json={"title": "CTO"}, headers={"If-Match": stale}
        )
        assert response.status == 412, stale
        assert response.content_type == "application/problem+json"
    current = f'"{updated["version"]}"'
    listed = await tenant.json(
        "PATCH",
        f"/users/{user.id}",
        json={"title": "CFO"},
        headers={"If-Match": f'"999", {current}'},
    )
    assert listed["title"] == "CFO"
    star = await tenant.json(
        "PATCH", f"/users/{user.id}", json={"title": "COO"}, headers={"If-Match": "*"}
    )
    assert star["title"] == "COO"


async def test_a_non_json_body_is_415_and_malformed_json_is_400(tenant: Tenant) -> None:
    """RFC 9110 §15.5.16 Unsupported Media Type; RFC 9457 bodies for both."""
    user = await tenant.user()
    response = await tenant.request(
        "PATCH", f"/users/{user.id}", data="title=x", headers={"Content-Type": "text/plain"}
    )
    assert response.status == 415
    response = await tenant.request(
        "PATCH", f"/users/{user.id}", data="{", headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert (await response.json())["errors"][0]["field"] == "body"
    response = await tenant.request("PATCH", f"/users/{user.id}", json={"title": "a\x00b"})
    assert response.status == 400


async def test_deactivation_and_reactivation_are_custom_methods(tenant: Tenant) -> None:
    """POST /users/{id}:deactivate and :reactivate (AIP-136): status and active change;
    repeating one changes nothing; a reactivated user who never signed in is pending."""
    user = await tenant.user("ada@example.com")
    deactivated = await tenant.json("POST", f"/users/{user.id}:deactivate")
    assert (deactivated["status"], deactivated["active"]) == ("deactivated", False)
    again = await tenant.json("POST", f"/users/{user.id}:deactivate")
    assert again["version"] == deactivated["version"]
    listed = await tenant.json("GET", "/users?status=deactivated")
    assert _names(listed) == ["ada@example.com"]
    reactivated = await tenant.json("POST", f"/users/{user.id}:reactivate")
    assert (reactivated["status"], reactivated["active"]) == ("pending", True)
    stale = await tenant.request(
        "POST", f"/users/{user.id}:deactivate", headers={"If-Match": f'"{user.version}"'}
    )
    assert stale.status == 412


async def test_changes_are_audited_as_the_admin_api_token(tenant: Tenant) -> None:
    """Brief: the audit actor is ACTOR_TYPE_ADMIN_API with the token's id."""
    user = await tenant.user("ada@example.com")
    await tenant.json("POST", f"/users/{user.id}:deactivate")
    events = await tenant.json("GET", f"/audit-events?target_id={user.id}&actor_type=admin_api")
    (event,) = events["items"]
    assert event["actor"]["type"] == "admin_api"
    assert event["actor"]["id"] == tenant.token_id


async def test_a_deleted_user_is_gone(tenant: Tenant) -> None:
    """DELETE answers 204, then the user is 404; a stale If-Match keeps the user (412)."""
    user = await tenant.user()
    stale = await tenant.request("DELETE", f"/users/{user.id}", headers={"If-Match": '"42"'})
    assert stale.status == 412
    response = await tenant.request(
        "DELETE", f"/users/{user.id}", headers={"If-Match": f'"{user.version}"'}
    )
    assert response.status == 204
    assert (await tenant.request("GET", f"/users/{user.id}")).status == 404
    assert (await tenant.request("DELETE", f"/users/{user.id}")).status == 404


async def test_two_writers_with_the_same_etag_cannot_both_win(tenant: Tenant) -> None:
    """RFC 9110 §13.1.1 prevents the lost update: of two concurrent PATCHes made from the same
    read, one applies and the other is 412."""
    user = await tenant.user()
    etag = f'"{user.version}"'
    first, second = await asyncio.gather(
        tenant.request(
            "PATCH", f"/users/{user.id}", json={"title": "A"}, headers={"If-Match": etag}
        ),
        tenant.request(
            "PATCH", f"/users/{user.id}", json={"title": "B"}, headers={"If-Match": etag}
        ),
    )
    assert sorted([first.status, second.status]) == [200, 412]
    stored = await tenant.json("GET", f"/users/{user.id}")
    winner = first if first.status == 200 else second
    assert stored["title"] == (await winner.json())["title"]
    assert stored["version"] == user.version + 1
