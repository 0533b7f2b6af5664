"""An API token (a SCIM client's) about to expire is scim_token.expiring in the feed, 90, 30
and 7 days ahead, once per threshold however often auth looks (issue 15)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf import timestamp_pb2

from idmesh.auth.v1 import auth_pb2, auth_pb2_grpc
from infra.dev.mesh import Mesh
from meshkit.channels import connect
from tests.e2e.events.test_webhook_delivery import PERMISSIONS, feed
from tests.e2e.tenants import create_tenant


async def _reminders(mesh: Mesh, tenant: Any) -> list[dict[str, Any]]:
    return [e for e in await feed(mesh, tenant) if e["type"] == "scim_token.expiring"]


async def test_a_token_expiring_in_five_days_is_reminded_once_at_the_seven_day_threshold(
    events_mesh: Mesh,
) -> None:
    tenant = await create_tenant(events_mesh, permissions=PERMISSIONS)
    expire = timestamp_pb2.Timestamp()
    expire.FromDatetime(datetime.now(UTC) + timedelta(days=5))
    async with connect(events_mesh.address("auth")) as channel:
        created = await auth_pb2_grpc.AuthServiceStub(channel).CreateApiToken(
            auth_pb2.CreateApiTokenRequest(
                account_id=tenant.account_id,
                description="Entra provisioning",
                permissions=["users:manage"],
                created_by="e2e",
                expire_time=expire,
            )
        )

    reminders: list[dict[str, Any]] = []
    for _ in range(100):
        reminders = await _reminders(events_mesh, tenant)
        if reminders:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(2.5)  # two more checks by auth: nothing more to say

    reminders = await _reminders(events_mesh, tenant)
    assert len(reminders) == 1, reminders
    data = reminders[0]["data"]
    assert data["id"] == created.token.id
    assert data["threshold_days"] == 7
    assert data["description"] == "Entra provisioning"
    assert reminders[0]["channel"] == "system"
