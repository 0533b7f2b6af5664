"""Rate limits with two gateway replicas: one total per account (and per OAuth client), not
one per replica (gateway.shared_ratelimit; README, "Configuration"). Requests alternate
between the two gateways, all at once; the limits refill one token per 1,000 s, so what is
counted does not depend on how fast the machine sends.
"""

from __future__ import annotations

import asyncio
import base64
from urllib.parse import quote_plus

import aiohttp
import pytest

from gateway.shared_ratelimit import lease_size
from tests.e2e.api.credentials import create_oauth_client
from tests.e2e.replicas.conftest import SCIM_BURST, TOKEN_BURST
from tests.e2e.replicas.replicas import COUNT, Replicas
from tests.e2e.replicas.routing import via
from tests.e2e.tenants import create_account, create_tenant, unique_name

pytestmark = pytest.mark.e2e

# Entra's matching query (docs/scim-clients.md §2 step 2).
MATCH_QUERY = {"filter": 'userName eq "nobody@example.com"'}


async def _match_user(
    http: aiohttp.ClientSession, replicas: Replicas, replica: int, token: str
) -> tuple[int, str | None]:
    async with http.get(
        via(replicas, replica, "/scim/v2/Users"),
        params=MATCH_QUERY,
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        await response.read()
        return response.status, response.headers.get("Retry-After")


async def test_an_accounts_scim_requests_share_one_burst_across_both_gateways(
    replicas: Replicas,
) -> None:
    """SCIM_RATE_BURST per account in total: 60 requests at once, alternating between the
    gateways, get at most one burst through (per-replica buckets would let two through), and
    at least the burst less the leases each gateway may hold unspent."""
    tenant = await create_tenant(replicas)
    async with aiohttp.ClientSession() as http:
        answers = await asyncio.gather(
            *(_match_user(http, replicas, i % COUNT, tenant.token) for i in range(3 * SCIM_BURST))
        )
    statuses = [status for status, _ in answers]
    assert set(statuses) == {200, 429}
    unspent = COUNT * (lease_size(SCIM_BURST) - 1)
    assert SCIM_BURST - unspent <= statuses.count(200) <= SCIM_BURST
    assert all(int(after or "0") >= 1 for status, after in answers if status == 429)


def _basic(client_id: str, secret: str) -> dict[str, str]:
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}


async def _token_request(
    http: aiohttp.ClientSession, replicas: Replicas, replica: int, client: tuple[str, str]
) -> tuple[int, str]:
    """POST /oauth/token on gateway ``replica``: (status, error_description or "")."""
    async with http.post(
        via(replicas, replica, "/oauth/token"),
        data={"grant_type": "client_credentials"},
        headers=_basic(*client),
    ) as response:
        body = await response.json()
        return response.status, str(body.get("error_description", ""))


async def test_a_clients_token_requests_share_one_burst_across_both_gateways(
    replicas: Replicas,
) -> None:
    """TOKEN_RATE_BURST per OAuth client in total: with a burst under 20 each gateway leases
    one token at a time, so of 30 requests alternating between the gateways exactly one burst
    gets a token and the rest are refused for this client."""
    account_id = await create_account(replicas, unique_name("tokens"))
    client = await create_oauth_client(replicas, account_id, ["users:read"])
    assert lease_size(TOKEN_BURST) == 1
    async with aiohttp.ClientSession() as http:
        answers = await asyncio.gather(
            *(_token_request(http, replicas, i % COUNT, client) for i in range(3 * TOKEN_BURST))
        )
    assert [status for status, _ in answers].count(200) == TOKEN_BURST
    refusals = [description for status, description in answers if status == 429]
    assert len(refusals) == 2 * TOKEN_BURST
    assert all("this client" in description for description in refusals)


async def test_an_accounts_clients_share_one_burst_across_both_gateways(
    replicas: Replicas,
) -> None:
    """TOKEN_RATE_BURST per account in total: two clients, each within its own burst, send 16
    requests one after another, alternating between the gateways. Per-replica buckets would
    serve all 16 (8 per gateway); the shared one serves the account's burst, plus at most one
    request per client and gateway whose account was not yet known there
    (gateway.oauth.limits: the first token is charged after it is issued)."""
    account_id = await create_account(replicas, unique_name("tokens"))
    clients = [await create_oauth_client(replicas, account_id, ["users:read"]) for _ in range(2)]
    answers = []
    async with aiohttp.ClientSession() as http:
        for i in range(16):
            answers.append(await _token_request(http, replicas, i % COUNT, clients[i // 2 % 2]))
    served = [status for status, _ in answers].count(200)
    assert TOKEN_BURST <= served <= TOKEN_BURST + len(clients) * COUNT
    refusals = [description for status, description in answers if status == 429]
    assert refusals
    assert all("this account" in description for description in refusals)
