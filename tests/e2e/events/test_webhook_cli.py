"""``idmesh webhook add`` (the secret printed once), ``list``, ``deliveries`` and ``remove``, and
``idmesh events list``, against the real processes."""

from __future__ import annotations

import json

from infra.dev.mesh import Mesh
from tests.e2e.events.receiver import Receiver
from tests.e2e.events.test_webhook_delivery import create_users
from tests.e2e.tenants import create_tenant, run_cli


async def test_an_operator_adds_watches_and_removes_a_webhook_with_the_cli(
    events_mesh: Mesh, receiver: Receiver
) -> None:
    tenant = await create_tenant(events_mesh)
    path = f"cli-{tenant.name}"
    added = await run_cli(
        events_mesh, "webhook", "add", "--account", tenant.name, "--url", receiver.url(path),
        "--type", "user.created", "--json",
    )  # fmt: skip
    created = json.loads(added.stdout)
    assert created["secret"].startswith("whsec_")
    assert "shown only this once" in added.stderr
    receiver.expect(path, created["secret"])
    webhook_id = created["webhook"]["id"]

    await create_users(events_mesh, tenant.account_id, 2)
    await receiver.wait_for(lambda: len(receiver.unique_ids(path)) == 2, 30)

    listed = json.loads(
        (await run_cli(events_mesh, "webhook", "list", "--account", tenant.name, "--json")).stdout
    )
    assert [w["id"] for w in listed] == [webhook_id]
    assert created["secret"] not in json.dumps(listed)
    events = json.loads(
        (await run_cli(events_mesh, "events", "list", "--account", tenant.name, "--json")).stdout
    )
    assert [e["type"] for e in events["events"]] == ["user.created", "user.created"]
    assert events["next_cursor"] == 2
    deliveries = await run_cli(
        events_mesh, "webhook", "deliveries", "--account", tenant.name, webhook_id
    )
    assert deliveries.stdout.count("user.created") == 2
    await run_cli(events_mesh, "webhook", "remove", "--account", tenant.name, webhook_id)
    listed = json.loads(
        (await run_cli(events_mesh, "webhook", "list", "--account", tenant.name, "--json")).stdout
    )
    assert listed == []
