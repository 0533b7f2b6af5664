"""The SCIM provisioning log (RecordProvisioningEvents, ListProvisioningEvents) and the account
setting that chooses the answer to a SCIM Group PATCH (migration 0002)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import grpc
from google.protobuf import duration_pb2, timestamp_pb2

from idmesh.directory.v1 import directory_pb2 as pb
from tests.support.directory import (
    ADMIN,
    Stub,
    all_of,
    comparison,
    details,
    eq,
    failure,
    new_account,
)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _event(account_id: str, minute: int, **fields: object) -> pb.ProvisioningEvent:
    time = timestamp_pb2.Timestamp()
    time.FromDatetime(T0 + timedelta(minutes=minute))
    defaults: dict[str, object] = {
        "token_id": "tok-a",
        "method": "POST",
        "operation": "create",
        "resource_type": "User",
        "resource_id": str(uuid.uuid4()),
        "outcome": pb.PROVISIONING_OUTCOME_SUCCESS,
        "http_status": 201,
        "duration": duration_pb2.Duration(nanos=3_250_000),
    }
    defaults.update(fields)
    return pb.ProvisioningEvent(account_id=account_id, time=time, **defaults)  # type: ignore[arg-type]


async def _record(directory: Stub, *events: pb.ProvisioningEvent) -> int:
    response = await directory.RecordProvisioningEvents(
        pb.RecordProvisioningEventsRequest(events=list(events))
    )
    return response.recorded


async def _list(
    directory: Stub, account_id: str, filter_: pb.Filter | None = None, **page: object
) -> pb.ListProvisioningEventsResponse:
    return await directory.ListProvisioningEvents(
        pb.ListProvisioningEventsRequest(
            account_id=account_id,
            filter=filter_,
            page=pb.PageRequest(**page),  # type: ignore[arg-type]
        )
    )


async def test_the_group_patch_answer_is_an_account_setting_on_by_default_and_audited(
    directory: Stub,
) -> None:
    """docs/scim-clients.md §8: 200 with the group unless the account chooses 204 (unset in
    CreateAccount means the default); changing it is an account change like any other, with
    its audit event."""
    account = await new_account(directory)
    assert account.settings.scim_group_patch_returns_resource is True

    updated = (
        await directory.UpdateAccount(
            pb.UpdateAccountRequest(
                account_id=account.id,
                display_name=account.display_name,
                settings=pb.AccountSettings(scim_group_patch_returns_resource=False),
                expected_version=account.version,
                actor=ADMIN,
            )
        )
    ).account

    assert updated.settings.scim_group_patch_returns_resource is False
    read = (await directory.GetAccount(pb.GetAccountRequest(account_id=account.id))).account
    assert read.settings.scim_group_patch_returns_resource is False
    events = (
        await directory.ListAuditEvents(
            pb.ListAuditEventsRequest(account_id=account.id, filter=eq("action", "account.updated"))
        )
    ).events
    assert [details(e) for e in events] == [
        {"scim_group_patch_returns_resource": {"before": True, "after": False}}
    ]


async def test_an_account_can_be_created_answering_204_to_group_patches(directory: Stub) -> None:
    account = await new_account(directory, scim_group_patch_returns_resource=False)
    assert account.settings.scim_group_patch_returns_resource is False


async def test_a_batch_of_several_accounts_is_recorded_and_each_account_sees_only_its_own(
    directory: Stub,
) -> None:
    """The scim service writes one batch for every account it serves; tenant isolation holds
    on the way out."""
    ours, theirs = await new_account(directory), await new_account(directory)

    recorded = await _record(
        directory, _event(ours.id, 0), _event(theirs.id, 1), _event(ours.id, 2)
    )

    assert recorded == 3
    listed = await _list(directory, ours.id, include_total=True)
    assert listed.page.total_size == 2
    assert {e.account_id for e in listed.events} == {ours.id}
    first = listed.events[0]
    assert first.time.ToDatetime(tzinfo=UTC) == T0
    assert (first.method, first.operation, first.resource_type) == ("POST", "create", "User")
    assert first.outcome == pb.PROVISIONING_OUTCOME_SUCCESS
    assert (first.http_status, first.duration.ToMicroseconds()) == (201, 3250)
    assert first.id


async def test_events_list_newest_first_in_pages_and_filter_by_token_type_outcome_and_time(
    directory: Stub,
) -> None:
    """What an admin asks (Entra's provisioning logs): the latest failures of one token, one
    resource type, a time window; keyset pages that do not skip or repeat."""
    account = await new_account(directory)
    await _record(
        directory,
        _event(account.id, 0),
        _event(
            account.id,
            1,
            token_id="tok-b",
            method="PATCH",
            operation="update",
            resource_type="Group",
            outcome=pb.PROVISIONING_OUTCOME_REJECTED,
            http_status=400,
            detail="invalidValue on members",
        ),
        _event(account.id, 2, outcome=pb.PROVISIONING_OUTCOME_FAILED, http_status=503),
        _event(account.id, 3, token_id="tok-b", method="GET", operation="list"),
    )

    newest = await _list(
        directory, account.id, order_by="time", sort_order=pb.SORT_ORDER_DESCENDING, page_size=2
    )
    assert [e.time.ToDatetime(tzinfo=UTC).minute for e in newest.events] == [3, 2]
    rest = await _list(
        directory,
        account.id,
        order_by="time",
        sort_order=pb.SORT_ORDER_DESCENDING,
        page_size=2,
        page_token=newest.page.next_page_token,
    )
    assert [e.time.ToDatetime(tzinfo=UTC).minute for e in rest.events] == [1, 0]
    assert not rest.page.next_page_token

    by_token = await _list(directory, account.id, eq("token_id", "tok-b"))
    assert [e.operation for e in by_token.events] == ["update", "list"]
    rejected = await _list(directory, account.id, eq("outcome", "rejected"))
    assert [(e.resource_type, e.http_status, e.detail) for e in rejected.events] == [
        ("Group", 400, "invalidValue on members")
    ]
    groups = await _list(directory, account.id, eq("resource_type", "group"))
    assert len(groups.events) == 1
    since = timestamp_pb2.Timestamp()
    since.FromDatetime(T0 + timedelta(minutes=2))
    window = await _list(
        directory,
        account.id,
        all_of(
            comparison("time", pb.OPERATOR_GREATER_OR_EQUAL, timestamp_value=since),
            eq("outcome", "success"),
        ),
    )
    assert [e.time.ToDatetime(tzinfo=UTC).minute for e in window.events] == [3]


async def test_an_event_without_a_time_is_stamped_by_the_directory(directory: Stub) -> None:
    account = await new_account(directory)
    event = _event(account.id, 0)
    event.ClearField("time")
    before = datetime.now(UTC)

    await _record(directory, event)

    [stored] = (await _list(directory, account.id)).events
    assert stored.time.ToDatetime(tzinfo=UTC) >= before - timedelta(seconds=1)


async def test_a_malformed_event_is_refused_with_the_field_it_breaks(directory: Stub) -> None:
    """A contract violation by the writer is INVALID_ARGUMENT naming the event, never a 500."""
    account = await new_account(directory)
    cases = {
        "events[1].account_id": _event("not-a-uuid", 0),
        "events[1].outcome": _event(account.id, 0, outcome=pb.PROVISIONING_OUTCOME_UNSPECIFIED),
        "events[1].http_status": _event(account.id, 0, http_status=42),
        "events[1].method": _event(account.id, 0, method=""),
    }
    for field, bad in cases.items():
        code, error = await failure(
            directory.RecordProvisioningEvents(
                pb.RecordProvisioningEventsRequest(events=[_event(account.id, 0), bad])
            )
        )
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert error.field == field
    assert (await _list(directory, account.id, include_total=True)).page.total_size == 0


async def test_long_text_is_cut_rather_than_refused(directory: Stub) -> None:
    """The log must not lose a batch because one detail ran long."""
    account = await new_account(directory)
    await _record(directory, _event(account.id, 0, detail="x" * 5000))
    [stored] = (await _list(directory, account.id)).events
    assert stored.detail == "x" * 256


async def test_a_batch_sent_again_is_stored_once(directory: Stub) -> None:
    """The scim service resends a batch whose answer it never got (directory restarted
    mid-call); events carry their writer's ids, and an id already stored is skipped."""
    account = await new_account(directory)
    batch = [_event(account.id, n, id=str(uuid.uuid4())) for n in range(3)]
    new = _event(account.id, 4, id=str(uuid.uuid4()))
    assert await _record(directory, *batch) == 3
    assert await _record(directory, *batch, new) == 1
    listed = await _list(directory, account.id)
    assert [e.id for e in listed.events] == [e.id for e in [*batch, new]]


async def test_an_event_id_that_is_no_uuid_is_refused_with_its_field(directory: Stub) -> None:
    """A malformed id names itself (INVALID_ARGUMENT with the field), and nothing is stored."""
    account = await new_account(directory)
    code, error = await failure(_record(directory, _event(account.id, 0, id="not-a-uuid")))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert error.field == "events[0].id"
    assert (await _list(directory, account.id)).events == []
