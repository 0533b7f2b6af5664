"""Effective access: how direct space memberships and the space roles of a user's groups add up.

A user may do something in a space when any role it holds there grants the permission, whether
the role comes from a direct membership (sso, scim, manual) or from a group; a deactivated user
may do nothing. Account-level permissions come from the account role alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol
from uuid import UUID

import asyncpg

from directory import convert, models
from idmesh.directory.v1 import directory_pb2 as pb


class Row(Protocol):
    """An asyncpg record, or a dict in unit tests."""

    def __getitem__(self, key: str, /) -> Any: ...


def user_access(rows: Sequence[asyncpg.Record]) -> pb.GetUserAccessResponse:
    """GetUserAccess from the store's rows: each carries the user and its "role_"-prefixed
    account role, and one grant (ordered by space; group columns set for grants through a
    group, space columns NULL for a group that grants no space role), but a lone row with no
    grant (``grant_kind`` NULL)."""
    user = rows[0]
    grants = [row for row in rows if row["grant_kind"] is not None]
    spaces: dict[UUID, pb.SpaceAccess] = {}
    permissions: dict[UUID, set[str]] = {}
    groups: dict[UUID, pb.Group] = {}
    for row in grants:
        group_id = row["group_id"]
        if group_id is not None and group_id not in groups:
            groups[group_id] = pb.Group(
                id=str(group_id),
                account_id=str(user["account_id"]),
                display_name=row["group_name"],
                idp_identifier=row["group_idp_identifier"],
                member_count=row["group_member_count"],
                create_time=convert.timestamp(row["group_create_time"]),
                update_time=convert.timestamp(row["group_update_time"]),
                version=row["group_version"],
            )
        space_id = row["space_id"]
        if space_id is None:
            continue
        if group_id is not None:
            groups[group_id].space_roles.append(
                pb.GroupSpaceRole(
                    space_id=str(space_id),
                    space_name=row["space_name"],
                    role_id=str(row["grant_role_id"]),
                    role_name=row["grant_role_name"],
                )
            )
        if space_id not in spaces:
            spaces[space_id] = pb.SpaceAccess(space_id=str(space_id), space_name=row["space_name"])
            permissions[space_id] = set()
        spaces[space_id].roles.append(
            pb.RoleGrant(
                role_id=str(row["grant_role_id"]),
                role_name=row["grant_role_name"],
                source=convert.source_value(row["source"]),
                group_id=str(group_id) if group_id is not None else "",
                group_name=row["group_name"] or "",
            )
        )
        permissions[space_id].update(row["permissions"])
    for space_id, access in spaces.items():
        access.permissions.extend(sorted(permissions[space_id]))
    return pb.GetUserAccessResponse(
        user=convert.user(user),
        account_role=convert.role(user, prefix="role_"),
        spaces=list(spaces.values()),
        groups=sorted(groups.values(), key=lambda g: (g.display_name.lower(), g.id)),
    )


def decide(rows: Sequence[Row], permission: str, in_space: bool) -> tuple[bool, str]:
    """CheckAccess from the store's rows (user status and account role on every row, then one
    row per role the user holds in the space, role columns NULL when none): allowed, and why."""
    first = rows[0]
    if first["status"] == models.STATUS_DEACTIVATED:
        return False, "user is deactivated"
    if not in_space:
        role_name = first["account_role_name"]
        if permission in first["account_permissions"]:
            return True, f"granted by account role {role_name}"
        return False, f"account role {role_name} does not grant {permission}"
    grants = [row for row in rows if row["role_name"] is not None]
    if not grants:
        return False, "no role in the space"
    # Direct grants first: they are what an admin looks at and changes first.
    for row in sorted(grants, key=lambda r: (r["group_name"] is not None, r["role_name"])):
        if permission in row["permissions"]:
            if row["group_name"] is not None:
                return (
                    True,
                    f"granted by space role {row['role_name']} via group {row['group_name']}",
                )
            return True, f"granted by space role {row['role_name']} ({row['source']})"
    held = ", ".join(sorted({row["role_name"] for row in grants}))
    return False, f"space roles {held} do not grant {permission}"
