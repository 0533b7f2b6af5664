"""The peer addresses of the services take every replica of a peer in one value, as Kubernetes
needs: DIRECTORY_ADDR, AUTH_ADDR and SCIM_ADDR set to a multi-address target
(``ipv4:127.0.0.1:P1,127.0.0.1:P2``; ``dns:///`` a headless Service in a cluster) are accepted by
every service's configuration, and meshkit.channels.connect's round robin spreads the calls
over both replicas. Shown with the traces the processes export: each server span names its
replica (``service.instance.id``).
"""

from __future__ import annotations

import asyncio
import secrets

import aiohttp
import pytest

from tests.e2e.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.e2e.replicas.replicas import COUNT, Replicas, instance
from tests.e2e.replicas.routing import via
from tests.e2e.tenants import create_account, create_token, unique_name

pytestmark = pytest.mark.e2e

REQUESTS = 8
# The callers whose calls to each peer are checked: the gateway calls auth (token checks),
# scim (SCIM requests) and directory (the admin API); scim calls directory.
PEERS = ("auth", "scim", "directory")


def _replicas_serving(spans: list[ReceivedSpan], trace_id: str) -> dict[str, set[str]] | None:
    """For each peer, the replicas that served a call in trace ``trace_id``; None until every
    peer has been served by every replica."""
    serving: dict[str, set[str]] = {peer: set() for peer in PEERS}
    for span in spans:
        if span.trace_id == trace_id and span.kind == "SERVER" and span.service in serving:
            serving[span.service].add(str(span.resource.get("service.instance.id")))
    wanted = {instance(index) for index in range(COUNT)}
    return serving if all(found == wanted for found in serving.values()) else None


@pytest.mark.parametrize("gateway", range(COUNT))
async def test_each_gateway_spreads_its_calls_over_both_replicas_of_every_peer(
    replicas: Replicas, otlp_receiver: OtlpReceiver, gateway: int
) -> None:
    """Eight requests through one gateway, each with a token never seen before (so auth is
    asked every time), each a SCIM request (scim, then directory) and an admin API request
    (directory): every peer answers from both of its replicas."""
    account_id = await create_account(replicas, unique_name("peers"))
    trace_id = secrets.token_hex(16)
    headers = {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
    async with aiohttp.ClientSession(headers=headers) as http:

        async def request(path: str) -> None:
            token = await create_token(replicas, account_id, ["users:manage", "users:read"])
            async with http.get(
                via(replicas, gateway, path), headers={"Authorization": f"Bearer {token}"}
            ) as response:
                assert response.status == 200, await response.text()

        await asyncio.gather(
            *(request(path) for path in ("/scim/v2/Users", "/api/v1/users") * (REQUESTS // 2))
        )
    serving = await otlp_receiver.wait_for(lambda spans: _replicas_serving(spans, trace_id))
    assert all(len(found) == COUNT for found in serving.values())
