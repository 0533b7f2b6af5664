"""Checks of API token request fields, pure: each returns the clean value or raises
InvalidArgument naming the offending field (permissions are checked in permissions.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Final

from meshkit.errors import InvalidArgument

MAX_DESCRIPTION_LENGTH: Final = 200
MAX_CREATED_BY_LENGTH: Final = 200


def parse_uuid(value: str, field: str) -> uuid.UUID:
    """``value`` as a UUID (any standard spelling), else InvalidArgument(field=field)."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidArgument("must be a UUID", field=field) from None


def validate_description(description: str) -> str:
    """At most 200 characters; it is shown in admin lists, so control characters are refused."""
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise InvalidArgument(
            f"must be at most {MAX_DESCRIPTION_LENGTH} characters", field="description"
        )
    if any(not char.isprintable() for char in description):
        raise InvalidArgument("must not contain control characters", field="description")
    return description


def validate_created_by(created_by: str) -> str:
    """At most 200 characters (an operator name or an admin user id)."""
    if len(created_by) > MAX_CREATED_BY_LENGTH:
        raise InvalidArgument(
            f"must be at most {MAX_CREATED_BY_LENGTH} characters", field="created_by"
        )
    return created_by


def validate_expire_time(expire_time: datetime | None, now: datetime) -> datetime | None:
    """None (never expires) or a time after ``now``: a token born expired is a caller's bug."""
    if expire_time is not None and expire_time <= now:
        raise InvalidArgument("must be in the future", field="expire_time")
    return expire_time
