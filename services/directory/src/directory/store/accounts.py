"""Accounts (tenants) and the built-in roles every account is created with."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from directory import filters, paging
from directory.filters import Params
from directory.models import ROLE_SCOPE_ACCOUNT, ROLE_SCOPE_SPACE, AccountSettings, Actor
from directory.store.base import (
    ErrorFactory,
    Pool,
    changes,
    constraint_errors,
    dumps,
    event_args,
    fetch_page,
    lock,
    with_event,
)
from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import AlreadyExists, InvalidArgument, NotFound

# The roles of every account: (name, scope, permissions). They cannot be renamed, re-permitted
# or deleted, so code may rely on their names (e.g. Space Member for an unknown IdP role).
ACCOUNT_ADMIN = "Account Admin"
ACCOUNT_MEMBER = "Account Member"
SPACE_ADMIN = "Space Admin"
SPACE_DEVELOPER = "Space Developer"
SPACE_MEMBER = "Space Member"
BUILT_IN_ROLES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        ACCOUNT_ADMIN,
        ROLE_SCOPE_ACCOUNT,
        (
            "audit:read",
            "connections:manage",
            "events:read",
            "grants:manage",
            "groups:manage",
            "roles:manage",
            "spaces:manage",
            "tokens:manage",
            "users:manage",
            "users:read",
            "webhooks:manage",
            "webhooks:read",
        ),
    ),
    # What a member may do comes from space roles; the account role grants nothing more.
    (ACCOUNT_MEMBER, ROLE_SCOPE_ACCOUNT, ()),
    (SPACE_ADMIN, ROLE_SCOPE_SPACE, ("space:deploy", "space:manage", "space:read", "space:write")),
    (SPACE_DEVELOPER, ROLE_SCOPE_SPACE, ("space:deploy", "space:read", "space:write")),
    (SPACE_MEMBER, ROLE_SCOPE_SPACE, ("space:read",)),
)

COLUMNS = (
    "id, name, display_name, require_given_name, require_family_name, require_email_user_name,"
    " default_account_role_id, scim_group_patch_returns_resource, create_time, update_time,"
    " version"
)
_AC_COLUMNS = ", ".join(f"ac.{c.strip()}" for c in COLUMNS.split(","))
# The provisioning settings of AccountSettings stored as booleans, applied by the SCIM layer:
# the rules of seed 003 and Torii, and the answer to a Group PATCH.
_FLAGS = (
    "require_given_name",
    "require_family_name",
    "require_email_user_name",
    "scim_group_patch_returns_resource",
)

_CREATE = with_event(
    f"""
    INSERT INTO directory.accounts (name, display_name, {", ".join(_FLAGS)})
    VALUES ($1, $2, $3, $4, $5, $6)
    RETURNING id AS account_id, {COLUMNS}
    """,  # noqa: S608
    first_param=7,
    target_type="account",
)
_CREATE_ROLES = with_event(
    """
    INSERT INTO directory.roles (account_id, name, scope, permissions, built_in)
    SELECT $1, name, scope, permissions, TRUE
    FROM jsonb_to_recordset($2::jsonb) AS b(name text, scope text, permissions text[])
    RETURNING account_id, id, name, scope, permissions
    """,
    first_param=3,
    target_type="role",
    details="{param} || jsonb_build_object('after', jsonb_build_object('name', name,"
    " 'scope', scope, 'permissions', to_jsonb(permissions), 'built_in', TRUE))",
    select="SELECT count(*) FROM changed",
)
_SELECT = f"SELECT {COLUMNS} FROM directory.accounts WHERE id = $1"  # noqa: S608
_SELECT_BY_NAME = f"SELECT {COLUMNS} FROM directory.accounts WHERE name = $1"  # noqa: S608
_LOCK = _SELECT + " FOR NO KEY UPDATE"
_LOCK_FOR_DELETE = _SELECT + " FOR UPDATE"
_UPDATE = with_event(
    f"""
    UPDATE directory.accounts
    SET display_name = $2, require_given_name = $3, require_family_name = $4,
        require_email_user_name = $5, scim_group_patch_returns_resource = $6,
        default_account_role_id = $7, version = version + 1, update_time = now()
    WHERE id = $1
    RETURNING id AS account_id, {COLUMNS}
    """,  # noqa: S608
    first_param=8,
    target_type="account",
)
_DELETE = with_event(
    "DELETE FROM directory.accounts WHERE id = $1 RETURNING id AS account_id, id",
    first_param=2,
    target_type="account",
)
_DEFAULT_ROLE_CHECK = """
SELECT scope FROM directory.roles WHERE account_id = $1 AND id = $2
"""

_ACCOUNT_ERRORS: dict[str, ErrorFactory] = {
    "accounts_name_key": lambda: AlreadyExists(
        "an account with this name exists", field="name", reason="uniqueness"
    )
}


def _flags(settings: AccountSettings) -> dict[str, bool]:
    return {name: getattr(settings, name) for name in _FLAGS}


class AccountStore:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    async def create(
        self, name: str, display_name: str, settings: AccountSettings, actor: Actor
    ) -> asyncpg.Record:
        """Creates the account and, in the same transaction, its built-in roles (each with
        its event). A default role cannot be named yet: no role exists before the account."""
        flags = _flags(settings)
        details = {"after": {"name": name, "display_name": display_name} | flags}
        roles = [{"name": n, "scope": s, "permissions": list(p)} for n, s, p in BUILT_IN_ROLES]
        async with self.pool.acquire() as conn, conn.transaction():
            with constraint_errors(_ACCOUNT_ERRORS):
                account = await conn.fetchrow(
                    _CREATE,
                    name,
                    display_name,
                    *flags.values(),
                    *event_args(actor, "account.created", details),
                )
            assert account is not None
            await conn.fetchval(
                _CREATE_ROLES,
                account["id"],
                dumps(roles),
                *event_args(actor, "role.created", {}),
            )
            return account

    async def get(self, account_id: UUID) -> asyncpg.Record:
        row = await self.pool.fetchrow(_SELECT, account_id)
        if row is None:
            raise NotFound("account not found")
        return row

    async def get_by_name(self, name: str) -> asyncpg.Record:
        row = await self.pool.fetchrow(_SELECT_BY_NAME, name)
        if row is None:
            raise NotFound("account not found")
        return row

    async def update(
        self,
        account_id: UUID,
        display_name: str,
        settings: AccountSettings,
        expected_version: int,
        actor: Actor,
    ) -> asyncpg.Record:
        """Replaces the display name and settings; the default role must be an account-scope
        role of this account."""
        async with self.pool.acquire() as conn, conn.transaction():
            before = await lock(conn, _LOCK, "account", expected_version, account_id)
            role_id = settings.default_account_role_id
            if role_id is not None:
                scope = await conn.fetchval(_DEFAULT_ROLE_CHECK, account_id, role_id)
                if scope != ROLE_SCOPE_ACCOUNT:
                    raise InvalidArgument(
                        "not an account-scope role of this account",
                        field="settings.default_account_role_id",
                    )
            # In the order of _UPDATE's parameters.
            after = {
                "display_name": display_name,
                **_flags(settings),
                "default_account_role_id": role_id,
            }
            diff = changes(before, after)
            if not diff:
                return before
            row = await conn.fetchrow(
                _UPDATE,
                account_id,
                *after.values(),
                *event_args(actor, "account.updated", diff),
            )
            assert row is not None
            return row

    async def delete(self, account_id: UUID, expected_version: int, actor: Actor) -> None:
        """Deletes the account and, by cascade, everything in it; its audit trail stays (audit
        events have no foreign keys) and ends with "account.deleted"."""
        async with self.pool.acquire() as conn, conn.transaction():
            before = await lock(conn, _LOCK_FOR_DELETE, "account", expected_version, account_id)
            details = {"before": {"name": before["name"], "display_name": before["display_name"]}}
            await conn.fetchrow(_DELETE, account_id, *event_args(actor, "account.deleted", details))

    async def list(self, page: pb.PageRequest) -> paging.Page:
        """Every account: an operator's view, not a tenant's."""
        return await fetch_page(
            self.pool,
            columns=_AC_COLUMNS,
            from_="directory.accounts ac",
            count_from="directory.accounts ac",
            conditions=["TRUE"],
            params=Params(),
            catalogue=filters.ACCOUNTS,
            filter_=None,
            page=page,
        )
