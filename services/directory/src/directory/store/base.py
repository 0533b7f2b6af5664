"""What every store module shares: audit events, row locks with version checks, constraint
errors, and the list query.

The audit rule: a change and its audit event commit together or not at all. A single-statement
write gets its event in the same statement (``with_event``); a multi-statement write runs in one
transaction that ends with ``record_event``. Nothing changes without one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeAlias
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from directory import paging
from directory.filters import Catalogue, Params, compile_filter
from directory.models import Actor
from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import FailedPrecondition, NotFound, ServiceError

Pool: TypeAlias = "asyncpg.Pool[asyncpg.Record]"
Connection: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"
ErrorFactory = Callable[[], ServiceError]

_INSERT_EVENT = """
INSERT INTO directory.audit_events
    (account_id, actor_type, actor_id, actor_display_name, action, target_type, target_id, details)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)
"""


def jsonable(value: Any) -> Any:
    """``value`` as JSON can carry it in an audit event's details."""
    if isinstance(value, UUID):  # asyncpg's own UUID type subclasses it
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


def dumps(value: Any) -> str:
    return json.dumps(jsonable(value), separators=(",", ":"))


def changes(before: Mapping[str, Any] | asyncpg.Record, after: Mapping[str, Any]) -> dict[str, Any]:
    """``{field: {"before": b, "after": a}}`` for each field of ``after`` whose value differs."""
    diff = {}
    for name, new in after.items():
        old = jsonable(before[name])
        new = jsonable(new)
        if old != new:
            diff[name] = {"before": old, "after": new}
    return diff


def event_args(actor: Actor, action: str, details: Mapping[str, Any]) -> list[object]:
    """The parameters ``with_event`` expects after the write's own."""
    return [actor.type, actor.id, actor.display_name, action, dumps(details)]


def with_event(
    write: str,
    *,
    first_param: int,
    target_type: str,
    target_id: str = "id::text",
    details: str = "{param}",
    select: str = "SELECT * FROM changed",
    ctes: str = "",
) -> str:
    """One statement running ``write`` (a data-modifying statement whose RETURNING list has
    ``account_id`` and what ``target_id`` reads) and inserting one audit event per row it
    returns. The actor type, id, display name, action and details (JSON) are the parameters
    ``$first_param`` onwards (``event_args``); ``details`` may build on that parameter
    (``{param}``) with the columns of the changed row; ``select`` reads the rows back from
    ``changed``; ``ctes`` are common table expressions ``write`` reads (PostgreSQL allows
    data-modifying ones only at the top level)."""
    n = first_param
    details_sql = details.format(param=f"${n + 4}::jsonb")
    return f"""
WITH {ctes + "," if ctes else ""}
changed AS ({write}),
event AS (
    INSERT INTO directory.audit_events (account_id, actor_type, actor_id, actor_display_name,
        action, target_type, target_id, details)
    SELECT account_id, ${n}::text, ${n + 1}::text, ${n + 2}::text, ${n + 3}::text,
        '{target_type}', {target_id}, {details_sql}
    FROM changed
)
{select}
"""  # noqa: S608 - every piece is a constant of the store modules


async def record_event(
    conn: Connection,
    account_id: UUID,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: object,
    details: Mapping[str, Any],
) -> None:
    """Appends an audit event inside the caller's transaction. ``details`` says what changed
    (before/after of the changed fields) and never carries secrets."""
    await conn.execute(
        _INSERT_EVENT,
        account_id,
        actor.type,
        actor.id,
        actor.display_name,
        action,
        target_type,
        str(target_id),
        dumps(details),
    )


def check_version(row: asyncpg.Record, expected_version: int, noun: str) -> None:
    """Optimistic concurrency: 0 means no precondition, anything else must be the stored
    version (proto: ``expected_version``)."""
    if expected_version and row["version"] != expected_version:
        raise FailedPrecondition(
            f"the {noun} was changed by someone else (version {row['version']}, expected"
            f" {expected_version}); read it again",
            field="expected_version",
            reason="version_mismatch",
        )


async def lock(
    conn: Connection, query: str, noun: str, expected_version: int, *args: object
) -> asyncpg.Record:
    """Runs ``query`` (a SELECT of one row that locks it), then checks it exists and has the
    expected version. Writes read the row first because its audit event records the values
    before the change; the lock keeps them true until the write.

    Lock modes: a change takes FOR NO KEY UPDATE, which the foreign-key checks of other writers
    (FOR KEY SHARE) do not wait for, so two users naming each other as manager cannot deadlock;
    a deletion takes FOR UPDATE, which they do wait for, so a row cannot gain a reference while
    it is being deleted (the late writer gets its foreign-key error instead)."""
    row = await conn.fetchrow(query, *args)
    if row is None:
        raise NotFound(f"{noun} not found")
    check_version(row, expected_version, noun)
    return row


@contextmanager
def constraint_errors(errors: Mapping[str, ErrorFactory]) -> Iterator[None]:
    """Turns the violation of a named constraint into the ServiceError it means here; the same
    foreign key means "no such reference" on insert and "still in use" on delete."""
    try:
        yield
    except asyncpg.IntegrityConstraintViolationError as error:
        factory = errors.get(getattr(error, "constraint_name", None) or "")
        if factory is None:
            raise
        raise factory() from error


def in_use(noun: str) -> ErrorFactory:
    return lambda: FailedPrecondition(f"the {noun} is still in use", reason="in_use")


async def fetch_page(
    pool: Pool,
    *,
    columns: str,
    from_: str,
    count_from: str,
    conditions: Sequence[str],
    params: Params,
    catalogue: Catalogue,
    filter_: pb.Filter | None,
    page: pb.PageRequest,
) -> paging.Page:
    """One page of ``SELECT columns FROM from_ WHERE conditions AND filter``, ordered and cut as
    ``page`` asks, with the total when asked (SCIM totalResults, counted with the same filter).

    ``conditions`` must scope the query to one account (tenant isolation) and use ``params``.
    """
    window = paging.window(page, catalogue, paging.filter_digest(filter_))
    where = list(conditions)
    if filter_ is not None:
        where.append(compile_filter(filter_, catalogue, params))
    where_sql = " AND ".join(where)
    count_args = list(params.values)
    sql = paging.page_sql(window, catalogue, params)
    keyset = f" AND {sql.condition}" if sql.condition else ""
    query = (
        f"SELECT {columns}, {sql.sort} AS {paging.SORT_COLUMN} FROM {from_}"  # noqa: S608
        f" WHERE {where_sql}{keyset} ORDER BY {sql.order_by} {sql.limit}"
    )
    async with pool.acquire() as conn:
        rows = await conn.fetch(query, *params.values)
        total = 0
        if window.include_total:
            proven = paging.proven_total(rows, window)
            if proven is None:
                count = f"SELECT count(*) FROM {count_from} WHERE {where_sql}"  # noqa: S608
                proven = await conn.fetchval(count, *count_args)
            total = proven
    return paging.finish(rows, window, catalogue, total)
