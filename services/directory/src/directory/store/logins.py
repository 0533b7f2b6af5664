"""Sign-in provisioning: from a validated identity to a signed-in user, in ONE transaction.

The path every SSO protocol takes (OIDC now, SAML later):

1. The identity link (connection, subject) finds the user. Without one, a user whose userName
   is the email is linked (a pending SCIM user becomes the same user, now active), or a user is
   created when the policy allows, but only by an email the IdP vouches for AND whose domain is
   a verified domain of the account that this connection serves: a second connection (another
   IdP) asserting a verified email of someone else's domain takes over nobody (nOAuth).
2. A deactivated user is refused; nothing is written.
3. At the user's first login, or at every login when the connection says so: the profile
   (names, email, an IANA timezone) and the sso space roles (the six rules, login_rules.py).
4. At every login, unless told not to (Entra groups overage): the user's sso group memberships
   become exactly the groups whose IdP identifier the claim lists. Memberships from SCIM or
   added by hand are left alone.
5. The sign-in itself: last login times, pending → active, "user.signed_in".

Every change writes its audit event in the same transaction (actor SSO_LOGIN, the connection).

A dry run (a setup wizard's test sign-in) runs the very same transaction and rolls it back: its
result says what the login would have done, and nothing of it stays.

Locks: the user row first (FOR NO KEY UPDATE, so concurrent logins of one user serialise), then
the groups whose members change, in id order, as every group writer takes them. A deletion of
the same user takes them in the other order; PostgreSQL breaks that rare deadlock and the
transaction is retried, as it is after losing a race to create the same user or link.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from uuid import UUID

import asyncpg

from directory import login_rules
from directory.login_rules import Named, SpaceAssignment, valid_timezone
from directory.models import (
    SOURCE_SSO,
    STATUS_ACTIVE,
    STATUS_DEACTIVATED,
    STATUS_PENDING,
    Actor,
)
from directory.store.base import Connection, Pool, record_event
from directory.store.domains import is_verified
from directory.store.users import COLUMNS as USER_COLUMNS
from directory.store.users import SELECT_USER
from meshkit.errors import NotFound, PermissionDenied

POLICY_CREATE: Final = "create_users"
POLICY_LINK: Final = "link_existing_users"
POLICY_DENY: Final = "deny_unknown_users"
_ATTEMPTS: Final = 3

_BY_LINK: Final = f"""
{SELECT_USER}
JOIN directory.identity_links l ON l.account_id = u.account_id AND l.user_id = u.id
WHERE l.account_id = $1 AND l.connection_id = $2 AND l.subject = $3
FOR NO KEY UPDATE OF u
"""
_BY_USER_NAME: Final = (
    f"{SELECT_USER} WHERE u.account_id = $1 AND lower(u.user_name) = lower($2)"
    " FOR NO KEY UPDATE OF u"
)
_BY_ID: Final = f"{SELECT_USER} WHERE u.account_id = $1 AND u.id = $2"
_ACCOUNT_EXISTS: Final = "SELECT EXISTS (SELECT 1 FROM directory.accounts WHERE id = $1)"

# The account's default account role, else the built-in Account Member (as CreateUser does).
_CREATE_USER: Final = """
INSERT INTO directory.users (account_id, account_role_id, status, user_name, name_given_name,
    name_family_name, display_name, emails, timezone)
SELECT $1, r.id, 'pending', $2, $3, $4, $5, $6::jsonb, $7
FROM directory.accounts ac
JOIN directory.roles r ON r.account_id = ac.id AND r.scope = 'account' AND r.id = COALESCE(
    ac.default_account_role_id,
    (SELECT m.id FROM directory.roles m WHERE m.account_id = ac.id AND m.scope = 'account'
        AND lower(m.name) = 'account member' AND m.built_in))
WHERE ac.id = $1
RETURNING id, account_role_id
"""
_UPDATE_PROFILE: Final = """
UPDATE directory.users
SET name_given_name = $3, name_family_name = $4, display_name = $5, emails = $6::jsonb,
    timezone = $7, version = version + 1, update_time = now()
WHERE account_id = $1 AND id = $2
"""
_LINK: Final = """
INSERT INTO directory.identity_links AS l
    (account_id, connection_id, subject, user_id, last_login_time)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (account_id, connection_id, subject) DO UPDATE
    SET last_login_time = EXCLUDED.last_login_time
    WHERE l.user_id = EXCLUDED.user_id
RETURNING (xmax = 0) AS created
"""
# The sign-in itself, in one round trip: the link's and the user's last login time, pending →
# active, the "user.signed_in" event, and the user read back with its account role's name.
# $1 account, $2 user, $3 status before, $4 login time, $5 connection, $6 subject, $7-$9 actor.
_SIGNED_IN: Final = f"""
WITH link AS (
    UPDATE directory.identity_links SET last_login_time = $4
    WHERE account_id = $1 AND connection_id = $5 AND subject = $6 AND user_id = $2
),
signed AS (
    UPDATE directory.users
    SET last_login_time = $4, version = version + 1, update_time = now(),
        status = CASE WHEN status = 'pending' THEN 'active' ELSE status END
    WHERE account_id = $1 AND id = $2
    RETURNING {", ".join(USER_COLUMNS)}
),
event AS (
    INSERT INTO directory.audit_events (account_id, actor_type, actor_id, actor_display_name,
        action, target_type, target_id, details)
    SELECT account_id, $7::text, $8::text, $9::text, 'user.signed_in', 'user', id::text,
        jsonb_build_object('connection_id', $5::text, 'last_login_time', $4::timestamptz)
        || CASE WHEN status <> $3::text
           THEN jsonb_build_object('status', jsonb_build_object('before', $3::text,
                'after', status))
           ELSE '{{}}'::jsonb END
    FROM signed
)
SELECT signed.*, r.name AS account_role_name
FROM signed JOIN directory.roles r ON r.account_id = signed.account_id
    AND r.id = signed.account_role_id
"""  # noqa: S608 - constants

_SPACES_NAMED: Final = """
SELECT id, name FROM directory.spaces WHERE account_id = $1 AND lower(name) = ANY($2::text[])
"""
_SPACE_ROLES_NAMED: Final = """
SELECT id, name, built_in FROM directory.roles
WHERE account_id = $1 AND scope = 'space'
    AND (lower(name) = ANY($2::text[]) OR (built_in AND lower(name) = 'space member'))
"""
_SSO_MEMBERSHIPS: Final = """
SELECT space_id, role_id FROM directory.space_memberships
WHERE account_id = $1 AND user_id = $2 AND source = 'sso'
FOR UPDATE
"""
_REVOKE_SPACES: Final = """
DELETE FROM directory.space_memberships
WHERE account_id = $1 AND user_id = $2 AND source = 'sso' AND space_id = ANY($3::uuid[])
RETURNING space_id, role_id
"""
_GRANT_SPACE: Final = """
INSERT INTO directory.space_memberships (account_id, user_id, space_id, source, role_id)
VALUES ($1, $2, $3, 'sso', $4)
ON CONFLICT (account_id, user_id, space_id, source) DO UPDATE
    SET role_id = EXCLUDED.role_id, update_time = now()
"""

# Every group the claim names or the user is an sso member of, in one read: $3 the claim.
_GROUPS_TO_SYNC: Final = """
SELECT g.id, g.idp_identifier,
    g.idp_identifier <> '' AND g.idp_identifier = ANY($3::text[]) AS wanted,
    EXISTS (SELECT 1 FROM directory.group_members m WHERE m.account_id = g.account_id
            AND m.group_id = g.id AND m.user_id = $2 AND m.source = 'sso') AS member
FROM directory.groups g
WHERE g.account_id = $1 AND (g.idp_identifier = ANY($3::text[]) OR g.id IN (
    SELECT group_id FROM directory.group_members
    WHERE account_id = $1 AND user_id = $2 AND source = 'sso'))
"""
_LOCK_GROUPS: Final = """
SELECT id FROM directory.groups WHERE account_id = $1 AND id = ANY($2::uuid[])
ORDER BY id FOR NO KEY UPDATE
"""
_JOIN_GROUPS: Final = """
INSERT INTO directory.group_members (account_id, group_id, user_id, source)
SELECT $1, group_id, $2, 'sso' FROM unnest($3::uuid[]) AS x(group_id)
ON CONFLICT DO NOTHING
"""
_LEAVE_GROUPS: Final = """
DELETE FROM directory.group_members
WHERE account_id = $1 AND user_id = $2 AND source = 'sso' AND group_id = ANY($3::uuid[])
"""
_RECOUNT_GROUPS: Final = """
UPDATE directory.groups g
SET member_count = (SELECT count(DISTINCT m.user_id) FROM directory.group_members m
                    WHERE m.account_id = g.account_id AND m.group_id = g.id),
    version = version + 1, update_time = now()
WHERE account_id = $1 AND id = ANY($2::uuid[])
"""


@dataclass(frozen=True)
class LoginClaims:
    """What a validated sign-in says about the user (ProvisionLoginRequest, validated)."""

    account_id: UUID
    connection_id: str
    subject: str
    email: str
    email_trusted: bool
    # The email domains the connection serves (lower case); only the verified ones count.
    served_domains: frozenset[str]
    given_name: str
    family_name: str
    display_name: str
    timezone: str
    spaces_present: bool
    space_names: tuple[str, ...]
    space_roles: tuple[str, ...]
    default_space_name: str
    default_space_role: str
    sync_groups: bool
    groups: tuple[str, ...]
    policy: str
    update_every_login: bool
    login_time: datetime


@dataclass
class LoginResult:
    # The user after the sign-in (set once the transaction has done its work).
    user: asyncpg.Record | None = None
    created: bool = False
    linked: bool = False
    activated: bool = False
    first_login: bool = False
    profile_applied: bool = False
    spaces: tuple[login_rules.SpaceGrant, ...] = ()
    ignored_spaces: tuple[str, ...] = ()
    unknown_roles: tuple[str, ...] = ()
    timezone_ignored: bool = False
    groups_synced: bool = False
    groups_added: list[str] = field(default_factory=list)
    groups_removed: list[str] = field(default_factory=list)
    groups_unmatched: list[str] = field(default_factory=list)


class _Retry(Exception):
    """A concurrent login or deletion changed what this one read: run it again."""


class _RollBack(Exception):
    """Ends a dry run's transaction with a rollback, carrying what it would have done."""

    def __init__(self, result: LoginResult) -> None:
        super().__init__("dry run")
        self.result = result


def _denied(reason: str, message: str) -> PermissionDenied:
    return PermissionDenied(message, reason=reason)


def _emails(current: list[dict[str, Any]], email: str) -> list[dict[str, Any]]:
    """The user's emails with ``email`` present and primary (work) when it was missing."""
    if any(str(e.get("value", "")).lower() == email.lower() for e in current):
        return current
    others = [{**e, "primary": False} for e in current]
    return [{"value": email, "type": "work", "primary": True, "display": ""}, *others]


async def _email_served(conn: Connection, c: LoginClaims) -> bool:
    """Whether the email's domain is one the connection serves AND the account has verified."""
    _, at, domain = c.email.rpartition("@")
    domain = domain.lower().strip(".")
    return bool(at) and domain in c.served_domains and await is_verified(conn, c.account_id, domain)


class LoginStore:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    async def provision(
        self, claims: LoginClaims, actor: Actor, *, dry_run: bool = False
    ) -> LoginResult:
        """Runs the whole sign-in in one transaction (retried after losing a race); with
        ``dry_run`` the transaction is rolled back once it has done all its work."""
        for attempt in range(_ATTEMPTS):
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    result = await self._provision(conn, claims, actor)
                    if dry_run:
                        raise _RollBack(result)
                    return result
            except _RollBack as rolled_back:
                return rolled_back.result
            except (_Retry, asyncpg.DeadlockDetectedError, asyncpg.UniqueViolationError):
                if attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    async def _provision(self, conn: Connection, c: LoginClaims, actor: Actor) -> LoginResult:
        result = LoginResult()
        # Whether the email's domain is served is asked only by what needs it (linking by email,
        # applying the profile): a repeat login of a linked user spares the query.
        served: bool | None = None
        user = await conn.fetchrow(_BY_LINK, c.account_id, c.connection_id, c.subject)
        if user is None:
            served = await _email_served(conn, c)
            user = await self._find_or_create(conn, c, actor, result, served)
            link = await conn.fetchval(
                _LINK, c.account_id, c.connection_id, c.subject, user["id"], c.login_time
            )
            if link is None:
                raise _Retry()  # linked to another user by a concurrent login
            result.linked = True
            await record_event(
                conn, c.account_id, actor, "identity_link.created", "identity_link", user["id"],
                {"connection_id": c.connection_id, "subject": c.subject},
            )  # fmt: skip
        if user["status"] == STATUS_DEACTIVATED:
            raise _denied("user_deactivated", "the user is deactivated")
        user_id: UUID = user["id"]
        result.first_login = user["last_login_time"] is None
        result.profile_applied = result.first_login or result.created or c.update_every_login
        if result.profile_applied:
            if served is None:
                served = await _email_served(conn, c)
            await self._apply_profile(conn, c, actor, user, result, served and c.email_trusted)
            await self._apply_spaces(conn, c, actor, user_id, result)
        if c.sync_groups:
            await self._sync_groups(conn, c, actor, user_id, result)
        signed = await conn.fetchrow(
            _SIGNED_IN, c.account_id, user_id, user["status"], c.login_time, c.connection_id,
            c.subject, actor.type, actor.id, actor.display_name,
        )  # fmt: skip
        assert signed is not None  # the user row is locked
        result.activated = user["status"] == STATUS_PENDING and signed["status"] == STATUS_ACTIVE
        result.user = signed
        return result

    async def _find_or_create(
        self, conn: Connection, c: LoginClaims, actor: Actor, result: LoginResult, served: bool
    ) -> asyncpg.Record:
        """The user an unlinked identity becomes: the one whose userName is the trusted email,
        or a new one (policy permitting). Denials name their reason."""
        if c.policy == POLICY_DENY:
            raise _denied("user_not_provisioned", "only identities already linked may sign in")
        # nOAuth: only an email inside a verified domain this connection serves, and one the
        # IdP vouches for, may take over a user or claim a userName.
        if not served:
            raise _denied(
                "email_domain_not_served",
                "the email's domain is not a verified domain this connection serves",
            )
        if not c.email_trusted:
            raise _denied("email_not_verified", "the IdP does not vouch for this email")
        existing = await conn.fetchrow(_BY_USER_NAME, c.account_id, c.email)
        if existing is not None:
            return existing
        if c.policy != POLICY_CREATE:
            raise _denied("user_not_provisioned", "no user of the account has this email")
        timezone = c.timezone if valid_timezone(c.timezone) else ""
        emails = _emails([], c.email)
        row = await conn.fetchrow(
            _CREATE_USER, c.account_id, c.email, c.given_name, c.family_name, c.display_name,
            json.dumps(emails), timezone,
        )  # fmt: skip
        if row is None:
            if not await conn.fetchval(_ACCOUNT_EXISTS, c.account_id):
                raise NotFound("account not found")
            raise AssertionError("every account has the built-in Account Member role")
        after = {
            "user_name": c.email, "name_given_name": c.given_name,
            "name_family_name": c.family_name, "display_name": c.display_name,
            "emails": emails, "timezone": timezone, "status": STATUS_PENDING,
            "account_role_id": row["account_role_id"],
        }  # fmt: skip
        await record_event(
            conn, c.account_id, actor, "user.created", "user", row["id"], {"after": after}
        )
        result.created = True
        created = await conn.fetchrow(_BY_ID, c.account_id, row["id"])
        assert created is not None
        return created

    async def _apply_profile(
        self, conn: Connection, c: LoginClaims, actor: Actor, user: asyncpg.Record,
        result: LoginResult, email_usable: bool,
    ) -> None:  # fmt: skip
        """Names, email and timezone from the IdP; an attribute it leaves empty keeps its value,
        an invalid timezone is ignored (and said so), and the email is added only when it could
        have linked the user (``email_usable``)."""
        timezone = user["timezone"]
        if c.timezone:
            if valid_timezone(c.timezone):
                timezone = c.timezone
            else:
                result.timezone_ignored = True
        before = {
            "name_given_name": user["name_given_name"],
            "name_family_name": user["name_family_name"],
            "display_name": user["display_name"],
            "emails": json.loads(user["emails"]),
            "timezone": user["timezone"],
        }
        after = {
            "name_given_name": c.given_name or before["name_given_name"],
            "name_family_name": c.family_name or before["name_family_name"],
            "display_name": c.display_name or before["display_name"],
            "emails": _emails(before["emails"], c.email) if email_usable else before["emails"],
            "timezone": timezone,
        }
        diff = {k: {"before": before[k], "after": v} for k, v in after.items() if before[k] != v}
        if not diff:
            return
        await conn.execute(
            _UPDATE_PROFILE, c.account_id, user["id"], after["name_given_name"],
            after["name_family_name"], after["display_name"], json.dumps(after["emails"]),
            after["timezone"],
        )  # fmt: skip
        await record_event(conn, c.account_id, actor, "user.updated", "user", user["id"], diff)

    async def _apply_spaces(
        self, conn: Connection, c: LoginClaims, actor: Actor, user_id: UUID, result: LoginResult
    ) -> None:
        """The user's sso space roles become exactly what the six rules give."""
        sent = any(name.strip() for name in c.space_names)
        names = list(c.space_names) if sent else [c.default_space_name]
        role_names = list(c.space_roles) if sent else [c.default_space_role]
        spaces = {
            r["name"].lower(): Named(r["id"], r["name"])
            for r in await conn.fetch(
                _SPACES_NAMED, c.account_id, [n.strip().lower() for n in names if n.strip()]
            )
        }
        rows = await conn.fetch(
            _SPACE_ROLES_NAMED, c.account_id, [n.strip().lower() for n in role_names if n.strip()]
        )
        roles = {r["name"].lower(): Named(r["id"], r["name"]) for r in rows}
        member = next(
            Named(r["id"], r["name"])
            for r in rows
            if r["built_in"] and r["name"].lower() == login_rules.SPACE_MEMBER.lower()
        )
        assignment: SpaceAssignment
        if sent:
            assignment = login_rules.assign_spaces(names, role_names, spaces, roles, member)
        else:
            assignment = login_rules.default_assignment(
                c.default_space_name, c.default_space_role, spaces, roles, member
            )
        result.spaces = assignment.grants
        result.ignored_spaces = assignment.ignored_spaces
        result.unknown_roles = assignment.unknown_roles
        current = {
            r["space_id"]: r["role_id"]
            for r in await conn.fetch(_SSO_MEMBERSHIPS, c.account_id, user_id)
        }
        wanted = {grant.space.id: grant.role.id for grant in assignment.grants}
        stale = [space_id for space_id in current if space_id not in wanted]
        if stale:
            for row in await conn.fetch(_REVOKE_SPACES, c.account_id, user_id, stale):
                await record_event(
                    conn, c.account_id, actor, "space_role.revoked", "membership", user_id,
                    {"space_id": row["space_id"], "role_id": row["role_id"], "source": SOURCE_SSO},
                )  # fmt: skip
        for space_id, role_id in wanted.items():
            if current.get(space_id) == role_id:
                continue
            await conn.execute(_GRANT_SPACE, c.account_id, user_id, space_id, role_id)
            await record_event(
                conn, c.account_id, actor, "space_role.granted", "membership", user_id,
                {"space_id": space_id, "role_id": role_id, "source": SOURCE_SSO,
                 "previous_role_id": current.get(space_id)},
            )  # fmt: skip

    async def _sync_groups(
        self, conn: Connection, c: LoginClaims, actor: Actor, user_id: UUID, result: LoginResult
    ) -> None:
        """Set semantics on the user's sso memberships: join the listed groups, leave the
        others; memberships of other sources are not touched."""
        rows = await conn.fetch(_GROUPS_TO_SYNC, c.account_id, user_id, list(c.groups))
        targets = {r["id"]: r["idp_identifier"] for r in rows if r["wanted"]}
        current = {r["id"]: r["idp_identifier"] for r in rows if r["member"]}
        join = sorted(set(targets) - set(current))
        leave = sorted(set(current) - set(targets))
        result.groups_synced = True
        matched = set(targets.values())
        result.groups_unmatched = [g for g in c.groups if g not in matched]
        if not join and not leave:
            return
        await conn.execute(_LOCK_GROUPS, c.account_id, sorted(join + leave))
        if join:
            await conn.execute(_JOIN_GROUPS, c.account_id, user_id, join)
        if leave:
            await conn.execute(_LEAVE_GROUPS, c.account_id, user_id, leave)
        await conn.execute(_RECOUNT_GROUPS, c.account_id, join + leave)
        for group_id in join + leave:
            joined = group_id in targets
            details = {
                "added": [str(user_id)] if joined else [],
                "removed": [] if joined else [str(user_id)],
                "added_source": SOURCE_SSO,
                "removed_source": SOURCE_SSO,
            }
            await record_event(
                conn, c.account_id, actor, "group.members_changed", "group", group_id, details
            )
        result.groups_added = sorted(targets[g] for g in join)
        result.groups_removed = sorted(current[g] for g in leave)
