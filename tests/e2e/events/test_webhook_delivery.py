"""Webhook delivery through the real processes: every event arrives, in per-account order, even
when the deliverer and the directory are killed with SIGKILL mid-delivery; failures are retried
with growing delays; an endpoint failing too long is disabled and the account told."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from typing import Any

import aiohttp

from idmesh.directory.v1 import directory_pb2, directory_pb2_grpc
from infra.dev.mesh import Mesh
from meshkit.channels import connect
from tests.e2e.events.receiver import Receiver
from tests.e2e.tenants import Tenant, create_tenant

PERMISSIONS = ("webhooks:manage", "events:read", "users:manage")
SYSTEM = directory_pb2.Actor(type=directory_pb2.ACTOR_TYPE_SYSTEM, id="e2e", display_name="e2e")


async def api(
    mesh: Mesh, tenant: Tenant, method: str, path: str, expect: int = 200, **kwargs: Any
) -> Any:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http,
        http.request(
            method, f"{mesh.gateway_url}/api/v1{path}", headers=tenant.headers, **kwargs
        ) as response,
    ):
        body = await response.json() if response.status != 202 else None
        assert response.status == expect, body
        return body


async def add_webhook(mesh: Mesh, tenant: Tenant, receiver: Receiver, path: str) -> str:
    """Registers ``receiver``'s ``path`` as the tenant's endpoint (POST /api/v1/webhooks)."""
    created = await api(mesh, tenant, "POST", "/webhooks", 201, json={"url": receiver.url(path)})
    assert created["secret"].startswith("whsec_")
    receiver.expect(path, created["secret"])
    return str(created["webhook"]["id"])


async def feed(mesh: Mesh, tenant: Tenant) -> list[dict[str, Any]]:
    """Every event of the account, read through GET /api/v1/events."""
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        page = await api(mesh, tenant, "GET", f"/events?after={after}&limit=1000")
        if not page["items"]:
            return events
        events.extend(page["items"])
        after = page["next_cursor"]


async def create_users(mesh: Mesh, account_id: str, count: int) -> None:
    """``count`` users created over directory's gRPC API, retrying through directory's crash
    (a retried create may add a user: the feed, not this count, is what must arrive)."""
    async with connect(mesh.address("directory")) as channel:
        stub = directory_pb2_grpc.DirectoryServiceStub(channel)
        made = 0
        while made < count:
            try:
                await stub.CreateUser(
                    directory_pb2.CreateUserRequest(
                        user=directory_pb2.User(
                            account_id=account_id, user_name=f"u{uuid.uuid4().hex[:12]}"
                        ),
                        actor=SYSTEM,
                    ),
                    timeout=5,
                )
                made += 1
            except Exception:
                await asyncio.sleep(0.1)


async def test_kill_9_of_the_deliverer_and_of_directory_loses_no_event(
    events_mesh: Mesh, receiver: Receiver
) -> None:
    """Issue 15: 1,000 events to two accounts' endpoints while the deliverer and then the
    directory are SIGKILLed; after restart every event arrived, in per-account order, signed
    (checked by the standardwebhooks package), with duplicates only where a delivery was in
    flight (at most one per endpoint per deliverer kill)."""
    tenants = [await create_tenant(events_mesh, permissions=PERMISSIONS) for _ in range(2)]
    for tenant in tenants:
        await add_webhook(events_mesh, tenant, receiver, tenant.name)
    writers = asyncio.gather(*(create_users(events_mesh, t.account_id, 500) for t in tenants))

    await receiver.wait_for(lambda: len(receiver.deliveries) >= 150, timeout=60)
    await events_mesh.kill("deliverer")
    await asyncio.sleep(0.3)
    await events_mesh.restart("deliverer")
    await receiver.wait_for(lambda: len(receiver.deliveries) >= 500, timeout=60)
    await events_mesh.kill("directory")
    await events_mesh.restart("directory")
    await writers

    for tenant in tenants:
        events = await feed(events_mesh, tenant)
        assert len(events) >= 500
        wanted = {e["id"] for e in events}
        await receiver.wait_for(lambda: receiver.unique_ids(tenant.name) >= wanted, timeout=60)  # noqa: B023
        arrived = receiver.at(tenant.name)
        cursors = [d.body["cursor"] for d in arrived]
        assert cursors == sorted(cursors), "per-account order"
        assert (
            sorted(set(cursors)) == [e["cursor"] for e in events] == list(range(1, len(events) + 1))
        )
        duplicates = len(arrived) - len({d.webhook_id for d in arrived})
        assert duplicates <= 1, f"{duplicates} duplicates for one deliverer kill"
        assert {d.webhook_id for d in arrived} == wanted
        assert all(d.body["type"] == "user.created" for d in arrived)
    assert receiver.bad_signatures == 0


async def test_a_failing_endpoint_is_retried_with_growing_delays_and_resent_on_request(
    events_mesh: Mesh, receiver: Receiver
) -> None:
    """An endpoint answering 500 gets the same event again after exponentially growing delays
    (with jitter), in the delivery log with each attempt's status; "resend" delivers one event
    once more."""
    tenant = await create_tenant(events_mesh, permissions=PERMISSIONS)
    path = f"flaky-{tenant.name}"
    receiver.fail_first(path, 4)
    webhook_id = await add_webhook(events_mesh, tenant, receiver, path)

    await create_users(events_mesh, tenant.account_id, 1)

    await receiver.wait_for(lambda: any(d.answered == 200 for d in receiver.at(path)), 30)
    attempts = receiver.at(path)
    assert [d.answered for d in attempts] == [500, 500, 500, 500, 200]
    assert len({d.webhook_id for d in attempts}) == 1
    gaps = [b.arrived - a.arrived for a, b in itertools.pairwise(attempts)]
    # Retry n waits 200 ms × 2^(n-1) times a jitter factor in [0.5, 1).
    for n, gap in enumerate(gaps, start=1):
        assert gap >= 0.5 * 0.2 * 2 ** (n - 1) - 0.02, gaps
    assert gaps[-1] > 2 * gaps[0], gaps
    log = await api(events_mesh, tenant, "GET", f"/webhooks/{webhook_id}/deliveries")
    oldest_first = list(reversed(log["items"]))
    assert [(d["attempt"], d["http_status"]) for d in oldest_first] == [
        (1, 500),
        (2, 500),
        (3, 500),
        (4, 500),
        (5, 200),
    ]

    await api(
        events_mesh,
        tenant,
        "POST",
        f"/webhooks/{webhook_id}:resend",
        202,
        json={"event_id": attempts[0].webhook_id},
    )
    await receiver.wait_for(lambda: len(receiver.at(path)) == 6, 30)
    async with asyncio.timeout(10):  # the log commits just after the receiver answers
        while len(log["items"]) < 6:
            log = await api(events_mesh, tenant, "GET", f"/webhooks/{webhook_id}/deliveries")
    assert log["items"][0]["resend"] is True
    assert log["items"][0]["http_status"] == 200


async def test_an_endpoint_failing_past_the_limit_is_disabled_and_the_account_told(
    events_mesh: Mesh, receiver: Receiver
) -> None:
    """Issue 15 (3 days in production, 8 s here): the endpoint is disabled with the reason, and
    webhook.disabled is in the account's feed."""
    tenant = await create_tenant(events_mesh, permissions=PERMISSIONS)
    path = f"down-{tenant.name}"
    receiver.fail_always(path)
    webhook_id = await add_webhook(events_mesh, tenant, receiver, path)

    await create_users(events_mesh, tenant.account_id, 1)

    for _ in range(300):
        webhook = await api(events_mesh, tenant, "GET", f"/webhooks/{webhook_id}")
        if not webhook["enabled"]:
            break
        await asyncio.sleep(0.2)
    assert not webhook["enabled"]
    assert "answered 500" in webhook["disabled_reason"]
    types = [e["type"] for e in await feed(events_mesh, tenant)]
    assert types == ["user.created", "webhook.disabled"]
