"""/api/v1/spaces and /api/v1/roles on the real directory: CRUD, uniqueness as 409, built-in
roles read-only, custom roles with their permissions."""

from __future__ import annotations

from tests.integration.gateway.api.stack import Tenant

BUILT_IN_ROLES = {
    ("Account Admin", "account"),
    ("Account Member", "account"),
    ("Space Admin", "space"),
    ("Space Developer", "space"),
    ("Space Member", "space"),
}


async def test_a_space_is_created_read_renamed_and_deleted(tenant: Tenant) -> None:
    """201 with Location and ETag; PATCH merges; DELETE 204 then 404."""
    response = await tenant.request(
        "POST", "/spaces", json={"name": "dev", "description": "Developers"}
    )
    assert response.status == 201
    space = await response.json()
    assert response.headers["Location"] == f"/api/v1/spaces/{space['id']}"
    assert response.headers["ETag"] == '"1"'
    assert (space["name"], space["description"]) == ("dev", "Developers")

    read = await tenant.json("GET", f"/spaces/{space['id']}")
    assert read == space
    renamed = await tenant.json(
        "PATCH", f"/spaces/{space['id']}", json={"name": "development"}, headers={"If-Match": '"1"'}
    )
    assert (renamed["name"], renamed["description"]) == ("development", "Developers")
    cleared = await tenant.json("PATCH", f"/spaces/{space['id']}", json={"description": None})
    assert cleared["description"] == ""
    listed = await tenant.json("GET", "/spaces?name=DEVELOPMENT")
    assert [s["id"] for s in listed["items"]] == [space["id"]]

    assert (await tenant.request("DELETE", f"/spaces/{space['id']}")).status == 204
    assert (await tenant.request("GET", f"/spaces/{space['id']}")).status == 404


async def test_space_names_are_unique_case_insensitively(tenant: Tenant) -> None:
    """The IdP names spaces in space_name (Torque guide): a second "Dev" is 409 Conflict."""
    await tenant.json("POST", "/spaces", expect=201, json={"name": "dev"})
    response = await tenant.request("POST", "/spaces", json={"name": "DEV"})
    assert response.status == 409
    assert (await response.json())["errors"][0]["field"] == "name"
    blank = await tenant.request("POST", "/spaces", json={"name": "  "})
    assert blank.status == 400


async def test_roles_list_the_built_in_ones_and_filter(tenant: Tenant) -> None:
    """Every account has its built-in roles; ?scope= and ?built_in= filter them."""
    listed = await tenant.json("GET", "/roles")
    assert {(r["name"], r["scope"]) for r in listed["items"]} == BUILT_IN_ROLES
    assert all(r["built_in"] for r in listed["items"])
    spaces = await tenant.json("GET", "/roles?scope=space")
    assert {r["name"] for r in spaces["items"]} == {
        "Space Admin",
        "Space Developer",
        "Space Member",
    }
    custom = await tenant.json("GET", "/roles?built_in=false")
    assert custom["items"] == []
    developer = await tenant.json("GET", "/roles?name=space developer")
    assert developer["items"][0]["permissions"] == ["space:deploy", "space:read", "space:write"]


async def test_a_custom_role_is_created_edited_and_deleted(tenant: Tenant) -> None:
    """Custom roles carry their own permissions, sorted and deduplicated; the scope stays."""
    created = await tenant.json(
        "POST",
        "/roles",
        expect=201,
        json={"name": "Deployer", "scope": "space", "permissions": ["space:deploy", "space:read"]},
    )
    assert created["built_in"] is False
    edited = await tenant.json(
        "PATCH",
        f"/roles/{created['id']}",
        json={"permissions": ["space:read", "space:read", "audit:read"], "description": "x"},
    )
    assert edited["permissions"] == ["audit:read", "space:read"]
    assert (edited["name"], edited["scope"], edited["description"]) == ("Deployer", "space", "x")
    scope = await tenant.request("PATCH", f"/roles/{created['id']}", json={"scope": "account"})
    assert scope.status == 400
    assert (await scope.json())["errors"][0]["field"] == "scope"
    bad = await tenant.request(
        "PATCH", f"/roles/{created['id']}", json={"permissions": ["Deploy Everything"]}
    )
    assert bad.status == 400
    assert (await bad.json())["errors"][0]["field"] == "permissions[0]"
    assert (await tenant.request("DELETE", f"/roles/{created['id']}")).status == 204
    assert (await tenant.request("GET", f"/roles/{created['id']}")).status == 404


async def test_built_in_roles_are_read_only(tenant: Tenant) -> None:
    """Brief: built-in roles cannot be edited or deleted through the API (400, unchanged)."""
    member = await tenant.role("Space Member")
    patch = await tenant.request("PATCH", f"/roles/{member.id}", json={"description": "mine"})
    assert patch.status == 400
    assert "built-in" in (await patch.json())["detail"]
    delete = await tenant.request("DELETE", f"/roles/{member.id}")
    assert delete.status == 400
    assert (await tenant.json("GET", f"/roles/{member.id}"))["version"] == member.version


async def test_a_role_in_use_cannot_be_deleted(tenant: Tenant) -> None:
    """A custom role someone holds stays until the grant goes (400, not a dangling grant)."""
    role = await tenant.json(
        "POST",
        "/roles",
        expect=201,
        json={"name": "Viewer", "scope": "space", "permissions": ["space:read"]},
    )
    user = await tenant.user()
    space = await tenant.space()
    await tenant.json(
        "POST",
        "/grants",
        expect=201,
        json={"user_id": user.id, "space_id": space.id, "role_id": role["id"]},
    )
    response = await tenant.request("DELETE", f"/roles/{role['id']}")
    assert response.status == 400
    assert (await tenant.request("GET", f"/roles/{role['id']}")).status == 200
