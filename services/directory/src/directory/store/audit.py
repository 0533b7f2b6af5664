"""Reading the audit log. Events are written by the other stores, inside their changes."""

from __future__ import annotations

from uuid import UUID

from directory import filters, paging
from directory.filters import Params
from directory.store.base import Pool, fetch_page
from idmesh.directory.v1 import directory_pb2 as pb

COLUMNS = (
    "ev.account_id, ev.id, ev.time, ev.actor_type, ev.actor_id, ev.actor_display_name, ev.action,"
    " ev.target_type, ev.target_id, ev.details"
)


class AuditStore:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

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
