"""The reads behind GetUserAccess and CheckAccess: a user's roles everywhere, in one query
each, never one query per space or group."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from directory.store.base import Pool
from directory.store.users import COLUMNS as USER_COLUMNS
from meshkit.errors import NotFound

_U_COLUMNS = ", ".join(f"u.{c}" for c in USER_COLUMNS)

# The user with its account role (role columns prefixed "role_"), joined to one row per role
# grant: direct memberships (group columns NULL), then one row per space role of each group the
# user is in, and one row with NULL space for a group that grants none, so that the user's
# groups come with the same query. A user with neither is one row with NULL grant columns. One
# statement, one round trip: the user's columns repeat on each row, which costs less than a
# second query.
_USER_ACCESS = f"""
SELECT {_U_COLUMNS}, r.name AS account_role_name,
    r.id AS role_id, r.name AS role_name, r.scope AS role_scope,
    r.permissions AS role_permissions, r.built_in AS role_built_in,
    r.description AS role_description, r.create_time AS role_create_time,
    r.update_time AS role_update_time, r.version AS role_version,
    grant_.grant_kind, grant_.space_id, grant_.space_name, grant_.grant_role_id,
    grant_.grant_role_name, grant_.permissions, grant_.source, grant_.group_id,
    grant_.group_name, grant_.group_idp_identifier, grant_.group_member_count,
    grant_.group_create_time, grant_.group_update_time, grant_.group_version
FROM directory.users u
JOIN directory.roles r ON r.account_id = u.account_id AND r.id = u.account_role_id
LEFT JOIN LATERAL (
    SELECT 'direct' AS grant_kind, m.space_id, s.name AS space_name, m.role_id AS grant_role_id,
        gr.name AS grant_role_name, gr.permissions, m.source, NULL::uuid AS group_id,
        NULL::text AS group_name, NULL::text AS group_idp_identifier,
        NULL::bigint AS group_member_count, NULL::timestamptz AS group_create_time,
        NULL::timestamptz AS group_update_time, NULL::bigint AS group_version
    FROM directory.space_memberships m
    JOIN directory.spaces s ON s.account_id = m.account_id AND s.id = m.space_id
    JOIN directory.roles gr ON gr.account_id = m.account_id AND gr.id = m.role_id
    WHERE m.account_id = u.account_id AND m.user_id = u.id
    UNION ALL
    SELECT 'group', x.space_id, s.name, x.role_id, gr.name, gr.permissions, 'group', g.id,
        g.display_name, g.idp_identifier, g.member_count, g.create_time, g.update_time,
        g.version
    FROM (SELECT DISTINCT gm.group_id FROM directory.group_members gm
          WHERE gm.account_id = u.account_id AND gm.user_id = u.id) mg
    JOIN directory.groups g ON g.account_id = u.account_id AND g.id = mg.group_id
    LEFT JOIN directory.group_space_roles x ON x.account_id = u.account_id AND x.group_id = g.id
    LEFT JOIN directory.spaces s ON s.account_id = u.account_id AND s.id = x.space_id
    LEFT JOIN directory.roles gr ON gr.account_id = u.account_id AND gr.id = x.role_id
) grant_ ON TRUE
WHERE u.account_id = $1 AND u.id = $2
ORDER BY lower(grant_.space_name), grant_.space_id, grant_.group_id NULLS FIRST,
    lower(grant_.grant_role_name)
"""  # noqa: S608

# The user's status and account role, the space ($3, may be NULL), and every role the user holds
# in it, directly or through a group: one row per grant, or one row with NULL grant columns.
_CHECK = """
SELECT u.status, r.name AS account_role_name, r.permissions AS account_permissions,
    s.id AS space_id, grant_.role_name, grant_.permissions, grant_.source, grant_.group_name
FROM directory.users u
JOIN directory.roles r ON r.account_id = u.account_id AND r.id = u.account_role_id
LEFT JOIN directory.spaces s ON s.account_id = u.account_id AND s.id = $3
LEFT JOIN LATERAL (
    SELECT gr.name AS role_name, gr.permissions, m.source, NULL::text AS group_name
    FROM directory.space_memberships m
    JOIN directory.roles gr ON gr.account_id = m.account_id AND gr.id = m.role_id
    WHERE m.account_id = u.account_id AND m.user_id = u.id AND m.space_id = s.id
    UNION ALL
    SELECT gr.name, gr.permissions, 'group', g.display_name
    FROM directory.group_space_roles x
    JOIN directory.groups g ON g.account_id = x.account_id AND g.id = x.group_id
    JOIN directory.roles gr ON gr.account_id = x.account_id AND gr.id = x.role_id
    WHERE x.account_id = u.account_id AND x.space_id = s.id
        AND EXISTS (SELECT 1 FROM directory.group_members gm
                    WHERE gm.account_id = x.account_id AND gm.group_id = x.group_id
                        AND gm.user_id = u.id)
) grant_ ON TRUE
WHERE u.account_id = $1 AND u.id = $2
"""


class AccessStore:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    async def user_access(self, account_id: UUID, user_id: UUID) -> list[asyncpg.Record]:
        """The rows of _USER_ACCESS: the user's columns on each, and one grant or group on each
        but a lone row with none (``grant_kind`` NULL)."""
        rows = await self.pool.fetch(_USER_ACCESS, account_id, user_id)
        if not rows:
            raise NotFound("user not found")
        return rows

    async def check_rows(
        self, account_id: UUID, user_id: UUID, space_id: UUID | None
    ) -> list[asyncpg.Record]:
        """The rows of _CHECK; NOT_FOUND for an unknown user, or an unknown space when given."""
        rows = await self.pool.fetch(_CHECK, account_id, user_id, space_id)
        if not rows:
            raise NotFound("user not found")
        if space_id is not None and rows[0]["space_id"] is None:
            raise NotFound("space not found")
        return rows
