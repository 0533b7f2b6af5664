"""/api/v1/groups on the real directory: the IdP identifier (Torque guide, "Mapping Torque user
groups to IdP groups"), manual members, and the space roles a group grants."""

from __future__ import annotations

from idmesh.directory.v1 import directory_pb2 as pb
from tests.integration.gateway.api.stack import SYSTEM, Tenant

ENTRA_OBJECT_ID = "5d2f6c3a-9b1e-4f7a-8c2d-3e4f5a6b7c8d"


async def test_a_group_is_created_with_its_idp_identifier_and_found_by_it(tenant: Tenant) -> None:
    """The IdP identifier (an Entra object id) is stored as sent and filters exactly;
    unmapped groups show null."""
    response = await tenant.request(
        "POST", "/groups", json={"display_name": "Engineering", "idp_identifier": ENTRA_OBJECT_ID}
    )
    assert response.status == 201
    group = await response.json()
    assert response.headers["Location"] == f"/api/v1/groups/{group['id']}"
    assert (group["idp_identifier"], group["member_count"], group["space_roles"]) == (
        ENTRA_OBJECT_ID,
        0,
        [],
    )
    plain = await tenant.json("POST", "/groups", expect=201, json={"display_name": "Sales"})
    assert plain["idp_identifier"] is None
    found = await tenant.json("GET", f"/groups?idp_identifier={ENTRA_OBJECT_ID}")
    assert [g["id"] for g in found["items"]] == [group["id"]]
    by_name = await tenant.json("GET", "/groups?display_name=SALES")
    assert [g["id"] for g in by_name["items"]] == [plain["id"]]


async def test_the_idp_identifier_is_set_cleared_and_unique(tenant: Tenant) -> None:
    """Seed: the identifier is set by editing the group; null unmaps it; two groups of an
    account cannot carry the same one (409)."""
    group = await tenant.json("POST", "/groups", expect=201, json={"display_name": "Eng"})
    mapped = await tenant.json(
        "PATCH",
        f"/groups/{group['id']}",
        json={"idp_identifier": ENTRA_OBJECT_ID},
        headers={"If-Match": f'"{group["version"]}"'},
    )
    assert (mapped["idp_identifier"], mapped["display_name"]) == (ENTRA_OBJECT_ID, "Eng")
    other = await tenant.json("POST", "/groups", expect=201, json={"display_name": "Other"})
    clash = await tenant.request(
        "PATCH", f"/groups/{other['id']}", json={"idp_identifier": ENTRA_OBJECT_ID}
    )
    assert clash.status == 409
    assert (await clash.json())["errors"][0]["field"] == "idp_identifier"
    cleared = await tenant.json("PATCH", f"/groups/{group['id']}", json={"idp_identifier": None})
    assert cleared["idp_identifier"] is None
    stale = await tenant.request(
        "PATCH",
        f"/groups/{group['id']}",
        json={"display_name": "x"},
        headers={"If-Match": f'"{group["version"]}"'},
    )
    assert stale.status == 412


async def test_manual_members_are_added_listed_and_removed(tenant: Tenant) -> None:
    """Seed: users can be added and removed manually, also in mapped groups; members from the
    IdP stay (only the manual membership is removed here, 404 when there is none)."""
    ada = await tenant.user("ada@example.com")
    bob = await tenant.user("bob@example.com")
    group = await tenant.json(
        "POST",
        "/groups",
        expect=201,
        json={"display_name": "Eng", "idp_identifier": ENTRA_OBJECT_ID},
    )
    await tenant.stack.directory.ModifyGroupMembers(
        pb.ModifyGroupMembersRequest(
            account_id=tenant.id,
            group_id=group["id"],
            add_user_ids=[bob.id],
            source=pb.MEMBERSHIP_SOURCE_SSO,
            actor=SYSTEM,
        )
    )
    added = await tenant.json(
        "POST", f"/groups/{group['id']}/members", json={"user_ids": [ada.id, ada.id]}
    )
    assert added["member_count"] == 2
    members = await tenant.json("GET", f"/groups/{group['id']}/members")
    assert sorted((m["user_name"], m["source"]) for m in members["items"]) == [
        ("ada@example.com", "manual"),
        ("bob@example.com", "sso"),
    ]
    in_groups = await tenant.json("GET", f"/groups?user_id={ada.id}")
    assert [g["id"] for g in in_groups["items"]] == [group["id"]]

    assert (await tenant.request("DELETE", f"/groups/{group['id']}/members/{bob.id}")).status == 404
    assert (await tenant.request("DELETE", f"/groups/{group['id']}/members/{ada.id}")).status == 204
    members = await tenant.json("GET", f"/groups/{group['id']}/members")
    assert [(m["user_name"], m["source"]) for m in members["items"]] == [("bob@example.com", "sso")]
    unknown = await tenant.request(
        "POST",
        f"/groups/{group['id']}/members",
        json={"user_ids": ["00000000-0000-4000-8000-000000000000"]},
    )
    assert unknown.status == 400
    assert (await unknown.json())["errors"][0]["field"] == "user_ids"


async def test_a_groups_space_roles_are_replaced_as_a_set(tenant: Tenant) -> None:
    """PUT /groups/{id}/space-roles makes the list the group's exact grants (one per space)."""
    dev = await tenant.space("dev")
    prod = await tenant.space("prod")
    member = await tenant.role("Space Member")
    developer = await tenant.role("Space Developer")
    group = await tenant.json("POST", "/groups", expect=201, json={"display_name": "Eng"})
    path = f"/groups/{group['id']}/space-roles"
    both = await tenant.json(
        "PUT",
        path,
        json={
            "space_roles": [
                {"space_id": dev.id, "role_id": developer.id},
                {"space_id": prod.id, "role_id": member.id},
            ]
        },
    )
    assert sorted((g["space_name"], g["role_name"]) for g in both["space_roles"]) == [
        ("dev", "Space Developer"),
        ("prod", "Space Member"),
    ]
    one = await tenant.json(
        "PUT", path, json={"space_roles": [{"space_id": prod.id, "role_id": developer.id}]}
    )
    assert [(g["space_name"], g["role_name"]) for g in one["space_roles"]] == [
        ("prod", "Space Developer")
    ]
    twice = await tenant.request(
        "PUT",
        path,
        json={
            "space_roles": [
                {"space_id": dev.id, "role_id": developer.id},
                {"space_id": dev.id, "role_id": member.id},
            ]
        },
    )
    assert twice.status == 400
    assert (await tenant.json("GET", f"/groups/{group['id']}")) == one


async def test_a_deleted_group_is_gone(tenant: Tenant) -> None:
    """DELETE 204, then 404; the members stay users."""
    user = await tenant.user()
    group = await tenant.json(
        "POST", "/groups", expect=201, json={"display_name": "Tmp", "member_ids": [user.id]}
    )
    assert (await tenant.request("DELETE", f"/groups/{group['id']}")).status == 204
    assert (await tenant.request("GET", f"/groups/{group['id']}")).status == 404
    assert (await tenant.request("GET", f"/users/{user.id}")).status == 200
