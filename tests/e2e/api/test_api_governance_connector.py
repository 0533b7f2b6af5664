"""A governance connector's session against the real processes (ConductorOne seed 004: "sync
user identities", "resources supported: roles", just-in-time access requests): with its bearer
token it lists users and roles, lists grants, grants a space role, sees it in the user's
effective access and through POST /api/v1/access:check, revokes it and sees it gone."""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp
import pytest

from infra.dev.mesh import Mesh
from tests.e2e.api.credentials import obtain_bearer_token
from tests.e2e.tenants import create_account, create_token, unique_name

pytestmark = pytest.mark.e2e

SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"


class Api:
    """/api/v1 of the mesh's gateway with one bearer token."""

    def __init__(self, http: aiohttp.ClientSession, gateway_url: str, token: str) -> None:
        self.http = http
        self.base = f"{gateway_url}/api/v1"
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        async with self.http.request(
            method, self.base + path, headers=self.headers, **kwargs
        ) as response:
            text = await response.text()
            assert response.status == expect, f"{method} {path}: {response.status} {text}"
            return await response.json() if text else None

    async def every_page(self, path: str, **params: str) -> list[Any]:
        """Every item of a list, following next_page_token as a connector's sync does."""
        items: list[Any] = []
        token = None
        while True:
            query = {**params, "page_size": "2", **({"page_token": token} if token else {})}
            page = await self.call("GET", path, params=query)
            items.extend(page["items"])
            token = page["next_page_token"]
            if token is None:
                return items


async def _provision_user(http: aiohttp.ClientSession, mesh: Mesh, token: str) -> str:
    """Creates a user the way the IdP does (SCIM through the gateway); returns its id."""
    user_name = f"ada-{uuid.uuid4().hex[:6]}@example.com"
    async with http.post(
        f"{mesh.gateway_url}/scim/v2/Users",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
        json={
            "schemas": [SCIM_USER],
            "userName": user_name,
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": user_name, "type": "work", "primary": True}],
            "active": True,
        },
    ) as response:
        assert response.status == 201, await response.text()
        user_id: str = (await response.json())["id"]
    return user_id


async def test_a_connector_grants_and_revokes_just_in_time_access(
    mesh: Mesh, http: aiohttp.ClientSession
) -> None:
    """Seed 004: users and roles are synced, a role in a space is granted on request, shows in
    effective access and in access checks, and is gone once revoked; the audit log names the
    connector's token."""
    account_id = await create_account(mesh, unique_name("gov"))
    scim_token = await create_token(mesh, account_id, ["users:manage"])
    admin = Api(http, mesh.gateway_url, await create_token(mesh, account_id, ["spaces:manage"]))
    user_id = await _provision_user(http, mesh, scim_token)
    await _provision_user(http, mesh, scim_token)
    await _provision_user(http, mesh, scim_token)
    space = await admin.call("POST", "/spaces", expect=201, json={"name": "production"})

    connector = Api(http, mesh.gateway_url, await obtain_bearer_token(mesh, account_id))

    users = await connector.every_page("/users")
    assert user_id in {user["id"] for user in users}
    assert len(users) == 3
    roles = await connector.every_page("/roles", scope="space")
    developer = next(role for role in roles if role["name"] == "Space Developer")
    assert await connector.every_page("/grants", user_id=user_id) == []

    grant = await connector.call(
        "POST",
        "/grants",
        expect=201,
        json={"user_id": user_id, "space_id": space["id"], "role_id": developer["id"]},
    )
    assert grant["source"] == "manual"
    listed = await connector.every_page("/grants", space_id=space["id"])
    assert [g["id"] for g in listed] == [grant["id"]]
    access = await connector.call("GET", f"/users/{user_id}/access")
    assert [
        (s["space_name"], [(r["role_name"], r["source"]) for r in s["roles"]])
        for s in access["spaces"]
    ] == [("production", [("Space Developer", "manual")])]
    check = {"user_id": user_id, "space_id": space["id"], "permission": "space:deploy"}
    allowed = await connector.call("POST", "/access:check", json=check)
    assert allowed["allowed"] is True, allowed

    await connector.call("DELETE", f"/grants/{grant['id']}", expect=204)
    assert await connector.every_page("/grants", user_id=user_id) == []
    access = await connector.call("GET", f"/users/{user_id}/access")
    assert access["spaces"] == []
    denied = await connector.call("POST", "/access:check", json=check)
    assert denied["allowed"] is False

    auditor = Api(http, mesh.gateway_url, await create_token(mesh, account_id, ["audit:read"]))
    events = await auditor.every_page("/audit-events", target_id=user_id, actor_type="admin_api")
    assert [e["action"] for e in events] == ["space_role.revoked", "space_role.granted"]
    assert len({e["actor"]["id"] for e in events}) == 1


async def test_a_connector_without_the_permission_is_refused(
    mesh: Mesh, http: aiohttp.ClientSession
) -> None:
    """A read-only connector token reads users but cannot grant: 403 problem (RFC 9457)."""
    account_id = await create_account(mesh, unique_name("gov"))
    reader = Api(
        http, mesh.gateway_url, await obtain_bearer_token(mesh, account_id, ["users:read"])
    )
    assert (await reader.call("GET", "/users"))["items"] == []
    async with http.post(
        f"{reader.base}/grants",
        headers=reader.headers,
        json={
            "user_id": str(uuid.uuid4()),
            "space_id": str(uuid.uuid4()),
            "role_id": str(uuid.uuid4()),
        },
    ) as response:
        assert response.status == 403
        assert response.content_type == "application/problem+json"
