"""Spaces and roles from a sign-in's ``space_name`` / ``space_role`` attributes: the six rules
of the Torque SSO guide (docs/architecture.md, "Space and role assignment from IdP attributes"),
exactly. Pure: the caller passes the account's spaces and space roles.

The IdP sends two comma-separated lists paired by position:

1. Several spaces and a single role: that role applies to every listed space.
2. Several roles for the same space (the space listed more than once): the first valid one wins.
3. An unknown role name: the space gets Space Member.
4. More spaces than roles: the extra spaces get Space Member.
5. More roles than spaces: the extra roles are ignored.
6. An unknown space name: that space and its role are ignored (the positions after it keep
   their pairing).

Names match case-insensitively (space and role names are unique per account whatever the case).
An empty role item counts as no role (Space Member); an empty space item as an unknown space.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Final
from uuid import UUID

SPACE_MEMBER: Final = "Space Member"


@dataclass(frozen=True)
class Named:
    """A space or a role of the account: its id and its stored name."""

    id: UUID
    name: str


@dataclass(frozen=True)
class SpaceGrant:
    space: Named
    role: Named


@dataclass(frozen=True)
class SpaceAssignment:
    # In the order the spaces were first listed.
    grants: tuple[SpaceGrant, ...]
    # Names as sent, for the login trace: unknown spaces (rule 6), unknown roles (rule 3).
    ignored_spaces: tuple[str, ...]
    unknown_roles: tuple[str, ...]


def assign_spaces(
    space_names: Sequence[str],
    role_names: Sequence[str],
    spaces: Mapping[str, Named],
    roles: Mapping[str, Named],
    space_member: Named,
) -> SpaceAssignment:
    """The space roles the six rules give. ``spaces`` and ``roles`` map lower-cased names to
    the account's spaces and space roles; ``space_member`` is the Space Member role."""
    single_role = len(role_names) == 1

    def role_at(position: int) -> str | None:
        if single_role:
            return role_names[0]  # rule 1
        if position < len(role_names):  # rule 5: roles past the last space are never read
            return role_names[position]
        return None  # rule 4

    # space id -> the roles named for it, in order (rule 2 picks among them).
    candidates: dict[UUID, list[str | None]] = {}
    listed: dict[UUID, Named] = {}
    ignored: list[str] = []
    for position, name in enumerate(space_names):
        space = spaces.get(name.strip().lower())
        if space is None:
            if name.strip():
                ignored.append(name.strip())  # rule 6: the space and its role
            continue
        listed.setdefault(space.id, space)
        candidates.setdefault(space.id, []).append(role_at(position))

    grants = []
    unknown: dict[str, None] = {}
    for space_id, space in listed.items():
        chosen: Named | None = None
        for role_name in candidates[space_id]:
            if role_name is None or not role_name.strip():
                continue
            role = roles.get(role_name.strip().lower())
            if role is None:
                unknown[role_name.strip()] = None
                continue
            chosen = role  # rule 2: the first valid one
            break
        grants.append(SpaceGrant(space, chosen or space_member))  # rules 3 and 4
    return SpaceAssignment(tuple(grants), tuple(dict.fromkeys(ignored)), tuple(unknown))


def default_assignment(
    space_name: str,
    role_name: str,
    spaces: Mapping[str, Named],
    roles: Mapping[str, Named],
    space_member: Named,
) -> SpaceAssignment:
    """The connection's default space and role for a user the IdP sends no space for; an
    unknown default role is Space Member (rule 3), an unknown default space nothing (rule 6)."""
    if not space_name.strip():
        return SpaceAssignment((), (), ())
    return assign_spaces(
        [space_name], [role_name] if role_name else [], spaces, roles, space_member
    )


@cache
def _time_zones() -> frozenset[str]:
    # Read once from the system or tzdata database: the first call scans the disk.
    return frozenset(zoneinfo.available_timezones())


def valid_timezone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone name (e.g. "Europe/Berlin"): the Torque guide's
    timezone attribute applies only then."""
    return bool(name) and name in _time_zones()
