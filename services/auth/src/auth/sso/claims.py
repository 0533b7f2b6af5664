"""From verified ID token claims to what directory provisions, and to what a login trace may
keep. Pure functions.

- The identity key is never the email (nOAuth): ``iss|sub``, or ``tid|oid`` for Entra.
- The email may link or create a user only when it is trusted: ``email_verified`` is true, or
  the connection's own domains cover it (sso-security.md, "Never key accounts on email").
- ``space_name`` and ``space_role`` are comma-separated lists paired by position (the Torque
  guide); positions are kept, empty items included, because the six rules pair by position.
- Entra's groups overage (``_claim_names`` naming groups, or ``hasgroups``) is detected and
  reported: the user's groups are then left as they are, never read as "no groups".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from auth.sso import presets
from auth.sso.models import VENDOR_AZURE_AD, Connection

MAX_TEXT: Final = 256
MAX_GROUPS: Final = 2000
MAX_LIST_ITEMS: Final = 200
REDACTED: Final = "[redacted]"
# Claims that are secrets or single-use values: kept out of login traces by name...
_SECRET_CLAIMS: Final = frozenset({"nonce", "at_hash", "c_hash", "s_hash", "_claim_sources"})
# ... or by what their name says they carry.
_SECRET_WORDS: Final = ("token", "secret", "password", "code", "assertion")


class ClaimError(ValueError):
    """The claims cannot identify a user; ``reason`` goes to the login trace."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class MappedLogin:
    subject: str
    email: str
    email_trusted: bool
    given_name: str
    family_name: str
    display_name: str
    timezone: str
    spaces_present: bool
    space_names: tuple[str, ...]
    space_roles: tuple[str, ...]
    # False: leave group memberships unchanged (overage, or group sync off).
    sync_groups: bool
    groups: tuple[str, ...]
    groups_overage: bool


def _text(value: Any) -> str:
    return value.strip()[:MAX_TEXT] if isinstance(value, str) else ""


def split_list(value: Any) -> tuple[str, ...]:
    """A comma-separated claim, or an array of them, as its items in order (each stripped,
    empty ones kept: positions pair spaces with roles)."""
    items: Iterable[Any] = value if isinstance(value, list) else [value]
    result: list[str] = []
    for item in items:
        if isinstance(item, str):
            result.extend(part.strip()[:MAX_TEXT] for part in item.split(","))
        if len(result) >= MAX_LIST_ITEMS:
            break
    return tuple(result[:MAX_LIST_ITEMS])


def email_domain(email: str) -> str:
    _, at, domain = email.rpartition("@")
    return domain.lower().strip(".") if at else ""


def is_verified(value: Any) -> bool:
    """``email_verified`` as true: a JSON true, or the string "true" some IdPs send."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def groups_overage(claims: dict[str, Any]) -> bool:
    """Entra leaves ``groups`` out above 200 groups and says so with ``_claim_names.groups``
    (or ``hasgroups`` in implicit flows): Microsoft Learn, "Configure group claims"."""
    names = claims.get("_claim_names")
    if isinstance(names, dict) and "groups" in names:
        return True
    return is_verified(claims.get("hasgroups"))


def subject_key(connection: Connection, claims: dict[str, Any]) -> str:
    """The identity link key: ``tid|oid`` for Entra, ``iss|sub`` otherwise."""
    assert connection.oidc is not None
    if presets.PRESETS[connection.oidc.vendor].link_key == "tid_oid":
        tid, oid = claims.get("tid"), claims.get("oid")
        if not isinstance(tid, str) or not tid or not isinstance(oid, str) or not oid:
            raise ClaimError("oid_missing", "the Entra ID token lacks tid or oid")
        return f"{tid}|{oid}"
    iss, sub = claims.get("iss"), claims.get("sub")
    if not isinstance(sub, str) or not sub or not isinstance(iss, str):
        raise ClaimError("sub_missing", "the ID token lacks sub")
    return f"{iss}|{sub}"


def map_claims(connection: Connection, claims: dict[str, Any]) -> MappedLogin:
    """What the IdP says about the user, named the way directory's ProvisionLogin expects."""
    mapping = connection.mapping
    assert connection.oidc is not None
    email = _text(claims.get(mapping.email))
    if not email and connection.oidc.vendor == VENDOR_AZURE_AD:
        # Entra often omits "email"; preferred_username is mutable and unverified, so it is
        # trusted only when the connection's own domains cover it (never by email_verified).
        email = _text(claims.get("preferred_username"))
        trusted = email_domain(email) in connection.domains
    else:
        trusted = is_verified(claims.get("email_verified")) or (
            email_domain(email) in connection.domains
        )
    if "@" not in email:
        raise ClaimError("email_missing", f"the ID token has no email in {mapping.email!r}")
    spaces_present = bool(mapping.space_name) and mapping.space_name in claims
    overage = bool(mapping.groups) and groups_overage(claims)
    groups: list[str] = []
    if mapping.groups and not overage:
        raw = claims.get(mapping.groups, [])
        for item in raw if isinstance(raw, list) else [raw]:
            if isinstance(item, str) and item.strip():
                groups.append(item.strip()[:MAX_TEXT])
    return MappedLogin(
        subject=subject_key(connection, claims),
        email=email,
        email_trusted=trusted,
        given_name=_text(claims.get(mapping.given_name)) if mapping.given_name else "",
        family_name=_text(claims.get(mapping.family_name)) if mapping.family_name else "",
        display_name=_text(claims.get(mapping.display_name)) if mapping.display_name else "",
        timezone=_text(claims.get(mapping.timezone)) if mapping.timezone else "",
        spaces_present=spaces_present,
        space_names=split_list(claims[mapping.space_name]) if spaces_present else (),
        space_roles=split_list(claims.get(mapping.space_role, []))
        if spaces_present and mapping.space_role
        else (),
        sync_groups=bool(mapping.groups) and not overage,
        groups=tuple(dict.fromkeys(groups))[:MAX_GROUPS],
        groups_overage=overage,
    )


def _redact_value(name: str, value: Any, depth: int) -> Any:
    lowered = name.lower()
    if lowered in _SECRET_CLAIMS or any(word in lowered for word in _SECRET_WORDS):
        return REDACTED
    if depth > 3:
        return "[nested]"
    if isinstance(value, str):
        return value[:500]
    if isinstance(value, list):
        return [_redact_value(name, item, depth + 1) for item in value[:MAX_LIST_ITEMS]]
    if isinstance(value, dict):
        return {str(k)[:100]: _redact_value(str(k), v, depth + 1) for k, v in value.items()}
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)[:100]


def redact_claims(claims: dict[str, Any]) -> dict[str, Any]:
    """The claims as a login trace keeps them: secrets and single-use values replaced, long
    values cut."""
    return {str(k)[:100]: _redact_value(str(k), v, 0) for k, v in list(claims.items())[:100]}
