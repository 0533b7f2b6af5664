"""The audit log: an event with every change, none without one, and its filters."""

from __future__ import annotations

import grpc
from google.protobuf import timestamp_pb2

from idmesh.directory.v1 import directory_pb2 as pb
from tests.support.directory import (
    ADMIN,
    Stub,
    audit_events,
    comparison,
    details,
    failure,
    new_account,
    new_user,
)

SCIM = pb.Actor(type=pb.ACTOR_TYPE_SCIM_TOKEN, id="token-42", display_name="Entra provisioning")


async def test_every_change_writes_one_event_with_its_actor(directory: Stub) -> None:
    """AuditEvent: who (the request's Actor), what (action, target) and the before/after of the
    change."""
    account = await new_account(directory)
    user = (
        await directory.CreateUser(
            pb.CreateUserRequest(
                user=pb.User(account_id=account.id, user_name="ada@example.com"), actor=SCIM
            )
        )
    ).user
    user.title = "Engineer"
    await directory.UpdateUser(pb.UpdateUserRequest(user=user, actor=SCIM))
    await directory.DeleteUser(
        pb.DeleteUserRequest(account_id=account.id, user_id=user.id, actor=SCIM)
    )

    events = await audit_events(directory, account.id, user.id)

    assert [e.action for e in events] == ["user.created", "user.updated", "user.deleted"]
    assert {(e.actor.type, e.actor.id, e.actor.display_name) for e in events} == {
        (pb.ACTOR_TYPE_SCIM_TOKEN, "token-42", "Entra provisioning")
    }
    assert all(e.target_type == "user" for e in events)
    assert details(events[0])["after"]["user_name"] == "ada@example.com"
    assert details(events[2])["before"]["title"] == "Engineer"


async def test_a_failed_change_writes_no_event(directory: Stub) -> None:
    """The event commits with the change or not at all: failed creates and updates (a duplicate
    name, a bad time zone, a stale version) leave the audit log as it was."""
    account = await new_account(directory)
    user = await new_user(directory, account.id, "ada@example.com")
    before = await audit_events(directory, account.id)

    await failure(
        directory.CreateUser(
            pb.CreateUserRequest(
                user=pb.User(account_id=account.id, user_name="ADA@example.com"), actor=ADMIN
            )
        )
    )
    user.timezone = "Nowhere/Special"
    await failure(directory.UpdateUser(pb.UpdateUserRequest(user=user, actor=ADMIN)))
    user.timezone = ""
    user.title = "Stale"
    await failure(
        directory.UpdateUser(pb.UpdateUserRequest(user=user, expected_version=99, actor=ADMIN))
    )

    assert await audit_events(directory, account.id) == before


async def test_events_filter_by_actor_action_target_and_time(directory: Stub) -> None:
    """ListAuditEventsRequest: filterable on actor.type, actor.id, action, target_type, target_id,
    time."""
    account = await new_account(directory)
    ada = await new_user(directory, account.id)
    await directory.CreateUser(
        pb.CreateUserRequest(
            user=pb.User(account_id=account.id, user_name="b@x.example"), actor=SCIM
        )
    )

    async def count(filter_: pb.Filter) -> int:
        response = await directory.ListAuditEvents(
            pb.ListAuditEventsRequest(
                account_id=account.id, filter=filter_, page=pb.PageRequest(include_total=True)
            )
        )
        return response.page.total_size

    assert await count(comparison("actor.type", pb.OPERATOR_EQUAL, string_value="scim_token")) == 1
    assert await count(comparison("actor.id", pb.OPERATOR_EQUAL, string_value="token-42")) == 1
    assert await count(comparison("action", pb.OPERATOR_EQUAL, string_value="user.created")) == 2
    assert await count(comparison("target_type", pb.OPERATOR_EQUAL, string_value="role")) == 5
    assert await count(comparison("target_id", pb.OPERATOR_EQUAL, string_value=ada.id)) == 1
    future = timestamp_pb2.Timestamp(seconds=4_000_000_000)
    assert await count(comparison("time", pb.OPERATOR_GREATER, timestamp_value=future)) == 0
    assert await count(comparison("time", pb.OPERATOR_LESS, timestamp_value=future)) == 8


async def test_the_log_reads_newest_first_when_asked(directory: Stub) -> None:
    """An admin reads the latest events first (SORT_ORDER_DESCENDING on time); unknown accounts are
    NOT_FOUND."""
    account = await new_account(directory)
    await new_user(directory, account.id)

    newest = await directory.ListAuditEvents(
        pb.ListAuditEventsRequest(
            account_id=account.id,
            page=pb.PageRequest(page_size=1, sort_order=pb.SORT_ORDER_DESCENDING),
        )
    )

    assert [e.action for e in newest.events] == ["user.created"]
    assert newest.page.next_page_token
    code, _ = await failure(directory.ListAuditEvents(pb.ListAuditEventsRequest(account_id="nope")))
    assert code == grpc.StatusCode.NOT_FOUND
