"""The SCIM provisioning log: events appended in batches by the scim service, read by admins.

A batch is one INSERT of arrays (``unnest``): one round trip and one statement whatever its
size, so the log costs the directory little even when every SCIM request writes to it. Events
carry their writer's ids and a repeated one is skipped: a retried batch is stored once.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from directory import filters, paging
from directory.filters import Params
from directory.models import ProvisioningEventDraft
from directory.store.base import Pool, fetch_page
from idmesh.directory.v1 import directory_pb2 as pb

COLUMNS = (
    "pe.account_id, pe.id, pe.time, pe.token_id, pe.method, pe.operation, pe.resource_type,"
    " pe.resource_id, pe.outcome, pe.http_status, pe.duration_us, pe.detail, pe.trace_id"
)
_INSERT = """
INSERT INTO directory.provisioning_events (account_id, id, time, token_id, method, operation,
    resource_type, resource_id, outcome, http_status, duration_us, detail, trace_id)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[],
    $6::text[], $7::text[], $8::text[], $9::text[], $10::smallint[], $11::bigint[], $12::text[],
    $13::text[])
ON CONFLICT (account_id, id) DO NOTHING
"""


class ProvisioningStore:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    async def record(self, events: Sequence[ProvisioningEventDraft]) -> int:
        """Appends ``events`` (of any accounts) in one statement; returns how many were new."""
        if not events:
            return 0
        status = await self.pool.execute(
            _INSERT,
            [e.account_id for e in events],
            [e.id for e in events],
            [e.time for e in events],
            [e.token_id for e in events],
            [e.method for e in events],
            [e.operation for e in events],
            [e.resource_type for e in events],
            [e.resource_id for e in events],
            [e.outcome for e in events],
            [e.http_status for e in events],
            [e.duration_us for e in events],
            [e.detail for e in events],
            [e.trace_id for e in events],
        )
        return int(status.rsplit(" ", 1)[-1])  # "INSERT 0 <rows>"

    async def list(
        self, account_id: UUID, filter_: pb.Filter | None, page: pb.PageRequest
    ) -> paging.Page:
        """The account's events, oldest first unless the page asks otherwise."""
        return await fetch_page(
            self.pool,
            columns=COLUMNS,
            from_="directory.provisioning_events pe",
            count_from="directory.provisioning_events pe",
            conditions=["pe.account_id = $1"],
            params=Params(account_id),
            catalogue=filters.PROVISIONING_EVENTS,
            filter_=filter_,
            page=page,
        )
