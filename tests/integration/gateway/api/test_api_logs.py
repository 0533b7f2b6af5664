"""/api/v1/login-traces and /api/v1/provisioning-events: what an admin reads when a sign-in or
a SCIM run failed (the Torque guide's "decode the token and check the claims"), per account."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from auth.sso.login_store import NewTrace, TraceStore
from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.database import create_pool
from tests.integration.gateway.api.stack import Tenant


async def _failed_login(
    database_url: str,
    tenant: Tenant,
    connection_id: uuid.UUID,
    *,
    outcome: str = "failure",
    user_id: str | None = None,
) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        await TraceStore(pool).insert(
            NewTrace(
                account_id=uuid.UUID(tenant.id),
                connection_id=connection_id,
                trace_id="0af7651916cd43dd8448eb211c80319c",
                stage="id_token",
                outcome=outcome,
                reason="audience_mismatch" if outcome == "failure" else "",
                detail="The ID token is for another client.",
                subject="00u1abcd",
                email="ada@example.com",
                user_id=uuid.UUID(user_id) if user_id else None,
                claims={"aud": "someone-else", "email": "ada@example.com", "nonce": "[redacted]"},
                groups=("Engineering",),
                clock_delta_seconds=-2.5,
                duration_ms=12.0,
            )
        )
    finally:
        await pool.close()


async def test_a_failed_login_is_listed_with_its_decoded_claims(
    tenant: Tenant, other_tenant: Tenant, database_url: str
) -> None:
    """The trace shows stage, reason, the claims as received (secrets redacted) and the clock
    delta; filtering by connection works; another account sees none of it."""
    connection_id = uuid.uuid4()
    await _failed_login(database_url, tenant, connection_id)
    listed = await tenant.json("GET", "/login-traces")
    (trace,) = listed["items"]
    assert trace["outcome"] == "failure"
    assert trace["reason"] == "audience_mismatch"
    assert trace["claims"]["aud"] == "someone-else"
    assert trace["claims"]["nonce"] == "[redacted]"
    assert trace["clock_delta_seconds"] == -2.5
    assert trace["user_id"] is None
    filtered = await tenant.json("GET", f"/login-traces?connection_id={uuid.uuid4()}")
    assert filtered["items"] == []
    assert (await other_tenant.json("GET", "/login-traces"))["items"] == []


async def test_login_traces_filter_by_outcome_and_user_newest_first(
    tenant: Tenant, database_url: str
) -> None:
    """The console's trace filters, on the API too: outcome and user (auth's ListLoginTraces
    narrows in SQL, so paging stays exact); a value outside the enum is 400."""
    connection_id = uuid.uuid4()
    user = await tenant.user()
    await _failed_login(database_url, tenant, connection_id)
    await _failed_login(database_url, tenant, connection_id, outcome="success", user_id=user.id)
    successes = await tenant.json("GET", "/login-traces?outcome=success")
    assert [t["user_id"] for t in successes["items"]] == [user.id]
    failures = await tenant.json("GET", "/login-traces?outcome=failure")
    assert [t["reason"] for t in failures["items"]] == ["audience_mismatch"]
    mine = await tenant.json("GET", f"/login-traces?user_id={user.id}")
    assert [t["outcome"] for t in mine["items"]] == ["success"]
    assert (await tenant.json("GET", "/login-traces"))["items"][0]["outcome"] == "success"
    refused = await tenant.request("GET", "/login-traces?outcome=maybe")
    assert refused.status == 400


async def test_scim_requests_are_listed_newest_first_and_filtered_by_outcome(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    """The SCIM provisioning log (directory ListProvisioningEvents) behind audit:read."""
    now = datetime.now(UTC)
    events = []
    for outcome, status in (
        (pb.PROVISIONING_OUTCOME_SUCCESS, 201),
        (pb.PROVISIONING_OUTCOME_REJECTED, 409),
    ):
        event = pb.ProvisioningEvent(
            account_id=tenant.id,
            token_id="tok",
            method="POST",
            operation="create",
            resource_type="User",
            outcome=outcome,
            http_status=status,
            detail="uniqueness on userName" if status == 409 else "",
        )
        event.time.FromDatetime(now)
        events.append(event)
    await tenant.stack.directory.RecordProvisioningEvents(
        pb.RecordProvisioningEventsRequest(events=events)
    )
    listed = await tenant.json("GET", "/provisioning-events")
    assert sorted(e["http_status"] for e in listed["items"]) == [201, 409]
    rejected = await tenant.json("GET", "/provisioning-events?outcome=rejected")
    assert [e["detail"] for e in rejected["items"]] == ["uniqueness on userName"]
    assert (await other_tenant.json("GET", "/provisioning-events"))["items"] == []
    auditor = await tenant.token_with(["users:read"])
    assert (await tenant.request("GET", "/provisioning-events", token=auditor)).status == 403
