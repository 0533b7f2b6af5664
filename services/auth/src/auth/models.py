"""The auth service's API token records, as frozen dataclasses (protobuf stays on the wire)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class NewApiToken:
    """A validated token about to be stored; ``secret_hash`` is all that is kept of the secret."""

    id: uuid.UUID
    account_id: uuid.UUID
    description: str
    permissions: tuple[str, ...]
    secret_hash: bytes = field(repr=False)
    expire_time: datetime | None
    created_by: str


@dataclass(frozen=True)
class ApiToken:
    """A stored token as callers may see it: never its hash, never its secret."""

    id: uuid.UUID
    account_id: uuid.UUID
    description: str
    permissions: tuple[str, ...]
    create_time: datetime
    expire_time: datetime | None
    revoke_time: datetime | None
    last_used_time: datetime | None
    created_by: str


@dataclass(frozen=True)
class TokenCredentials:
    """What verification needs of a stored token, and what the in-process cache holds."""

    id: uuid.UUID
    account_id: uuid.UUID
    permissions: tuple[str, ...]
    secret_hash: bytes = field(repr=False)
    expire_time: datetime | None
    revoke_time: datetime | None

    def usable_at(self, now: datetime) -> bool:
        """Not revoked, and not expired at ``now`` (an expire_time equal to now has expired)."""
        if self.revoke_time is not None:
            return False
        return self.expire_time is None or now < self.expire_time
