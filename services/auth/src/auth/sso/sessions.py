"""Browser sessions after an SSO login: an opaque secret in an HttpOnly cookie, only its hash
stored, and a validation that ends the session the moment its user is deactivated or deleted.

The secret reads ``ids_<session id, 32 hex>_<43 url-safe characters>``: the id finds one row by
primary key, the 256 random bits make it unguessable, and SHA-256 of the whole secret is what is
stored (the API token reasoning of auth.tokens applies: a random secret needs no slow hash).

Why ValidateSession asks directory every time instead of directory notifying auth: the user's
status lives in directory, and a SCIM ``active=false`` or DELETE commits there. Asking on each
validation makes the session end with that commit, with no event to lose, no queue to run and
no window while a notification is in flight; it costs one primary-key read in directory per
validation. A deactivation found this way ends every session of the user at once (they stay
ended if the user is reactivated later), and a directory that cannot answer fails the
validation closed (UNAVAILABLE), never open.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

import grpc

from auth.sso.login_store import NewTrace, SessionStore
from auth.sso.models import Session
from idmesh.directory.v1 import directory_pb2
from meshkit.errors import Unauthenticated, Unavailable

if TYPE_CHECKING:
    from idmesh.directory.v1.directory_pb2_grpc import DirectoryServiceAsyncStub

PREFIX: Final = "ids_"
_SECRET: Final = re.compile(r"ids_([0-9a-f]{32})_[A-Za-z0-9_-]{43}")
SECRET_LENGTH: Final = len(PREFIX) + 32 + 1 + 43
INVALID_SESSION: Final = "no valid session"
_NO_HASH: Final = hashlib.sha256(b"no such session").digest()
DIRECTORY_DEADLINE_SECONDS: Final = 3.0


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def parse_session_id(secret: str) -> uuid.UUID | None:
    if len(secret) != SECRET_LENGTH:
        return None
    match = _SECRET.fullmatch(secret)
    return uuid.UUID(hex=match.group(1)) if match else None


@dataclass(frozen=True)
class OpenedSession:
    session: Session
    secret: str = field(repr=False)


class SessionManager:
    def __init__(
        self,
        store: SessionStore,
        directory: DirectoryServiceAsyncStub,
        *,
        ttl: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._directory = directory
        self._ttl = ttl
        self._clock = clock

    async def open(
        self,
        account_id: uuid.UUID,
        user_id: uuid.UUID,
        connection_id: uuid.UUID | None,
        trace: NewTrace | None = None,
    ) -> OpenedSession:
        """A new session of the user; with ``trace``, the login's trace is stored with it."""
        session_id = uuid.uuid4()
        secret = f"{PREFIX}{session_id.hex}_{secrets.token_urlsafe(32)}"
        expire_time = self._clock() + self._ttl
        if trace is not None:
            session = await self._store.insert_with_trace(
                session_id, hash_secret(secret), user_id, expire_time, trace
            )
        else:
            session = await self._store.insert(
                session_id, hash_secret(secret), account_id, user_id, connection_id, expire_time
            )
        return OpenedSession(session, secret)

    async def validate(self, secret: str) -> Session:
        """The live session ``secret`` opens; Unauthenticated (one message for every case)
        when it is unknown, tampered, expired, ended, or its user is deactivated or gone."""
        session_id = parse_session_id(secret)
        if session_id is None:
            raise Unauthenticated(INVALID_SESSION)
        found = await self._store.credentials(session_id)
        stored = found.secret_hash if found is not None else _NO_HASH
        matches = hmac.compare_digest(hash_secret(secret), stored)
        if found is None or not matches:
            raise Unauthenticated(INVALID_SESSION)
        session = found.session
        if session.revoke_time is not None or session.expire_time <= self._clock():
            raise Unauthenticated(INVALID_SESSION)
        try:
            response = await self._directory.GetUser(
                directory_pb2.GetUserRequest(
                    account_id=str(session.account_id), user_id=str(session.user_id)
                ),
                timeout=DIRECTORY_DEADLINE_SECONDS,
            )
        except grpc.aio.AioRpcError as error:
            if error.code() is grpc.StatusCode.NOT_FOUND:
                await self._store.revoke_user(session.account_id, session.user_id, "user_deleted")
                raise Unauthenticated(INVALID_SESSION) from None
            raise Unavailable(
                "the directory cannot confirm the user", reason="unavailable"
            ) from None
        if response.user.status == directory_pb2.USER_STATUS_DEACTIVATED:
            await self._store.revoke_user(session.account_id, session.user_id, "user_deactivated")
            raise Unauthenticated(INVALID_SESSION)
        return session

    async def end(self, secret: str) -> None:
        """Ends the session (logout); an unknown or already ended one is no error."""
        session_id = parse_session_id(secret)
        if session_id is None:
            return
        found = await self._store.credentials(session_id)
        if found is not None and hmac.compare_digest(hash_secret(secret), found.secret_hash):
            await self._store.revoke(session_id, "logout")
