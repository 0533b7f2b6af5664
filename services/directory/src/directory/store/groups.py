"""Groups: members (one row per user and source) and the space roles they grant.

Member changes work on arrays (unnest, ANY) so that a SCIM PATCH of thousands of members is a
handful of statements, not one per member. Every member change bumps the group's version and
recounts ``member_count`` in the statement that bumps it, under the group's row lock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from uuid import UUID

import asyncpg

from directory import filters, paging
from directory.filters import Params
from directory.models import ROLE_SCOPE_SPACE, Actor, GroupDraft, MemberChange, SpaceRoleAssignment
from directory.store.base import (
    Connection,
    ErrorFactory,
    Pool,
    changes,
    constraint_errors,
    event_args,
    fetch_page,
    lock,
    record_event,
    with_event,
)
from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import AlreadyExists, InvalidArgument, NotFound

COLUMNS = (
    "account_id, id, display_name, idp_identifier, member_count, create_time, update_time, version"
)
_G_COLUMNS = ", ".join(f"g.{c.strip()}" for c in COLUMNS.split(","))
# The space roles of the group, as a JSON array in the group's own row.
_SPACE_ROLES = """
(SELECT coalesce(jsonb_agg(jsonb_build_object('space_id', x.space_id, 'space_name', s.name,
        'role_id', x.role_id, 'role_name', r.name) ORDER BY lower(s.name), x.space_id), '[]')
    FROM directory.group_space_roles x
    JOIN directory.spaces s ON s.account_id = x.account_id AND s.id = x.space_id
    JOIN directory.roles r ON r.account_id = x.account_id AND r.id = x.role_id
    WHERE x.account_id = g.account_id AND x.group_id = g.id) AS space_roles
"""
_GROUP_COLUMNS = f"{_G_COLUMNS}, {_SPACE_ROLES}"
_SELECT_GROUP = (
    f"SELECT {_GROUP_COLUMNS} FROM directory.groups g WHERE g.account_id = $1 AND g.id = $2"  # noqa: S608
)
_SELECT_ROW = f"SELECT {COLUMNS} FROM directory.groups WHERE account_id = $1 AND id = $2"  # noqa: S608
_LOCK = _SELECT_ROW + " FOR NO KEY UPDATE"
_LOCK_FOR_DELETE = _SELECT_ROW + " FOR UPDATE"

_CREATE = with_event(
    f"""
    INSERT INTO directory.groups (account_id, display_name, idp_identifier) VALUES ($1, $2, $3)
    RETURNING {COLUMNS}
    """,  # noqa: S608
    first_param=4,
    target_type="group",
)
_MEMBER_COUNT = """(SELECT count(DISTINCT user_id) FROM directory.group_members
                    WHERE account_id = $1 AND group_id = $2)"""
# At creation: the initial members are part of version 1.
_RECOUNT = f"""
UPDATE directory.groups SET member_count = {_MEMBER_COUNT} WHERE account_id = $1 AND id = $2
"""  # noqa: S608
_MEMBERS_CHANGED = f"""
UPDATE directory.groups
SET member_count = {_MEMBER_COUNT}, version = version + 1, update_time = now()
WHERE account_id = $1 AND id = $2
"""  # noqa: S608
_UPDATE = f"""
UPDATE directory.groups
SET display_name = $3, idp_identifier = $4, member_count = {_MEMBER_COUNT},
    version = version + 1, update_time = now()
WHERE account_id = $1 AND id = $2
"""  # noqa: S608
_DELETE = with_event(
    "DELETE FROM directory.groups WHERE account_id = $1 AND id = $2 RETURNING account_id, id",
    first_param=3,
    target_type="group",
)

# $3: the user ids to add, $4: their source. Unknown ids come back instead of being inserted.
_ADD_MEMBERS = """
WITH wanted AS (
    SELECT DISTINCT user_id FROM unnest($3::uuid[]) AS w(user_id)
), known AS (
    SELECT w.user_id FROM wanted w
    JOIN directory.users u ON u.account_id = $1 AND u.id = w.user_id
), added AS (
    INSERT INTO directory.group_members (account_id, group_id, user_id, source)
    SELECT $1, $2, user_id, $4 FROM known
    ON CONFLICT DO NOTHING
    RETURNING user_id
)
SELECT
    ARRAY(SELECT user_id FROM wanted EXCEPT SELECT user_id FROM known) AS unknown,
    ARRAY(SELECT user_id FROM added) AS added
"""
# $4 NULL removes the user's memberships of every source.
_REMOVE_MEMBERS = """
WITH removed AS (
    DELETE FROM directory.group_members
    WHERE account_id = $1 AND group_id = $2 AND user_id = ANY($3::uuid[])
        AND ($4::text IS NULL OR source = $4)
    RETURNING user_id
)
SELECT ARRAY(SELECT DISTINCT user_id FROM removed)
"""
_MEMBERS_OF_SOURCE = """
SELECT user_id FROM directory.group_members WHERE account_id = $1 AND group_id = $2 AND source = $3
"""
MEMBER_COLUMNS = "m.group_id, m.user_id, u.user_name, u.display_name, m.source, m.create_time"
_MEMBER_FROM = (
    "directory.group_members m"
    " JOIN directory.users u ON u.account_id = m.account_id AND u.id = m.user_id"
)
_MEMBERS_OF_GROUPS = f"""
SELECT {MEMBER_COLUMNS} FROM {_MEMBER_FROM}
WHERE m.account_id = $1 AND m.group_id = ANY($2::uuid[])
ORDER BY m.group_id, lower(u.user_name), m.user_id, m.source
"""  # noqa: S608

_SPACE_ROLE_CHECK = """
SELECT x.space_id, s.id IS NOT NULL AS space_found, r.scope AS role_scope
FROM unnest($2::uuid[], $3::uuid[]) AS x(space_id, role_id)
LEFT JOIN directory.spaces s ON s.account_id = $1 AND s.id = x.space_id
LEFT JOIN directory.roles r ON r.account_id = $1 AND r.id = x.role_id
"""
_CURRENT_SPACE_ROLES = """
SELECT space_id, role_id FROM directory.group_space_roles WHERE account_id = $1 AND group_id = $2
"""
_CLEAR_SPACE_ROLES = (
    "DELETE FROM directory.group_space_roles WHERE account_id = $1 AND group_id = $2"
)
_INSERT_SPACE_ROLES = """
INSERT INTO directory.group_space_roles (account_id, group_id, space_id, role_id)
SELECT $1, $2, space_id, role_id FROM unnest($3::uuid[], $4::uuid[]) AS x(space_id, role_id)
"""
_BUMP = """
UPDATE directory.groups SET version = version + 1, update_time = now()
WHERE account_id = $1 AND id = $2
"""


_GROUP_ERRORS: dict[str, ErrorFactory] = {
    "groups_idp_identifier_key": lambda: AlreadyExists(
        "a group with this idp_identifier exists in the account",
        field="group.idp_identifier",
        reason="uniqueness",
    ),
    "groups_account_id_fkey": lambda: NotFound("account not found"),
}


def _describe(ids: Sequence[UUID]) -> str:
    shown = ", ".join(str(i) for i in ids[:20])
    return shown + (f" and {len(ids) - 20} more" if len(ids) > 20 else "")


async def _add_members(
    conn: Connection,
    account_id: UUID,
    group_id: UUID,
    user_ids: Sequence[UUID],
    source: str,
    field: str,
) -> list[UUID]:
    """Adds the users (a present member is no error); unknown user ids are INVALID_ARGUMENT on
    ``field``, naming them. Returns the users added for ``source``."""

    def unknown(ids: Sequence[UUID]) -> InvalidArgument:
        return InvalidArgument(
            f"no such users in this account: {_describe(ids)}", field=field, reason="unknown_user"
        )

    # The foreign key catches a user deleted between the check and the insert.
    with constraint_errors({"group_members_user_fkey": lambda: unknown(user_ids)}):
        row = await conn.fetchrow(_ADD_MEMBERS, account_id, group_id, list(user_ids), source)
    assert row is not None
    if row["unknown"]:
        raise unknown(row["unknown"])
    return list(row["added"])


async def _remove_members(
    conn: Connection,
    account_id: UUID,
    group_id: UUID,
    user_ids: Sequence[UUID],
    source: str | None,
) -> list[UUID]:
    removed = await conn.fetchval(_REMOVE_MEMBERS, account_id, group_id, list(user_ids), source)
    return list(removed)


def _ids(values: Sequence[UUID]) -> list[str]:
    return sorted(str(v) for v in values)


class GroupStore:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    async def create(
        self,
        account_id: UUID,
        draft: GroupDraft,
        members: Sequence[UUID],
        source: str,
        actor: Actor,
    ) -> asyncpg.Record:
        """Creates the group with its initial members (unknown ids: INVALID_ARGUMENT on
        ``group.members``), all in one transaction with one "group.created" event."""
        details = {
            "after": {"display_name": draft.display_name, "idp_identifier": draft.idp_identifier},
            "added": _ids(members),
            "source": source,
        }
        async with self.pool.acquire() as conn, conn.transaction():
            with constraint_errors(_GROUP_ERRORS):
                group = await conn.fetchrow(
                    _CREATE,
                    account_id,
                    draft.display_name,
                    draft.idp_identifier,
                    *event_args(actor, "group.created", details),
                )
            assert group is not None
            if members:
                await _add_members(conn, account_id, group["id"], members, source, "group.members")
                await conn.execute(_RECOUNT, account_id, group["id"])
            row = await conn.fetchrow(_SELECT_GROUP, account_id, group["id"])
            assert row is not None
            return row

    async def get(self, account_id: UUID, group_id: UUID) -> asyncpg.Record:
        row = await self.pool.fetchrow(_SELECT_GROUP, account_id, group_id)
        if row is None:
            raise NotFound("group not found")
        return row

    async def members_of(
        self, account_id: UUID, group_ids: Sequence[UUID]
    ) -> dict[UUID, list[asyncpg.Record]]:
        """The members of each group, in one query, ordered by user name."""
        rows = await self.pool.fetch(_MEMBERS_OF_GROUPS, account_id, list(group_ids))
        members: dict[UUID, list[asyncpg.Record]] = defaultdict(list)
        for row in rows:
            members[row["group_id"]].append(row)
        return members

    async def update(
        self,
        account_id: UUID,
        group_id: UUID,
        draft: GroupDraft,
        members: Sequence[UUID] | None,
        source: str,
        expected_version: int,
        actor: Actor,
    ) -> asyncpg.Record:
        """Replaces display name and IdP identifier and, when ``members`` is given, makes it the
        exact member list of ``source`` (other sources' memberships stay)."""
        async with self.pool.acquire() as conn, conn.transaction():
            before = await lock(conn, _LOCK, "group", expected_version, account_id, group_id)
            details = changes(
                before,
                {"display_name": draft.display_name, "idp_identifier": draft.idp_identifier},
            )
            if members is not None:
                current = {r["user_id"] for r in await conn.fetch(
                    _MEMBERS_OF_SOURCE, account_id, group_id, source
                )}  # fmt: skip
                wanted = set(members)
                removed = await _remove_members(
                    conn, account_id, group_id, list(current - wanted), source
                )
                added = await _add_members(
                    conn, account_id, group_id, list(wanted - current), source, "group.members"
                )
                if added or removed:
                    details |= {"added": _ids(added), "removed": _ids(removed), "source": source}
            if details:
                with constraint_errors(_GROUP_ERRORS):
                    await conn.execute(
                        _UPDATE, account_id, group_id, draft.display_name, draft.idp_identifier
                    )
                await record_event(
                    conn, account_id, actor, "group.updated", "group", group_id, details
                )
            row = await conn.fetchrow(_SELECT_GROUP, account_id, group_id)
            assert row is not None
            return row

    async def delete(
        self, account_id: UUID, group_id: UUID, expected_version: int, actor: Actor
    ) -> None:
        """Deletes the group; its memberships and space roles go with it (cascade), listed in
        the "group.deleted" event."""
        async with self.pool.acquire() as conn, conn.transaction():
            before = await lock(
                conn, _LOCK_FOR_DELETE, "group", expected_version, account_id, group_id
            )
            members = await conn.fetch(
                "SELECT DISTINCT user_id FROM directory.group_members"
                " WHERE account_id = $1 AND group_id = $2",
                account_id,
                group_id,
            )
            space_roles = await conn.fetch(_CURRENT_SPACE_ROLES, account_id, group_id)
            details = {
                "before": {
                    "display_name": before["display_name"],
                    "idp_identifier": before["idp_identifier"],
                    "members": _ids([m["user_id"] for m in members]),
                    "space_roles": [dict(r) for r in space_roles],
                }
            }
            await conn.fetchrow(
                _DELETE, account_id, group_id, *event_args(actor, "group.deleted", details)
            )

    async def list(
        self,
        account_id: UUID,
        filter_: pb.Filter | None,
        page: pb.PageRequest,
    ) -> paging.Page:
        return await fetch_page(
            self.pool,
            columns=_GROUP_COLUMNS,
            from_="directory.groups g",
            count_from="directory.groups g",
            conditions=["g.account_id = $1"],
            params=Params(account_id),
            catalogue=filters.GROUPS,
            filter_=filter_,
            page=page,
        )

    async def modify_members(
        self,
        account_id: UUID,
        group_id: UUID,
        change: MemberChange,
        expected_version: int,
        actor: Actor,
    ) -> asyncpg.Record:
        """Removes, then adds, in one transaction; changes nothing (not even the version) when
        every addition is present and every removal absent."""
        async with self.pool.acquire() as conn, conn.transaction():
            await lock(conn, _LOCK, "group", expected_version, account_id, group_id)
            removed: list[UUID] = []
            added: list[UUID] = []
            if change.remove:
                removed = await _remove_members(
                    conn, account_id, group_id, change.remove, change.remove_source
                )
            if change.add:
                added = await _add_members(
                    conn, account_id, group_id, change.add, change.add_source, "add_user_ids"
                )
            if added or removed:
                await conn.execute(_MEMBERS_CHANGED, account_id, group_id)
                details = {
                    "added": _ids(added),
                    "removed": _ids(removed),
                    "added_source": change.add_source,
                    "removed_source": change.remove_source,
                }
                await record_event(
                    conn, account_id, actor, "group.members_changed", "group", group_id, details
                )
            row = await conn.fetchrow(_SELECT_GROUP, account_id, group_id)
            assert row is not None
            return row

    async def list_members(
        self, account_id: UUID, group_id: UUID, page: pb.PageRequest
    ) -> paging.Page:
        result = await fetch_page(
            self.pool,
            columns=MEMBER_COLUMNS,
            from_=_MEMBER_FROM,
            count_from="directory.group_members m",
            conditions=["m.account_id = $1", "m.group_id = $2"],
            params=Params(account_id, group_id),
            catalogue=filters.GROUP_MEMBERS,
            filter_=None,
            page=page,
        )
        if not result.rows:
            await self.get(account_id, group_id)  # an unknown group is NOT_FOUND, not empty
        return result

    async def set_space_roles(
        self,
        account_id: UUID,
        group_id: UUID,
        assignments: Sequence[SpaceRoleAssignment],
        expected_version: int,
        actor: Actor,
    ) -> asyncpg.Record:
        """Makes ``assignments`` (one role per space) the exact space roles of the group."""
        space_ids = [a.space_id for a in assignments]
        role_ids = [a.role_id for a in assignments]
        async with self.pool.acquire() as conn, conn.transaction():
            await lock(conn, _LOCK, "group", expected_version, account_id, group_id)
            for check in await conn.fetch(_SPACE_ROLE_CHECK, account_id, space_ids, role_ids):
                if not check["space_found"]:
                    raise InvalidArgument(
                        f"no space {check['space_id']} in this account", field="space_roles"
                    )
                if check["role_scope"] != ROLE_SCOPE_SPACE:
                    raise InvalidArgument(
                        "each role must be a space role of this account", field="space_roles"
                    )
            before = {
                (r["space_id"], r["role_id"])
                for r in await conn.fetch(_CURRENT_SPACE_ROLES, account_id, group_id)
            }
            after = set(zip(space_ids, role_ids, strict=True))
            if before != after:
                await conn.execute(_CLEAR_SPACE_ROLES, account_id, group_id)
                await conn.execute(_INSERT_SPACE_ROLES, account_id, group_id, space_ids, role_ids)
                await conn.execute(_BUMP, account_id, group_id)
                details = {
                    "space_roles": {
                        "before": [{"space_id": s, "role_id": r} for s, r in sorted(before)],
                        "after": [{"space_id": s, "role_id": r} for s, r in sorted(after)],
                    }
                }
                await record_event(
                    conn, account_id, actor, "group.space_roles_changed", "group", group_id,
                    details,
                )  # fmt: skip
            row = await conn.fetchrow(_SELECT_GROUP, account_id, group_id)
            assert row is not None
            return row
