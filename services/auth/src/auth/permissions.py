"""The permissions an API token or OAuth client can carry, defined once for the whole mesh.

A permission is ``<resource>:<verb>``; the gateway checks a caller's permissions against the one
each endpoint requires, so a name outside this set could never grant anything and is refused at
creation rather than stored as a silent no-op.

The set: every resource an admin reads and changes has ``:read`` and ``:manage`` (and
``:manage`` includes ``:read``: gateway.auth.has_permission); ``grants:manage`` grants and
revokes space roles without the right to create, rename or delete spaces (what a governance
tool such as ConductorOne needs, seed 004), reading grants is ``spaces:read``; ``tokens:manage``
covers API tokens and OAuth clients alike (both are credentials of the account); ``audit:read``
covers the audit log, login traces and the SCIM provisioning log; ``events:read`` the change
feed, ``webhooks:manage`` the endpoints it is delivered to.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from meshkit.errors import InvalidArgument

USERS_READ: Final = "users:read"
USERS_MANAGE: Final = "users:manage"
GROUPS_READ: Final = "groups:read"
GROUPS_MANAGE: Final = "groups:manage"
SPACES_READ: Final = "spaces:read"
SPACES_MANAGE: Final = "spaces:manage"
ROLES_READ: Final = "roles:read"
ROLES_MANAGE: Final = "roles:manage"
GRANTS_MANAGE: Final = "grants:manage"
CONNECTIONS_READ: Final = "connections:read"
CONNECTIONS_MANAGE: Final = "connections:manage"
TOKENS_MANAGE: Final = "tokens:manage"
AUDIT_READ: Final = "audit:read"
EVENTS_READ: Final = "events:read"
WEBHOOKS_READ: Final = "webhooks:read"
WEBHOOKS_MANAGE: Final = "webhooks:manage"

KNOWN_PERMISSIONS: Final[frozenset[str]] = frozenset(
    {
        USERS_READ,
        USERS_MANAGE,
        GROUPS_READ,
        GROUPS_MANAGE,
        SPACES_READ,
        SPACES_MANAGE,
        ROLES_READ,
        ROLES_MANAGE,
        GRANTS_MANAGE,
        CONNECTIONS_READ,
        CONNECTIONS_MANAGE,
        TOKENS_MANAGE,
        AUDIT_READ,
        EVENTS_READ,
        WEBHOOKS_READ,
        WEBHOOKS_MANAGE,
    }
)
_FIELD = "permissions"
# Long enough for any real name; bounds what an error message echoes back.
_MAX_ECHO = 64


def validate_permissions(names: Iterable[str]) -> tuple[str, ...]:
    """The distinct permission names of ``names``, sorted (the stored, canonical form).

    Raises InvalidArgument(field="permissions") when ``names`` is empty (a token that may do
    nothing is a mistake, not a feature) or contains a name outside KNOWN_PERMISSIONS."""
    distinct = set(names)
    if not distinct:
        raise InvalidArgument("at least one permission is required", field=_FIELD)
    unknown = sorted(distinct - KNOWN_PERMISSIONS)
    if unknown:
        shown = ", ".join(repr(name[:_MAX_ECHO]) for name in unknown[:5])
        raise InvalidArgument(
            f"unknown permission {shown}; known: {', '.join(sorted(KNOWN_PERMISSIONS))}",
            field=_FIELD,
            reason="unknown_permission",
        )
    return tuple(sorted(distinct))
