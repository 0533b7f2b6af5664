"""kill -9 of one service in the middle of a SCIM provisioning load (issue "Under load, faults
and hostile input it keeps working and loses nothing"): the gateway answers 503 with
Retry-After, never 500 and never hangs; it recovers by itself once the service is back; and
directory holds exactly the users whose creation was acknowledged, once each."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiohttp
import pytest

from infra.dev.mesh import SERVICES, Mesh
from tests.e2e.faults.scim_load import (
    ScimLoad,
    assert_answered_in_time,
    assert_nothing_lost_or_duplicated,
    outage_figures,
    post_user,
    settle_uncertain,
)
from tests.e2e.tenants import Tenant, create_token

pytestmark = pytest.mark.e2e

# How long the service stays dead under load before it is started again.
OUTAGE_SECONDS = 1.5
# Generous: "by itself within seconds" once the restarted process serves.
RECOVERY_SECONDS = 10.0


@pytest.mark.parametrize("service", ["directory", "scim", "auth"])
async def test_a_killed_service_costs_503s_with_retry_after_and_loses_no_acknowledged_user(
    fault_mesh: Mesh,
    fault_tenant: Tenant,
    http: aiohttp.ClientSession,
    service: str,
    record_property: Callable[[str, object], None],
) -> None:
    """Issue "keeps working and loses nothing"; gateway contract "never a bare 500"
    (docs/architecture.md) and RFC 9110 §10.2.3 (503 with Retry-After); RFC 7644 §3.3 (a retried
    POST of a user the first attempt stored is 409 uniqueness, never a second user).

    auth only verifies tokens, which the gateway caches for TOKEN_CACHE_TTL: its crash may
    cost the load no request at all, but a token the gateway has not seen yet is 503 then."""
    others = {peer: fault_mesh.pid(peer) for peer in SERVICES if peer != service}
    # A second token of the account, never used yet: the gateway has not cached it.
    uncached = await create_token(fault_mesh, fault_tenant.account_id)
    load = ScimLoad(http, fault_mesh.gateway_url, fault_tenant.token)
    load.start()
    try:
        assert await load.wait_for(201, 12, within=15), load.answers[-5:]
        killed_at = time.monotonic()
        await fault_mesh.kill(service)
        probe = await post_user(
            http, fault_mesh.gateway_url, uncached, f"{load.prefix}-probe@load.test"
        )
        await asyncio.sleep(OUTAGE_SECONDS)
        await fault_mesh.restart(service)
        restarted_at = time.monotonic()
        recovered = await load.wait_for(201, 8, after=restarted_at, within=RECOVERY_SECONDS)
    finally:
        answers = await load.stop()

    for name, value in outage_figures(answers, restarted_at).items():
        record_property(name, value)
    assert recovered, f"no 201s within {RECOVERY_SECONDS}s of the restart: {answers[-8:]}"
    # Recovered by itself: no other process was restarted.
    assert {peer: fault_mesh.pid(peer) for peer in others} == others
    assert_answered_in_time(answers)
    # Whichever hop is down, a caller is told to retry: never 401 (auth unreachable does not
    # make a token invalid, and a job whose calls mostly fail is quarantined by Entra,
    # docs/scim-clients.md §6), never 500.
    assert probe.status == 503, probe
    assert_answered_in_time([probe])
    answers.append(probe)
    during = [a for a in answers if killed_at <= a.sent_at < restarted_at]
    if service != "auth":
        assert any(a.status == 503 for a in during), "the outage went unnoticed"

    settled = await settle_uncertain(http, fault_mesh.gateway_url, fault_tenant.token, answers)
    await assert_nothing_lost_or_duplicated(fault_mesh, fault_tenant.account_id, answers, settled)
