"""Every worker of every service takes an even share of the work: with ``WORKERS=2`` for the
gateway, auth, scim and directory, 600 SCIM ``POST /Users`` through the gateway are served by
each worker of each service within 20% of half of that service's calls. Who served is read from
the server spans each process exports: its resource names the worker (``service.instance.id``,
``idmesh.worker.index``; meshkit.telemetry), so nothing is added to the request path to count.

Why this cannot flake:

- The gateway: every request goes over a TCP connection of its own (the client closes it after
  the answer), and the kernel hands each new connection to a worker by a keyed hash of its
  addresses and ports (SO_REUSEPORT). Each request is then a fair coin independent of the
  others, so worker 0's count is Binomial(600, ½): mean 300, standard deviation 12.2; leaving
  240..360 means 4.9 standard deviations, about once in a million runs.
- auth, scim, directory: no chance is involved. Each client process's channel pool sends its
  calls to the peer's workers in strict alternation (meshkit.channel_pool) once its connections
  reach every worker, which the test waits for (from the pools' log lines), and little else
  takes a turn in those rotations while the load runs (conftest: the gateway asks auth about
  every request, scim writes its provisioning log only when it stops, health checks are not
  traced; the SCIM rate limit's leases are a few calls in all). So each gateway worker gives
  each auth and scim worker half of its calls, ± a few, and
  each scim worker gives each directory worker half of its calls, ±1, whatever the gateway's
  own split was.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import Counter

import aiohttp
import pytest

from infra.dev.mesh import Mesh
from tests.e2e.faults.scim_load import user_body
from tests.e2e.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.e2e.tenants import create_tenant
from tests.e2e.workers.conftest import WORKERS
from tests.e2e.workers.pools import until_pools_reach_every_worker

pytestmark = pytest.mark.e2e

REQUESTS = 600
CLIENTS = 16
TOLERANCE = 0.2
SERVICES = ("gateway", "auth", "scim", "directory")
TAKE_RATE_TOKENS = "/idmesh.auth.v1.AuthService/TakeRateTokens"
# The pools on the path of a SCIM request: gateway → auth (the token), gateway → scim → directory.
CLIENT_POOLS = {"gateway": ("auth", "scim", "directory"), "scim": ("directory",)}


def traceparent(trace_id: str) -> str:
    """A sampled W3C trace context: every span of the request joins trace ``trace_id``."""
    return f"00-{trace_id}-{secrets.token_hex(8)}-01"


async def provision(mesh: Mesh, token: str, trace_ids: list[str]) -> list[int]:
    """POSTs one user per trace id from CLIENTS concurrent clients, each request on a new
    connection; the statuses."""
    queue = list(enumerate(trace_ids))
    statuses: list[int] = []
    connector = aiohttp.TCPConnector(force_close=True, limit=0)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=30)
    ) as http:

        async def client() -> None:
            while queue:
                number, trace_id = queue.pop()
                async with http.post(
                    f"{mesh.gateway_url}/scim/v2/Users",
                    data=json.dumps(user_body(f"share-{trace_id[:12]}-{number}@workers.test")),
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Content-Type": "application/scim+json",
                        "traceparent": traceparent(trace_id),
                    },
                ) as response:
                    await response.read()
                    statuses.append(response.status)

        await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return statuses


async def list_one_user(mesh: Mesh, token: str) -> None:
    """A SCIM read on new connections, a few times: it reaches every worker's pools (a pool
    starts at its first call), in traces the test does not count."""
    connector = aiohttp.TCPConnector(force_close=True)
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(connector=connector, headers=headers) as http:
        for _ in range(4):
            async with http.get(f"{mesh.gateway_url}/scim/v2/Users?count=1") as response:
                assert response.status == 200, await response.text()


def shares(spans: list[ReceivedSpan], trace_ids: set[str]) -> dict[str, Counter[str]]:
    """service → worker instance → the server spans it exported for the given traces, but the
    rate limit's leases (a gateway worker asks auth for SCIM tokens once per tenth of the
    burst: a few calls in all, not one per request)."""
    counted: dict[str, Counter[str]] = {service: Counter() for service in SERVICES}
    for span in spans:
        if span.name == TAKE_RATE_TOKENS:
            continue
        if span.kind == "SERVER" and span.trace_id in trace_ids and span.service in counted:
            counted[span.service][str(span.resource["service.instance.id"])] += 1
    return counted


async def test_each_worker_of_every_service_serves_within_a_fifth_of_an_even_share(
    workers_mesh: Mesh, otlp_receiver: OtlpReceiver
) -> None:
    """WORKERS: N processes behind one port, each taking its share (the kernel spreads
    connections, channel pools spread calls)."""
    tenant = await create_tenant(workers_mesh)
    await until_pools_reach_every_worker(
        workers_mesh, CLIENT_POOLS, WORKERS, nudge=lambda: list_one_user(workers_mesh, tenant.token)
    )
    trace_ids = [secrets.token_hex(16) for _ in range(REQUESTS)]
    statuses = await provision(workers_mesh, tenant.token, trace_ids)
    assert Counter(statuses) == {201: REQUESTS}

    wanted = set(trace_ids)

    def complete(spans: list[ReceivedSpan]) -> dict[str, Counter[str]] | None:
        counted = shares(spans, wanted)
        # One server span per request in the gateway, auth (the token) and scim; at least one
        # in the directory (CreateUser, and the account's settings when scim's cache is cold).
        done = all(sum(counted[s].values()) == REQUESTS for s in ("gateway", "auth", "scim"))
        return counted if done and sum(counted["directory"].values()) >= REQUESTS else None

    await otlp_receiver.wait_for(complete, within=60.0)
    await asyncio.sleep(1.0)  # the directory's last spans of a cold cache, exported every 100 ms
    counted = shares(otlp_receiver.spans, wanted)
    for service, by_worker in counted.items():
        total = sum(by_worker.values())
        even = total / WORKERS
        assert len(by_worker) == WORKERS, f"{service}: served by {dict(by_worker)}"
        for worker, served in by_worker.items():
            assert abs(served - even) <= TOLERANCE * even, (
                f"{service} worker {worker} served {served} of {total}: {dict(by_worker)}"
            )
