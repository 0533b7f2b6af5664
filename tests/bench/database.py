"""The PostgreSQL a run uses: TEST_DATABASE_URL's server when it answers, otherwise a throwaway
cluster (meshkit.testing.PostgresServer, the same rule as the test suites), with a fresh
database migrated like production and dropped afterwards.

It also tells the CPU accounting which PostgreSQL processes are ours: on a throwaway cluster all
of them; on a shared server only the backends connected to our database, since the rest of that
server belongs to whoever else uses it.
"""

from __future__ import annotations

import asyncio
import os
from urllib.parse import urlsplit

import asyncpg
import psutil

from meshkit.testing import PostgresServer, migrate
from tests.bench.machine import process_tree
from tests.conftest import MIGRATIONS

_LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1"}


class BenchDatabase:
    def __init__(self) -> None:
        self._server = PostgresServer()
        self._conn: asyncpg.Connection | None = None
        self.url = ""
        self.shared = False
        self.description = ""

    async def start(self) -> str:
        """Starts (or reaches) the server, creates and migrates a fresh database; its URL."""
        admin_url = await self._server.start()
        self.shared = admin_url == os.environ.get("TEST_DATABASE_URL", "")
        if self.shared:
            self.description = "TEST_DATABASE_URL's server (shared), a fresh database"
        else:
            # fsync off changes write costs only; read rows are unaffected, write rows must say so.
            self.description = "throwaway local PostgreSQL cluster (fsync off), a fresh database"
        self.url = await self._server.create_database()
        await migrate(self.url, {s: f for s, f in MIGRATIONS.items() if f.is_dir()})
        # One idle connection kept for pid look-ups, so that looking does not start backends.
        self._conn = await asyncpg.connect(self.url)
        return self.url

    @property
    def local(self) -> bool:
        return (urlsplit(self.url).hostname or "") in _LOCAL_HOSTS

    async def owned_pids(self) -> set[int]:
        """The PostgreSQL processes that work for this run (empty for a remote server, whose
        pids mean nothing here)."""
        if self._conn is None or not self.local:
            return set()
        rows = await self._conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        )
        backends = {int(row["pid"]) for row in rows}
        if self.shared:
            return backends
        # Our own cluster: the postmaster and every process under it (checkpointer, WAL writer).
        for backend in backends:
            try:
                return process_tree(int(psutil.Process(backend).ppid()))
            except psutil.Error:
                continue
        return backends

    async def stop(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
        if self.url:
            await self._server.drop_database(self.url)
        # pg_ctl stop waits for the server: off the event loop.
        await asyncio.to_thread(self._server.stop)
