"""Entra ID's and Okta's provisioning sequences replayed request by request through the real
gateway over HTTP (gateway → auth → scim → directory, the processes of `make run`), then what
the directory holds (docs/scim-clients.md §2, §3, §5). The sequences are the ones the
integration tests replay against the scim service alone (tests/integration/scim/replays.py)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from infra.dev.mesh import Mesh
from tests.e2e.scim.gateway_client import GatewayScim
from tests.e2e.tenants import Tenant
from tests.integration.scim import replays

pytestmark = pytest.mark.e2e


async def _users(client: GatewayScim, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        reply = await client.request("POST", "/Users", replays.okta_user())
        assert reply.status == 201, reply.body
        ids.append(reply.body["id"])
    return ids


async def test_entras_test_connection_through_the_gateway_without_a_user_agent(
    entra: GatewayScim,
) -> None:
    """§2 row 1 and "No User-Agent header": an edge that demands one breaks Test connection."""
    await replays.entra_tests_the_connection(entra)


@pytest.mark.parametrize("optscim062020", [False, True], ids=["default", "aadOptscim062020"])
async def test_entra_user_sequence_through_the_gateway_in_either_dialect(
    entra: GatewayScim, tenant: Tenant, directory: Any, optscim062020: bool
) -> None:
    """§2 rows 2–11 and §3, with `?aadOptscim062020` on every request for the second column
    (Entra appends the tenant URL's flag; unknown query parameters must be ignored)."""
    user = await replays.entra_provisions_a_user(entra, optscim062020=optscim062020)
    await replays.check_entra_user(
        directory, tenant.account_id, user, token_id=entra.token_id, optscim062020=optscim062020
    )
    await replays.entra_hard_deletes_a_user(entra, user.id)


@pytest.mark.parametrize("optscim062020", [False, True], ids=["default", "aadOptscim062020"])
async def test_entra_group_sequence_through_the_gateway_in_either_dialect(
    entra: GatewayScim, tenant: Tenant, directory: Any, optscim062020: bool
) -> None:
    """§2 rows 3, 5–7, 12 and §3 row 4: 204 on every group PATCH (the account's default)."""
    members = await _users(entra, 3)
    group = await replays.entra_provisions_a_group(entra, members, optscim062020=optscim062020)
    await replays.check_entra_group(directory, tenant.account_id, group, token_id=entra.token_id)


async def test_okta_user_and_group_push_sequences_through_the_gateway(
    okta: GatewayScim, tenant: Tenant, directory: Any
) -> None:
    """§5 rows 1–11 with Okta's User-Agent and application/json bodies."""
    user = await replays.okta_provisions_a_user(okta)
    await replays.check_okta_user(directory, tenant.account_id, user, token_id=okta.token_id)
    members = await _users(okta, 3)
    group = await replays.okta_pushes_a_group(okta, members)
    await replays.check_okta_group(directory, tenant.account_id, group)
    await replays.okta_deletes_a_group(okta, group.id)


async def test_the_path_is_normalised_before_auth_and_every_spelling_needs_the_token(
    http: aiohttp.ClientSession, mesh: Mesh, entra: GatewayScim
) -> None:
    """docs/scim-clients.md §7 (Zitadel CVE-2026-32130): percent-encoded variants of the
    SCIM paths are 401 without a token, and with one they reach the same resource."""
    [user_id] = await _users(entra, 1)
    for path in (
        f"/Users/{user_id}",
        f"/%55sers/{user_id}",
        f"/Users/{user_id.replace('-', '%2D')}",
    ):
        async with http.get(f"{mesh.gateway_url}/scim/v2{path}") as response:
            assert response.status == 401, path
            body = await response.json(content_type=None)
            assert body["status"] == "401"
        reply = await entra.request("GET", path)
        assert (reply.status, reply.body["id"]) == (200, user_id), path
