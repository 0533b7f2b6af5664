"""The deliverer: POSTs each account's events to its webhook endpoints, in order, once each.

Workers (``WEBHOOK_WORKERS`` per process, any number of processes) loop: claim an endpoint that
has an event past its cursor and is due (queue.CLAIM, SKIP LOCKED), deliver that one event,
commit the outcome with the endpoint's new cursor, and go again; with nothing to do they sleep
until a commit's NOTIFY (which wakes one worker, who calls the others in when it finds work)
or a second passes. A failure leaves the cursor where it was and makes
the endpoint due again after an exponential delay with jitter (``WEBHOOK_RETRY_BASE`` doubling
up to ``WEBHOOK_RETRY_MAX``); an endpoint failing for ``WEBHOOK_DISABLE_AFTER`` (3 days) is
disabled and the account is told through its audit log and its feed (``webhook.disabled``).

Signing secrets are stored sealed (directory.webhooks.secrets); each delivery opens them with
``IDMESH_ENCRYPTION_KEY``. One that does not open (a missing key, a row tampered with) fails
that delivery like an unreachable endpoint, and the log names the endpoint and the key id only.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg

from directory.models import Actor
from directory.store import Pool
from directory.store.base import Connection, record_event
from directory.store.events import EventStore
from directory.wakeups import WEBHOOKS_CHANNEL, Wakeups
from directory.webhooks import queue, signing
from directory.webhooks.addresses import Refused, connector_options
from directory.webhooks.config import DelivererConfig
from directory.webhooks.payload import event_body
from directory.webhooks.secrets import seal_plaintext_secrets, signing_secrets
from meshkit.secretbox import SecretBoxError
from meshkit.waiting import wait_at_most

logger = logging.getLogger(__name__)
SYSTEM = Actor(type="system", id="webhook-deliverer", display_name="webhook deliverer")
USER_AGENT = "idmesh-webhooks/1"
# Resends are looked for at most this often (per process): a resend waits a second at most,
# and a delivery round does not pay for the look-up.
RESEND_CHECK_SECONDS = 1.0
HELPER_IDLE_SECONDS = 30.0


@dataclass(frozen=True)
class Outcome:
    succeeded: bool
    http_status: int = 0
    latency_ms: int = 0
    error: str = ""


def retry_delay(attempts: int, base: float, cap: float) -> float:
    """Seconds before the attempt after ``attempts`` failed ones: ``base`` doubling per failure
    up to ``cap``, times a random factor in [0.5, 1) so that endpoints failing together do not
    retry together."""
    doubled = base * 2.0 ** max(0, attempts - 1)
    return float(min(cap, doubled) * (0.5 + random.random() / 2))  # noqa: S311


class Deliverer:
    def __init__(self, pool: Pool, config: DelivererConfig) -> None:
        self.pool = pool
        self.config = config
        self.secretbox = config.secretbox()
        self.wakeups = Wakeups(pool, channel=WEBHOOKS_CHANNEL)
        self._more = asyncio.Event()
        self._resends_checked = 0.0
        self._session: aiohttp.ClientSession | None = None

    async def run(self) -> None:
        """Until cancelled."""
        connector = aiohttp.TCPConnector(**connector_options(self.config.allow_private))
        timeout = aiohttp.ClientTimeout(total=self.config.timeout)
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, headers={"User-Agent": USER_AGENT}
        ) as session:
            self._session = session
            try:
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(self._listen())
                    for _ in range(self.config.workers - 1):
                        tasks.create_task(self._help())
                    tasks.create_task(self._prune())
            finally:
                await self.wakeups.close()

    async def _listen(self) -> None:
        """The worker woken by commits (NOTIFY) and by retries falling due. When it finds work
        after being idle, it calls the helpers in once: one commit wakes one worker, and a
        backlog on several endpoints gets every worker."""
        async with self.wakeups.subscribe() as woken:
            idle = True
            while True:
                if await self._round():
                    if idle:
                        self._more.set()
                    idle = False
                else:
                    idle = True
                    await woken.wait(await self._next_due())

    async def _help(self) -> None:
        """A worker called in by the listening one; it delivers while it finds work, then
        waits to be called again. Idle helpers hold no database connection."""
        while True:
            if await self._round():
                continue
            await wait_at_most(self._more, HELPER_IDLE_SECONDS)
            self._more.clear()

    async def _round(self) -> bool:
        try:
            return await self.deliver_one()
        except Exception:  # a worker outlives any one round
            logger.warning("delivery round failed; retrying", exc_info=True)
            await asyncio.sleep(self.wakeups.poll_seconds)
            return False

    async def _next_due(self) -> float | None:
        try:
            due = await self.pool.fetchval(queue.NEXT_DUE)
        except Exception:
            return None
        return None if due is None else float(due)

    async def deliver_one(self) -> bool:
        """One delivery (a resend first, if any is waiting); False when there was nothing."""
        async with self.pool.acquire() as conn, conn.transaction():
            if time.monotonic() - self._resends_checked >= RESEND_CHECK_SECONDS:
                self._resends_checked = time.monotonic()
                resend = await conn.fetchrow(queue.CLAIM_RESEND)
                if resend is not None:
                    self._resends_checked = 0.0  # there may be more
                    await self._resend(conn, resend)
                    return True
            endpoint = await conn.fetchrow(queue.CLAIM)
            if endpoint is None:
                return False
            key = (endpoint["account_id"], endpoint["id"])
            event = endpoint["event"]
            if event is not None and event["seq"] <= endpoint["delivered_seq"]:
                # The row moved on between our snapshot and its lock: read its next event again.
                event = await conn.fetchrow(
                    queue.NEXT_EVENT, endpoint["account_id"], endpoint["delivered_seq"],
                    endpoint["last_seq"], endpoint["types"],
                )  # fmt: skip
            if event is None:
                await conn.execute(queue.SKIP_TO, *key, endpoint["last_seq"])
                return True
            attempt = endpoint["attempts"] + 1
            outcome = await self._post(endpoint, event)
            if outcome.succeeded:
                await conn.execute(
                    queue.DELIVERED, *key, event["seq"], event["id"], event["type"], attempt,
                    outcome.http_status, outcome.latency_ms,
                )  # fmt: skip
                return True
            await self._log(conn, endpoint, event, attempt, outcome, resend=False)
            delay = retry_delay(attempt, self.config.retry_base, self.config.retry_max)
            failing_since = await conn.fetchval(queue.FAILED, *key, delay)
            if datetime.now(UTC) - failing_since >= timedelta(seconds=self.config.disable_after):
                await self._disable(conn, endpoint, outcome)
            return True

    async def _resend(self, conn: Connection, endpoint: asyncpg.Record) -> None:
        key = (endpoint["account_id"], endpoint["id"])
        event = await conn.fetchrow(
            queue.RESEND_EVENT, endpoint["account_id"], endpoint["event_seq"]
        )
        if event is not None:
            outcome = await self._post(endpoint, event)
            await self._log(conn, endpoint, event, 1, outcome, resend=True)
        await conn.execute(queue.RESENT, *key, endpoint["event_seq"])

    async def _post(self, endpoint: asyncpg.Record, event: asyncpg.Record) -> Outcome:
        assert self._session is not None
        body = event_body(event)
        try:
            secrets = signing_secrets(self.secretbox, endpoint, datetime.now(UTC))
        except SecretBoxError as error:
            logger.warning(
                "webhook endpoint %s: signing secret unavailable: %s", endpoint["id"], error
            )
            return Outcome(False, error="signing secret unavailable")
        headers = {
            **signing.headers(secrets, str(event["id"]), int(time.time()), body),
            "Content-Type": "application/json",
        }
        started = time.perf_counter()
        try:
            async with self._session.post(
                endpoint["url"], data=body, headers=headers, allow_redirects=False
            ) as response:
                await response.read()
                status = response.status
        except Refused as refused:
            return Outcome(False, error=str(refused))
        except TimeoutError:
            return Outcome(False, latency_ms=_since(started), error="timed out")
        except aiohttp.ClientError as error:
            return Outcome(False, latency_ms=_since(started), error=_client_error(error))
        latency = _since(started)
        if 200 <= status < 300:
            return Outcome(True, status, latency)
        return Outcome(False, status, latency, f"answered {status}")

    async def _log(
        self,
        conn: Connection,
        endpoint: asyncpg.Record,
        event: asyncpg.Record,
        attempt: int,
        outcome: Outcome,
        *,
        resend: bool,
    ) -> None:
        await conn.execute(
            queue.LOG, endpoint["account_id"], endpoint["id"], event["id"], event["seq"],
            event["type"], attempt, resend, outcome.succeeded, outcome.http_status,
            outcome.latency_ms, outcome.error,
        )  # fmt: skip

    async def _disable(self, conn: Connection, endpoint: asyncpg.Record, outcome: Outcome) -> None:
        days = self.config.disable_after / 86400
        reason = f"failing for {days:g} days (last: {outcome.error})"
        await conn.execute(queue.DISABLE, endpoint["account_id"], endpoint["id"], reason)
        await record_event(
            conn, endpoint["account_id"], SYSTEM, "webhook.disabled", "webhook", endpoint["id"],
            {"resource": {"url": endpoint["url"], "disabled_reason": reason}},
        )  # fmt: skip
        logger.warning("webhook endpoint %s disabled: %s", endpoint["id"], reason)

    async def _prune(self) -> None:
        """Upkeep, at start and every EVENT_PRUNE_EVERY: secrets still stored in plaintext
        (rows from before migration 0007, or from an older directory replica during the rolling
        upgrade) are sealed, and old events and delivery logs go."""
        events = EventStore(self.pool)
        while True:
            with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await seal_plaintext_secrets(self.pool, self.secretbox)
                cutoff = datetime.now(UTC) - timedelta(seconds=self.config.retention)
                pruned = await events.prune(cutoff)
                await self.pool.execute(queue.PRUNE_LOG, cutoff)
                if pruned:
                    logger.info("pruned %d events older than the retention", pruned)
            await asyncio.sleep(self.config.prune_every)


def _since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _client_error(error: aiohttp.ClientError) -> str:
    """Why a request failed, in words that name no internal address."""
    if isinstance(error, aiohttp.ClientConnectorError):
        # The errno's name (ECONNREFUSED, ETIMEDOUT, ...) says why without naming an address.
        reason = errno.errorcode.get(error.os_error.errno or 0, "")
        return f"connection failed ({reason})" if reason else "connection failed"
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return "server disconnected"
    return type(error).__name__
