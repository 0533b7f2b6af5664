"""Authorisation and tenant isolation, walked over the route table (gateway.api.ROUTES), so a
route added without a permission check, or one that looks outside the token's account, fails
here without anyone writing a test for it."""

from __future__ import annotations

import re

import pytest

from auth.permissions import KNOWN_PERMISSIONS
from gateway.api import ROUTES, accounts
from gateway.api.routing import Route
from gateway.auth import has_permission
from gateway.errors import PROBLEM_CONTENT_TYPE
from tests.integration.gateway.api.stack import (
    Stack,
    Tenant,
    example_body,
    names_resources,
    new_tenant,
    permissions_without,
    seed_resources,
)

_PATH_PARAM = re.compile(r"\{([^{}]+)\}")


def _label(route: Route) -> str:
    return f"{route.method} {route.path}"


def _path(route: Route, ids: dict[str, str]) -> str:
    names = _PATH_PARAM.findall(route.path)
    missing = [name for name in names if name not in ids]
    assert not missing, f"seed_resources has no resource for path parameter(s) {missing}"
    return _PATH_PARAM.sub(lambda match: ids[match.group(1)], route.path)


@pytest.fixture(scope="module")
async def owner(stack: Stack) -> tuple[Tenant, dict[str, str]]:
    tenant = await new_tenant(stack)
    return tenant, await seed_resources(tenant)


@pytest.fixture(scope="module")
async def stranger(stack: Stack) -> tuple[Tenant, dict[str, str]]:
    tenant = await new_tenant(stack)
    return tenant, await seed_resources(tenant)


def test_every_route_requires_a_permission_auth_can_grant() -> None:
    """One table, one permission per route: only reading the token's own account is open to
    any valid token; every other permission is one a token can actually hold."""
    open_to_any_token = [route.endpoint for route in ROUTES if route.permission is None]
    assert open_to_any_token == [accounts.get_account]
    for route in ROUTES:
        if route.permission is not None:
            assert any(has_permission({p}, route.permission) for p in KNOWN_PERMISSIONS), (
                f"{_label(route)} requires {route.permission!r}, which no token can hold"
            )


@pytest.mark.parametrize("route", ROUTES, ids=_label)
async def test_a_route_without_a_token_is_401(
    route: Route, owner: tuple[Tenant, dict[str, str]]
) -> None:
    """RFC 6750 §3: no credentials, 401 with a Bearer challenge, before anything else."""
    tenant, ids = owner
    response = await tenant.stack.client.request(
        route.method, "/api/v1" + _path(route, ids), json=example_body(route, ids)
    )
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.content_type == PROBLEM_CONTENT_TYPE


@pytest.mark.parametrize("route", [r for r in ROUTES if r.permission is not None], ids=_label)
async def test_a_route_refuses_a_token_without_its_permission(
    route: Route, owner: tuple[Tenant, dict[str, str]]
) -> None:
    """403 problem (RFC 9457) for a token holding every other permission, on the account's own
    resources: a route that forgot its check would succeed here."""
    assert route.permission is not None
    tenant, ids = owner
    token = await tenant.token_with(permissions_without(route.permission))
    response = await tenant.request(
        route.method, _path(route, ids), token=token, json=example_body(route, ids)
    )
    assert response.status == 403, await response.text()
    assert response.content_type == PROBLEM_CONTENT_TYPE
    assert route.permission in (await response.json())["detail"]


@pytest.mark.parametrize("route", [r for r in ROUTES if "{" in r.path], ids=_label)
async def test_another_accounts_ids_in_the_path_are_404(
    route: Route,
    owner: tuple[Tenant, dict[str, str]],
    stranger: tuple[Tenant, dict[str, str]],
) -> None:
    """Tenant isolation: every id of another account answers 404, exactly as an unknown one,
    for a token holding every permission (the account always comes from the token)."""
    tenant, _ = owner
    _, foreign = stranger
    response = await tenant.request(
        route.method, _path(route, foreign), json=example_body(route, foreign)
    )
    assert response.status == 404, await response.text()
    assert response.content_type == PROBLEM_CONTENT_TYPE


@pytest.mark.parametrize(
    "route",
    [r for r in ROUTES if "{" not in r.path and names_resources(r)],
    ids=_label,
)
async def test_another_accounts_ids_in_a_body_are_refused(
    route: Route,
    owner: tuple[Tenant, dict[str, str]],
    stranger: tuple[Tenant, dict[str, str]],
) -> None:
    """Ids of another account inside a body name nothing here: 404 for what the call acts on
    (a grant's user, an access check's user), 400 for what a created resource would refer to,
    never a success."""
    tenant, _ = owner
    other, foreign = stranger
    before = await other.json("GET", "/audit-events?page_size=1000")
    response = await tenant.request(route.method, route.path, json=example_body(route, foreign))
    assert response.status in (400, 404), await response.text()
    after = await other.json("GET", "/audit-events?page_size=1000")
    assert after == before, "the other account changed"


@pytest.mark.parametrize(
    "route",
    [r for r in ROUTES if r.method == "GET" and r.endpoint.operation.query.paged],
    ids=_label,
)
async def test_lists_show_only_the_tokens_account(
    route: Route,
    owner: tuple[Tenant, dict[str, str]],
    stranger: tuple[Tenant, dict[str, str]],
) -> None:
    """Every list, unfiltered and filtered by another account's ids, holds nothing of it."""
    tenant, ids = owner
    _, foreign = stranger
    foreign_ids = set(foreign.values()) - {foreign["name"]}
    path = _path(route, ids)
    queries = [""]
    for param in route.endpoint.operation.query.params:
        if param.name in foreign:
            queries.append(f"?{param.name}={foreign[param.name]}")
    for query in queries:
        body = await tenant.json("GET", path + query)
        text = str(body)
        leaked = [foreign_id for foreign_id in foreign_ids if foreign_id in text]
        assert not leaked, f"GET {path}{query} shows another account's {leaked}"
        if query:
            assert body["items"] == [], f"GET {path}{query}"
