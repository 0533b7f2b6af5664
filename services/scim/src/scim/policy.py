"""Account provisioning rules applied to SCIM users: required attributes and the account role.

- An account may require a given name, a family name and an email-shaped ``userName`` (seed 003:
  "First Name, Last / Family Name, Email ... must be specified"; Torii: "userName must be a valid
  email address"). A user that misses any is 400 invalidValue naming everything missing at once.
- ``roles`` (or, when there is none, ``userType``) names the account role exactly (Torii: "It must
  be exactly as appear"); an unknown name is 400 naming the valid roles; no name gives the
  account's default role on creation and keeps the current role on update (Torii: "If userType is
  empty, the user will get the Employee role as the default"; an Okta profile push that carries
  no role must not demote an administrator).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

from idmesh.directory.v1 import directory_pb2 as pb
from scim.errors import invalid_value

Json = Any

# local@domain.tld: no spaces, one @, a dot in the domain. Deliberately loose (RFC 5321 allows far
# more), it catches IdP mappings that send a login name or an object id instead of an email.
_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


def missing_required(resource: dict[str, Json], settings: pb.AccountSettings) -> list[str]:
    """What the account's settings require and ``resource`` lacks, in SCIM terms."""
    missing: list[str] = []
    name = resource.get("name") or {}
    if settings.require_given_name and not name.get("givenName"):
        missing.append("name.givenName")
    if settings.require_family_name and not name.get("familyName"):
        missing.append("name.familyName")
    if settings.require_email_user_name and not _EMAIL.fullmatch(resource.get("userName") or ""):
        missing.append("userName as an email address")
    return missing


def check_required(
    resource: dict[str, Json],
    settings: pb.AccountSettings,
    before: dict[str, Json] | None = None,
) -> None:
    """400 invalidValue naming every attribute the account requires and ``resource`` lacks.

    On an update (``before`` is the current resource) only what the update itself takes away is
    refused: a user provisioned before a rule was switched on can still be deactivated."""
    missing = missing_required(resource, settings)
    if before is not None:
        already = set(missing_required(before, settings))
        missing = [m for m in missing if m not in already]
    if missing:
        raise invalid_value(
            "this account's provisioning settings require "
            + ", ".join(missing)
            + (", which is missing" if len(missing) == 1 else ", which are missing"),
            missing[0].split(" ")[0],
        )


def _named_role(resource: dict[str, Json]) -> str | None:
    roles = [r for r in resource.get("roles") or () if isinstance(r, dict) and r.get("value")]
    if not roles:
        return None
    primary = [r for r in roles if r.get("primary") is True]
    return str((primary or roles)[-1]["value"])


def requested_role(resource: dict[str, Json], before: dict[str, Json] | None = None) -> str | None:
    """The account role a SCIM user names, or None to keep the default (creation) or the
    current role (update).

    On creation: the primary ``roles`` value, else the last one, else ``userType``. On an update
    (``before`` is the current resource, whose ``roles`` is the current role): a ``roles`` value
    that differs from before, else a ``userType`` that differs from before; so a PUT or PATCH
    that leaves both alone, or only drops ``roles`` (Okta's PUT never sends it), keeps the role."""
    role = _named_role(resource)
    user_type = resource.get("userType") or None
    if before is None:
        return role if role is not None else (str(user_type) if user_type else None)
    if role is not None and role != _named_role(before):
        return role
    if user_type and user_type != before.get("userType"):
        return str(user_type)
    return None


def resolve_role(name: str, roles: Iterable[pb.Role]) -> pb.Role:
    """The account role called exactly ``name``; 400 invalidValue naming the valid roles."""
    account_roles = [r for r in roles if r.scope == pb.ROLE_SCOPE_ACCOUNT]
    for role in account_roles:
        if role.name == name:
            return role
    valid = ", ".join(sorted(r.name for r in account_roles)) or "none"
    raise invalid_value(f"unknown role '{name}'; valid roles: {valid}", "roles")


# The role a user gets when the account names no default (directory's built-in roles).
ACCOUNT_MEMBER = "Account Member"


def default_role(settings: pb.AccountSettings, roles: Iterable[pb.Role]) -> pb.Role:
    """The account's default role: the one its settings name, else Account Member."""
    account_roles = [r for r in roles if r.scope == pb.ROLE_SCOPE_ACCOUNT]
    for role in account_roles:
        if settings.default_account_role_id and role.id == settings.default_account_role_id:
            return role
    for role in account_roles:
        if role.name == ACCOUNT_MEMBER:
            return role
    raise invalid_value("this account has no default role", "roles")  # pragma: no cover
