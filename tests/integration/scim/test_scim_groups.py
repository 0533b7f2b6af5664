"""/Groups through the scim service and a real directory: Entra's and Okta's group provisioning
(docs/scim-clients.md §2 rows 3, 5–7, 12; §5 rows 8–11)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from idmesh.directory.v1 import directory_pb2 as pb
from scim.groups import WHOLE_GROUP_MAX_MEMBERS
from tests.support.directory import ADMIN, Stub, new_account

from .harness import BASE_URL, Scim, created, okta_user

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ADSCIM = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"


async def new_group(scim: Scim, **fields: Any) -> dict[str, Any]:
    body = {"schemas": [GROUP], "displayName": f"Group {uuid.uuid4().hex[:6]}", **fields}
    reply = await scim.post("/Groups", body)
    assert reply.status == 201, reply.body
    return reply.body  # type: ignore[no-any-return]


async def users(scim: Scim, count: int) -> list[str]:
    return [(await created(scim, okta_user()))["id"] for _ in range(count)]


async def member_ids(scim: Scim, group_id: str) -> list[str]:
    reply = await scim.get(f"/Groups/{group_id}")
    return sorted(m["value"] for m in reply.body.get("members", []))


async def test_entras_group_create_with_the_adscim_uri(scim: Scim) -> None:
    """docs/scim-clients.md §2 row 5: the extra URI is ignored; externalId is kept as the
    group's IdP identifier; 201 with Location and ETag."""
    external_id = str(uuid.uuid4())
    reply = await scim.post(
        "/Groups",
        {
            "schemas": [GROUP, ADSCIM],
            "externalId": external_id,
            "displayName": "Group1DisplayName",
            "meta": {"resourceType": "Group"},
        },
    )
    assert reply.status == 201, reply.body
    assert reply.body["externalId"] == external_id
    assert reply.body["schemas"] == [GROUP]
    assert reply.location == f"{BASE_URL}/Groups/{reply.body['id']}"
    assert reply.etag == reply.body["meta"]["version"]


async def test_entra_matches_and_reads_groups_without_members(scim: Scim) -> None:
    """docs/scim-clients.md §2 rows 3 and 6: displayName filter, excludedAttributes=members."""
    [user] = await users(scim, 1)
    group = await new_group(scim, members=[{"value": user}])
    listed = await scim.get(
        "/Groups", excludedAttributes="members", filter=f'displayName eq "{group["displayName"]}"'
    )
    assert [g["id"] for g in listed.body["Resources"]] == [group["id"]]
    assert "members" not in listed.body["Resources"][0]
    single = await scim.get(f"/Groups/{group['id']}", excludedAttributes="members")
    assert "members" not in single.body
    full = await scim.get(f"/Groups/{group['id']}")
    assert full.body["members"] == [
        {"value": user, "$ref": f"{BASE_URL}/Users/{user}", "type": "User"}
    ]
    by_external = await scim.get("/Groups", filter=f'externalId eq "{uuid.uuid4()}"')
    assert by_external.body["totalResults"] == 0


async def test_entras_membership_reference_check(scim: Scim) -> None:
    """docs/scim-clients.md §2 row 7: `id eq "<gid>" and members[value eq "<uid>"]` and
    `members eq "<uid>"` give a correct 0/1 result."""
    member, other = await users(scim, 2)
    group = await new_group(scim, members=[{"value": member}])
    for user, expected in ((member, 1), (other, 0)):
        for filter_ in (
            f'id eq "{group["id"]}" and members[value eq "{user}"]',
            f'members eq "{user}"',
        ):
            reply = await scim.get("/Groups", filter=filter_, excludedAttributes="members")
            assert reply.status == 200, reply.body
            assert reply.body["totalResults"] == expected, filter_


async def test_entra_adds_many_members_in_one_patch_and_gets_the_whole_group(
    scim: Scim,
) -> None:
    """docs/scim-clients.md §2 row 12: one PATCH, many memberships; 200 with the entire group
    (RFC 7644 §3.5.2), which Entra accepts besides the 204 it recommends."""
    ids = await users(scim, 30)
    group = await new_group(scim)
    reply = await scim.patch(
        f"/Groups/{group['id']}",
        {"op": "Add", "path": "members", "value": [{"$ref": None, "value": i} for i in ids]},
    )
    assert reply.status == 200
    assert reply.body["id"] == group["id"]
    assert sorted(m["value"] for m in reply.body["members"]) == sorted(ids)
    assert await member_ids(scim, group["id"]) == sorted(ids)


async def test_entras_default_remove_with_value_removes_only_the_listed_members(
    scim: Scim,
) -> None:
    """docs/scim-clients.md §3 row 4: a strict server removes every member."""
    a, b, c = await users(scim, 3)
    group = await new_group(scim, members=[{"value": a}, {"value": b}, {"value": c}])
    reply = await scim.patch(
        f"/Groups/{group['id']}", {"op": "Remove", "path": "members", "value": [{"value": b}]}
    )
    assert reply.status == 200
    assert await member_ids(scim, group["id"]) == sorted([a, c])
    reply = await scim.patch(
        f"/Groups/{group['id']}", {"op": "remove", "path": f'members[value eq "{a}"]'}
    )
    assert reply.status == 200
    assert await member_ids(scim, group["id"]) == [c]


async def test_oktas_rename_and_membership_push_in_one_patch(scim: Scim) -> None:
    """docs/scim-clients.md §4 (rename with the group's id) and §5 rows 9–10 (remove + add)."""
    a, b = await users(scim, 2)
    group = await new_group(scim, members=[{"value": a}])
    reply = await scim.patch(
        f"/Groups/{group['id']}",
        {"op": "replace", "value": {"id": group["id"], "displayName": "Renamed"}},
        {"op": "remove", "path": f'members[value eq "{a}"]'},
        {"op": "add", "path": "members", "value": [{"value": b}]},
    )
    assert reply.status == 200, reply.body
    fetched = await scim.get(f"/Groups/{group['id']}")
    assert fetched.body["displayName"] == "Renamed"
    assert [m["value"] for m in fetched.body["members"]] == [b]


async def test_a_full_push_replaces_the_members(scim: Scim) -> None:
    """Okta's `replace` of members (docs/scim-clients.md §5 row 10); null clears them."""
    a, b, c = await users(scim, 3)
    group = await new_group(scim, members=[{"value": a}, {"value": b}])
    path = f"/Groups/{group['id']}"
    await scim.patch(path, {"op": "replace", "path": "members", "value": [{"value": c}]})
    assert await member_ids(scim, group["id"]) == [c]
    await scim.patch(path, {"op": "replace", "path": "members", "value": None})
    assert await member_ids(scim, group["id"]) == []


async def test_group_patch_answers_200_with_the_group_when_attributes_are_asked_for(
    scim: Scim,
) -> None:
    """Issue: Group PATCH is 204 unless attributes are asked for (scim-sanity wants 200)."""
    group = await new_group(scim)
    reply = await scim.request(
        "PATCH",
        f"/Groups/{group['id']}",
        {"Operations": [{"op": "replace", "path": "displayName", "value": "X"}]},
        query={"excludedAttributes": "members"},
    )
    assert reply.status == 200
    assert reply.body["displayName"] == "X"
    assert "members" not in reply.body
    assert reply.etag != group["meta"]["version"]


async def test_nested_groups_are_refused_with_a_clear_400(scim: Scim) -> None:
    """Issue: nested groups refused (Entra does not provision them, scim-clients.md §2 row 12),
    whether typed as Group or given by a group's id."""
    inner = await new_group(scim)
    outer = await new_group(scim)
    for member in ({"value": inner["id"], "type": "Group"}, {"value": inner["id"]}):
        reply = await scim.patch(
            f"/Groups/{outer['id']}", {"op": "add", "path": "members", "value": [member]}
        )
        assert reply.status == 400, reply.body
        assert reply.body["scimType"] == "invalidValue"
        assert "nested groups are not supported" in reply.body["detail"]
    reply = await scim.post(
        "/Groups", {"schemas": [GROUP], "displayName": "N", "members": [{"value": inner["id"]}]}
    )
    assert reply.status == 400
    assert "nested groups" in reply.body["detail"]


async def test_member_ids_that_name_no_user_are_left_out_and_the_others_are_added(
    scim: Scim,
) -> None:
    """scim-sanity adds the member "fake-member-id" and wants 200; Entra and Okta only send ids
    of users they created (docs/scim-clients.md §8). Nothing dangling is stored, the valid
    members of the same write are not lost, and reading the group back shows what exists: on
    PATCH, POST and PUT alike."""
    [user] = await users(scim, 1)
    group = await new_group(scim)
    reply = await scim.patch(
        f"/Groups/{group['id']}",
        {
            "op": "add",
            "path": "members",
            "value": [{"value": "fake-member-id"}, {"value": str(uuid.uuid4())}, {"value": user}],
        },
    )
    assert reply.status == 200, reply.body
    assert await member_ids(scim, group["id"]) == [user]

    created = await scim.post(
        "/Groups",
        {"schemas": [GROUP], "displayName": "P", "members": [{"value": "x"}, {"value": user}]},
    )
    assert created.status == 201, created.body
    assert [m["value"] for m in created.body["members"]] == [user]
    replaced = await scim.put(
        f"/Groups/{group['id']}",
        {"schemas": [GROUP], "displayName": "Q", "members": [{"value": str(uuid.uuid4())}]},
    )
    assert replaced.status == 200, replaced.body
    assert await member_ids(scim, group["id"]) == []


async def test_okta_aiw_put_replaces_name_and_members(scim: Scim) -> None:
    a, b = await users(scim, 2)
    group = await new_group(scim, members=[{"value": a}])
    reply = await scim.put(
        f"/Groups/{group['id']}",
        {"schemas": [GROUP], "displayName": "Put", "members": [{"value": b}]},
    )
    assert reply.status == 200, reply.body
    assert reply.body["displayName"] == "Put"
    assert [m["value"] for m in reply.body["members"]] == [b]


async def test_a_duplicate_external_id_is_409(scim: Scim) -> None:
    external_id = str(uuid.uuid4())
    await new_group(scim, externalId=external_id)
    reply = await scim.post(
        "/Groups", {"schemas": [GROUP], "displayName": "Y", "externalId": external_id}
    )
    assert reply.status == 409
    assert reply.body["scimType"] == "uniqueness"


async def test_group_delete_is_204_then_404(scim: Scim) -> None:
    """docs/scim-clients.md §5 row 11."""
    group = await new_group(scim)
    assert (await scim.delete(f"/Groups/{group['id']}")).status == 204
    assert (await scim.get(f"/Groups/{group['id']}")).status == 404
    assert (
        await scim.patch(
            f"/Groups/{group['id']}", {"op": "replace", "path": "displayName", "value": "x"}
        )
    ).status == 404


async def test_groups_list_and_search(scim: Scim) -> None:
    """Okta's `GET /Groups` (docs/scim-clients.md §5) and POST /Groups/.search."""
    first = await new_group(scim, displayName="Alpha")
    await new_group(scim, displayName="Beta")
    listed = await scim.get("/Groups")
    assert listed.body["totalResults"] == 2
    found = await scim.post(
        "/Groups/.search",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'displayName sw "al"',
            "attributes": ["displayName"],
        },
    )
    assert found.body["Resources"] == [
        {"schemas": [GROUP], "id": first["id"], "displayName": "Alpha"}
    ]
    sorted_desc = await scim.get("/Groups", sortBy="displayName", sortOrder="descending")
    assert [g["displayName"] for g in sorted_desc.body["Resources"]] == ["Beta", "Alpha"]


async def test_group_patch_answers_the_whole_group_unless_204_is_the_accounts_choice(
    scim: Scim, directory: Stub
) -> None:
    """RFC 7644 §3.5.2: 200 with the entire resource subject to attributes/excludedAttributes,
    or 204. The default is 200 (scim-sanity accepts nothing else; scim2-tester reads what was
    patched from the body; docs/scim-clients.md §8); excludedAttributes keeps the member list
    out; an account that chose 204 gets 204, unless the request asks for attributes, and the
    account next door keeps the default."""
    [user] = await users(scim, 1)
    group = await new_group(scim)

    reply = await scim.patch(
        f"/Groups/{group['id']}", {"op": "add", "path": "members", "value": [{"value": user}]}
    )

    assert reply.status == 200
    assert reply.body["id"] == group["id"]
    assert [m["value"] for m in reply.body["members"]] == [user]
    assert reply.etag == reply.body["meta"]["version"] != group["meta"]["version"]
    assert await member_ids(scim, group["id"]) == [user]
    lean = await scim.request(
        "PATCH",
        f"/Groups/{group['id']}",
        {"Operations": [{"op": "replace", "path": "displayName", "value": "Lean"}]},
        query={"excludedAttributes": "members"},
    )
    assert (lean.status, lean.body["displayName"]) == (200, "Lean")
    assert "members" not in lean.body

    await _set_group_patch_answer(directory, scim.account_id, returns_resource=False)
    reply = await scim.patch(
        f"/Groups/{group['id']}", {"op": "replace", "path": "displayName", "value": "X"}
    )
    assert (reply.status, reply.body) == (204, None)
    asked = await scim.request(
        "PATCH",
        f"/Groups/{group['id']}",
        {"Operations": [{"op": "replace", "path": "displayName", "value": "Z"}]},
        query={"attributes": "members"},
    )
    assert asked.status == 200
    assert [m["value"] for m in asked.body["members"]] == [user]

    neighbour = Scim(scim.stub, (await new_account(directory)).id)
    other = await new_group(neighbour)
    reply = await neighbour.patch(
        f"/Groups/{other['id']}", {"op": "replace", "path": "displayName", "value": "Y"}
    )
    assert reply.status == 200


async def test_a_patch_to_a_group_of_more_than_a_thousand_members_answers_204(
    scim: Scim, directory_pool: asyncpg.Pool
) -> None:
    """RFC 7644 §3.5.2 allows 204 for any PATCH; above WHOLE_GROUP_MAX_MEMBERS the member list
    would cost in proportion to the group, and Microsoft advises 204 for large groups
    (docs/scim-clients.md §2 row 12). A request that asks for attributes still gets 200."""
    group = await new_group(scim)
    account_id, group_id = uuid.UUID(scim.account_id), uuid.UUID(group["id"])
    async with directory_pool.acquire() as conn, conn.transaction():
        ids = await conn.fetch(
            "INSERT INTO directory.users (account_id, user_name, account_role_id, status)"
            " SELECT $1, 'member-' || i || '@large.example', r.id, 'pending'"
            " FROM generate_series(1, $2::int) AS i, directory.roles r"
            " WHERE r.account_id = $1 AND r.scope = 'account' AND r.name = 'Account Member'"
            " RETURNING id",
            account_id,
            WHOLE_GROUP_MAX_MEMBERS,
        )
        await conn.execute(
            "INSERT INTO directory.group_members (account_id, group_id, user_id, source)"
            " SELECT $1, $2, unnest($3::uuid[]), 'scim'",
            account_id,
            group_id,
            [row["id"] for row in ids],
        )
        await conn.execute(
            "UPDATE directory.groups SET member_count = $3 WHERE account_id = $1 AND id = $2",
            account_id,
            group_id,
            WHOLE_GROUP_MAX_MEMBERS,
        )
    [joining] = await users(scim, 1)

    reply = await scim.patch(
        f"/Groups/{group['id']}", {"op": "add", "path": "members", "value": [{"value": joining}]}
    )

    assert (reply.status, reply.body) == (204, None)
    assert joining in await member_ids(scim, group["id"])
    asked = await scim.request(
        "PATCH",
        f"/Groups/{group['id']}",
        {"Operations": [{"op": "replace", "path": "displayName", "value": "Everyone"}]},
        query={"excludedAttributes": "members"},
    )
    assert (asked.status, asked.body["displayName"]) == (200, "Everyone")


async def _set_group_patch_answer(
    directory: Stub, account_id: str, *, returns_resource: bool
) -> None:
    account = (await directory.GetAccount(pb.GetAccountRequest(account_id=account_id))).account
    settings = pb.AccountSettings()
    settings.CopyFrom(account.settings)
    settings.scim_group_patch_returns_resource = returns_resource
    await directory.UpdateAccount(
        pb.UpdateAccountRequest(
            account_id=account_id,
            display_name=account.display_name,
            settings=settings,
            expected_version=account.version,
            actor=ADMIN,
        )
    )
