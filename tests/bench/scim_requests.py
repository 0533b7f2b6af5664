"""The SCIM load: one kind of SCIM request, sent over HTTP/1.1 keep-alive by every worker of the
load generator, to idmesh's gateway or to the reference server alike.

Kinds: "create" (POST /Users, a fresh userName each time), "filter" (GET /Users?filter=userName
eq, cycling through ``user_names``), "patch" (PATCH /Users/{id} replacing ``title``, each worker
on its own user) and "group-add" (PATCH /Groups/{id} adding one member, the next of
``user_ids`` each time, so every request is a real change).
"""

from __future__ import annotations

import itertools
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.bench.load import Session

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
KINDS = ("create", "filter", "patch", "group-add")


def user_body(user_name: str) -> dict[str, Any]:
    """What Entra sends to create a user (reference §2 row 4), minus what the reference server
    refuses (its 400s on Entra's quirks are §7's subject, not this one's)."""
    return {
        "schemas": [CORE],
        "externalId": str(uuid.uuid4()),
        "userName": user_name,
        "active": True,
        "displayName": "Bench User",
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        "name": {"formatted": "Bench User", "familyName": "User", "givenName": "Bench"},
    }


@dataclass(frozen=True)
class ScimHttp:
    """One kind of SCIM request against ``base_url`` (see the module's docstring). Picklable:
    the load generator opens it in its process."""

    base_url: str
    token: str
    kind: str
    user_names: tuple[str, ...] = ()
    user_ids: tuple[str, ...] = ()
    timeout: float = 5.0
    group_id: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown SCIM request kind {self.kind!r}")

    def describe(self) -> str:
        return f"SCIM {self.kind} on {self.base_url}"

    async def open(self, workers: int, workers_per_channel: int) -> Session:
        session = ScimSession(self, workers)
        await session.connect()
        return session


@dataclass
class ScimSession:
    target: ScimHttp
    workers: int
    http: aiohttp.ClientSession | None = None
    counter: itertools.count[int] = field(default_factory=itertools.count)
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    async def connect(self) -> None:
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.workers),
            timeout=aiohttp.ClientTimeout(total=self.target.timeout),
            headers={"Authorization": f"Bearer {self.target.token}"},
        )

    def request(self, worker: int) -> tuple[str, str, dict[str, str] | None, bytes | None]:
        """(method, URL, query, body) of ``worker``'s next request."""
        target, n = self.target, next(self.counter)
        base = target.base_url
        if target.kind == "create":
            name = f"new-{self.run}-{worker}-{n}@bench.example"
            return "POST", f"{base}/Users", None, json.dumps(user_body(name)).encode()
        if target.kind == "filter":
            name = target.user_names[n % len(target.user_names)]
            return "GET", f"{base}/Users", {"filter": f'userName eq "{name}"'}, None
        if target.kind == "group-add":
            member = target.user_ids[n % len(target.user_ids)]
            operation = {"op": "add", "path": "members", "value": [{"value": member}]}
            body = {"schemas": [PATCH_OP], "Operations": [operation]}
            return "PATCH", f"{base}/Groups/{target.group_id}", None, json.dumps(body).encode()
        user_id = target.user_ids[worker % len(target.user_ids)]
        body = {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "title", "value": f"T{n}"}],
        }
        return "PATCH", f"{base}/Users/{user_id}", None, json.dumps(body).encode()

    async def call(self, worker: int) -> str | None:
        assert self.http is not None
        method, url, params, body = self.request(worker)
        headers = {"Content-Type": "application/scim+json"} if body is not None else None
        try:
            async with self.http.request(
                method, url, params=params, data=body, headers=headers
            ) as response:
                await response.read()
                if response.status >= 300:
                    return f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError) as error:
            return type(error).__name__
        return None

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()


async def check(target: ScimHttp) -> None:
    """One request of the kind by hand: the load counts only statuses, so the answer's content
    is checked once (a filter that matched nothing would be a fast, wrong figure)."""
    session = ScimSession(target, 1)
    await session.connect()
    assert session.http is not None
    try:
        method, url, params, body = session.request(0)
        headers = {"Content-Type": "application/scim+json"} if body is not None else None
        async with session.http.request(
            method, url, params=params, data=body, headers=headers
        ) as response:
            text = await response.read()
            if response.status >= 300:
                raise RuntimeError(f"{target.describe()}: {response.status} {text[:300]!r}")
            if target.kind == "filter" and json.loads(text)["totalResults"] != 1:
                raise RuntimeError(f"{target.describe()}: the filter did not find its user")
    finally:
        await session.close()
