"""The provisioning log: one event per SCIM request for the account's admins (what Entra calls
its provisioning logs): which token, what it asked, how it ended, how long it took.

It must never slow SCIM down, so events are not written inline. ``ProvisioningLog.record``
appends to a bounded in-memory queue and returns at once; a background task writes the queue to
the directory (RecordProvisioningEvents) in batches of up to ``batch_size`` events, at the latest
``interval`` seconds after the first event of a batch arrived. A batch the directory could not
take (down, restarting, too slow: Unavailable) goes back to the head of the queue and is sent
again after a growing pause; each event carries an id of its own, so a batch that was stored
although its answer was lost is not stored twice. When the queue is full (the directory is down
or slow for long) new events are dropped, counted and reported in a log line at most every
``DROP_REPORT_SECONDS``, rather than blocking requests or growing without bound. ``close``
writes what is left, within a deadline, when the service stops.

What an event holds (``event_for``) is chosen so that it can be shown to any admin of the account:
ids, the method, the kind of operation, the status, the duration, and for a refusal its category
(``uniqueness on userName``), never request or response bodies, attribute values, paths as sent
or tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Final
from uuid import UUID, uuid4

from google.protobuf import duration_pb2, timestamp_pb2

from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import ServiceError, Unavailable
from meshkit.telemetry import current_trace_id
from meshkit.waiting import wait_at_most, within
from scim import schemas
from scim.errors import DIRECTORY_FIELDS, ScimHttpError, to_scim_error
from scim.exchange import ScimRequest, ScimResponse

logger = logging.getLogger(__name__)

Sink = Callable[[Sequence[pb.ProvisioningEvent]], Awaitable[None]]

DROP_REPORT_SECONDS: Final = 10.0
# The pause before sending a refused batch again doubles from the first to the last.
RETRY_FIRST_SECONDS: Final = 0.1
RETRY_MAX_SECONDS: Final = 5.0
# How long close() waits for the last batches before giving up on them.
CLOSE_TIMEOUT_SECONDS: Final = 5.0

# The first path segment (lower case) → the resource type it serves.
_RESOURCE_TYPES: Final = {
    "users": "User",
    "groups": "Group",
    "serviceproviderconfig": "ServiceProviderConfig",
    "resourcetypes": "ResourceType",
    "schemas": "Schema",
}
_DISCOVERY: Final = frozenset({"ServiceProviderConfig", "ResourceType", "Schema"})
# Methods as logged; any other (a client may send any token) is logged as "OTHER".
_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_ITEM_OPERATIONS: Final = {
    "GET": "read",
    "HEAD": "read",
    "PUT": "replace",
    "PATCH": "update",
    "DELETE": "delete",
}
# Request-level names an error may point at besides schema attributes (query parameters, PATCH
# and search request members). Anything else is left out of the detail: it was written by the
# client and might be a value.
_REQUEST_FIELDS: Final = frozenset(
    {
        "filter",
        "startIndex",
        "count",
        "sortBy",
        "sortOrder",
        "attributes",
        "excludedAttributes",
        "schemas",
        "Operations",
        "op",
        "path",
        "value",
    }
)


def _operation(request: ScimRequest, resource_type: str) -> str:
    segments = request.segments
    if resource_type in _DISCOVERY:
        return "discovery"
    if segments and segments[-1] == ".search" and request.method == "POST":
        return "search"
    if resource_type not in ("User", "Group"):
        return "other"
    if len(segments) == 1:
        return {"GET": "list", "HEAD": "list", "POST": "create"}.get(request.method, "other")
    if len(segments) == 2:
        return _ITEM_OPERATIONS.get(request.method, "other")
    return "other"


def _resource_id(text: str) -> str:
    """``text`` when it is a resource id (idmesh ids are UUIDs), else "": a client may put
    anything in a path, and the log must not carry what it wrote."""
    try:
        return str(UUID(text))
    except ValueError:
        return ""


def _attribute(field: str) -> str:
    """The attribute an error names, spelled canonically, when it is one idmesh knows."""
    if not field:
        return ""
    if field in DIRECTORY_FIELDS:
        return DIRECTORY_FIELDS[field]
    if field in _REQUEST_FIELDS:
        return field
    for resource_type in schemas.RESOURCE_TYPES:
        resolved = schemas.resolve_text(resource_type, field)
        if resolved is not None:
            return resolved.display
    return ""


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase.lower()
    except ValueError:
        return str(status)


def error_detail(error: ServiceError | None, status: int) -> str:
    """A short category of a refusal or failure, safe to show: the SCIM scimType (or the HTTP
    reason phrase) and, when known, the attribute it is about; "" for a success."""
    if status < 400:
        return ""
    if error is None:
        return "internal error" if status == 500 else _phrase(status)
    body = to_scim_error(error)
    if body.status == 500:
        return "internal error"
    if isinstance(error, ScimHttpError) and error.status == 504:
        return "cancelled"
    category = body.scim_type or _phrase(body.status)
    attribute = "" if isinstance(error, ScimHttpError) else _attribute(error.field)
    return f"{category} on {attribute}" if attribute else category


def outcome_of(status: int) -> pb.ProvisioningOutcome.ValueType:
    if status >= 500:
        return pb.PROVISIONING_OUTCOME_FAILED
    if status >= 400:
        return pb.PROVISIONING_OUTCOME_REJECTED
    return pb.PROVISIONING_OUTCOME_SUCCESS


def event_for(
    request: ScimRequest,
    response: ScimResponse | None,
    error: ServiceError | None,
    *,
    token_id: str,
    started_at: float,
    duration_seconds: float,
) -> pb.ProvisioningEvent:
    """The event of one SCIM exchange. ``response`` None means the request failed unexpectedly
    (the gateway answers 500); ``error`` is the ServiceError a refusal came from, if any;
    ``started_at`` is the wall-clock time the request arrived (seconds since the epoch)."""
    status = response.status if response is not None else 500
    segments = request.segments
    resource_type = _RESOURCE_TYPES.get(segments[0].lower(), "") if segments else ""
    resource_id = ""
    if resource_type in ("User", "Group"):
        if len(segments) == 2 and segments[1] != ".search":
            resource_id = _resource_id(segments[1])
        elif response is not None and response.status == 201 and response.location:
            resource_id = _resource_id(response.location.rsplit("/", 1)[-1])
    seconds = int(started_at)
    micros = max(int(duration_seconds * 1_000_000), 0)
    return pb.ProvisioningEvent(
        id=str(uuid4()),
        account_id=request.account_id,
        time=timestamp_pb2.Timestamp(seconds=seconds, nanos=int((started_at - seconds) * 1e9)),
        token_id=token_id,
        method=request.method if request.method in _METHODS else "OTHER",
        operation=_operation(request, resource_type),
        resource_type=resource_type,
        resource_id=resource_id,
        outcome=outcome_of(status),
        http_status=status,
        duration=duration_pb2.Duration(
            seconds=micros // 1_000_000, nanos=micros % 1_000_000 * 1000
        ),
        detail=error_detail(error, status),
        trace_id=current_trace_id(),
    )


class ProvisioningLog:
    """A bounded queue of events and the task that writes it to ``sink`` in batches."""

    def __init__(
        self,
        sink: Sink,
        *,
        capacity: int = 10_000,
        batch_size: int = 100,
        interval: float = 0.2,
    ) -> None:
        self.sink = sink
        self.capacity = capacity
        self.batch_size = batch_size
        self.interval = interval
        # Counters, for tests and for the log lines that report them.
        self.recorded = 0
        self.written = 0
        self.dropped = 0
        self.failed = 0
        self.retried = 0
        self._retry_pause = 0.0
        self._pending: deque[pb.ProvisioningEvent] = deque()
        self._has_events = asyncio.Event()
        self._batch_full = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._drops_reported = 0
        self._drop_report_at = 0.0

    @property
    def pending(self) -> int:
        return len(self._pending)

    def start(self) -> None:
        """Starts the writer; call it from the service's start-up, outside any request, so
        the writer's own calls are not part of a request's trace."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="provisioning-log-writer"
            )

    def record(self, event: pb.ProvisioningEvent) -> bool:
        """Queues ``event`` without waiting; False when it was dropped (queue full, or the log
        is closed)."""
        if self._closing or len(self._pending) >= self.capacity:
            self.dropped += 1
            self._report_drops()
            return False
        self._pending.append(event)
        self.recorded += 1
        self._has_events.set()
        if len(self._pending) >= self.batch_size:
            self._batch_full.set()
        return True

    async def close(self, timeout: float = CLOSE_TIMEOUT_SECONDS) -> None:  # noqa: ASYNC109
        """Stops taking events and writes the queued ones, giving up after ``timeout``."""
        self._closing = True
        self._has_events.set()
        self._batch_full.set()
        if self._task is None:
            self.start()
        assert self._task is not None
        try:
            await within(asyncio.shield(self._task), timeout)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            lost = len(self._pending)
            self._pending.clear()
            self.dropped += lost
            logger.warning(
                "provisioning log: %d events not written before shutdown (directory too slow)",
                lost,
            )
        self._report_drops(force=True)

    async def _run(self) -> None:
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._has_events.clear()
                await self._has_events.wait()
                continue
            if len(self._pending) < self.batch_size and not self._closing:
                # Wait for the batch to fill, at most one interval after its first event.
                self._batch_full.clear()
                await wait_at_most(self._batch_full, self.interval)
            count = min(len(self._pending), self.batch_size)
            batch = [self._pending.popleft() for _ in range(count)]
            if not await self._write(batch):
                await asyncio.sleep(self._retry_pause)

    async def _write(self, batch: list[pb.ProvisioningEvent]) -> bool:
        """Sends ``batch``; False when it went back to the queue to be sent again."""
        try:
            await self.sink(batch)
        except asyncio.CancelledError:
            self._pending.extendleft(reversed(batch))
            raise
        except Unavailable:
            room = max(self.capacity - len(self._pending), 0)
            kept = batch[:room]
            self._pending.extendleft(reversed(kept))
            self.dropped += len(batch) - len(kept)
            self.retried += len(kept)
            self._retry_pause = min(
                max(self._retry_pause * 2, RETRY_FIRST_SECONDS), RETRY_MAX_SECONDS
            )
            logger.warning(
                "provisioning log: directory unavailable, %d events will be sent again in %.1f s",
                len(kept),
                self._retry_pause,
            )
            return False
        except Exception as error:  # the log must never take the service down
            self.failed += len(batch)
            logger.warning(
                "provisioning log: could not write %d events (%s); %d failed so far",
                len(batch),
                type(error).__name__,
                self.failed,
            )
        else:
            self.written += len(batch)
            self._retry_pause = 0.0
        return True

    def _report_drops(self, *, force: bool = False) -> None:
        new = self.dropped - self._drops_reported
        if not new:
            return
        now = time.monotonic()
        if not force and now < self._drop_report_at:
            return
        self._drops_reported = self.dropped
        self._drop_report_at = now + DROP_REPORT_SECONDS
        logger.warning(
            "provisioning log full (%d events queued): dropped %d events, %d in all",
            len(self._pending),
            new,
            self.dropped,
        )
