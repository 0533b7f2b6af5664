"""What the services' logs say about their channel pools (meshkit.channel_pool): each pool logs
one line when its connections reach every worker of its peer, and one when it reconnects to
reach a worker that has none. Tests wait on those lines before they count who served what."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

from infra.dev.mesh import Mesh

POOL_LOGGER = "meshkit.channel_pool"


def pool_reports(log: Path, service: str) -> dict[tuple[int, str], bool]:
    """(worker, peer address) → whether that worker's pool last reported reaching every worker
    of the peer, from the lines the service wrote since it last started."""
    text = log.read_text(errors="replace") if log.exists() else ""
    since_start = text.rsplit(f"--- {service} starting", 1)[-1]
    reports: dict[tuple[int, str], bool] = {}
    for line in since_start.splitlines():
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("logger") == POOL_LOGGER and "peer" in entry:
            reports[(int(entry.get("worker", 0)), str(entry["peer"]))] = bool(entry["reached"])
    return reports


async def until_pools_reach_every_worker(
    mesh: Mesh,
    clients: Mapping[str, Sequence[str]],
    workers: int,
    within: float = 60.0,
    nudge: Callable[[], Awaitable[object]] | None = None,
) -> None:
    """Waits until, for each client service and each of its ``workers`` workers, the pool to
    each of its peers in ``clients`` (service → peer services) reaches every worker of the
    peer; AssertionError naming the pools that did not within ``within`` seconds. A pool starts
    connecting at its first call: ``nudge``, awaited on every round, makes calls that reach the
    pools no probe reaches (scim's to directory)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        if nudge is not None:
            await nudge()
        missing = []
        for service, peers in clients.items():
            log = mesh.log_path(service)
            assert log is not None, "the mesh must write its logs to files"
            reports = pool_reports(log, service)
            for worker in range(workers):
                for peer in peers:
                    if not reports.get((worker, mesh.address(peer))):
                        missing.append(f"{service}[{worker}] → {peer}")
        if not missing:
            return
        if loop.time() > deadline:
            raise AssertionError(f"pools not reaching every worker of their peer: {missing}")
        await asyncio.sleep(0.2)
