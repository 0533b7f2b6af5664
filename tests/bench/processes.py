"""Stopping the helper servers the bench starts (echo, scim2-server, Ory Polis)."""

from __future__ import annotations

import asyncio
import contextlib

STOP_SECONDS = 10.0


async def stop_process(process: asyncio.subprocess.Process | None) -> None:
    """SIGTERM, then SIGKILL if ``process`` has not exited within STOP_SECONDS."""
    if process is None or process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), STOP_SECONDS)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
