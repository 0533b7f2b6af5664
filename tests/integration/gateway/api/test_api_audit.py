"""/api/v1/audit-events on the real directory: who changed what, when, through which channel,
filtered by actor, target, action and time range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.integration.gateway.api.stack import Tenant


def _actions(body: dict[str, list[dict[str, str]]]) -> list[str]:
    return [event["action"] for event in body["items"]]


async def test_audit_events_are_filtered_by_actor_target_action_and_time(tenant: Tenant) -> None:
    """Brief: actor (type, id), target (type, id), action and a time range, AND-ed; newest
    first unless asked otherwise."""
    start = datetime.now(UTC)
    user = await tenant.user()  # by the system actor, through the directory
    space = await tenant.json("POST", "/spaces", expect=201, json={"name": "dev"})
    await tenant.json("POST", f"/users/{user.id}:deactivate")
    end = datetime.now(UTC) + timedelta(seconds=1)

    by_api = await tenant.json("GET", "/audit-events?actor_type=admin_api")
    assert _actions(by_api) == ["user.deactivated", "space.created"]
    assert {e["actor"]["id"] for e in by_api["items"]} == {tenant.token_id}
    oldest_first = await tenant.json("GET", "/audit-events?actor_type=admin_api&order=oldest_first")
    assert _actions(oldest_first) == ["space.created", "user.deactivated"]
    by_token = await tenant.json("GET", f"/audit-events?actor_id={tenant.token_id}")
    assert _actions(by_token) == _actions(by_api)
    on_user = await tenant.json("GET", f"/audit-events?target_type=user&target_id={user.id}")
    assert _actions(on_user) == ["user.deactivated", "user.created"]
    on_space = await tenant.json("GET", f"/audit-events?target_id={space['id']}")
    assert _actions(on_space) == ["space.created"]
    created = await tenant.json("GET", "/audit-events?action=user.created")
    assert [e["target_id"] for e in created["items"]] == [user.id]
    since = start.isoformat().replace("+00:00", "Z")
    until = end.isoformat().replace("+00:00", "Z")
    in_range = await tenant.json("GET", "/audit-events", params={"since": since, "until": until})
    assert _actions(in_range) == ["user.deactivated", "space.created", "user.created"]
    later = await tenant.json("GET", "/audit-events", params={"since": until})
    assert later["items"] == []
    deactivated = by_api["items"][0]
    assert deactivated["target_type"] == "user"
    assert isinstance(deactivated["details"], dict)


async def test_a_time_without_a_zone_is_refused(tenant: Tenant) -> None:
    """RFC 3339 times carry their offset: a naive one is ambiguous, 400 naming the parameter."""
    response = await tenant.request("GET", "/audit-events", params={"since": "2026-01-01T00:00:00"})
    assert response.status == 400
    assert (await response.json())["errors"][0]["field"] == "since"
