"""Which processes a row's CPU is charged to, by label (tests.bench.cost).

A service is the process the launcher started and every process under it: with WORKERS > 1 a
service is a supervisor with worker children, and all of them serve its requests. PostgreSQL is
every process of the throwaway cluster the mesh uses (the postmaster's children: one backend per
connection, the WAL writer, the checkpointer), or, on a shared server, the backends connected to
the run's database. The trees are resolved when the measured window closes, so that workers and
backends started during the warm-up are counted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping

from infra.dev.mesh import SERVICES, Mesh
from tests.bench.cost import POSTGRES
from tests.bench.database import BenchDatabase
from tests.bench.machine import process_tree

# A row's processes by label, resolved when its measured window closes.
Groups = Callable[[], Awaitable[dict[str, set[int]]]]


def service_trees(mesh: Mesh, services: Iterable[str] = SERVICES) -> dict[str, set[int]]:
    """Each running service of ``mesh`` (labelled by its name) with its children."""
    found: dict[str, set[int]] = {}
    for service in services:
        pid = mesh.pid(service)
        if pid is not None and (tree := process_tree(pid)):
            found[service] = tree
    return found


def mesh_groups(
    mesh: Mesh,
    database: BenchDatabase,
    services: Iterable[str] = SERVICES,
    others: Mapping[str, Callable[[], set[int]]] | None = None,
) -> Groups:
    """The processes of ``mesh`` (each of ``services``), of its PostgreSQL, and ``others``
    (label → the pids of e.g. the IdP, resolved at the same moment)."""
    chosen = tuple(services)

    async def groups() -> dict[str, set[int]]:
        found = service_trees(mesh, chosen)
        found[POSTGRES] = await database.owned_pids()
        for label, pids in (others or {}).items():
            found[label] = pids()
        return found

    return groups


def single(label: str, pid: int) -> Groups:
    """One process (and its children) under ``label``: a reference server, the echo."""

    async def groups() -> dict[str, set[int]]:
        return {label: process_tree(pid)}

    return groups
