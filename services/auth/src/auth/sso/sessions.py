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

Revocation is immediate on every replica: nothing caches a session (neither auth nor the
gateway), each validation reads its row by primary key, so a revocation committed through any
replica (logout, an admin, a back-channel logout token, a SAML LogoutRequest) is what the next
validation anywhere reads. A session also ends after SESSION_IDLE_TTL without use (last use is
written at most once a minute) and SESSION_TTL after the sign-in, whichever comes first.
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

from auth.sso.identity import LogoutHandle
from auth.sso.login_store import NewTrace, SessionStart, SessionStore
from auth.sso.models import Session, StoredLogout
from idmesh.directory.v1 import directory_pb2
from meshkit.errors import Unauthenticated, Unavailable
from meshkit.secretbox import SecretBox

if TYPE_CHECKING:
    from idmesh.directory.v1.directory_pb2_grpc import DirectoryServiceAsyncStub

PREFIX: Final = "ids_"
_SECRET: Final = re.compile(r"ids_([0-9a-f]{32})_[A-Za-z0-9_-]{43}")
SECRET_LENGTH: Final = len(PREFIX) + 32 + 1 + 43
INVALID_SESSION: Final = "no valid session"
_NO_HASH: Final = hashlib.sha256(b"no such session").digest()
DIRECTORY_DEADLINE_SECONDS: Final = 3.0
# Last use is written at most this often (the store's UPDATE has the same guard, for replicas).
TOUCH_EVERY: Final = timedelta(seconds=60)


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def parse_session_id(secret: str) -> uuid.UUID | None:
    if len(secret) != SECRET_LENGTH:
        return None
    match = _SECRET.fullmatch(secret)
    return uuid.UUID(hex=match.group(1)) if match else None


def id_token_associated_data(session_id: uuid.UUID, account_id: uuid.UUID) -> bytes:
    """What a session's sealed ID token is bound to: its row (secretbox)."""
    return f"idmesh session oidc_id_token|{account_id}|{session_id}".encode()


@dataclass(frozen=True)
class OpenedSession:
    session: Session
    secret: str = field(repr=False)


@dataclass(frozen=True)
class SessionOrigin:
    """Where the sign-in came from, as the gateway saw it."""

    ip_address: str = ""
    user_agent: str = ""


@dataclass(frozen=True)
class EndedSession:
    """A session a logout just ended, with what the IdP's logout needs."""

    session: Session
    logout: StoredLogout


class SessionManager:
    def __init__(
        self,
        store: SessionStore,
        directory: DirectoryServiceAsyncStub,
        *,
        ttl: timedelta,
        clock: Callable[[], datetime],
        idle_ttl: timedelta | None = None,
        secretbox: SecretBox | None = None,
    ) -> None:
        self._store = store
        self._directory = directory
        self._ttl = ttl
        self._idle_ttl = idle_ttl or ttl
        self._clock = clock
        self._secretbox = secretbox

    async def open(
        self,
        account_id: uuid.UUID,
        user_id: uuid.UUID,
        connection_id: uuid.UUID | None,
        trace: NewTrace | None = None,
        *,
        origin: SessionOrigin | None = None,
        logout: LogoutHandle | None = None,
    ) -> OpenedSession:
        """A new session of the user; with ``trace``, the login's trace is stored with it, and
        with it where the sign-in came from and the IdP's logout handle."""
        session_id = uuid.uuid4()
        secret = f"{PREFIX}{session_id.hex}_{secrets.token_urlsafe(32)}"
        expire_time = self._clock() + self._ttl
        if trace is not None:
            start = SessionStart(
                ip_address=origin.ip_address if origin else "",
                user_agent=origin.user_agent if origin else "",
                logout=self._stored(session_id, account_id, logout or LogoutHandle()),
            )
            session = await self._store.insert_with_trace(
                session_id, hash_secret(secret), user_id, expire_time, trace, start
            )
        else:
            session = await self._store.insert(
                session_id, hash_secret(secret), account_id, user_id, connection_id, expire_time
            )
        return OpenedSession(session, secret)

    def _stored(
        self, session_id: uuid.UUID, account_id: uuid.UUID, handle: LogoutHandle
    ) -> StoredLogout:
        sealed = None
        if handle.id_token and self._secretbox is not None:
            sealed = self._secretbox.seal(
                handle.id_token, id_token_associated_data(session_id, account_id)
            )
        return StoredLogout(
            oidc_sid=handle.oidc_sid,
            oidc_sub=handle.oidc_sub,
            sealed_id_token=sealed,
            saml_name_id=handle.saml_name_id,
            saml_name_id_format=handle.saml_name_id_format,
            saml_name_qualifier=handle.saml_name_qualifier,
            saml_sp_name_qualifier=handle.saml_sp_name_qualifier,
            saml_session_index=handle.saml_session_index,
        )

    def id_token(self, ended: EndedSession) -> str:
        """The ended session's ID token (for id_token_hint); "" when none was kept or it
        cannot be opened (the logout then goes on without the hint)."""
        sealed = ended.logout.sealed_id_token
        if sealed is None or self._secretbox is None:
            return ""
        session = ended.session
        try:
            return self._secretbox.open(
                sealed, id_token_associated_data(session.id, session.account_id)
            )
        except Exception:  # a rotated-away key: the IdP asks the user instead
            return ""

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
        now = self._clock()
        if session.revoke_time is not None or session.expire_time <= now:
            raise Unauthenticated(INVALID_SESSION)
        if session.last_use_time is not None and session.last_use_time + self._idle_ttl <= now:
            await self._store.revoke(session.id, "idle")
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
        if session.last_use_time is None or now - session.last_use_time >= TOUCH_EVERY:
            await self._store.touch(session.account_id, session.id)
        return session

    async def end(self, secret: str) -> EndedSession | None:
        """Ends the session (logout); the session it was while it was live, None when it was
        unknown or had already ended (no error either way)."""
        session_id = parse_session_id(secret)
        if session_id is None:
            return None
        found = await self._store.credentials(session_id)
        if found is None or not hmac.compare_digest(hash_secret(secret), found.secret_hash):
            return None
        await self._store.revoke(session_id, "logout")
        session = found.session
        if session.revoke_time is not None or session.expire_time <= self._clock():
            return None
        return EndedSession(session, found.logout or StoredLogout())
