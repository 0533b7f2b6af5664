"""No console page shows or changes another account's data (table-driven, as the API's
isolation tests are), and every list page has an empty state for a new account.

Another account is seeded with one of everything (tests/integration/gateway/api/stack.py
seed_resources, plus a login trace and a provisioning event); an admin of a fresh account then
opens each page naming the other account's ids (404, as for an unknown id), sends each form at
them (404, nothing changed), and reads each list (none of the other account's names)."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest

from tests.integration.gateway.admin import seed
from tests.integration.gateway.admin.conftest import make_admin, new_browser, sign_in
from tests.integration.gateway.api.stack import Stack, Tenant, new_tenant, seed_resources


@dataclass
class Other:
    tenant: Tenant
    ids: dict[str, str]
    user_name: str
    group_name: str


@pytest.fixture(scope="module")
async def other(stack: Stack, database_url: str) -> Other:
    tenant = await new_tenant(stack)
    ids = await seed_resources(tenant)
    user = (await tenant.json("GET", f"/users/{ids['user_id']}"))["user_name"]
    group = (await tenant.json("GET", f"/groups/{ids['group_id']}"))["display_name"]
    (trace,) = await seed.traces(
        database_url, tenant, [ids["connection_id"]], [await tenant.user()], 1
    )
    (event,) = await seed.events(tenant, ids["token_id"], [await tenant.user()], [], 1)
    ids.update(trace_id=trace, event_id=event)
    return Other(tenant, ids, user, group)


@pytest.fixture(scope="module")
async def browser(stack: Stack) -> AsyncIterator[aiohttp.ClientSession]:
    """One signed-in admin of a fresh account for the whole module (a sign-in hashes a
    password: once is enough)."""
    tenant = await new_tenant(stack)
    signed_in = await make_admin(tenant)
    async with new_browser(stack) as session:
        assert (await sign_in(session, signed_in)).status == 303
        yield session


async def _csrf(browser: aiohttp.ClientSession) -> str:
    text = await (await browser.get("/admin")).text()
    match = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', text)
    assert match
    return match.group(1)


PAGES = [
    "/admin/users/{user_id}",
    "/admin/groups/{group_id}",
    "/admin/connections/{connection_id}",
    "/admin/connections/{connection_id}/remove",
    "/admin/traces/{trace_id}",
    "/admin/provisioning/{event_id}",
]


@pytest.mark.parametrize("path", PAGES)
async def test_a_page_naming_another_accounts_item_is_not_found(
    browser: aiohttp.ClientSession, other: Other, path: str
) -> None:
    response = await browser.get(path.format(**other.ids), allow_redirects=False)
    text = await response.text()
    assert response.status == 404, text
    assert other.user_name not in text


FORMS = [
    ("/admin/users/{user_id}/active", {"active": "false"}),
    ("/admin/groups/{group_id}", {"display_name": "Taken over", "idp_identifier": ""}),
    ("/admin/groups/{group_id}/members", {"user_name": "x@example.com"}),
    ("/admin/groups/{group_id}/members/remove", {"user_id": "{user_id}"}),
    ("/admin/groups/{group_id}/space-roles", {"remove": "x/y"}),
    ("/admin/connections/{connection_id}", {"display_name": "Taken over", "domains": ""}),
    ("/admin/connections/{connection_id}/enabled", {"enabled": "false"}),
    ("/admin/connections/{connection_id}/test", {}),
    ("/admin/connections/{connection_id}/remove", {"confirm": "okta"}),
    ("/admin/domains/{domain_id}/verify", {}),
    ("/admin/domains/{domain_id}/remove", {}),
    ("/admin/credentials/tokens/{token_id}/revoke", {}),
    ("/admin/credentials/clients/{client_id}/revoke", {}),
]


@pytest.mark.parametrize(("path", "form"), FORMS, ids=[path for path, _ in FORMS])
async def test_a_form_aimed_at_another_accounts_item_is_not_found_and_changes_nothing(
    browser: aiohttp.ClientSession,
    other: Other,
    path: str,
    form: dict[str, str],
) -> None:
    before = await _snapshot(other)
    data = {k: v.format(**other.ids) for k, v in form.items()}
    response = await browser.post(
        path.format(**other.ids), data={**data, "csrf_token": await _csrf(browser)}
    )
    assert response.status == 404, await response.text()
    assert await _snapshot(other) == before


async def _snapshot(other: Other) -> dict[str, object]:
    """What the forms could change in the other account, read through its API."""
    ids, tenant = other.ids, other.tenant
    user = await tenant.json("GET", f"/users/{ids['user_id']}")
    group = await tenant.json("GET", f"/groups/{ids['group_id']}")
    members = await tenant.json("GET", f"/groups/{ids['group_id']}/members")
    connection = await tenant.json("GET", f"/connections/{ids['connection_id']}")
    domain = await tenant.json("GET", f"/domains/{ids['domain_id']}")
    token = await tenant.json("GET", f"/tokens/{ids['token_id']}")
    client = await tenant.json("GET", f"/oauth-clients/{ids['client_id']}")
    return {
        "user": (user["active"], user["version"]),
        "group": (group["display_name"], group["version"]),
        "members": [m["user_id"] for m in members["items"]],
        "connection": (connection["display_name"], connection["enabled"]),
        "domain": domain["status"],
        "token": token["revoke_time"],
        "client": client["revoke_time"],
    }


LISTS = [
    "/admin",
    "/admin/users",
    "/admin/groups",
    "/admin/connections",
    "/admin/traces",
    "/admin/provisioning",
    "/admin/credentials",
]


@pytest.mark.parametrize("path", LISTS)
async def test_a_list_shows_none_of_another_accounts_items(
    browser: aiohttp.ClientSession, other: Other, path: str
) -> None:
    text = await (await browser.get(path)).text()
    for value in (
        other.user_name,
        other.group_name,
        other.tenant.account.name,
        *other.ids.values(),
    ):
        assert value not in text, f"{path} shows {value}"


EMPTY = {
    "/admin/users?q=nobody-at-all": "No user matches.",
    "/admin/groups": "No group yet.",
    "/admin/connections": "No connection yet.",
    "/admin/traces": "No sign-in attempt yet.",
    "/admin/provisioning": "No provisioning request yet.",
    "/admin/credentials": "No OAuth client yet.",
}


@pytest.mark.parametrize("path", EMPTY)
async def test_every_list_of_a_new_account_has_an_empty_state(
    browser: aiohttp.ClientSession, path: str
) -> None:
    """Issue 13: "every page has an empty state" (a new account has only its admin, so the
    users list is shown empty by a search)."""
    response = await browser.get(path)
    text = await response.text()
    assert response.status == 200, text
    assert EMPTY[path] in text
    assert 'class="empty"' in text


async def test_an_unknown_or_malformed_id_is_not_found(
    browser: aiohttp.ClientSession,
) -> None:
    for path in (
        "/admin/users/not-a-uuid",
        f"/admin/traces/{uuid.uuid4()}",
        "/admin/provisioning/x",
    ):
        assert (await browser.get(path)).status == 404, path
