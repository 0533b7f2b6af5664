"""scim.provisioning_log: what an event says about a SCIM exchange (and what it never says), and
the writer: bounded, batched, never in the request's way, flushed on shutdown (issue 3)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from uuid import UUID, uuid4

import pytest

from idmesh.directory.v1 import directory_pb2 as pb
from idmesh.scim.v1 import scim_pb2
from meshkit.errors import AlreadyExists, InvalidArgument, NotFound, Unavailable
from scim.directory import Directory
from scim.errors import ScimHttpError, invalid_value
from scim.exchange import ScimRequest, ScimResponse
from scim.provisioning_log import ProvisioningLog, error_detail, event_for
from scim.servicer import ScimServicer

ACCOUNT = "5f0c6f4e-9a1e-4c61-9d7e-7f6f0a3b1c2d"
USER_ID = "0b7f3c1e-2a4d-4e5f-8a9b-1c2d3e4f5a6b"
BASE = "https://idmesh.test/scim/v2"


def _request(method: str, path: str, body: bytes = b"") -> ScimRequest:
    return ScimRequest.from_proto(
        scim_pb2.HandleRequestRequest(
            account_id=ACCOUNT,
            token_id="tok-1",
            method=method,
            path=path,
            body=body,
            base_url=BASE,
        )
    )


def _event(
    request: ScimRequest, response: ScimResponse | None, error: object = None
) -> pb.ProvisioningEvent:
    return event_for(
        request,
        response,
        error,  # type: ignore[arg-type]
        token_id="tok-1",
        started_at=1_767_600_000.25,
        duration_seconds=0.0042,
    )


def test_a_created_user_is_logged_with_its_new_id_from_the_location() -> None:
    """Like Entra's provisioning logs: who (token), what (method, operation, resource type and
    id), how it ended, how long it took."""
    event = _event(
        _request("POST", "/Users", b'{"userName":"ada@example.com","password":"hunter2"}'),
        ScimResponse(201, b'{"userName":"ada@example.com"}', location=f"{BASE}/Users/{USER_ID}"),
    )
    assert (event.account_id, event.token_id, event.method) == (ACCOUNT, "tok-1", "POST")
    assert (event.operation, event.resource_type, event.resource_id) == ("create", "User", USER_ID)
    assert (event.outcome, event.http_status) == (pb.PROVISIONING_OUTCOME_SUCCESS, 201)
    assert event.duration.ToMicroseconds() == 4200
    assert (event.time.seconds, event.time.nanos) == (1_767_600_000, 250_000_000)
    assert event.detail == ""


def test_an_event_never_carries_bodies_values_or_the_token() -> None:
    """Issue 3: "never bodies, PII values or tokens"."""
    request = _request("POST", "/Users", b'{"userName":"ada@example.com","password":"hunter2"}')
    error = AlreadyExists("a user with userName 'ada@example.com' already exists", field="userName")
    event = _event(request, ScimResponse(409, b'{"detail":"ada@example.com"}'), error)
    text = str(event)
    assert "ada@example.com" not in text
    assert "hunter2" not in text
    assert event.detail == "uniqueness on userName"
    assert event.outcome == pb.PROVISIONING_OUTCOME_REJECTED


def test_a_path_that_is_not_an_id_is_not_copied_into_the_log() -> None:
    """A client may put anything in a path (an email, say): only idmesh ids are kept."""
    event = _event(_request("GET", "/Users/ada@example.com"), ScimResponse(404), NotFound("no"))
    assert (event.resource_type, event.resource_id, event.operation) == ("User", "", "read")
    assert event.detail == "not found"


@pytest.mark.parametrize(
    ("method", "path", "operation", "resource_type"),
    [
        ("GET", "/Users", "list", "User"),
        ("POST", "/Groups/.search", "search", "Group"),
        ("POST", "/.search", "search", ""),
        ("GET", f"/Groups/{USER_ID}", "read", "Group"),
        ("PUT", f"/Users/{USER_ID}", "replace", "User"),
        ("PATCH", f"/Groups/{USER_ID}", "update", "Group"),
        ("DELETE", f"/Users/{USER_ID}", "delete", "User"),
        ("GET", "/Schemas", "discovery", "Schema"),
        ("GET", "/ServiceProviderConfig", "discovery", "ServiceProviderConfig"),
        ("POST", "/Bulk", "other", ""),
    ],
)
def test_each_request_is_named_by_its_operation_and_resource_type(
    method: str, path: str, operation: str, resource_type: str
) -> None:
    event = _event(_request(method, path), ScimResponse(200))
    assert (event.operation, event.resource_type) == (operation, resource_type)


def test_refusals_are_summarised_by_scim_type_and_the_attribute_they_concern() -> None:
    """RFC 7644 §3.12 scimType; the attribute only when it is one idmesh knows."""
    assert error_detail(invalid_value("unknown member x", "members"), 400) == (
        "invalidValue on members"
    )
    assert error_detail(InvalidArgument("bad", field="user.timezone"), 400) == (
        "invalidValue on timezone"
    )
    assert error_detail(InvalidArgument("bad", field="filter", reason="invalid_filter"), 400) == (
        "invalidFilter on filter"
    )
    # An unknown attribute is named by the client: its name is not repeated.
    assert error_detail(InvalidArgument("bad", field="ada@example.com"), 400) == "invalidValue"
    assert error_detail(ScimHttpError(405, "POST is not allowed"), 405) == "method not allowed"
    assert error_detail(ScimHttpError(412, "If-Match"), 412) == "precondition failed"
    assert error_detail(Unavailable("directory down"), 503) == "service unavailable"
    assert error_detail(None, 500) == "internal error"
    assert error_detail(None, 204) == ""


def test_an_unexpected_failure_is_logged_as_a_failed_500() -> None:
    event = _event(_request("GET", "/Users"), None)
    assert (event.http_status, event.outcome, event.detail) == (
        500,
        pb.PROVISIONING_OUTCOME_FAILED,
        "internal error",
    )


# -- the writer ----------------------------------------------------------------------------------


class Sink:
    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        self.batches: list[list[pb.ProvisioningEvent]] = []
        self.delay = delay
        self.fail = fail
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, events: Sequence[pb.ProvisioningEvent]) -> None:
        await self.gate.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            raise Unavailable("directory down")
        self.batches.append(list(events))


async def _until(condition: Callable[[], bool], seconds: float = 2.0) -> None:
    for _ in range(int(seconds / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the condition did not hold in time")


def _events(count: int) -> list[pb.ProvisioningEvent]:
    return [
        pb.ProvisioningEvent(id=str(uuid4()), account_id=ACCOUNT, http_status=200 + i % 2)
        for i in range(count)
    ]


async def test_a_full_batch_is_written_at_once_and_a_partial_one_after_the_interval() -> None:
    """Issue 3: flushed every ~200 ms or 100 events, whichever comes first. With an interval
    of an hour, what is written was written because its batch was full; the partial batch
    waits for the interval (here, made short once the full ones are out). No wall-clock
    threshold: the order of events shows it."""
    sink = Sink()
    log = ProvisioningLog(sink, batch_size=100, interval=3600.0)
    log.start()
    for event in _events(250):
        assert log.record(event)
    await _until(lambda: sum(len(b) for b in sink.batches) >= 200)
    assert [len(b) for b in sink.batches] == [100, 100]
    await asyncio.sleep(0.05)
    assert (log.pending, len(sink.batches)) == (50, 2), "a partial batch waits for the interval"
    await log.close()
    assert [len(b) for b in sink.batches] == [100, 100, 50]
    assert (log.recorded, log.written, log.dropped, log.failed) == (250, 250, 0, 0)

    quick = Sink()
    log = ProvisioningLog(quick, batch_size=100, interval=0.01)
    log.start()
    for event in _events(30):
        log.record(event)
    await _until(lambda: sum(len(b) for b in quick.batches) == 30)
    await log.close()


async def test_recording_never_waits_for_the_directory_and_drops_beyond_capacity() -> None:
    """Issue 3: a slow or absent directory must not slow SCIM requests: record() is not even a
    coroutine, so it returns while the directory never answers; once the queue is full new
    events are dropped and counted."""
    sink = Sink()
    sink.gate.clear()  # the directory does not answer
    log = ProvisioningLog(sink, capacity=300, batch_size=100, interval=0.01)
    log.start()
    accepted = [log.record(event) for event in _events(1000)]
    assert not sink.batches
    assert accepted.count(True) == 300
    assert log.dropped == 700
    sink.gate.set()
    await log.close()
    assert log.written == 300
    assert sum(len(b) for b in sink.batches) == 300


async def test_close_writes_everything_still_queued() -> None:
    """Issue 3: flushed on shutdown; the interval (an hour here) is not waited for."""
    sink = Sink()
    log = ProvisioningLog(sink, batch_size=100, interval=3600.0)
    log.start()
    for event in _events(130):
        log.record(event)
    await asyncio.wait_for(log.close(), 30)
    assert sum(len(b) for b in sink.batches) == 130
    assert not log.record(_events(1)[0])  # closed: nothing more is taken


async def test_close_gives_up_after_its_deadline_and_counts_what_was_lost() -> None:
    sink = Sink()
    sink.gate.clear()
    log = ProvisioningLog(sink, batch_size=10, interval=0.01)
    log.start()
    for event in _events(25):
        log.record(event)
    await log.close(timeout=0.1)
    assert (log.written, log.failed, log.dropped) == (0, 0, 25)  # in flight and queued: lost


async def test_a_batch_the_directory_could_not_take_is_sent_again_once_it_is_back() -> None:
    """Issue 8, "loses nothing": a directory that is down or restarting (Unavailable) costs
    the log a pause, not its events; they go out again in order, each once."""
    sink = Sink(fail=True)
    log = ProvisioningLog(sink, batch_size=10, interval=0.01)
    log.start()
    first = _events(10)
    for event in first:
        log.record(event)
    await _until(lambda: log.retried >= 10)
    sink.fail = False
    later = _events(5)
    for event in later:
        log.record(event)
    await log.close()
    sent = [event.id for batch in sink.batches for event in batch]
    assert sent == [event.id for event in [*first, *later]]
    assert (log.failed, log.dropped, log.written) == (0, 0, 15)


async def test_a_batch_the_directory_refuses_for_another_reason_is_not_sent_again() -> None:
    """Only an unavailable directory is worth waiting for: a refusal would be refused again and
    hold up every event behind it."""

    async def refusing(events: Sequence[pb.ProvisioningEvent]) -> None:
        raise InvalidArgument("not an HTTP status", field="events[0].http_status")

    log = ProvisioningLog(refusing, batch_size=10, interval=0.01)
    log.start()
    for event in _events(10):
        log.record(event)
    await log.close()
    assert (log.failed, log.retried, log.pending) == (10, 0, 0)


def test_every_event_carries_an_id_of_its_own() -> None:
    """The directory skips an id it already stored, so a resent batch is stored once."""
    request = _request("GET", "/Users")
    ids = {_event(request, None).id for _ in range(3)}
    assert len(ids) == 3
    assert all(str(UUID(value)) == value for value in ids)


async def test_a_request_the_gateway_gave_up_on_is_logged_as_cancelled() -> None:
    """A deadline or a departed client cancels the call: the log says so rather than 500."""

    class Hanging:
        async def ListUsers(self, request: object) -> object:
            await asyncio.sleep(10)
            raise AssertionError("not reached")

    sink = Sink()
    log = ProvisioningLog(sink, batch_size=1, interval=0.01)
    log.start()
    servicer = ScimServicer(Directory(Hanging()), log=log)  # type: ignore[arg-type]
    call = asyncio.ensure_future(
        servicer.HandleRequest(
            scim_pb2.HandleRequestRequest(account_id=ACCOUNT, method="GET", path="/Users"),
            None,  # type: ignore[arg-type]
        )
    )
    await asyncio.sleep(0.05)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    await log.close()
    [[event]] = sink.batches
    assert (event.http_status, event.outcome, event.detail) == (
        504,
        pb.PROVISIONING_OUTCOME_FAILED,
        "cancelled",
    )


def test_a_method_no_scim_client_uses_is_logged_as_other() -> None:
    event = _event(_request("BREW", "/Users"), ScimResponse(405))
    assert (event.method, event.operation, event.detail) == ("OTHER", "other", "method not allowed")
