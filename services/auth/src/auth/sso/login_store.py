"""Login transactions, sessions and login traces: the SQL on schema auth, nothing else."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import asyncpg

from auth.sso.models import (
    KIND_LOGIN,
    LoginTrace,
    LoginTransaction,
    Session,
    SessionCredentials,
    StoredLogout,
)
from auth.sso.paging import Cursor
from meshkit.secretbox import Sealed

# -- login transactions -------------------------------------------------------------------------

_TX_COLUMNS: Final = (
    "connection_id, account_id, binding_hash, nonce, code_verifier, redirect_uri, return_to,"
    " issuer, create_time, expire_time, test"
)
_TX_INSERT: Final = """
INSERT INTO auth.login_transactions (state_hash, connection_id, account_id, binding_hash, nonce,
    code_verifier, redirect_uri, return_to, issuer, expire_time, test)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
"""
# A pending login as its callback finds it, without using it up: a refused response must leave it
# for the genuine one that follows.
_TX_FIND: Final = f"""
SELECT {_TX_COLUMNS}, expire_time <= now() AS expired, consume_time IS NOT NULL AS consumed
FROM auth.login_transactions WHERE state_hash = $1
"""  # noqa: S608 - constants
# Single use: only a response that passed every check consumes the login, and only once.
_TX_CONSUME: Final = """
UPDATE auth.login_transactions SET consume_time = now()
WHERE state_hash = $1 AND consume_time IS NULL AND expire_time > now()
RETURNING 1
"""
_TX_PURGE: Final = "DELETE FROM auth.login_transactions WHERE expire_time < now() - $1::interval"


@dataclass(frozen=True)
class NewTransaction:
    state_hash: bytes
    connection_id: uuid.UUID
    account_id: uuid.UUID
    binding_hash: bytes
    nonce: str
    code_verifier: str
    redirect_uri: str
    return_to: str
    issuer: str
    expire_time: datetime
    # A test sign-in (the setup wizard's dry run).
    test: bool = False


def _transaction(row: asyncpg.Record) -> LoginTransaction:
    return LoginTransaction(
        connection_id=row["connection_id"],
        account_id=row["account_id"],
        binding_hash=bytes(row["binding_hash"]),
        nonce=row["nonce"],
        code_verifier=row["code_verifier"],
        redirect_uri=row["redirect_uri"],
        return_to=row["return_to"],
        issuer=row["issuer"],
        create_time=row["create_time"],
        expire_time=row["expire_time"],
        expired=row["expired"],
        already_consumed=row["consumed"],
        test=row["test"],
    )


class TransactionStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def insert(self, tx: NewTransaction) -> None:
        await self._pool.execute(
            _TX_INSERT,
            tx.state_hash,
            tx.connection_id,
            tx.account_id,
            tx.binding_hash,
            tx.nonce,
            tx.code_verifier,
            tx.redirect_uri,
            tx.return_to,
            tx.issuer,
            tx.expire_time,
            tx.test,
        )

    async def find(self, state_hash: bytes) -> LoginTransaction | None:
        """The transaction this state names, used or not; None when there is none."""
        row = await self._pool.fetchrow(_TX_FIND, state_hash)
        return _transaction(row) if row is not None else None

    async def consume(self, state_hash: bytes) -> bool:
        """Marks the live transaction used; False when it was already used or has expired."""
        return await self._pool.fetchval(_TX_CONSUME, state_hash) is not None

    async def purge(self, older_than: timedelta = timedelta(hours=1)) -> int:
        result = await self._pool.execute(_TX_PURGE, older_than)
        return int(result.split()[-1])


# -- sessions -----------------------------------------------------------------------------------

_SESSION_COLUMNS: Final = (
    "id, account_id, user_id, connection_id, create_time, expire_time, revoke_time,"
    " revoke_reason, ip_address, user_agent, last_use_time"
)
_LOGOUT_COLUMNS: Final = (
    "oidc_sid, oidc_sub, oidc_id_token, oidc_id_token_key_id, saml_name_id, saml_name_id_format,"
    " saml_name_qualifier, saml_sp_name_qualifier, saml_session_index"
)
_SESSION_INSERT: Final = f"""
INSERT INTO auth.sessions (id, secret_hash, account_id, user_id, connection_id, expire_time)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING {_SESSION_COLUMNS}
"""  # noqa: S608
# A successful login's session and its trace, written together in one round trip; $20 on are
# how it began and its logout handle.
_SESSION_WITH_TRACE: Final = f"""
WITH trace AS (
    INSERT INTO auth.login_traces (id, account_id, connection_id, trace_id, stage, outcome,
        reason, detail, subject, email, user_id, claims, groups, clock_delta_seconds,
        duration_ms, kind)
    VALUES ($7, $3, $8, $9, $10, $11, $12, $13, $14, $15, $4, $16::jsonb, $17, $18, $19, 'login')
)
INSERT INTO auth.sessions (id, secret_hash, account_id, user_id, connection_id, expire_time,
    ip_address, user_agent, {_LOGOUT_COLUMNS})
VALUES ($1, $2, $3, $4, $5, $6, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30)
RETURNING {_SESSION_COLUMNS}
"""  # noqa: S608
_SESSION_GET: Final = f"""
SELECT {_SESSION_COLUMNS}, {_LOGOUT_COLUMNS}, secret_hash FROM auth.sessions WHERE id = $1
"""  # noqa: S608
_SESSION_REVOKE: Final = """
UPDATE auth.sessions SET revoke_time = coalesce(revoke_time, now()),
    revoke_reason = CASE WHEN revoke_time IS NULL THEN $2 ELSE revoke_reason END
WHERE id = $1
"""
# An admin ends one session of the account: only a live one counts.
_SESSION_REVOKE_IN_ACCOUNT: Final = """
UPDATE auth.sessions SET revoke_time = now(), revoke_reason = $3
WHERE account_id = $1 AND id = $2 AND revoke_time IS NULL AND expire_time > now()
RETURNING id
"""
_SESSION_EXISTS: Final = "SELECT 1 FROM auth.sessions WHERE account_id = $1 AND id = $2"
_SESSION_REVOKE_USER: Final = """
UPDATE auth.sessions SET revoke_time = now(), revoke_reason = $3
WHERE account_id = $1 AND user_id = $2 AND revoke_time IS NULL
"""
# Back-channel logout (OIDC Back-Channel Logout 1.0 §2.7): the sessions of this connection with
# the token's sid, else (no sid) every session of its sub; with both, sid and sub must match.
_SESSION_REVOKE_OIDC: Final = """
UPDATE auth.sessions SET revoke_time = now(), revoke_reason = $5
WHERE account_id = $1 AND connection_id = $2 AND revoke_time IS NULL
    AND ($3 = '' OR oidc_sid = $3) AND ($4 = '' OR oidc_sub = $4)
RETURNING id
"""
# SAML LogoutRequest (saml-core 3.7.3.2): the NameID's sessions of this connection, only those
# of the SessionIndexes named when any are.
_SESSION_REVOKE_SAML: Final = """
UPDATE auth.sessions SET revoke_time = now(), revoke_reason = $5
WHERE account_id = $1 AND connection_id = $2 AND revoke_time IS NULL AND saml_name_id = $3
    AND (cardinality($4::text[]) = 0 OR saml_session_index = ANY($4::text[]))
RETURNING id
"""
# Last use is written at most once a minute per session: the idle lifetime is counted in
# minutes, and a busy session costs one write a minute, not one per request.
_SESSION_TOUCH: Final = """
UPDATE auth.sessions SET last_use_time = now()
WHERE id = $1 AND account_id = $2 AND last_use_time < now() - interval '60 seconds'
"""
_SESSION_LIST_USER: Final = f"""
SELECT {_SESSION_COLUMNS} FROM auth.sessions
WHERE account_id = $1 AND user_id = $2
ORDER BY create_time DESC, id DESC LIMIT $3
"""  # noqa: S608
_SESSION_PURGE: Final = "DELETE FROM auth.sessions WHERE expire_time < now() - $1::interval"


@dataclass(frozen=True)
class SessionStart:
    """How a session begins: where from, and what logout will need (the ID token sealed)."""

    ip_address: str
    user_agent: str
    logout: StoredLogout


def _session(row: asyncpg.Record) -> Session:
    return Session(
        id=row["id"],
        account_id=row["account_id"],
        user_id=row["user_id"],
        connection_id=row["connection_id"],
        create_time=row["create_time"],
        expire_time=row["expire_time"],
        revoke_time=row["revoke_time"],
        revoke_reason=row["revoke_reason"],
        ip_address=row["ip_address"],
        user_agent=row["user_agent"],
        last_use_time=row["last_use_time"],
    )


def _stored_logout(row: asyncpg.Record) -> StoredLogout:
    sealed = None
    if row["oidc_id_token"] is not None:
        sealed = Sealed(row["oidc_id_token_key_id"], bytes(row["oidc_id_token"]))
    return StoredLogout(
        oidc_sid=row["oidc_sid"],
        oidc_sub=row["oidc_sub"],
        sealed_id_token=sealed,
        saml_name_id=row["saml_name_id"],
        saml_name_id_format=row["saml_name_id_format"],
        saml_name_qualifier=row["saml_name_qualifier"],
        saml_sp_name_qualifier=row["saml_sp_name_qualifier"],
        saml_session_index=row["saml_session_index"],
    )


class SessionStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def insert(
        self,
        session_id: uuid.UUID,
        secret_hash: bytes,
        account_id: uuid.UUID,
        user_id: uuid.UUID,
        connection_id: uuid.UUID | None,
        expire_time: datetime,
    ) -> Session:
        row = await self._pool.fetchrow(
            _SESSION_INSERT, session_id, secret_hash, account_id, user_id, connection_id,
            expire_time,
        )  # fmt: skip
        assert row is not None
        return _session(row)

    async def insert_with_trace(
        self,
        session_id: uuid.UUID,
        secret_hash: bytes,
        user_id: uuid.UUID,
        expire_time: datetime,
        trace: NewTrace,
        start: SessionStart,
    ) -> Session:
        """The session of a successful login and its login trace, in one statement."""
        logout = start.logout
        sealed = logout.sealed_id_token
        row = await self._pool.fetchrow(
            _SESSION_WITH_TRACE,
            session_id,
            secret_hash,
            trace.account_id,
            user_id,
            trace.connection_id,
            expire_time,
            *_trace_values(trace)[2:],
            start.ip_address[:64],
            start.user_agent[:512],
            logout.oidc_sid[:255],
            logout.oidc_sub[:255],
            sealed.ciphertext if sealed else None,
            sealed.key_id if sealed else None,
            logout.saml_name_id[:1024],
            logout.saml_name_id_format[:255],
            logout.saml_name_qualifier[:1024],
            logout.saml_sp_name_qualifier[:1024],
            logout.saml_session_index[:255],
        )
        assert row is not None
        return _session(row)

    async def credentials(self, session_id: uuid.UUID) -> SessionCredentials | None:
        row = await self._pool.fetchrow(_SESSION_GET, session_id)
        if row is None:
            return None
        return SessionCredentials(_session(row), bytes(row["secret_hash"]), _stored_logout(row))

    async def touch(self, account_id: uuid.UUID, session_id: uuid.UUID) -> None:
        await self._pool.execute(_SESSION_TOUCH, session_id, account_id)

    async def revoke(self, session_id: uuid.UUID, reason: str) -> None:
        await self._pool.execute(_SESSION_REVOKE, session_id, reason)

    async def revoke_in_account(
        self, account_id: uuid.UUID, session_id: uuid.UUID, reason: str
    ) -> bool | None:
        """Ends a live session of the account: True; False when it had already ended; None
        when the account has no such session."""
        if await self._pool.fetchval(_SESSION_REVOKE_IN_ACCOUNT, account_id, session_id, reason):
            return True
        exists = await self._pool.fetchval(_SESSION_EXISTS, account_id, session_id)
        return False if exists else None

    async def revoke_user(self, account_id: uuid.UUID, user_id: uuid.UUID, reason: str) -> int:
        """Ends every live session of the user; how many there were."""
        result = await self._pool.execute(_SESSION_REVOKE_USER, account_id, user_id, reason)
        return int(result.split()[-1])

    async def revoke_oidc(
        self, account_id: uuid.UUID, connection_id: uuid.UUID, sid: str, sub: str, reason: str
    ) -> int:
        """Ends the connection's sessions a logout token names (its caller requires sid or
        sub); how many."""
        assert sid or sub
        rows = await self._pool.fetch(
            _SESSION_REVOKE_OIDC, account_id, connection_id, sid, sub, reason
        )
        return len(rows)

    async def revoke_saml(
        self, account_id: uuid.UUID, connection_id: uuid.UUID, name_id: str,
        session_indexes: list[str], reason: str,
    ) -> int:  # fmt: skip
        """Ends the connection's sessions of ``name_id`` (those of ``session_indexes`` when
        any); how many."""
        rows = await self._pool.fetch(
            _SESSION_REVOKE_SAML, account_id, connection_id, name_id, session_indexes, reason
        )
        return len(rows)

    async def list_user(
        self, account_id: uuid.UUID, user_id: uuid.UUID, limit: int
    ) -> list[Session]:
        """The user's sessions, live and ended (until purged), newest first."""
        rows = await self._pool.fetch(_SESSION_LIST_USER, account_id, user_id, limit)
        return [_session(row) for row in rows]

    async def purge(self, older_than: timedelta = timedelta(days=1)) -> int:
        result = await self._pool.execute(_SESSION_PURGE, older_than)
        return int(result.split()[-1])


# -- login traces -------------------------------------------------------------------------------

_TRACE_COLUMNS: Final = (
    "id, account_id, connection_id, time, trace_id, stage, outcome, reason, detail, subject,"
    " email, user_id, claims, groups, clock_delta_seconds, duration_ms, kind, test, test_result"
)
# Parameters in _trace_values order, then the kind, test and test_result.
_TRACE_INSERT: Final = """
INSERT INTO auth.login_traces (account_id, user_id, id, connection_id, trace_id, stage, outcome,
    reason, detail, subject, email, claims, groups, clock_delta_seconds, duration_ms, kind, test,
    test_result)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13, $14, $15, $16, $17,
    $18::jsonb)
"""
# The optional filters of a listing ($2 connection, then $6 outcome, $7 user, $8 trace, $9 the
# earliest time), shared by both orders.
_TRACE_FILTERS: Final = """account_id = $1 AND ($2::uuid IS NULL OR connection_id = $2)
    AND ($6::text IS NULL OR outcome = $6) AND ($7::uuid IS NULL OR user_id = $7)
    AND ($8::uuid IS NULL OR id = $8) AND ($9::timestamptz IS NULL OR time >= $9)"""
# Newest first for reading; oldest first after a point in time, for tailing.
_TRACE_NEWEST: Final = f"""
SELECT {_TRACE_COLUMNS} FROM auth.login_traces
WHERE {_TRACE_FILTERS}
    AND ($3::timestamptz IS NULL OR (time, id) < ($3, $4::uuid))
ORDER BY time DESC, id DESC LIMIT $5
"""  # noqa: S608
_TRACE_SINCE: Final = f"""
SELECT {_TRACE_COLUMNS} FROM auth.login_traces
WHERE {_TRACE_FILTERS} AND (time, id) > ($3, $4::uuid)
ORDER BY time, id LIMIT $5
"""  # noqa: S608
_TRACE_PURGE: Final = "DELETE FROM auth.login_traces WHERE time < now() - $1::interval"
_MIN_UUID: Final = uuid.UUID(int=0)


@dataclass(frozen=True)
class NewTrace:
    account_id: uuid.UUID
    connection_id: uuid.UUID
    trace_id: str
    stage: str
    outcome: str
    reason: str
    detail: str
    subject: str
    email: str
    user_id: uuid.UUID | None
    claims: dict[str, Any]
    groups: tuple[str, ...]
    clock_delta_seconds: float | None
    duration_ms: float | None
    kind: str = KIND_LOGIN
    # A test sign-in and what it would have done (auth.sso.dry_run).
    test: bool = False
    test_result: dict[str, Any] | None = None


def _trace_values(trace: NewTrace) -> list[object]:
    """The parameters of _TRACE_INSERT: account, user, then (from $7 of _SESSION_WITH_TRACE)
    id, connection, trace id, stage, outcome, reason, detail, subject, email, claims, groups,
    clock delta, duration."""
    return [
        trace.account_id,
        trace.user_id,
        uuid.uuid4(),
        trace.connection_id,
        trace.trace_id,
        trace.stage,
        trace.outcome,
        trace.reason,
        trace.detail[:1000],
        trace.subject[:500],
        trace.email[:320],
        json.dumps(trace.claims),
        list(trace.groups),
        trace.clock_delta_seconds,
        trace.duration_ms,
    ]


def _trace(row: asyncpg.Record) -> LoginTrace:
    return LoginTrace(
        id=row["id"],
        account_id=row["account_id"],
        connection_id=row["connection_id"],
        time=row["time"],
        trace_id=row["trace_id"],
        stage=row["stage"],
        outcome=row["outcome"],
        reason=row["reason"],
        detail=row["detail"],
        subject=row["subject"],
        email=row["email"],
        user_id=row["user_id"],
        claims=json.loads(row["claims"]),
        groups=tuple(row["groups"]),
        clock_delta_seconds=row["clock_delta_seconds"],
        duration_ms=row["duration_ms"],
        kind=row["kind"],
        test=row["test"],
        test_result=json.loads(row["test_result"]) if row["test_result"] is not None else None,
    )


@dataclass(frozen=True)
class TraceFilter:
    """The optional narrowing of a trace listing (the admin console's filters)."""

    outcome: str | None = None
    user_id: uuid.UUID | None = None
    trace_id: uuid.UUID | None = None
    not_before: datetime | None = None

    def values(self) -> tuple[object, ...]:
        """The parameters $6 to $9 of the listings."""
        return (self.outcome, self.user_id, self.trace_id, self.not_before)


class TraceStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def insert(self, trace: NewTrace) -> None:
        test_result = json.dumps(trace.test_result) if trace.test_result is not None else None
        await self._pool.execute(
            _TRACE_INSERT, *_trace_values(trace), trace.kind, trace.test, test_result
        )

    async def newest(
        self,
        account_id: uuid.UUID,
        connection_id: uuid.UUID | None,
        *,
        limit: int,
        before: Cursor | None,
        where: TraceFilter | None = None,
    ) -> list[LoginTrace]:
        rows = await self._pool.fetch(
            _TRACE_NEWEST,
            account_id,
            connection_id,
            before.time if before else None,
            before.id if before else None,
            limit,
            *(where or TraceFilter()).values(),
        )
        return [_trace(row) for row in rows]

    async def since(
        self,
        account_id: uuid.UUID,
        connection_id: uuid.UUID | None,
        *,
        limit: int,
        after: Cursor,
        where: TraceFilter | None = None,
    ) -> list[LoginTrace]:
        rows = await self._pool.fetch(
            _TRACE_SINCE,
            account_id,
            connection_id,
            after.time,
            after.id,
            limit,
            *(where or TraceFilter()).values(),
        )
        return [_trace(row) for row in rows]

    async def purge(self, older_than: timedelta = timedelta(days=30)) -> int:
        result = await self._pool.execute(_TRACE_PURGE, older_than)
        return int(result.split()[-1])


def start_cursor(time: datetime) -> Cursor:
    """A cursor just before every trace recorded after ``time``."""
    return Cursor(time, _MIN_UUID)
