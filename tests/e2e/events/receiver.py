"""A webhook receiver for the tests: records every delivery it gets, per endpoint path, and
checks each signature with the ``standardwebhooks`` package (an implementation independent of
ours). ``fail_first(path, n)`` makes it answer 500 to the first ``n`` attempts of each event
there; ``fail_always(path)`` to every one."""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from standardwebhooks.webhooks import Webhook

from infra.dev.mesh import free_port


@dataclass(frozen=True)
class Delivery:
    path: str
    webhook_id: str
    body: dict[str, Any]
    arrived: float
    answered: int


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.deliveries: list[Delivery] = []
        self.bad_signatures = 0
        self._secrets: dict[str, str] = {}
        self._fail_first: dict[str, int] = {}
        self._attempts: dict[tuple[str, str], int] = defaultdict(int)
        self._runner: web.AppRunner | None = None
        self._arrived = asyncio.Condition()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def expect(self, path: str, secret: str) -> None:
        """Deliveries to ``path`` must be signed with ``secret``."""
        self._secrets[path] = secret

    def fail_first(self, path: str, attempts: int) -> None:
        self._fail_first[path] = attempts

    def fail_always(self, path: str) -> None:
        self._fail_first[path] = 1 << 30

    def at(self, path: str) -> list[Delivery]:
        return [d for d in self.deliveries if d.path == path]

    def unique_ids(self, path: str) -> set[str]:
        return {d.webhook_id for d in self.at(path) if d.answered == 200}

    async def wait_for(self, predicate: Any, timeout: float) -> None:  # noqa: ASYNC109
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(predicate)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{path}", self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _receive(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        raw = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        secret = self._secrets.get(path)
        try:
            assert secret is not None
            Webhook(secret).verify(raw, headers)
        except Exception:
            self.bad_signatures += 1
            return web.Response(status=400)
        webhook_id = headers["webhook-id"]
        self._attempts[(path, webhook_id)] += 1
        status = 500 if self._attempts[(path, webhook_id)] <= self._fail_first.get(path, 0) else 200
        delivery = Delivery(path, webhook_id, json.loads(raw), time.monotonic(), status)
        async with self._arrived:
            self.deliveries.append(delivery)
            self._arrived.notify_all()
        return web.Response(status=status)
