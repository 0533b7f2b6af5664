"""The per-account SCIM rate limit through the real processes. The issue's requirement: "per-
account rate limits on SCIM ... answering 429 with Retry-After (generous enough for Entra's
bursts and at least 25 requests per second per account)".

Exceeding the limit is shown on a private mesh with a tiny limit (1 a second, bursts of 5), so
no assertion depends on how fast a loaded machine sends: twenty requests at once exceed it
unless they take fifteen seconds. Never throttling 25 a second is shown on the session's mesh,
at the default limits.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from infra.dev.mesh import Mesh
from tests.e2e.harness import start_mesh
from tests.e2e.otlp_receiver import OtlpReceiver
from tests.e2e.tenants import Tenant, create_tenant

pytestmark = pytest.mark.e2e

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
# Entra's matching query (docs/scim-clients.md §2 step 2): what a provisioning cycle sends
# most.
MATCH_QUERY = {"filter": 'userName eq "nobody@example.com"'}


@dataclass(frozen=True)
class Answer:
    status: int
    retry_after: str | None
    body: Any


async def _match_user(http: aiohttp.ClientSession, mesh: Mesh, tenant: Tenant) -> Answer:
    async with http.get(
        f"{mesh.gateway_url}/scim/v2/Users", params=MATCH_QUERY, headers=tenant.headers
    ) as response:
        text = await response.read()
        return Answer(
            response.status, response.headers.get("Retry-After"), json.loads(text) if text else None
        )


async def test_an_account_over_its_limit_gets_429_while_another_account_is_served(
    database_url: str, otlp_receiver: OtlpReceiver, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    """RFC 6585 §4: 429 Too Many Requests with RFC 9110 §10.2.3 Retry-After and an RFC 7644
    §3.12 error body naming the limit; the issue: "one account's burst must not throttle
    another". After waiting Retry-After the throttled account is served again, which is what
    Entra does (docs/scim-clients.md §6)."""
    mesh = await start_mesh(
        database_url,
        otlp_receiver,
        tmp_path,
        service_env={"gateway": {"SCIM_RATE_LIMIT": "1", "SCIM_RATE_BURST": "5"}},
    )
    try:
        noisy, quiet = await create_tenant(mesh), await create_tenant(mesh)
        answers = await asyncio.gather(
            *(_match_user(http, mesh, noisy) for _ in range(20)),
            *(_match_user(http, mesh, quiet) for _ in range(5)),
        )
        noisy_answers, quiet_answers = answers[:20], answers[20:]

        assert [answer.status for answer in quiet_answers] == [200] * 5
        assert {answer.status for answer in noisy_answers} == {200, 429}
        throttled = [answer for answer in noisy_answers if answer.status == 429]
        assert len(throttled) >= 5
        for answer in throttled:
            assert answer.retry_after is not None
            assert answer.retry_after.isdigit()
            assert int(answer.retry_after) >= 1
            assert answer.body["schemas"] == [ERROR_SCHEMA]
            assert answer.body["status"] == "429"
            assert "limit is 1 a second" in answer.body["detail"]

        # Every request has been answered: tokens only come back from here on.
        await asyncio.sleep(max(int(answer.retry_after or "1") for answer in throttled))
        assert (await _match_user(http, mesh, noisy)).status == 200
    finally:
        await mesh.stop()


async def test_25_requests_a_second_per_account_are_never_throttled_at_the_defaults(
    mesh: Mesh, http: aiohttp.ClientSession
) -> None:
    """Entra's gallery requirement, >= 25 req/s per tenant (docs/scim-clients.md §6), for
    two accounts at once for three seconds. Requests start on a fixed schedule; a slow machine
    only bunches them, which the burst absorbs."""
    tenants = [await create_tenant(mesh), await create_tenant(mesh)]
    rate, seconds = 25, 3
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def scheduled(tenant: Tenant, index: int) -> int:
        await asyncio.sleep(max(0.0, start + index / rate - loop.time()))
        return (await _match_user(http, mesh, tenant)).status

    statuses = await asyncio.gather(
        *(scheduled(tenant, index) for tenant in tenants for index in range(rate * seconds))
    )
    assert statuses == [200] * (len(tenants) * rate * seconds)
