"""The audit log. Events of the directory's own changes are written by the other stores, inside
those changes; ``record`` appends one another service did (auth's setup links)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from directory import filters, paging
from directory.filters import Params
from directory.models import Actor
from directory.store.base import Pool, fetch_page, record_event
from idmesh.directory.v1 import directory_pb2 as pb

COLUMNS = (
    "ev.account_id, ev.id, ev.time, ev.actor_type, ev.actor_id, ev.actor_display_name, ev.action,"
    " ev.target_type, ev.target_id, ev.details"
)


_ACCOUNT_EXISTS = "SELECT EXISTS (SELECT 1 FROM directory.accounts WHERE id = $1)"


class AuditStore:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    async def record(
        self, account_id: UUID, actor: Actor, action: str, target_type: str, target_id: str,
        details: Mapping[str, Any],
    ) -> bool:  # fmt: skip
        """Appends one event; False when the account does not exist."""
        async with self.pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval(_ACCOUNT_EXISTS, account_id):
                return False
            await record_event(conn, account_id, actor, action, target_type, target_id, details)
            return True

    async def list(
        self, account_id: UUID, filter_: pb.Filter | None, page: pb.PageRequest
    ) -> paging.Page:
        """The account's events, oldest first unless the page asks otherwise."""
        return await fetch_page(
            self.pool,
            columns=COLUMNS,
            from_="directory.audit_events ev",
            count_from="directory.audit_events ev",
            conditions=["ev.account_id = $1"],
            params=Params(account_id),
            catalogue=filters.AUDIT_EVENTS,
            filter_=filter_,
            page=page,
        )
