"""Users and their identity links."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any, Final, NoReturn
from uuid import UUID

import asyncpg

from directory import filters, paging
from directory.filters import Params
from directory.models import (
    STATUS_ACTIVE,
    STATUS_DEACTIVATED,
    STATUS_PENDING,
    Actor,
    UserDraft,
)
from directory.store.base import (
    ErrorFactory,
    Pool,
    changes,
    check_version,
    constraint_errors,
    event_args,
    fetch_page,
    lock,
    record_event,
    with_event,
)
from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import AlreadyExists, InvalidArgument, NotFound, Unavailable

# Every attribute a create or an update writes, in UserDraft order (account_role_id apart).
PROFILE_COLUMNS = (
    "user_name", "external_id",
    "name_formatted", "name_family_name", "name_given_name", "name_middle_name",
    "name_honorific_prefix", "name_honorific_suffix",
    "display_name", "nick_name", "profile_url", "title", "user_type", "preferred_language",
    "locale", "timezone",
    "emails", "phone_numbers", "ims", "photos", "addresses", "entitlements", "x509_certificates",
    "employee_number", "cost_center", "organization", "division", "department",
    "manager_id", "manager_display_name", "extensions",
)  # fmt: skip
JSON_COLUMNS = frozenset(
    {"emails", "phone_numbers", "ims", "photos", "addresses", "entitlements", "x509_certificates",
     "extensions"}
)  # fmt: skip
# Set only by UpdateUser, for a SCIM client's removal of `active` or `roles` (migration 0006).
UNASSIGNED_COLUMNS = ("active_unassigned", "account_role_unassigned")
COLUMNS = (
    "account_id", "id", *PROFILE_COLUMNS, "account_role_id", "status", "last_login_time",
    "create_time", "update_time", "version", *UNASSIGNED_COLUMNS,
)  # fmt: skip

_U_COLUMNS = ", ".join(f"u.{c}" for c in COLUMNS)
_ROLE_JOIN = "JOIN directory.roles r ON r.account_id = u.account_id AND r.id = u.account_role_id"
_USER_COLUMNS = f"{_U_COLUMNS}, r.name AS account_role_name"
_USERS_WITH_ROLE = f"directory.users u {_ROLE_JOIN}"


def _select_user(*extra_columns: str) -> str:
    """The read of a user everywhere: its columns and its account role's name, in one query,
    with ``extra_columns`` of the same row."""
    return f"SELECT {', '.join([_USER_COLUMNS, *extra_columns])} FROM {_USERS_WITH_ROLE}"  # noqa: S608


SELECT_USER = _select_user()
# The groups the user is a member of, as a JSON array in the user's own row (GetUser and
# ListUsers with include_groups): the user and its groups are one statement. Creation order, as
# ListGroups lists them; a member from several sources is in the group once.
_GROUPS = """
(SELECT coalesce(json_agg(json_build_object('id', g.id, 'display_name', g.display_name)
        ORDER BY g.create_time, g.id), '[]')
    FROM directory.groups g
    WHERE g.account_id = u.account_id AND g.id IN (
        SELECT m.group_id FROM directory.group_members m
        WHERE m.account_id = u.account_id AND m.user_id = u.id)) AS groups
"""


def _cast(column: str) -> str:
    if column in JSON_COLUMNS:
        return "::jsonb"
    return "::uuid" if column == "manager_id" else "::text"


def _placeholders(first: int, columns: tuple[str, ...]) -> str:
    return ", ".join(f"${first + i}{_cast(c)}" for i, c in enumerate(columns))


def _values(draft: UserDraft) -> list[object]:
    """The PROFILE_COLUMNS parameters of ``draft``; JSON columns as JSON text."""
    values: list[object] = []
    for column in PROFILE_COLUMNS:
        value = getattr(draft, column)
        values.append(json.dumps(value) if column in JSON_COLUMNS else value)
    return values


def _snapshot(row: asyncpg.Record) -> dict[str, Any]:
    """The writable state of a stored user, as UserDraft spells it, for before/after diffs."""
    state = {c: json.loads(row[c]) if c in JSON_COLUMNS else row[c] for c in PROFILE_COLUMNS}
    state["account_role_id"] = row["account_role_id"]
    state["status"] = row["status"]
    for column in UNASSIGNED_COLUMNS:
        state[column] = row[column]
    return state


_ALL_COLUMNS_RETURNED = ", ".join(COLUMNS)
_BACK_WITH_ROLE = (
    "SELECT changed.*, r.name AS account_role_name FROM changed"
    " JOIN directory.roles r ON r.account_id = changed.account_id"
    " AND r.id = changed.account_role_id"
)
_N_PROFILE = len(PROFILE_COLUMNS)

# $1 account, $2 requested role (NULL: the account's default, else Account Member), $3 status,
# then the profile, then the event. One statement: the create and its event, one round trip.
_CREATE = with_event(
    f"""
    INSERT INTO directory.users (account_id, account_role_id, status, {", ".join(PROFILE_COLUMNS)})
    SELECT $1, r.id, $3, {_placeholders(4, PROFILE_COLUMNS)}
    FROM directory.accounts ac
    JOIN directory.roles r ON r.account_id = ac.id AND r.scope = 'account' AND r.id = COALESCE(
        $2::uuid,
        ac.default_account_role_id,
        (SELECT m.id FROM directory.roles m WHERE m.account_id = ac.id AND m.scope = 'account'
            AND lower(m.name) = 'account member' AND m.built_in))
    WHERE ac.id = $1
    RETURNING {_ALL_COLUMNS_RETURNED}
    """,  # noqa: S608 - column names are constants
    first_param=4 + _N_PROFILE,
    target_type="user",
    details="jsonb_build_object('after', {param}"
    " || jsonb_build_object('account_role_id', account_role_id))",
    select=_BACK_WITH_ROLE,
)

# The account's default role: the one its settings name, else the built-in Account Member.
_DEFAULT_ROLE = """
SELECT COALESCE(ac.default_account_role_id,
    (SELECT m.id FROM directory.roles m WHERE m.account_id = ac.id AND m.scope = 'account'
        AND lower(m.name) = 'account member' AND m.built_in))
FROM directory.accounts ac WHERE ac.id = $1
"""

_WHERE_ID = "WHERE u.account_id = $1 AND u.id = $2"
_GET = f"{SELECT_USER} {_WHERE_ID}"
_GET_WITH_GROUPS = f"{_select_user(_GROUPS)} {_WHERE_ID}"
# An update's read, unlocked: the user, the scope of the role it is to have ($3, else its own;
# NULL when no role of the account has that id) and the account's default role, in one statement.
_NEXT_ROLE_SCOPE = (
    "(SELECT n.scope FROM directory.roles n WHERE n.account_id = u.account_id"
    " AND n.id = COALESCE($3::uuid, u.account_role_id)) AS next_role_scope"
)
_READ_FOR_UPDATE = (
    f"{_select_user(_NEXT_ROLE_SCOPE, f'({_DEFAULT_ROLE}) AS default_account_role_id')} {_WHERE_ID}"
)
_LOCK_FOR_DELETE = _GET + " FOR UPDATE OF u"
# A deletion locks what it will change before the user itself, in the order the other writers
# take them (report, group or membership first, then the user they reference), so concurrent
# writes wait instead of deadlocking.
_LOCK_DEPENDENTS = (
    "SELECT 1 FROM directory.users WHERE account_id = $1 AND manager_id = $2"
    " ORDER BY id FOR NO KEY UPDATE",
    "SELECT 1 FROM directory.groups WHERE account_id = $1 AND id IN ("
    " SELECT group_id FROM directory.group_members WHERE account_id = $1 AND user_id = $2)"
    " ORDER BY id FOR NO KEY UPDATE",
    "SELECT 1 FROM directory.space_memberships WHERE account_id = $1 AND user_id = $2 FOR UPDATE",
)

# $1 account, $2 user, $3 role, $4 status, $5 active_unassigned, $6 account_role_unassigned,
# $7 the version the update read, then the profile, then the event. No row when the user is no
# longer at that version.
_UPDATE = with_event(
    f"""
    UPDATE directory.users
    SET ({", ".join(PROFILE_COLUMNS)}) = ({_placeholders(8, PROFILE_COLUMNS)}),
        account_role_id = $3, status = $4, active_unassigned = $5, account_role_unassigned = $6,
        version = version + 1, update_time = now()
    WHERE account_id = $1 AND id = $2 AND version = $7
    RETURNING {_ALL_COLUMNS_RETURNED}
    """,  # noqa: S608
    first_param=8 + _N_PROFILE,
    target_type="user",
    select=_BACK_WITH_ROLE,
)

# Deleting a user changes other rows; each change gets its event, none happens silently.
_CLEAR_MANAGER = with_event(
    """
    UPDATE directory.users SET manager_id = NULL, manager_display_name = '',
        version = version + 1, update_time = now()
    WHERE account_id = $1 AND manager_id = $2
    RETURNING account_id, id
    """,
    first_param=3,
    target_type="user",
    select="SELECT count(*) FROM changed",
)
_LEAVE_GROUPS = with_event(
    """
    UPDATE directory.groups g
    SET member_count = g.member_count - 1, version = g.version + 1, update_time = now()
    FROM by_group
    WHERE g.account_id = $1 AND g.id = by_group.group_id
    RETURNING g.account_id, g.id, by_group.sources
    """,
    first_param=3,
    target_type="group",
    details="{param} || jsonb_build_object('removed', jsonb_build_array(jsonb_build_object("
    "'user_id', $2::text, 'sources', to_jsonb(sources))))",
    select="SELECT count(*) FROM changed",
    ctes="""
    removed AS (
        DELETE FROM directory.group_members WHERE account_id = $1 AND user_id = $2
        RETURNING group_id, source
    ),
    by_group AS (
        SELECT group_id, array_agg(source ORDER BY source) AS sources FROM removed
        GROUP BY group_id
    )""",
)
_LEAVE_SPACES = with_event(
    """
    DELETE FROM directory.space_memberships WHERE account_id = $1 AND user_id = $2
    RETURNING account_id, user_id, space_id, role_id, source
    """,
    first_param=3,
    target_type="membership",
    target_id="user_id::text",
    details="{param} || jsonb_build_object('space_id', space_id, 'role_id', role_id,"
    " 'source', source)",
    select="SELECT count(*) FROM changed",
)
_UNLINK_ALL = """
DELETE FROM directory.identity_links WHERE account_id = $1 AND user_id = $2
RETURNING connection_id, subject
"""
_DELETE = with_event(
    "DELETE FROM directory.users WHERE account_id = $1 AND id = $2 RETURNING account_id, id",
    first_param=3,
    target_type="user",
)

_LINK_COLUMNS = (
    "l.account_id, l.user_id, l.connection_id, l.subject, l.create_time, l.last_login_time"
)
_LINK = """
INSERT INTO directory.identity_links AS l
    (account_id, connection_id, subject, user_id, last_login_time)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (account_id, connection_id, subject) DO UPDATE
    SET last_login_time = COALESCE(EXCLUDED.last_login_time, l.last_login_time)
    WHERE l.user_id = EXCLUDED.user_id
RETURNING l.account_id, l.user_id, l.connection_id, l.subject, l.create_time, l.last_login_time,
    (xmax = 0) AS created
"""
# A first sign-in makes a provisioned (pending) user active.
_SIGNED_IN = """
UPDATE directory.users
SET last_login_time = $3, version = version + 1, update_time = now(),
    status = CASE WHEN status = 'pending' THEN 'active' ELSE status END
WHERE account_id = $1 AND id = $2
RETURNING status
"""
_UNLINK = with_event(
    """
    DELETE FROM directory.identity_links
    WHERE account_id = $1 AND connection_id = $2 AND subject = $3
    RETURNING account_id, user_id, connection_id, subject
    """,
    first_param=4,
    target_type="identity_link",
    target_id="user_id::text",
    details="{param} || jsonb_build_object('connection_id', connection_id, 'subject', subject)",
)
_FIND_BY_IDENTITY = f"""
{SELECT_USER}
JOIN directory.identity_links l ON l.account_id = u.account_id AND l.user_id = u.id
WHERE l.account_id = $1 AND l.connection_id = $2 AND l.subject = $3
"""


# Each miss of an update is another writer's committed update, so N writers of one user at once
# need at most N attempts; eight, the burst scim.conflicts sizes its retries for. Past them the
# caller may retry, as scim.conflicts answers too.
_UPDATE_ATTEMPTS: Final = 8

_USER_ERRORS: dict[str, ErrorFactory] = {
    "users_user_name_key": lambda: AlreadyExists(
        "a user with this user_name already exists in the account",
        field="user.user_name",
        reason="uniqueness",
    ),
    "users_manager_fkey": lambda: InvalidArgument(
        "the manager is not a user of this account", field="user.enterprise.manager_id"
    ),
    "users_account_role_fkey": lambda: InvalidArgument(
        "not a role of this account", field="user.account_role_id"
    ),
}


def _check_account_role(scope: str | None) -> None:
    """A user's role is a role of its account (``scope`` None: no such role) of account scope."""
    if scope is None:
        raise _USER_ERRORS["users_account_role_fkey"]()
    if scope != "account":
        raise InvalidArgument(
            "not an account-scope role of this account", field="user.account_role_id"
        )


def next_status(current: str, active: bool, has_signed_in: bool) -> str:
    """UpdateUser's status rule: active=false deactivates; active=true reactivates a deactivated
    user as active when it has signed in before, else as pending; otherwise no change."""
    if not active:
        return STATUS_DEACTIVATED
    if current == STATUS_DEACTIVATED:
        return STATUS_ACTIVE if has_signed_in else STATUS_PENDING
    return current


def _action(before: str, after: str) -> str:
    if before != after and after == STATUS_DEACTIVATED:
        return "user.deactivated"
    if before == STATUS_DEACTIVATED and after != STATUS_DEACTIVATED:
        return "user.reactivated"
    return "user.updated"


class UserStore:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    async def create(
        self, account_id: UUID, draft: UserDraft, status: str, actor: Actor
    ) -> asyncpg.Record:
        """Creates the user and its "user.created" event in one statement. The unique index on
        (account_id, lower(user_name)) makes exactly one of concurrent same-name creates win."""
        after = {c: getattr(draft, c) for c in PROFILE_COLUMNS} | {"status": status}
        args = [
            account_id,
            draft.account_role_id,
            status,
            *_values(draft),
            *event_args(actor, "user.created", after),
        ]
        with constraint_errors(_USER_ERRORS):
            row = await self.pool.fetchrow(_CREATE, *args)
        if row is None:
            await self._explain_missing_role(account_id)
        return row

    async def _explain_missing_role(self, account_id: UUID) -> NoReturn:
        """Why the create joined no role: no such account, or not an account role of it."""
        exists = await self.pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM directory.accounts WHERE id = $1)", account_id
        )
        if not exists:
            raise NotFound("account not found")
        raise InvalidArgument(
            "not an account-scope role of this account", field="user.account_role_id"
        )

    async def get(
        self, account_id: UUID, user_id: UUID, *, with_groups: bool = False
    ) -> asyncpg.Record:
        """The user; ``with_groups`` adds its groups (column ``groups``, JSON)."""
        row = await self.pool.fetchrow(
            _GET_WITH_GROUPS if with_groups else _GET, account_id, user_id
        )
        if row is None:
            raise NotFound("user not found")
        return row

    async def update(
        self,
        account_id: UUID,
        user_id: UUID,
        draft: UserDraft,
        active: bool,
        expected_version: int,
        actor: Actor,
        *,
        active_unassigned: bool = False,
        account_role_unassigned: bool = False,
    ) -> asyncpg.Record:
        """Replaces every writable attribute (PUT semantics) and applies the status rule of
        ``next_status``. An update that changes nothing writes nothing and keeps the version.

        ``active_unassigned`` holds only for a user left active and ``account_role_unassigned``
        only for one left with the account's default role: any other state or role is assigned,
        whoever writes it (a copy of an unassigned user changed elsewhere is never hidden)."""
        # Optimistic rather than locked: an unlocked read, then one statement (its own
        # transaction) writing the change and its event only if the user is still at the version
        # read. Two round trips instead of four (BEGIN, SELECT ... FOR NO KEY UPDATE, UPDATE,
        # COMMIT); the version predicate makes the row read the row replaced, so the event's
        # "before" values stay exact, and the UPDATE takes the row lock itself. No row written
        # means another writer committed in between: read again.
        async with self.pool.acquire() as conn:
            for _ in range(_UPDATE_ATTEMPTS):
                before = await conn.fetchrow(
                    _READ_FOR_UPDATE, account_id, user_id, draft.account_role_id
                )
                if before is None:
                    raise NotFound("user not found")
                check_version(before, expected_version, "user")
                role_id = draft.account_role_id or before["account_role_id"]
                status = next_status(
                    before["status"], active, before["last_login_time"] is not None
                )
                after = asdict(draft) | {
                    "account_role_id": role_id,
                    "status": status,
                    "active_unassigned": active_unassigned and status != STATUS_DEACTIVATED,
                    "account_role_unassigned": account_role_unassigned
                    and role_id == before["default_account_role_id"],
                }
                diff = changes(_snapshot(before), after)
                if not diff:
                    return before
                # Checked before the write: without a transaction nothing could undo it after.
                _check_account_role(before["next_role_scope"])
                args = [
                    account_id,
                    user_id,
                    role_id,
                    status,
                    after["active_unassigned"],
                    after["account_role_unassigned"],
                    before["version"],
                    *_values(draft),
                    *event_args(actor, _action(before["status"], status), diff),
                ]
                with constraint_errors(_USER_ERRORS):
                    row = await conn.fetchrow(_UPDATE, *args)
                if row is not None:
                    return row
        raise Unavailable(
            "the user is being changed by other requests at the same time; retry",
            reason="contention",
        )

    async def delete(
        self, account_id: UUID, user_id: UUID, expected_version: int, actor: Actor
    ) -> None:
        """Deletes the user. The references to it go first, each with its event: reports lose
        their manager, groups the member (their version bumps), spaces the membership; identity
        links go with it, named in "user.deleted". Earlier audit events stay: they have no
        foreign key to the user."""
        async with self.pool.acquire() as conn, conn.transaction():
            for query in _LOCK_DEPENDENTS:
                await conn.execute(query, account_id, user_id)
            before = await lock(
                conn, _LOCK_FOR_DELETE, "user", expected_version, account_id, user_id
            )
            because = {"reason": "user.deleted", "user_id": str(user_id)}
            cleared = {"manager_id": {"before": str(user_id), "after": None}} | because
            await conn.fetchval(
                _CLEAR_MANAGER, account_id, user_id, *event_args(actor, "user.updated", cleared)
            )
            await conn.fetchval(
                _LEAVE_GROUPS,
                account_id,
                user_id,
                *event_args(actor, "group.members_changed", because),
            )
            await conn.fetchval(
                _LEAVE_SPACES,
                account_id,
                user_id,
                *event_args(actor, "space_role.revoked", because),
            )
            links = await conn.fetch(_UNLINK_ALL, account_id, user_id)
            details = {
                "before": _snapshot(before),
                "identity_links": [
                    {"connection_id": link["connection_id"], "subject": link["subject"]}
                    for link in links
                ],
            }
            await conn.fetchval(
                _DELETE, account_id, user_id, *event_args(actor, "user.deleted", details)
            )

    async def list(
        self,
        account_id: UUID,
        filter_: pb.Filter | None,
        page: pb.PageRequest,
        *,
        with_groups: bool = False,
    ) -> paging.Page:
        """A page of users; ``with_groups`` adds each one's groups (column ``groups``, JSON),
        in the page's own statement."""
        return await fetch_page(
            self.pool,
            columns=f"{_USER_COLUMNS}, {_GROUPS}" if with_groups else _USER_COLUMNS,
            from_=_USERS_WITH_ROLE,
            count_from="directory.users u",
            conditions=["u.account_id = $1"],
            params=Params(account_id),
            catalogue=filters.USERS,
            filter_=filter_,
            page=page,
        )

    # -- identity links ------------------------------------------------------------------------

    async def link_identity(
        self,
        account_id: UUID,
        user_id: UUID,
        connection_id: str,
        subject: str,
        last_login_time: datetime | None,
        actor: Actor,
    ) -> asyncpg.Record:
        """Links (connection, subject) to the user, or finds the link already there. With
        ``last_login_time`` it also records a sign-in: the link's and the user's last login time,
        and a pending user becomes active. An identity linked to another user is ALREADY_EXISTS.
        """
        async with self.pool.acquire() as conn, conn.transaction():
            user = await lock(
                conn,
                "SELECT status, version FROM directory.users"
                " WHERE account_id = $1 AND id = $2 FOR NO KEY UPDATE",
                "user",
                0,
                account_id,
                user_id,
            )
            link = await conn.fetchrow(
                _LINK, account_id, connection_id, subject, user_id, last_login_time
            )
            if link is None:
                raise AlreadyExists(
                    "this identity is linked to another user",
                    field="link.subject",
                    reason="uniqueness",
                )
            if link["created"]:
                await record_event(
                    conn, account_id, actor, "identity_link.created", "identity_link", user_id,
                    {"connection_id": connection_id, "subject": subject},
                )  # fmt: skip
            if last_login_time is not None:
                status = await conn.fetchval(_SIGNED_IN, account_id, user_id, last_login_time)
                details: dict[str, Any] = {
                    "connection_id": connection_id,
                    "last_login_time": last_login_time,
                }
                if status != user["status"]:
                    details["status"] = {"before": user["status"], "after": status}
                await record_event(
                    conn, account_id, actor, "user.signed_in", "user", user_id, details
                )
            return link

    async def unlink_identity(
        self, account_id: UUID, connection_id: str, subject: str, actor: Actor
    ) -> None:
        args = event_args(actor, "identity_link.deleted", {})
        row = await self.pool.fetchrow(_UNLINK, account_id, connection_id, subject, *args)
        if row is None:
            raise NotFound("identity link not found")

    async def find_by_identity(
        self, account_id: UUID, connection_id: str, subject: str
    ) -> asyncpg.Record:
        row = await self.pool.fetchrow(_FIND_BY_IDENTITY, account_id, connection_id, subject)
        if row is None:
            raise NotFound("no user has this identity")
        return row

    async def list_identity_links(
        self, account_id: UUID, user_id: UUID | None, page: pb.PageRequest
    ) -> paging.Page:
        params = Params(account_id)
        conditions = ["l.account_id = $1"]
        if user_id is not None:
            conditions.append(f"l.user_id = {params.add(user_id, 'uuid')}")
        return await fetch_page(
            self.pool,
            columns=_LINK_COLUMNS,
            from_="directory.identity_links l",
            count_from="directory.identity_links l",
            conditions=conditions,
            params=params,
            catalogue=filters.IDENTITY_LINKS,
            filter_=None,
            page=page,
        )
