"""Account and space roles: named sets of permissions."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from directory import filters, paging
from directory.filters import Params
from directory.models import Actor, RoleDraft
from directory.store.base import (
    ErrorFactory,
    Pool,
    changes,
    constraint_errors,
    event_args,
    fetch_page,
    in_use,
    lock,
    with_event,
)
from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound

COLUMNS = (
    "account_id, id, name, scope, permissions, built_in, description, create_time, update_time,"
    " version"
)
_R_COLUMNS = ", ".join(f"r.{c.strip()}" for c in COLUMNS.split(","))

_CREATE = with_event(
    f"""
    INSERT INTO directory.roles (account_id, name, scope, permissions, description)
    VALUES ($1, $2, $3, $4, $5)
    RETURNING {COLUMNS}
    """,  # noqa: S608
    first_param=6,
    target_type="role",
)
_SELECT = f"SELECT {COLUMNS} FROM directory.roles WHERE account_id = $1 AND id = $2"  # noqa: S608
_LOCK = _SELECT + " FOR NO KEY UPDATE"
_LOCK_FOR_DELETE = _SELECT + " FOR UPDATE"
_UPDATE = with_event(
    f"""
    UPDATE directory.roles SET name = $3, permissions = $4, description = $5,
        version = version + 1, update_time = now()
    WHERE account_id = $1 AND id = $2
    RETURNING {COLUMNS}
    """,  # noqa: S608
    first_param=6,
    target_type="role",
)
_DELETE = with_event(
    "DELETE FROM directory.roles WHERE account_id = $1 AND id = $2 RETURNING account_id, id",
    first_param=3,
    target_type="role",
)
# Every reference to a role; deleting a role that one of them still names is refused.
_ROLE_IN_USE = {
    name: in_use("role")
    for name in (
        "users_account_role_fkey",
        "space_memberships_role_fkey",
        "group_space_roles_role_fkey",
        "accounts_default_account_role_fkey",
    )
}


_ROLE_ERRORS: dict[str, ErrorFactory] = {
    "roles_name_key": lambda: AlreadyExists(
        "a role with this name and scope exists in the account",
        field="role.name",
        reason="uniqueness",
    ),
    "roles_account_id_fkey": lambda: NotFound("account not found"),
}


def _built_in() -> FailedPrecondition:
    return FailedPrecondition(
        "built-in roles cannot be renamed, re-permitted or deleted", reason="built_in"
    )


class RoleStore:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    async def create(self, account_id: UUID, draft: RoleDraft, actor: Actor) -> asyncpg.Record:
        after = {
            "name": draft.name,
            "scope": draft.scope,
            "permissions": draft.permissions,
            "description": draft.description,
        }
        with constraint_errors(_ROLE_ERRORS):
            row = await self.pool.fetchrow(
                _CREATE,
                account_id,
                draft.name,
                draft.scope,
                draft.permissions,
                draft.description,
                *event_args(actor, "role.created", {"after": after}),
            )
        assert row is not None
        return row

    async def get(self, account_id: UUID, role_id: UUID) -> asyncpg.Record:
        row = await self.pool.fetchrow(_SELECT, account_id, role_id)
        if row is None:
            raise NotFound("role not found")
        return row

    async def update(
        self,
        account_id: UUID,
        role_id: UUID,
        draft: RoleDraft,
        expected_version: int,
        actor: Actor,
    ) -> asyncpg.Record:
        """Replaces name, permissions and description. The scope never changes (users and
        memberships rely on it); a built-in role keeps its name and permissions."""
        async with self.pool.acquire() as conn, conn.transaction():
            before = await lock(conn, _LOCK, "role", expected_version, account_id, role_id)
            if draft.scope is not None and draft.scope != before["scope"]:
                raise InvalidArgument(
                    "the scope of a role cannot change", field="role.scope", reason="immutable"
                )
            after = {
                "name": draft.name,
                "permissions": draft.permissions,
                "description": draft.description,
            }
            diff = changes(before, after)
            if not diff:
                return before
            if before["built_in"] and diff.keys() - {"description"}:
                raise _built_in()
            with constraint_errors(_ROLE_ERRORS):
                row = await conn.fetchrow(
                    _UPDATE,
                    account_id,
                    role_id,
                    draft.name,
                    draft.permissions,
                    draft.description,
                    *event_args(actor, "role.updated", diff),
                )
            assert row is not None
            return row

    async def delete(
        self, account_id: UUID, role_id: UUID, expected_version: int, actor: Actor
    ) -> None:
        """Deletes a custom role that nothing references (FAILED_PRECONDITION "in_use" else)."""
        async with self.pool.acquire() as conn, conn.transaction():
            before = await lock(
                conn, _LOCK_FOR_DELETE, "role", expected_version, account_id, role_id
            )
            if before["built_in"]:
                raise _built_in()
            details = {
                "before": {
                    "name": before["name"],
                    "scope": before["scope"],
                    "permissions": before["permissions"],
                }
            }
            with constraint_errors(_ROLE_IN_USE):
                await conn.fetchrow(
                    _DELETE, account_id, role_id, *event_args(actor, "role.deleted", details)
                )

    async def list(
        self, account_id: UUID, filter_: pb.Filter | None, page: pb.PageRequest
    ) -> paging.Page:
        return await fetch_page(
            self.pool,
            columns=_R_COLUMNS,
            from_="directory.roles r",
            count_from="directory.roles r",
            conditions=["r.account_id = $1"],
            params=Params(account_id),
            catalogue=filters.ROLES,
            filter_=filter_,
            page=page,
        )
