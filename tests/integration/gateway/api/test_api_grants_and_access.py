"""/api/v1/grants, /users/{id}/access and /access:check on the real directory: the
just-in-time access a governance tool grants and revokes (ConductorOne seed), with the source of
every grant, and effective access from direct and group grants together."""

from __future__ import annotations

from idmesh.directory.v1 import directory_pb2 as pb
from tests.integration.gateway.api.stack import SYSTEM, Tenant


async def test_a_manual_grant_is_listed_with_its_source_and_revoked(tenant: Tenant) -> None:
    """POST /grants makes a manual grant (201, Location); it is listed and filtered by user,
    space, role and source; DELETE /grants/{id} removes exactly it."""
    user = await tenant.user()
    space = await tenant.space("prod")
    developer = await tenant.role("Space Developer")
    response = await tenant.request(
        "POST",
        "/grants",
        json={"user_id": user.id, "space_id": space.id, "role_id": developer.id},
    )
    assert response.status == 201
    grant = await response.json()
    assert grant["id"] == f"{user.id}.{space.id}.manual"
    assert response.headers["Location"] == f"/api/v1/grants/{grant['id']}"
    assert (grant["source"], grant["space_name"], grant["role_name"]) == (
        "manual",
        "prod",
        "Space Developer",
    )
    assert await tenant.json("GET", f"/grants/{grant['id']}") == grant
    for query in (
        f"user_id={user.id}",
        f"space_id={space.id}",
        f"role_id={developer.id}",
        "source=manual",
    ):
        listed = await tenant.json("GET", f"/grants?{query}")
        assert [g["id"] for g in listed["items"]] == [grant["id"]], query
    assert (await tenant.json("GET", "/grants?source=sso"))["items"] == []

    assert (await tenant.request("DELETE", f"/grants/{grant['id']}")).status == 204
    assert (await tenant.request("GET", f"/grants/{grant['id']}")).status == 404
    assert (await tenant.request("DELETE", f"/grants/{grant['id']}")).status == 404


async def test_revoking_a_manual_grant_leaves_the_idps_grant(tenant: Tenant) -> None:
    """One role per user, space and source: the manual grant and the SSO one are separate
    grants; revoking the manual one keeps what the IdP assigned."""
    user = await tenant.user()
    space = await tenant.space()
    member = await tenant.role("Space Member")
    admin = await tenant.role("Space Admin")
    await tenant.stack.directory.GrantSpaceRole(
        pb.GrantSpaceRoleRequest(
            account_id=tenant.id,
            user_id=user.id,
            space_id=space.id,
            role_id=member.id,
            source=pb.MEMBERSHIP_SOURCE_SSO,
            actor=SYSTEM,
        )
    )
    manual = await tenant.json(
        "POST",
        "/grants",
        expect=201,
        json={"user_id": user.id, "space_id": space.id, "role_id": admin.id},
    )
    listed = await tenant.json("GET", f"/grants?user_id={user.id}")
    assert sorted((g["source"], g["role_name"]) for g in listed["items"]) == [
        ("manual", "Space Admin"),
        ("sso", "Space Member"),
    ]
    await tenant.json("DELETE", f"/grants/{manual['id']}", expect=204)
    listed = await tenant.json("GET", f"/grants?user_id={user.id}")
    assert [(g["source"], g["role_name"]) for g in listed["items"]] == [("sso", "Space Member")]


async def test_an_account_role_or_an_unknown_grant_id_is_refused(tenant: Tenant) -> None:
    """Only space roles are granted in a space (400); a malformed grant id names nothing (404)."""
    user = await tenant.user()
    space = await tenant.space()
    account_admin = await tenant.role("Account Admin")
    response = await tenant.request(
        "POST",
        "/grants",
        json={"user_id": user.id, "space_id": space.id, "role_id": account_admin.id},
    )
    assert response.status == 400
    assert (await response.json())["errors"][0]["field"] == "role_id"
    for grant_id in ("nonsense", f"{user.id}.{space.id}.group", f"{user.id}.x.manual"):
        assert (await tenant.request("GET", f"/grants/{grant_id}")).status == 404


async def test_effective_access_adds_direct_and_group_grants(tenant: Tenant) -> None:
    """GET /users/{id}/access: each space with every role and where it comes from (a group
    grant names the group), the union of permissions, and the user's groups."""
    user = await tenant.user()
    space = await tenant.space("prod")
    member = await tenant.role("Space Member")
    developer = await tenant.role("Space Developer")
    await tenant.json(
        "POST",
        "/grants",
        expect=201,
        json={"user_id": user.id, "space_id": space.id, "role_id": member.id},
    )
    group = await tenant.json(
        "POST",
        "/groups",
        expect=201,
        json={"display_name": "Deployers", "member_ids": [user.id]},
    )
    await tenant.json(
        "PUT",
        f"/groups/{group['id']}/space-roles",
        json={"space_roles": [{"space_id": space.id, "role_id": developer.id}]},
    )
    access = await tenant.json("GET", f"/users/{user.id}/access")
    assert access["user"]["id"] == user.id
    assert access["account_role"]["name"] == "Account Member"
    (prod,) = access["spaces"]
    assert prod["space_name"] == "prod"
    assert sorted((r["role_name"], r["source"], r["group_name"]) for r in prod["roles"]) == [
        ("Space Developer", "group", "Deployers"),
        ("Space Member", "manual", None),
    ]
    assert prod["permissions"] == ["space:deploy", "space:read", "space:write"]
    assert [g["display_name"] for g in access["groups"]] == ["Deployers"]


async def test_access_check_answers_with_the_reason(tenant: Tenant) -> None:
    """POST /access:check wraps CheckAccess: allowed or not, and why; a deactivated user may
    do nothing."""
    user = await tenant.user()
    space = await tenant.space()
    member = await tenant.role("Space Member")
    await tenant.json(
        "POST",
        "/grants",
        expect=201,
        json={"user_id": user.id, "space_id": space.id, "role_id": member.id},
    )
    read = {"user_id": user.id, "space_id": space.id, "permission": "space:read"}
    deploy = {**read, "permission": "space:deploy"}
    allowed = await tenant.json("POST", "/access:check", json=read)
    assert allowed["allowed"] is True
    assert "Space Member" in allowed["reason"]
    denied = await tenant.json("POST", "/access:check", json=deploy)
    assert denied["allowed"] is False
    account_level = await tenant.json(
        "POST", "/access:check", json={"user_id": user.id, "permission": "users:manage"}
    )
    assert account_level["allowed"] is False
    await tenant.json("POST", f"/users/{user.id}:deactivate")
    deactivated = await tenant.json("POST", "/access:check", json=read)
    assert deactivated == {"allowed": False, "reason": "user is deactivated"}
