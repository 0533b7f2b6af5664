"""A few SCIM provisioning clients POSTing new users through the gateway while a test breaks
something, each keeping its own log of every answer, and the checks that compare what the
clients were told with what directory stored.

A client behaves like Entra's or Okta's provisioning engine: one request at a time, a fresh
userName per POST, ``Retry-After`` honoured after a 503, and every answer (or the lack of one)
written down with its latency. Nothing here retries a POST silently: the log is the ground truth
the tests hold the mesh to.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from idmesh.directory.v1 import directory_pb2, directory_pb2_grpc
from infra.dev.mesh import Mesh
from meshkit.channels import connect

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
SCIM_CONTENT_TYPE = "application/scim+json"
# A client gives up on one request after this long; the gateway's own deadlines (5 s per gRPC
# call) must answer well before it, so a request cut off here counts as a hang.
REQUEST_TIMEOUT_SECONDS = 15.0
# What a request may take, even in the middle of a crash: the gateway's gRPC deadline plus slack
# for a 2-core machine restarting a Python process beside the load.
LATENCY_BOUND_SECONDS = 10.0
# Retry-After is honoured, but never longer than this: the tests' run time is bounded.
MAX_BACKOFF_SECONDS = 1.0
# Between two POSTs of one client: a provisioning job's pace, below the gateway's per-account
# SCIM rate limit, and light enough that the 2-core machine can still restart a process.
PAUSE_SECONDS = 0.1


@dataclass(frozen=True)
class Answer:
    """One POST as the client saw it. ``status`` None: no HTTP answer (reset, timeout)."""

    user_name: str
    status: int | None
    sent_at: float
    seconds: float
    retry_after: str | None = None
    user_id: str = ""
    scim_type: str = ""
    error: str = ""


def user_body(user_name: str) -> dict[str, Any]:
    return {
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "name": {"givenName": "Load", "familyName": "Test"},
        "emails": [{"value": user_name, "type": "work", "primary": True}],
        "active": True,
    }


def scim_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": SCIM_CONTENT_TYPE}


async def post_user(
    http: aiohttp.ClientSession, gateway_url: str, token: str, user_name: str
) -> Answer:
    """POST /scim/v2/Users for ``user_name``; the answer as a client records it."""
    sent_at = time.monotonic()
    try:
        async with http.post(
            f"{gateway_url}/scim/v2/Users",
            data=json.dumps(user_body(user_name)),
            headers=scim_headers(token),
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS),
        ) as response:
            raw = await response.read()
            body = _json_object(raw)
            return Answer(
                user_name,
                response.status,
                sent_at,
                time.monotonic() - sent_at,
                response.headers.get("Retry-After"),
                str(body.get("id", "")) if response.status == 201 else "",
                str(body.get("scimType", "")),
                "" if response.status in (201, 409) else raw.decode(errors="replace")[:300],
            )
    except (aiohttp.ClientError, TimeoutError) as error:
        return Answer(
            user_name, None, sent_at, time.monotonic() - sent_at, error=type(error).__name__
        )


@dataclass
class ScimLoad:
    """``clients`` concurrent provisioning clients of one account, running until stopped."""

    http: aiohttp.ClientSession
    gateway_url: str
    token: str
    clients: int = 4
    prefix: str = field(default_factory=lambda: f"load-{uuid.uuid4().hex[:8]}")
    answers: list[Answer] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._client(n)) for n in range(self.clients)]

    async def stop(self) -> list[Answer]:
        """Lets each client finish the request it is in; every answer, in sending order."""
        self._stop.set()
        await asyncio.gather(*self._tasks)
        return sorted(self.answers, key=lambda answer: answer.sent_at)

    async def wait_for(self, status: int, count: int, *, after: float = 0.0, within: float) -> bool:
        """Whether ``count`` answers of ``status`` sent after ``after`` arrived within
        ``within`` seconds."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            seen = [a for a in self.answers if a.status == status and a.sent_at >= after]
            if len(seen) >= count:
                return True
            await asyncio.sleep(0.05)
        return False

    async def _client(self, number: int) -> None:
        sequence = 0
        while not self._stop.is_set():
            sequence += 1
            user_name = f"{self.prefix}-{number}-{sequence}@load.test"
            answer = await post_user(self.http, self.gateway_url, self.token, user_name)
            self.answers.append(answer)
            if answer.status == 503:
                await self._pause(_seconds(answer.retry_after))
            else:
                await self._pause(PAUSE_SECONDS)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), min(seconds, MAX_BACKOFF_SECONDS))


def _json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, or {} (a bare error page must fail an assertion, not this)."""
    try:
        parsed = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _seconds(retry_after: str | None) -> float:
    try:
        return float(retry_after or 1)
    except ValueError:
        return 1.0


def assert_answered_in_time(
    answers: Iterable[Answer], statuses: Iterable[int] = (201, 503)
) -> None:
    """Every request was answered within LATENCY_BOUND_SECONDS by one of ``statuses`` (no 500,
    no 4xx for a valid request, no hang), each 503 with a Retry-After in seconds (RFC 9110
    §10.2.3) and no transport detail in its body."""
    allowed = set(statuses)
    for answer in answers:
        assert answer.status in allowed, answer
        assert answer.seconds < LATENCY_BOUND_SECONDS, answer
        if answer.status == 503:
            assert answer.retry_after is not None, answer
            assert answer.retry_after.isdigit(), answer
        # gRPC's transport texts ("Stream removed (Socket closed)", "failed to connect to all
        # addresses; ... ipv4:127.0.0.1:...") must not reach the client.
        for leak in ("Socket", "Stream removed", "ipv4:", "127.0.0.1", "connect to all"):
            assert leak not in answer.error, answer


async def settle_uncertain(
    http: aiohttp.ClientSession, gateway_url: str, token: str, answers: Iterable[Answer]
) -> dict[str, int]:
    """Retries the POST of every user whose creation was not acknowledged, as a client would
    once the mesh is back; the final status of each (201: created now, 409: the first attempt
    had stored it, RFC 7644 §3.3 uniqueness)."""
    settled: dict[str, int] = {}
    for answer in answers:
        if answer.status == 201:
            continue
        for _ in range(20):
            retried = await post_user(http, gateway_url, token, answer.user_name)
            if retried.status in (201, 409):
                settled[answer.user_name] = retried.status
                break
            await asyncio.sleep(0.25)
        else:
            raise AssertionError(f"{answer.user_name}: the retried POST never got 201 or 409")
    return settled


async def stored_users(mesh: Mesh, account_id: str) -> list[directory_pb2.User]:
    """Every user of ``account_id`` as directory stores it, page by page."""
    users: list[directory_pb2.User] = []
    token = ""
    async with connect(mesh.address("directory")) as channel:
        stub = directory_pb2_grpc.DirectoryServiceStub(channel)
        while True:
            page = await stub.ListUsers(
                directory_pb2.ListUsersRequest(
                    account_id=account_id,
                    page=directory_pb2.PageRequest(page_size=200, page_token=token),
                )
            )
            users.extend(page.users)
            token = page.page.next_page_token
            if not token:
                return users


async def assert_nothing_lost_or_duplicated(
    mesh: Mesh, account_id: str, answers: list[Answer], settled: dict[str, int]
) -> None:
    """Directory holds each acknowledged user exactly once, under the id its 201 announced, and
    nothing but the users the clients tried to create (each of them once, after the retries)."""
    stored = await stored_users(mesh, account_id)
    counts = Counter(user.user_name for user in stored)
    duplicated = sorted(name for name, count in counts.items() if count > 1)
    assert not duplicated, f"stored more than once: {duplicated}"
    ids = {user.user_name: user.id for user in stored}
    acknowledged = {a.user_name: a.user_id for a in answers if a.status == 201}
    lost = sorted(name for name in acknowledged if name not in ids)
    assert not lost, f"acknowledged with 201 but not stored: {lost}"
    moved = sorted(name for name, user_id in acknowledged.items() if ids[name] != user_id)
    assert not moved, f"stored under another id than the 201 announced: {moved}"
    attempted = {a.user_name for a in answers}
    assert set(ids) == attempted, (
        f"unexpected: {sorted(set(ids) - attempted)}; missing: {sorted(attempted - set(ids))}"
    )
    assert set(settled) | set(acknowledged) == attempted


def outage_figures(answers: Iterable[Answer], restarted_at: float) -> dict[str, float]:
    """What an outage cost, for docs/reliability.md (recorded as junit properties): requests
    acknowledged (201) and told to retry (503), the slowest answer, and the seconds from the
    restart to the first 201 sent after it."""
    answers = list(answers)
    after = [
        a.sent_at + a.seconds for a in answers if a.status == 201 and a.sent_at >= restarted_at
    ]
    return {
        "acknowledged": sum(a.status == 201 for a in answers),
        "retry_later": sum(a.status == 503 for a in answers),
        "slowest_answer_seconds": round(max((a.seconds for a in answers), default=0.0), 2),
        "first_201_after_restart_seconds": round(min(after) - restarted_at, 2) if after else -1.0,
    }
