"""The domains accounts claim and verify (directory.domains).

A claim is pending until DNS (or an operator) proves the account controls the domain; several
accounts may hold pending claims of one domain, one at most holds it verified (the partial
unique index ``domains_verified_key``). Every change writes its audit event in its transaction:
``domain.claimed``, ``domain.verified``, ``domain.verification_failed``,
``domain.verification_lost``, ``domain.deleted``; the details say how (``dns`` or ``operator``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

import asyncpg

from directory import filters, paging
from directory.domains.dns import Check
from directory.domains.names import normalise
from directory.filters import Params
from directory.models import Actor
from directory.store.base import Connection, Pool, fetch_page, record_event
from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import AlreadyExists, InvalidArgument, NotFound

PENDING: Final = "pending"
VERIFIED: Final = "verified"
BY_DNS: Final = "dns"
BY_OPERATOR: Final = "operator"

COLUMNS = (
    "account_id, id, domain, status, challenge_token, verification_method, create_time,"
    " verify_time, last_check_time, failing_since, last_check_error, created_by"
)
_D_COLUMNS = ", ".join(f"d.{c.strip()}" for c in COLUMNS.split(","))
_TARGET = "domain"

_INSERT = f"""
INSERT INTO directory.domains (account_id, domain, created_by) VALUES ($1, $2, $3)
ON CONFLICT (account_id, domain) DO NOTHING
RETURNING {COLUMNS}
"""  # noqa: S608
_SELECT = f"SELECT {COLUMNS} FROM directory.domains WHERE account_id = $1 AND id = $2"  # noqa: S608
_SELECT_BY_NAME = f"SELECT {COLUMNS} FROM directory.domains WHERE account_id = $1 AND domain = $2"  # noqa: S608
_LOCK = _SELECT + " FOR UPDATE"
_LOCK_BY_NAME = _SELECT_BY_NAME + " FOR UPDATE"
_HOLDER = "SELECT account_id, id FROM directory.domains WHERE domain = $1 AND status = 'verified'"
_TAKEN_ELSEWHERE = _HOLDER + " AND account_id <> $2"
_MARK_VERIFIED = f"""
UPDATE directory.domains SET status = 'verified', verification_method = $3,
    verify_time = CASE WHEN status = 'verified' THEN verify_time ELSE now() END,
    last_check_time = CASE WHEN $3 = 'dns' THEN now() ELSE last_check_time END,
    failing_since = NULL, last_check_error = ''
WHERE account_id = $1 AND id = $2
RETURNING {COLUMNS}
"""  # noqa: S608
# A failed check: a verified domain starts (or continues) its run of failures; a pending one
# only records the error.
_MARK_FAILED = f"""
UPDATE directory.domains SET last_check_time = now(), last_check_error = $3,
    failing_since = CASE WHEN status = 'verified' THEN coalesce(failing_since, now()) END
WHERE account_id = $1 AND id = $2
RETURNING {COLUMNS}
"""  # noqa: S608
_MARK_LOST = f"""
UPDATE directory.domains SET status = 'pending', verification_method = '', verify_time = NULL,
    failing_since = NULL
WHERE account_id = $1 AND id = $2
RETURNING {COLUMNS}
"""  # noqa: S608
_DELETE = "DELETE FROM directory.domains WHERE account_id = $1 AND id = $2"
# The re-check leases the due rows: it moves their last_check_time to now in one statement, so
# another replica skips them (SKIP LOCKED while the statement runs, not due afterwards) and no
# row lock is held while DNS answers.
_CLAIM_DUE = f"""
UPDATE directory.domains d SET last_check_time = now()
FROM (
    SELECT account_id, id FROM directory.domains
    WHERE status = 'verified' AND verification_method = 'dns'
      AND coalesce(last_check_time, '-infinity') <= $1
    ORDER BY last_check_time NULLS FIRST
    LIMIT $2
    FOR UPDATE SKIP LOCKED
) due
WHERE d.account_id = due.account_id AND d.id = due.id
RETURNING {_D_COLUMNS}
"""  # noqa: S608
_IS_VERIFIED = """
SELECT EXISTS (
    SELECT 1 FROM directory.domains
    WHERE account_id = $1 AND domain = $2 AND status = 'verified'
)
"""


def _taken(domain: str) -> AlreadyExists:
    return AlreadyExists(
        f"{domain} is verified by another account", field="domain", reason="domain_taken"
    )


@contextmanager
def _verified_elsewhere(domain: str) -> Iterator[None]:
    """Two accounts verifying one domain at once: the partial unique index lets one win."""
    try:
        yield
    except asyncpg.UniqueViolationError as error:
        if getattr(error, "constraint_name", None) != "domains_verified_key":
            raise
        raise _taken(domain) from error


async def is_verified(conn: Connection, account_id: UUID, domain: str) -> bool:
    """Whether ``account_id`` holds ``domain`` (any spelling: it is normalised here) verified.
    For the sign-in path, inside the caller's transaction; an invalid name is not verified."""
    try:
        name = normalise(domain)
    except InvalidArgument:
        return False
    return bool(await conn.fetchval(_IS_VERIFIED, account_id, name))


class DomainStore:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    async def claim(
        self, account_id: UUID, domain: str, verified: bool, actor: Actor
    ) -> tuple[asyncpg.Record, bool]:
        """The account's claim of ``domain`` and whether it is new (an existing one is
        returned); ``verified`` (operator bootstrap) also marks it verified. ALREADY_EXISTS
        ``domain_taken`` when another account holds it verified."""
        async with self.pool.acquire() as conn, conn.transaction():
            if await conn.fetchval(_TAKEN_ELSEWHERE, domain, account_id) is not None:
                raise _taken(domain)
            with _account_must_exist():
                row = await conn.fetchrow(_INSERT, account_id, domain, actor.id)
            created = row is not None
            if row is not None:
                await record_event(
                    conn,
                    account_id,
                    actor,
                    "domain.claimed",
                    _TARGET,
                    row["id"],
                    {"domain": domain, "verified": verified},
                )
            else:
                row = await conn.fetchrow(_LOCK_BY_NAME, account_id, domain)
                if row is None:  # deleted by a concurrent DeleteDomain since the insert
                    raise NotFound("the claim was withdrawn meanwhile; claim it again")
            if verified and row["status"] != VERIFIED:
                row = await self._mark_verified(conn, row, BY_OPERATOR, actor)
            return row, created

    async def get(self, account_id: UUID, domain_id: UUID) -> asyncpg.Record:
        row = await self.pool.fetchrow(_SELECT, account_id, domain_id)
        if row is None:
            raise NotFound("domain not found")
        return row

    async def list(
        self, account_id: UUID, filter_: pb.Filter | None, page: pb.PageRequest
    ) -> paging.Page:
        return await fetch_page(
            self.pool,
            columns=_D_COLUMNS,
            from_="directory.domains d",
            count_from="directory.domains d",
            conditions=["d.account_id = $1"],
            params=Params(account_id),
            catalogue=filters.DOMAINS,
            filter_=filter_,
            page=page,
        )

    async def record_check(
        self, account_id: UUID, domain_id: UUID, check: Check, actor: Actor
    ) -> asyncpg.Record:
        """Writes the outcome of an admin's DNS check: verified, or the failure recorded (and
        audited) with the domain left as it was. ALREADY_EXISTS ``domain_taken`` when another
        account holds the domain verified."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(_LOCK, account_id, domain_id)
            if row is None:
                raise NotFound("domain not found")
            if check.passed:
                if await conn.fetchval(_TAKEN_ELSEWHERE, row["domain"], account_id) is not None:
                    raise _taken(row["domain"])
                return await self._mark_verified(conn, row, BY_DNS, actor)
            return await self._mark_failed(conn, row, check, actor)

    async def delete(self, account_id: UUID, domain_id: UUID, actor: Actor) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(_LOCK, account_id, domain_id)
            if row is None:
                raise NotFound("domain not found")
            await conn.execute(_DELETE, account_id, domain_id)
            await record_event(
                conn,
                account_id,
                actor,
                "domain.deleted",
                _TARGET,
                domain_id,
                {"domain": row["domain"], "status": row["status"]},
            )

    async def resolve(self, domain: str) -> asyncpg.Record:
        """The account (``account_id``) holding ``domain`` (normalised) verified, and its claim
        (``id``); NOT_FOUND when no account does."""
        row = await self.pool.fetchrow(_HOLDER, domain)
        if row is None:
            raise NotFound(f"no account holds {domain} verified", field="domain")
        return row

    # -- the re-check ----------------------------------------------------------------------

    async def now(self) -> datetime:
        """The database's clock, which every time of this table is read from."""
        now: datetime = await self.pool.fetchval("SELECT now()")
        return now

    async def claim_due(self, checked_before: datetime, limit: int) -> Sequence[asyncpg.Record]:
        """Up to ``limit`` DNS-verified domains last checked at ``checked_before`` or earlier,
        leased to this caller (their last_check_time is now)."""
        async with self.pool.acquire() as conn:
            return await conn.fetch(_CLAIM_DUE, checked_before, limit)

    async def record_recheck(
        self, account_id: UUID, domain_id: UUID, check: Check, grace: timedelta, actor: Actor
    ) -> asyncpg.Record | None:
        """Writes the outcome of a background check of a verified domain: a pass ends a run of
        failures; a failure starts or continues one (``domain.verification_failed``), and once
        it has lasted ``grace`` the domain is pending again (``domain.verification_lost``).
        None when the domain was deleted or is no longer DNS-verified meanwhile."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(_LOCK, account_id, domain_id)
            if row is None or row["status"] != VERIFIED or row["verification_method"] != BY_DNS:
                return None
            if check.passed:
                if row["failing_since"] is None:
                    return row
                return await self._mark_verified(conn, row, BY_DNS, actor)
            row = await self._mark_failed(conn, row, check, actor)
            if row["last_check_time"] - row["failing_since"] < grace:
                return row
            lost = await conn.fetchrow(_MARK_LOST, account_id, domain_id)
            assert lost is not None  # locked above
            await record_event(
                conn,
                account_id,
                actor,
                "domain.verification_lost",
                _TARGET,
                domain_id,
                {
                    "domain": row["domain"],
                    "how": BY_DNS,
                    "failing_since": row["failing_since"],
                    "error": check.error,
                },
            )
            return lost

    # -- shared writes ---------------------------------------------------------------------

    async def _mark_verified(
        self, conn: Connection, row: asyncpg.Record, how: str, actor: Actor
    ) -> asyncpg.Record:
        with _verified_elsewhere(row["domain"]):
            verified = await conn.fetchrow(_MARK_VERIFIED, row["account_id"], row["id"], how)
        assert verified is not None  # locked by the caller
        details: dict[str, object] = {"domain": row["domain"], "how": how}
        if row["failing_since"] is not None:
            details["failing_since"] = row["failing_since"]
        await record_event(
            conn, row["account_id"], actor, "domain.verified", _TARGET, row["id"], details
        )
        return verified

    async def _mark_failed(
        self, conn: Connection, row: asyncpg.Record, check: Check, actor: Actor
    ) -> asyncpg.Record:
        failed = await conn.fetchrow(_MARK_FAILED, row["account_id"], row["id"], check.error)
        assert failed is not None  # locked by the caller
        await record_event(
            conn,
            row["account_id"],
            actor,
            "domain.verification_failed",
            _TARGET,
            row["id"],
            {
                "domain": row["domain"],
                "how": BY_DNS,
                "status": row["status"],
                "reason": check.reason,
                "error": check.error,
            },
        )
        return failed


@contextmanager
def _account_must_exist() -> Iterator[None]:
    try:
        yield
    except asyncpg.ForeignKeyViolationError as error:
        raise NotFound("account not found", field="account_id") from error
