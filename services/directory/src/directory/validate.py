"""Checks of request values, raising the ServiceError the contract names.

Ids that name what a call acts on (``user_id``, ``account_id``, ...) answer NOT_FOUND when they
are malformed: no row has that id, and a malformed id must not become a 500. Ids that a written
value refers to (a manager, a role, members) are INVALID_ARGUMENT on their field. Checks of a
value's shape that belong to SCIM (email-shaped userName, required names) are not made here.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import cache
from uuid import UUID, uuid4

from directory import convert, models
from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import InvalidArgument, NotFound

# Account names are URL and CLI slugs: lower-case letters, digits and inner hyphens.
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# Permission names: "resource:verb", e.g. "users:manage", "space:deploy".
_PERMISSION = re.compile(r"^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$")


def target_id(value: str, field: str, noun: str) -> UUID:
    """The id of what the call acts on: required; malformed means NOT_FOUND."""
    if not value:
        raise InvalidArgument(f"{field} is required", field=field)
    try:
        return UUID(value)
    except ValueError:
        raise NotFound(f"{noun} not found") from None


def account_id(value: str, field: str = "account_id") -> UUID:
    return target_id(value, field, "account")


def reference_id(value: str, field: str) -> UUID | None:
    """An optional id inside a written value: empty is None, malformed is INVALID_ARGUMENT."""
    if not value:
        return None
    try:
        return UUID(value)
    except ValueError:
        raise InvalidArgument("not a valid id", field=field) from None


def user_ids(values: Iterable[str], field: str) -> list[UUID]:
    """Member ids, deduplicated in order; malformed ones are named in one INVALID_ARGUMENT."""
    parsed: dict[UUID, None] = {}
    malformed = []
    for value in values:
        try:
            parsed[UUID(value)] = None
        except ValueError:
            malformed.append(value)
    if malformed:
        shown = ", ".join(repr(v) for v in malformed[:20])
        raise InvalidArgument(f"not valid user ids: {shown}", field=field, reason="unknown_user")
    return list(parsed)


def required(value: str, field: str) -> str:
    if not value.strip():
        raise InvalidArgument(f"{field} is required", field=field)
    return value


@cache
def _time_zones() -> frozenset[str]:
    # Read once from the system or tzdata database: the first call scans the disk.
    return frozenset(zoneinfo.available_timezones())


def timezone(value: str, field: str) -> str:
    """An IANA time zone name such as "Europe/Berlin", or empty."""
    if value and value not in _time_zones():
        raise InvalidArgument(f"unknown IANA time zone {value!r}", field=field)
    return value


def account_name(value: str) -> str:
    if not _SLUG.match(value):
        raise InvalidArgument(
            "an account name is a lower-case slug: letters, digits and inner hyphens, at most"
            " 63 characters",
            field="name",
        )
    return value


def permissions(values: Iterable[str], field: str) -> list[str]:
    """Sorted, without duplicates; each "resource:verb"."""
    result = sorted(set(values))
    bad = [p for p in result if not _PERMISSION.match(p)]
    if bad:
        raise InvalidArgument(f"permissions are 'resource:verb', not {bad[0]!r}", field=field)
    return result


def role_scope(value: pb.RoleScope.ValueType, field: str, *, required: bool) -> str | None:
    """The stored scope; None when unspecified and not ``required``."""
    scope = convert.SCOPES.get(value)
    if scope is None and (required or value != pb.ROLE_SCOPE_UNSPECIFIED):
        raise InvalidArgument("scope must be account or space", field=field)
    return scope


def source_to_write(value: pb.MembershipSource.ValueType, field: str) -> str:
    """The source recorded for a grant or an added member: unspecified means manual; group
    roles are granted with SetGroupSpaceRoles, never stored as memberships."""
    if value == pb.MEMBERSHIP_SOURCE_UNSPECIFIED:
        return models.SOURCE_MANUAL
    source = convert.SOURCES.get(value)
    if source is None or source == models.SOURCE_GROUP:
        raise InvalidArgument("source must be sso, scim or manual", field=field)
    return source


def source_to_remove(value: pb.MembershipSource.ValueType, field: str) -> str | None:
    """The source a revocation or removal matches: unspecified means every source."""
    if value == pb.MEMBERSHIP_SOURCE_UNSPECIFIED:
        return None
    return source_to_write(value, field)


def expected_version(value: int, field: str = "expected_version") -> int:
    if value < 0:
        raise InvalidArgument("expected_version must not be negative", field=field)
    return value


# The most events one RecordProvisioningEvents call may carry (the scim service sends 100).
MAX_PROVISIONING_BATCH = 1000
# Text fields of a provisioning event are cut to this length: the log must never refuse a
# batch because a detail ran long.
_EVENT_TEXT_LIMIT = 256


def _cut(text: str) -> str:
    return text[:_EVENT_TEXT_LIMIT]


def provisioning_events(
    events: Sequence[pb.ProvisioningEvent], now: datetime
) -> list[models.ProvisioningEventDraft]:
    """The drafts of a RecordProvisioningEvents batch: at most MAX_PROVISIONING_BATCH events,
    each naming a valid account, a method, an outcome and an HTTP status; text cut to 256
    characters; an unset time is ``now``, an unset id a new one."""
    if len(events) > MAX_PROVISIONING_BATCH:
        raise InvalidArgument(f"at most {MAX_PROVISIONING_BATCH} events per call", field="events")
    drafts = []
    for index, event in enumerate(events):
        where = f"events[{index}]"
        try:
            account = UUID(event.account_id)
        except ValueError:
            raise InvalidArgument("not a valid account id", field=f"{where}.account_id") from None
        try:
            event_id = UUID(event.id) if event.id else uuid4()
        except ValueError:
            raise InvalidArgument("not a valid event id", field=f"{where}.id") from None
        outcome = convert.OUTCOMES.get(event.outcome)
        if outcome is None:
            raise InvalidArgument("outcome is required", field=f"{where}.outcome")
        if not 100 <= event.http_status <= 599:
            raise InvalidArgument("not an HTTP status", field=f"{where}.http_status")
        required(event.method, f"{where}.method")
        duration_us = event.duration.seconds * 1_000_000 + event.duration.nanos // 1000
        has_time = event.HasField("time")
        drafts.append(
            models.ProvisioningEventDraft(
                account_id=account,
                id=event_id,
                time=event.time.ToDatetime(tzinfo=UTC) if has_time else now,
                token_id=_cut(event.token_id),
                method=_cut(event.method.upper()),
                operation=_cut(event.operation),
                resource_type=_cut(event.resource_type),
                resource_id=_cut(event.resource_id),
                outcome=outcome,
                http_status=event.http_status,
                duration_us=max(duration_us, 0),
                detail=_cut(event.detail),
                trace_id=_cut(event.trace_id),
            )
        )
    return drafts
