"""Throwaway meshes of the fault tests."""

from __future__ import annotations

import asyncio

from infra.dev.mesh import SERVICES, Mesh


async def kill_all(mesh: Mesh) -> None:
    """Ends a throwaway mesh with SIGKILL: its graceful stop (about a second of drain per
    service, in order) is what tests/e2e/test_mesh.py checks, and this folder must stay fast."""
    await asyncio.gather(*(mesh.kill(service) for service in SERVICES if mesh.is_running(service)))
