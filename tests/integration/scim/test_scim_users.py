"""/Users through the scim service and a real directory: what Entra ID and Okta do, request by
request (docs/scim-clients.md §2, §5), and the RFC 7644 rules behind them."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from idmesh.directory.v1 import directory_pb2 as pb
from tests.support.directory import ADMIN, Stub, role_named

from .harness import BASE_URL, Scim, created, entra_user, okta_user

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


async def test_entras_test_connection_filter_on_a_random_guid_is_an_empty_list(scim: Scim) -> None:
    """docs/scim-clients.md §2 row 1: 200 + empty ListResponse, never 404."""
    for attribute in ("userName", "externalId", 'emails[type eq "work"].value', "id"):
        reply = await scim.get("/Users", filter=f'{attribute} eq "{uuid.uuid4()}"')
        assert reply.status == 200, reply.body
        assert reply.body == {
            "schemas": [LIST],
            "totalResults": 0,
            "startIndex": 1,
            "itemsPerPage": 0,
            "Resources": [],
        }


async def test_entra_create_answers_201_with_id_location_and_etag(scim: Scim) -> None:
    """docs/scim-clients.md §2 row 4; RFC 7644 §3.3 (Location) and §3.14 (ETag)."""
    body = entra_user()
    reply = await scim.post("/Users", body)
    assert reply.status == 201
    user = reply.body
    assert user["id"]
    assert user["userName"] == body["userName"]
    assert user["active"] is True
    assert user["name"]["givenName"] == "Given"
    assert reply.location == f"{BASE_URL}/Users/{user['id']}"
    assert user["meta"]["location"] == reply.location
    assert reply.etag == user["meta"]["version"]
    assert reply.etag.startswith('W/"')
    assert user["roles"] == [{"value": "Account Member"}]
    assert "password" not in user


async def test_entra_matches_users_by_each_of_its_matching_attributes(scim: Scim) -> None:
    """docs/scim-clients.md §2 row 2: userName (any case), externalId, work email."""
    user = await created(scim, entra_user())
    for filter_ in (
        f'userName eq "{user["userName"].upper()}"',
        f'externalId eq "{user["externalId"]}"',
        f'emails[type eq "work"].value eq "{user["userName"]}"',
        f'userName eq "{user["userName"]}" and active eq true',
    ):
        reply = await scim.get("/Users", filter=filter_)
        assert reply.status == 200, reply.body
        assert [r["id"] for r in reply.body["Resources"]] == [user["id"]], filter_


async def test_oktas_create_with_password_and_groups_is_201_and_never_echoes_the_password(
    scim: Scim,
) -> None:
    """docs/scim-clients.md §5 row 3 (and zitadel#10009: no password policy to fail)."""
    reply = await scim.post("/Users", okta_user(), content_type="application/json")
    assert reply.status == 201
    assert "password" not in reply.body
    fetched = await scim.get(f"/Users/{reply.body['id']}")
    assert "password" not in fetched.body
    assert "1mz050nq" not in str(fetched.body)


async def test_a_live_duplicate_user_name_in_another_case_is_409_uniqueness(scim: Scim) -> None:
    """docs/scim-clients.md §1 and Okta's recreate test (§5): 409 + SCIM error."""
    body = okta_user()
    await created(scim, body)
    reply = await scim.post("/Users", {**body, "userName": body["userName"].upper()})
    assert reply.status == 409
    assert reply.body["schemas"] == [ERROR]
    assert reply.body["status"] == "409"
    assert reply.body["scimType"] == "uniqueness"


async def test_deactivation_keeps_the_user_readable_and_filterable(scim: Scim) -> None:
    """docs/scim-clients.md §1, §2 row 10, §3 row 1: Entra's "False" string disables; the
    user stays visible by GET and by filter; "True" reactivates."""
    user = await created(scim, entra_user())
    reply = await scim.patch(
        f"/Users/{user['id']}", {"op": "Replace", "path": "active", "value": "False"}
    )
    assert reply.status == 200
    assert reply.body["active"] is False
    assert (await scim.get(f"/Users/{user['id']}")).body["active"] is False
    listed = await scim.get("/Users", filter=f'userName eq "{user["userName"]}"')
    assert [r["active"] for r in listed.body["Resources"]] == [False]
    inactive = await scim.get("/Users", filter="active eq false")
    assert [r["id"] for r in inactive.body["Resources"]] == [user["id"]]
    reply = await scim.patch(f"/Users/{user['id']}", {"op": "replace", "value": {"active": True}})
    assert reply.body["active"] is True


async def test_an_unchanged_patch_does_not_bump_the_version(scim: Scim) -> None:
    """Entra re-sends active=true every cycle (docs/scim-clients.md §2 row 10)."""
    user = await created(scim, entra_user())
    reply = await scim.patch(
        f"/Users/{user['id']}", {"op": "Replace", "path": "active", "value": "True"}
    )
    assert reply.etag == user["meta"]["version"]


async def test_delete_is_204_then_404_and_the_user_name_is_free_again(scim: Scim) -> None:
    """docs/scim-clients.md §2 row 11 and §7 (django-scim2#83)."""
    body = entra_user()
    user = await created(scim, body)
    reply = await scim.delete(f"/Users/{user['id']}")
    assert (reply.status, reply.body) == (204, None)
    missing = await scim.get(f"/Users/{user['id']}")
    assert missing.status == 404
    assert missing.body["status"] == "404"
    assert missing.body["detail"]
    again = await scim.post("/Users", body)
    assert again.status == 201
    assert again.body["id"] != user["id"]


async def test_posting_the_user_name_of_a_deactivated_user_revives_it(scim: Scim) -> None:
    """409 is only for a live conflict (docs/scim-clients.md §7): the deactivated user takes
    the new representation and is active again."""
    body = okta_user()
    user = await created(scim, body)
    await scim.patch(f"/Users/{user['id']}", {"op": "replace", "path": "active", "value": False})
    reply = await scim.post("/Users", {**body, "displayName": "Back Again"})
    assert reply.status == 201
    assert reply.body["id"] == user["id"]
    assert reply.body["active"] is True
    assert reply.body["displayName"] == "Back Again"


async def test_unknown_ids_are_404_with_a_scim_error(scim: Scim) -> None:
    """Okta SPEC test (docs/scim-clients.md §5): 404, Error schema, string status."""
    for path in (f"/Users/{uuid.uuid4()}", "/Users/not-a-uuid"):
        for method in ("GET", "PUT", "PATCH", "DELETE"):
            body: Any = None
            if method == "PUT":
                body = okta_user()
            elif method == "PATCH":
                body = {"Operations": [{"op": "replace", "path": "title", "value": "x"}]}
            reply = await scim.request(method, path, body)
            assert reply.status == 404, (method, path, reply.body)
            assert reply.body["schemas"] == [ERROR]
            assert reply.body["status"] == "404"


async def test_entra_patch_dialects_update_the_user(scim: Scim) -> None:
    """docs/scim-clients.md §2 row 8 and §3: one op per path (default) and no-path values
    with dotted and URN keys (aadOptscim062020)."""
    user = await created(scim, entra_user())
    path = f"/Users/{user['id']}"
    reply = await scim.patch(
        path,
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "new@example.com"},
        {"op": "Replace", "path": "name.familyName", "value": "Jensen"},
        {"op": "Add", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+1 555 0100"},
        {"op": "Add", "path": 'addresses[type eq "work"].streetAddress', "value": "1 Main St"},
        {"op": "Replace", "path": f"{ENTERPRISE}:employeeNumber", "value": "701984"},
    )
    assert reply.status == 200, reply.body
    assert reply.body["emails"][0]["value"] == "new@example.com"
    assert reply.body["phoneNumbers"] == [
        {"value": "+1 555 0100", "type": "mobile", "primary": False}
    ]
    assert reply.body["addresses"] == [
        {"streetAddress": "1 Main St", "type": "work", "primary": False}
    ]
    reply = await scim.patch(
        path,
        {
            "op": "replace",
            "value": {
                "displayName": "Babs",
                "name.givenName": "Barbara",
                f"{ENTERPRISE}:department": "Tours",
            },
        },
    )
    assert reply.body["displayName"] == "Babs"
    assert reply.body["name"] == {
        "formatted": "Given Family",
        "familyName": "Jensen",
        "givenName": "Barbara",
    }
    assert reply.body[ENTERPRISE] == {"employeeNumber": "701984", "department": "Tours"}
    found = await scim.get("/Users", filter=f'{ENTERPRISE}:employeeNumber eq "701984"')
    assert [r["id"] for r in found.body["Resources"]] == [user["id"]]


async def test_entras_bare_string_manager_is_stored_and_checked_by_filter(scim: Scim) -> None:
    """docs/scim-clients.md §2 rows 7 and 9: the manager as a bare id, then Entra's
    reference check `id eq … and manager eq …`."""
    manager = await created(scim, entra_user())
    user = await created(scim, entra_user())
    reply = await scim.patch(
        f"/Users/{user['id']}",
        {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": manager["id"]},
    )
    assert reply.status == 200, reply.body
    assert reply.body[ENTERPRISE]["manager"]["value"] == manager["id"]
    assert reply.body[ENTERPRISE]["manager"]["$ref"] == f"{BASE_URL}/Users/{manager['id']}"
    check = await scim.get(
        "/Users", filter=f'id eq "{user["id"]}" and {ENTERPRISE}:manager eq "{manager["id"]}"'
    )
    assert check.body["totalResults"] == 1
    unknown = await scim.patch(
        f"/Users/{user['id']}",
        {"op": "Replace", "path": f"{ENTERPRISE}:manager", "value": str(uuid.uuid4())},
    )
    assert unknown.status == 400
    removed = await scim.patch(
        f"/Users/{user['id']}", {"op": "Remove", "path": f"{ENTERPRISE}:manager"}
    )
    assert ENTERPRISE not in removed.body


async def test_okta_updates_by_get_then_full_put(scim: Scim) -> None:
    """docs/scim-clients.md §5 rows 5–6: GET then a full PUT; 200 + resource."""
    user = await created(scim, okta_user())
    fetched = (await scim.get(f"/Users/{user['id']}")).body
    fetched["name"]["givenName"] = "Updated"
    fetched["title"] = "Guide"
    reply = await scim.put(f"/Users/{user['id']}", fetched)
    assert reply.status == 200, reply.body
    assert reply.body["name"]["givenName"] == "Updated"
    assert reply.body["title"] == "Guide"
    assert reply.body["id"] == user["id"]
    # A PUT without `title` clears it: full replace.
    del fetched["title"]
    assert "title" not in (await scim.put(f"/Users/{user['id']}", fetched)).body


async def test_put_without_active_keeps_a_deactivated_user_deactivated(scim: Scim) -> None:
    user = await created(scim, okta_user())
    await scim.patch(f"/Users/{user['id']}", {"op": "replace", "value": {"active": False}})
    body = okta_user(user["userName"])
    del body["active"]
    reply = await scim.put(f"/Users/{user['id']}", body)
    assert reply.body["active"] is False


async def test_if_match_guards_writes_with_412(scim: Scim) -> None:
    """RFC 7644 §3.14: a stale ETag is 412; the current one succeeds."""
    user = await created(scim, okta_user())
    path = f"/Users/{user['id']}"
    op = {"op": "replace", "path": "title", "value": "A"}
    changed = await scim.patch(path, op, if_match=user["meta"]["version"])
    assert changed.status == 200
    stale = await scim.patch(path, op, if_match=user["meta"]["version"])
    assert stale.status == 412
    assert stale.body["status"] == "412"
    assert (await scim.put(path, okta_user(user["userName"]), if_match='W/"1"')).status == 412
    assert (await scim.delete(path, if_match='W/"1"')).status == 412
    assert (await scim.delete(path, if_match=changed.etag)).status == 204


async def test_concurrent_patches_without_if_match_all_apply(scim: Scim) -> None:
    """PATCH retries a version conflict when the client sent no If-Match: no lost update."""
    user = await created(scim, okta_user())
    path = f"/Users/{user['id']}"
    replies = await asyncio.gather(
        scim.patch(path, {"op": "replace", "path": "title", "value": "T"}),
        scim.patch(path, {"op": "replace", "path": "nickName", "value": "N"}),
        scim.patch(path, {"op": "replace", "path": "locale", "value": "de-DE"}),
    )
    assert [r.status for r in replies] == [200, 200, 200]
    final = (await scim.get(path)).body
    assert (final["title"], final["nickName"], final["locale"]) == ("T", "N", "de-DE")


async def test_roles_select_the_account_role_by_exact_name(scim: Scim, directory: Stub) -> None:
    """Issue: roles/userType name the account role exactly; unknown → 400 naming the valid
    roles; none → the default role (Torii seed: userType is the role)."""
    admin = await created(scim, {**okta_user(), "roles": [{"value": "Account Admin"}]})
    assert admin["roles"] == [{"value": "Account Admin"}]
    typed = await created(scim, {**okta_user(), "userType": "Account Admin"})
    assert typed["roles"] == [{"value": "Account Admin"}]
    reply = await scim.post("/Users", {**okta_user(), "roles": [{"value": "Overlord"}]})
    assert reply.status == 400
    assert reply.body["scimType"] == "invalidValue"
    assert "Account Admin" in reply.body["detail"]
    assert "Account Member" in reply.body["detail"]
    # An update that names no role keeps the role (an Okta push must not demote an admin).
    body = okta_user(admin["userName"])
    reply = await scim.put(f"/Users/{admin['id']}", body)
    assert reply.body["roles"] == [{"value": "Account Admin"}]
    role = await role_named(directory, scim.account_id, "Account Admin")
    assert role.id


async def test_account_settings_require_names_and_an_email_user_name(
    scim: Scim, directory: Stub
) -> None:
    """Issue and seed 003: the account can require given and family names and an email-shaped
    userName; the 400 names everything missing."""
    account = (await directory.GetAccount(pb.GetAccountRequest(account_id=scim.account_id))).account
    await directory.UpdateAccount(
        pb.UpdateAccountRequest(
            account_id=account.id,
            display_name=account.display_name,
            settings=pb.AccountSettings(
                require_given_name=True, require_family_name=True, require_email_user_name=True
            ),
            expected_version=account.version,
            actor=ADMIN,
        )
    )
    reply = await scim.post("/Users", {"schemas": [CORE], "userName": "jdoe"})
    assert reply.status == 400
    assert reply.body["scimType"] == "invalidValue"
    for missing in ("name.givenName", "name.familyName", "userName as an email address"):
        assert missing in reply.body["detail"]
    assert (await scim.post("/Users", okta_user())).status == 201


async def test_a_user_provisioned_before_a_rule_can_still_be_deactivated(
    scim: Scim, directory: Stub
) -> None:
    """Required attributes are checked on what a write takes away, not on old gaps."""
    user = await created(scim, {"schemas": [CORE], "userName": "legacy"})
    account = (await directory.GetAccount(pb.GetAccountRequest(account_id=scim.account_id))).account
    await directory.UpdateAccount(
        pb.UpdateAccountRequest(
            account_id=account.id,
            display_name=account.display_name,
            settings=pb.AccountSettings(require_given_name=True, require_email_user_name=True),
            expected_version=account.version,
            actor=ADMIN,
        )
    )
    reply = await scim.patch(
        f"/Users/{user['id']}", {"op": "replace", "path": "active", "value": False}
    )
    assert reply.status == 200, reply.body


async def test_user_type_changes_the_role_on_update(scim: Scim) -> None:
    """Torii's userType is the role (seed 002), on updates too."""
    user = await created(scim, okta_user())
    reply = await scim.patch(
        f"/Users/{user['id']}", {"op": "replace", "path": "userType", "value": "Account Admin"}
    )
    assert reply.body["roles"] == [{"value": "Account Admin"}]
    reply = await scim.patch(
        f"/Users/{user['id']}",
        {"op": "replace", "path": "roles", "value": [{"value": "Account Member"}]},
    )
    assert reply.body["roles"] == [{"value": "Account Member"}]


async def test_user_name_is_required(scim: Scim) -> None:
    """scim-sanity's error phase: missing userName → 400 (docs/scim-clients.md §8)."""
    reply = await scim.post("/Users", {"schemas": [CORE], "name": {"givenName": "x"}})
    assert reply.status == 400
    assert reply.body["scimType"] == "invalidValue"


async def test_okta_import_pages_are_stable_and_counted(scim: Scim) -> None:
    """docs/scim-clients.md §5 rows 1 and 4: integer counts, stable order across pages,
    count=0 gives the total only."""
    ids = [(await created(scim, okta_user()))["id"] for _ in range(5)]
    first = await scim.get("/Users", startIndex="1", count="2")
    assert (first.body["totalResults"], first.body["itemsPerPage"], first.body["startIndex"]) == (
        5,
        2,
        1,
    )
    second = await scim.get("/Users", startIndex="3", count="2")
    third = await scim.get("/Users", startIndex="5", count="2")
    seen = [r["id"] for page in (first, second, third) for r in page.body["Resources"]]
    assert seen == ids
    total_only = await scim.get("/Users", count="0")
    assert (total_only.body["totalResults"], total_only.body["Resources"]) == (5, [])
    bad = await scim.get("/Users", count="ten")
    assert (bad.status, bad.body["scimType"]) == (400, "invalidValue")


async def test_sort_by_user_name_descending(scim: Scim) -> None:
    """RFC 7644 §3.4.2.3."""
    for name in ("b", "c", "a"):
        await created(scim, okta_user(f"{name}{uuid.uuid4().hex[:4]}@example.com"))
    reply = await scim.get("/Users", sortBy="userName", sortOrder="descending")
    names = [r["userName"][0] for r in reply.body["Resources"]]
    assert names == ["c", "b", "a"]


async def test_filters_that_cannot_be_answered_are_400_invalid_filter(scim: Scim) -> None:
    """docs/scim-clients.md §7: never a silent 0 or every row; Okta 2016's malformed
    filter is 400 (§5)."""
    for filter_ in ("BJENSEN@EXAMPLE.COM", 'nosuch eq "x"', 'userName eq "x" garbage', "((("):
        reply = await scim.get("/Users", filter=filter_)
        assert reply.status == 400, filter_
        assert reply.body["scimType"] == "invalidFilter"


async def test_search_by_post_and_projection(scim: Scim) -> None:
    """RFC 7644 §3.4.3 POST /.search and §3.4.2.5 attributes."""
    user = await created(scim, okta_user())
    reply = await scim.post(
        "/Users/.search",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": f'userName eq "{user["userName"]}"',
            "attributes": ["userName", "name.givenName"],
        },
    )
    assert reply.status == 200, reply.body
    assert reply.body["Resources"] == [
        {
            "schemas": [CORE],
            "id": user["id"],
            "userName": user["userName"],
            "name": {"givenName": "Test"},
        }
    ]
    single = await scim.get(f"/Users/{user['id']}", excludedAttributes="emails,meta")
    assert "emails" not in single.body
    assert "meta" not in single.body
    assert single.body["userName"] == user["userName"]


async def test_groups_of_a_user_are_returned_on_request(scim: Scim) -> None:
    """RFC 7643 §4.1.2 groups (readOnly, returned only when asked for here)."""
    user = await created(scim, okta_user())
    group = await scim.post(
        "/Groups",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "G",
            "members": [{"value": user["id"]}],
        },
    )
    assert "groups" not in (await scim.get(f"/Users/{user['id']}")).body
    reply = await scim.get(f"/Users/{user['id']}", attributes="groups")
    assert reply.body["groups"] == [
        {
            "value": group.body["id"],
            "$ref": f"{BASE_URL}/Groups/{group.body['id']}",
            "display": "G",
            "type": "direct",
        }
    ]


async def test_entras_app_role_assignment_shapes_select_the_role(scim: Scim) -> None:
    """Entra sends app roles as {primary, type, display, value} and maps the single role to
    `roles[primary eq "True"].value`: accepted, the value names the role, the rest is not
    stored (and so not listed in /Schemas)."""
    user = await created(
        scim,
        {
            **entra_user(),
            "roles": [
                {
                    "primary": True,
                    "type": "WindowsAzureActiveDirectoryRole",
                    "display": "Admin",
                    "value": "Account Admin",
                }
            ],
        },
    )
    assert user["roles"] == [{"value": "Account Admin"}]
    reply = await scim.patch(
        f"/Users/{user['id']}",
        {"op": "Replace", "path": 'roles[primary eq "True"].value', "value": "Account Member"},
    )
    assert reply.status == 200, reply.body
    assert reply.body["roles"] == [{"value": "Account Member"}]


async def test_removing_roles_unassigns_them_and_gives_the_account_default_role(
    scim: Scim, directory: Stub
) -> None:
    """RFC 7644 §3.5.2.2: a removed attribute is unassigned. The user holds the account's default
    role (as `roles: []` gives on creation) and reads back without `roles` until a client sets
    one, the default role included."""
    user = await created(scim, {**okta_user(), "roles": [{"value": "Account Admin"}]})
    path = f"/Users/{user['id']}"

    reply = await scim.patch(path, {"op": "remove", "path": "roles"})
    assert reply.status == 200, reply.body
    assert "roles" not in reply.body
    assert "roles" not in (await scim.get(path)).body
    stored = await _directory_user(directory, scim.account_id, user["id"])
    assert (stored.account_role_name, stored.account_role_unassigned) == ("Account Member", True)

    # Other changes, and a PUT that names no role (Okta's), leave it unassigned.
    reply = await scim.patch(path, {"op": "replace", "path": "displayName", "value": "Renamed"})
    assert "roles" not in reply.body
    reply = await scim.put(path, okta_user(user["userName"]))
    assert reply.status == 200, reply.body
    assert "roles" not in reply.body

    reply = await scim.patch(
        path, {"op": "add", "path": "roles", "value": [{"value": "Account Member"}]}
    )
    assert reply.body["roles"] == [{"value": "Account Member"}]
    stored = await _directory_user(directory, scim.account_id, user["id"])
    assert stored.account_role_unassigned is False


async def test_removing_active_unassigns_it_and_leaves_the_user_active(
    scim: Scim, directory: Stub
) -> None:
    """RFC 7644 §3.5.2.2: `active` is not required, so removing it (or replacing it with null)
    succeeds and unassigns it. Unassigned means the default: the user is active (a deactivated
    one is reactivated) and reads back without `active` until a client sets it."""
    user = await created(scim, okta_user())
    path = f"/Users/{user['id']}"
    for operation in (
        {"op": "remove", "path": "active"},
        {"op": "replace", "value": {"active": None}},
    ):
        await scim.patch(path, {"op": "replace", "path": "active", "value": False})
        reply = await scim.patch(path, operation)
        assert reply.status == 200, reply.body
        assert "active" not in reply.body
        assert "active" not in (await scim.get(path)).body
        stored = await _directory_user(directory, scim.account_id, user["id"])
        assert (stored.active, stored.active_unassigned) == (True, True)

    # A PUT without `active` keeps it unassigned; one with `active` assigns it again.
    without_active = {k: v for k, v in okta_user(user["userName"]).items() if k != "active"}
    reply = await scim.put(path, without_active)
    assert "active" not in reply.body
    reply = await scim.put(path, {**okta_user(user["userName"]), "active": False})
    assert reply.body["active"] is False
    reply = await scim.patch(path, {"op": "replace", "path": "active", "value": True})
    assert reply.body["active"] is True


async def test_an_unassigned_state_or_role_changed_outside_scim_reads_back_as_set(
    scim: Scim, directory: Stub
) -> None:
    """RFC 7644 §3.5.2.2 allows absence only for an unassigned attribute: an administrator who
    deactivates the user or gives it another role (the API copies the user it read, flags
    included) assigns the attribute, and SCIM reads the new value back."""
    user = await created(scim, okta_user())
    path = f"/Users/{user['id']}"
    await scim.patch(path, {"op": "remove", "path": "active"})
    await scim.patch(path, {"op": "remove", "path": "roles"})
    current = await _directory_user(directory, scim.account_id, user["id"])
    assert (current.active_unassigned, current.account_role_unassigned) == (True, True)

    changed = pb.User()
    changed.CopyFrom(current)
    changed.active = False
    changed.account_role_id = (await role_named(directory, scim.account_id, "Account Admin")).id
    await directory.UpdateUser(pb.UpdateUserRequest(user=changed, actor=ADMIN))

    body = (await scim.get(path)).body
    assert (body["active"], body["roles"]) == (False, [{"value": "Account Admin"}])


async def _directory_user(directory: Stub, account_id: str, user_id: str) -> pb.User:
    request = pb.GetUserRequest(account_id=account_id, user_id=user_id)
    return (await directory.GetUser(request)).user
