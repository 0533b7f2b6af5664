"""directory frozen (SIGSTOP: alive, port open, answering nothing, like a process stuck in a
long GC pause or a node under memory pressure) in the middle of a SCIM provisioning load (issue
"Under load, faults and hostile input it keeps working and loses nothing")."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import aiohttp
import pytest

from infra.dev.mesh import SERVICES, Mesh
from meshkit.channels import DEFAULT_TIMEOUT_SECONDS
from tests.e2e.faults.scim_load import (
    ScimLoad,
    assert_answered_in_time,
    assert_nothing_lost_or_duplicated,
    settle_uncertain,
)
from tests.e2e.tenants import Tenant

pytestmark = pytest.mark.e2e

# Past the gRPC deadline, so that requests in flight run into it.
FROZEN_SECONDS = DEFAULT_TIMEOUT_SECONDS + 1.5
RECOVERY_SECONDS = 10.0


async def test_a_frozen_directory_costs_a_deadline_not_a_hang_and_no_duplicate_user(
    fault_mesh: Mesh, fault_tenant: Tenant, http: aiohttp.ClientSession
) -> None:
    """ "Every outgoing call has a deadline" (docs/architecture.md, async hygiene): a peer that
    accepts connections but never answers costs each request at most the deadline, answered
    503 (retry later) or 504 (google/rpc/code.proto DEADLINE_EXCEEDED), never a 500 or a hang.
    When directory thaws it may still run the requests queued meanwhile, whose callers were
    told they failed: their retries are 201 or 409 uniqueness (RFC 7644 §3.3), and directory
    holds every user once. Nothing is restarted."""
    pids = {service: fault_mesh.pid(service) for service in SERVICES}
    directory = pids["directory"]
    assert directory is not None
    load = ScimLoad(http, fault_mesh.gateway_url, fault_tenant.token)
    load.start()
    try:
        assert await load.wait_for(201, 12, within=15), load.answers[-5:]
        frozen_at = time.monotonic()
        os.kill(directory, signal.SIGSTOP)
        try:
            await asyncio.sleep(FROZEN_SECONDS)
        finally:
            os.kill(directory, signal.SIGCONT)
        thawed_at = time.monotonic()
        recovered = await load.wait_for(201, 8, after=thawed_at, within=RECOVERY_SECONDS)
    finally:
        answers = await load.stop()

    assert recovered, f"no 201s within {RECOVERY_SECONDS}s of the thaw: {answers[-8:]}"
    assert {service: fault_mesh.pid(service) for service in SERVICES} == pids
    assert_answered_in_time(answers, statuses=(201, 503, 504))
    during = [a for a in answers if frozen_at <= a.sent_at < thawed_at]
    assert any(a.status in (503, 504) for a in during), "the freeze went unnoticed"

    settled = await settle_uncertain(http, fault_mesh.gateway_url, fault_tenant.token, answers)
    await assert_nothing_lost_or_duplicated(fault_mesh, fault_tenant.account_id, answers, settled)
