"""Spaces and the space memberships of users (direct grants; group grants live with groups)."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from directory import filters, paging
from directory.filters import Params
from directory.models import ROLE_SCOPE_SPACE, Actor, SpaceDraft
from directory.store.base import (
    ErrorFactory,
    Pool,
    changes,
    constraint_errors,
    event_args,
    fetch_page,
    lock,
    with_event,
)
from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import AlreadyExists, InvalidArgument, NotFound

COLUMNS = "account_id, id, name, description, create_time, update_time, version"
_S_COLUMNS = ", ".join(f"s.{c.strip()}" for c in COLUMNS.split(","))

_CREATE = with_event(
    f"""
    INSERT INTO directory.spaces (account_id, name, description) VALUES ($1, $2, $3)
    RETURNING {COLUMNS}
    """,  # noqa: S608
    first_param=4,
    target_type="space",
)
_SELECT = f"SELECT {COLUMNS} FROM directory.spaces WHERE account_id = $1 AND id = $2"  # noqa: S608
_LOCK = _SELECT + " FOR NO KEY UPDATE"
_LOCK_FOR_DELETE = _SELECT + " FOR UPDATE"
# A deletion locks what it will change before the space itself, in the order the other writers
# take them (membership or group first, then the space), so concurrent writes wait instead of
# deadlocking.
_LOCK_DEPENDENTS = (
    "SELECT 1 FROM directory.space_memberships WHERE account_id = $1 AND space_id = $2 FOR UPDATE",
    "SELECT 1 FROM directory.groups WHERE account_id = $1 AND id IN ("
    " SELECT group_id FROM directory.group_space_roles WHERE account_id = $1 AND space_id = $2)"
    " ORDER BY id FOR NO KEY UPDATE",
)
_UPDATE = with_event(
    f"""
    UPDATE directory.spaces SET name = $3, description = $4, version = version + 1,
        update_time = now()
    WHERE account_id = $1 AND id = $2
    RETURNING {COLUMNS}
    """,  # noqa: S608
    first_param=5,
    target_type="space",
)
# Deleting a space takes its memberships and the group grants on it along, each with an event.
_DROP_MEMBERSHIPS = with_event(
    """
    DELETE FROM directory.space_memberships WHERE account_id = $1 AND space_id = $2
    RETURNING account_id, user_id, space_id, role_id, source
    """,
    first_param=3,
    target_type="membership",
    target_id="user_id::text",
    details="{param} || jsonb_build_object('space_id', space_id, 'role_id', role_id,"
    " 'source', source)",
    select="SELECT count(*) FROM changed",
)
_DROP_GROUP_GRANTS = with_event(
    """
    UPDATE directory.groups g SET version = g.version + 1, update_time = now()
    FROM removed
    WHERE g.account_id = $1 AND g.id = removed.group_id
    RETURNING g.account_id, g.id, removed.role_id
    """,
    ctes="""
    removed AS (
        DELETE FROM directory.group_space_roles WHERE account_id = $1 AND space_id = $2
        RETURNING group_id, role_id
    )""",
    first_param=3,
    target_type="group",
    details="{param} || jsonb_build_object('removed', jsonb_build_array(jsonb_build_object("
    "'space_id', $2::text, 'role_id', role_id)))",
    select="SELECT count(*) FROM changed",
)
_DELETE = with_event(
    "DELETE FROM directory.spaces WHERE account_id = $1 AND id = $2 RETURNING account_id, id",
    first_param=3,
    target_type="space",
)

MEMBERSHIP_COLUMNS = (
    "m.account_id, m.user_id, m.space_id, s.name AS space_name, m.role_id, r.name AS role_name,"
    " m.source, m.create_time"
)
_MEMBERSHIP_FROM = (
    "directory.space_memberships m"
    " JOIN directory.spaces s ON s.account_id = m.account_id AND s.id = m.space_id"
    " JOIN directory.roles r ON r.account_id = m.account_id AND r.id = m.role_id"
)
_MEMBERSHIP_KEY = "m.account_id = $1 AND m.user_id = $2 AND m.space_id = $3 AND m.source = $4"
_CURRENT_ROLE = """
SELECT role_id FROM directory.space_memberships
WHERE account_id = $1 AND user_id = $2 AND space_id = $3 AND source = $4
FOR UPDATE
"""
_ROLE_SCOPE = "SELECT scope FROM directory.roles WHERE account_id = $1 AND id = $2"
_GRANT = with_event(
    """
    INSERT INTO directory.space_memberships (account_id, user_id, space_id, source, role_id)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (account_id, user_id, space_id, source) DO UPDATE
        SET role_id = EXCLUDED.role_id, update_time = now()
    RETURNING account_id, user_id, space_id, role_id, source, create_time
    """,
    first_param=6,
    target_type="membership",
    target_id="user_id::text",
    select="""
    SELECT m.account_id, m.user_id, m.space_id, s.name AS space_name, m.role_id,
        r.name AS role_name, m.source, m.create_time
    FROM changed m
    JOIN directory.spaces s ON s.account_id = m.account_id AND s.id = m.space_id
    JOIN directory.roles r ON r.account_id = m.account_id AND r.id = m.role_id
    """,
)
_REVOKE = with_event(
    """
    DELETE FROM directory.space_memberships
    WHERE account_id = $1 AND user_id = $2 AND space_id = $3 AND ($4::text IS NULL OR source = $4)
    RETURNING account_id, user_id, space_id, role_id, source
    """,
    first_param=5,
    target_type="membership",
    target_id="user_id::text",
    details="{param} || jsonb_build_object('space_id', space_id, 'role_id', role_id,"
    " 'source', source)",
    select="SELECT count(*) FROM changed",
)


_SPACE_ERRORS: dict[str, ErrorFactory] = {
    "spaces_name_key": lambda: AlreadyExists(
        "a space with this name exists in the account", field="space.name", reason="uniqueness"
    ),
    "spaces_account_id_fkey": lambda: NotFound("account not found"),
}

_GRANT_ERRORS: dict[str, ErrorFactory] = {
    "space_memberships_user_fkey": lambda: NotFound("user not found"),
    "space_memberships_space_fkey": lambda: NotFound("space not found"),
}


class SpaceStore:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    async def create(self, account_id: UUID, draft: SpaceDraft, actor: Actor) -> asyncpg.Record:
        after = {"name": draft.name, "description": draft.description}
        with constraint_errors(_SPACE_ERRORS):
            row = await self.pool.fetchrow(
                _CREATE,
                account_id,
                draft.name,
                draft.description,
                *event_args(actor, "space.created", {"after": after}),
            )
        assert row is not None
        return row

    async def get(self, account_id: UUID, space_id: UUID) -> asyncpg.Record:
        row = await self.pool.fetchrow(_SELECT, account_id, space_id)
        if row is None:
            raise NotFound("space not found")
        return row

    async def get_by_name(self, account_id: UUID, name: str) -> asyncpg.Record:
        """The space named ``name`` whatever the case (IdPs send names in `space_name`)."""
        row = await self.pool.fetchrow(
            f"SELECT {COLUMNS} FROM directory.spaces"  # noqa: S608
            " WHERE account_id = $1 AND lower(name) = lower($2)",
            account_id,
            name,
        )
        if row is None:
            raise NotFound("space not found")
        return row

    async def update(
        self,
        account_id: UUID,
        space_id: UUID,
        draft: SpaceDraft,
        expected_version: int,
        actor: Actor,
    ) -> asyncpg.Record:
        async with self.pool.acquire() as conn, conn.transaction():
            before = await lock(conn, _LOCK, "space", expected_version, account_id, space_id)
            diff = changes(before, {"name": draft.name, "description": draft.description})
            if not diff:
                return before
            with constraint_errors(_SPACE_ERRORS):
                row = await conn.fetchrow(
                    _UPDATE,
                    account_id,
                    space_id,
                    draft.name,
                    draft.description,
                    *event_args(actor, "space.updated", diff),
                )
            assert row is not None
            return row

    async def delete(
        self, account_id: UUID, space_id: UUID, expected_version: int, actor: Actor
    ) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            for query in _LOCK_DEPENDENTS:
                await conn.execute(query, account_id, space_id)
            before = await lock(
                conn, _LOCK_FOR_DELETE, "space", expected_version, account_id, space_id
            )
            because = {"reason": "space.deleted"}
            await conn.fetchval(
                _DROP_MEMBERSHIPS,
                account_id,
                space_id,
                *event_args(actor, "space_role.revoked", because),
            )
            await conn.fetchval(
                _DROP_GROUP_GRANTS,
                account_id,
                space_id,
                *event_args(actor, "group.space_roles_changed", because),
            )
            details = {"before": {"name": before["name"], "description": before["description"]}}
            await conn.fetchrow(
                _DELETE, account_id, space_id, *event_args(actor, "space.deleted", details)
            )

    async def list(
        self, account_id: UUID, filter_: pb.Filter | None, page: pb.PageRequest
    ) -> paging.Page:
        return await fetch_page(
            self.pool,
            columns=_S_COLUMNS,
            from_="directory.spaces s",
            count_from="directory.spaces s",
            conditions=["s.account_id = $1"],
            params=Params(account_id),
            catalogue=filters.SPACES,
            filter_=filter_,
            page=page,
        )

    # -- memberships ---------------------------------------------------------------------------

    async def grant(
        self,
        account_id: UUID,
        user_id: UUID,
        space_id: UUID,
        role_id: UUID,
        source: str,
        actor: Actor,
    ) -> asyncpg.Record:
        """Gives the user ``role_id`` in the space for ``source``, replacing the role that
        source granted before (one role per user, space and source). Granting the role already
        held changes nothing."""
        key = (account_id, user_id, space_id, source)
        async with self.pool.acquire() as conn, conn.transaction():
            previous = await conn.fetchval(_CURRENT_ROLE, *key)
            if previous == role_id:
                row = await conn.fetchrow(
                    f"SELECT {MEMBERSHIP_COLUMNS} FROM {_MEMBERSHIP_FROM}"  # noqa: S608
                    f" WHERE {_MEMBERSHIP_KEY}",
                    *key,
                )
                assert row is not None
                return row
            scope = await conn.fetchval(_ROLE_SCOPE, account_id, role_id)
            if scope is None:
                raise NotFound("role not found")
            if scope != ROLE_SCOPE_SPACE:
                raise InvalidArgument("not a space role", field="role_id")
            details = {
                "space_id": space_id,
                "role_id": role_id,
                "source": source,
                "previous_role_id": previous,
            }
            with constraint_errors(_GRANT_ERRORS):
                row = await conn.fetchrow(
                    _GRANT, *key, role_id, *event_args(actor, "space_role.granted", details)
                )
            assert row is not None
            return row

    async def revoke(
        self,
        account_id: UUID,
        user_id: UUID,
        space_id: UUID,
        source: str | None,
        actor: Actor,
    ) -> None:
        """Removes the user's role in the space from ``source``, or from every source when None."""
        revoked = await self.pool.fetchval(
            _REVOKE,
            account_id,
            user_id,
            space_id,
            source,
            *event_args(actor, "space_role.revoked", {}),
        )
        if not revoked:
            raise NotFound("membership not found")

    async def list_memberships(
        self, account_id: UUID, filter_: pb.Filter | None, page: pb.PageRequest
    ) -> paging.Page:
        return await fetch_page(
            self.pool,
            columns=MEMBERSHIP_COLUMNS,
            from_=_MEMBERSHIP_FROM,
            count_from="directory.space_memberships m",
            conditions=["m.account_id = $1"],
            params=Params(account_id),
            catalogue=filters.SPACE_MEMBERSHIPS,
            filter_=filter_,
            page=page,
        )
