"""CPU milliseconds per request of each process: the figure a run is judged by.

Throughput on a shared two-core machine moves with whatever else runs; the CPU time a request
costs each process moves far less, and it is what sizing multiplies. Every load row records the
CPU seconds each labelled process used over the measured window (from /proc, a service's worker
children included) and divides them by the requests completed in that window.

Labels are fixed so that rows, runs and the comparison tool line up. "mesh" is the sum of what
serves a request inside idmesh, PostgreSQL included; the IdP (a third party on the same cores),
the webhook deliverer (background work) and the load generator are reported beside it, never in
it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

GATEWAY: Final = "gateway"
AUTH: Final = "auth"
SCIM: Final = "scim"
DIRECTORY: Final = "directory"
DELIVERER: Final = "deliverer"
POSTGRES: Final = "pg"
IDP: Final = "idp"
LOADGEN: Final = "loadgen"
# The process a row compares against: scim2-server, Ory Polis, or the bare gRPC echo.
REFERENCE: Final = "ref"
MESH: Final = "mesh"

MESH_PARTS: Final = (GATEWAY, AUTH, SCIM, DIRECTORY, POSTGRES)
# The order processes are listed in, wherever they are.
LABELS: Final = (*MESH_PARTS, MESH, DELIVERER, IDP, LOADGEN, REFERENCE)


def per_request(seconds: Mapping[str, float], requests: int) -> dict[str, float]:
    """Milliseconds per request of each label in ``seconds`` (CPU seconds over a window in which
    ``requests`` completed), with "mesh" added when any of its parts was measured. Empty when no
    request completed: a cost per nothing is no figure."""
    if requests <= 0:
        return {}
    cost = {label: 1000.0 * used / requests for label, used in seconds.items()}
    parts = [cost[label] for label in MESH_PARTS if label in cost]
    if parts:
        cost[MESH] = sum(parts)
    return {label: cost[label] for label in _ordered(cost)}


def merged(windows: Iterable[tuple[Mapping[str, float], int]]) -> dict[str, float]:
    """The cost per request over several windows of the same load (CPU seconds, requests):
    total CPU over total requests, so that a longer window weighs more than a short one."""
    seconds: dict[str, float] = {}
    requests = 0
    for used, count in windows:
        requests += count
        for label, value in used.items():
            seconds[label] = seconds.get(label, 0.0) + value
    return per_request(seconds, requests)


def _ordered(labels: Iterable[str]) -> list[str]:
    known = [label for label in LABELS if label in labels]
    return known + sorted(set(labels) - set(LABELS))
