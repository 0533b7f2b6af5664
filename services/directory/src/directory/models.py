"""The values the servicer hands to the store: validated, free of protobuf.

Rows come back from the store as asyncpg records and go to the wire through convert.py; these
dataclasses only carry what a write needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

# Stored spelling of MembershipSource. Group-derived roles are computed, never stored, so only
# the first three are valid in space_memberships and group_members.
SOURCE_SSO = "sso"
SOURCE_SCIM = "scim"
SOURCE_MANUAL = "manual"
SOURCE_GROUP = "group"

ROLE_SCOPE_ACCOUNT = "account"
ROLE_SCOPE_SPACE = "space"

STATUS_PENDING = "pending"
STATUS_ACTIVE = "active"
STATUS_DEACTIVATED = "deactivated"


@dataclass(frozen=True)
class Actor:
    """Who makes a change, written into its audit event."""

    type: str
    id: str
    display_name: str


@dataclass(frozen=True)
class AccountSettings:
    require_given_name: bool
    require_family_name: bool
    require_email_user_name: bool
    # None: Account Member.
    default_account_role_id: UUID | None
    # SCIM Group PATCH answers 200 with the group; False: 204 (docs/scim-clients.md §8).
    scim_group_patch_returns_resource: bool = True


@dataclass(frozen=True)
class UserDraft:
    """Every writable attribute of a user, named as its column (PUT semantics: all replaced).

    Multi-valued attributes are lists of JSON objects with every key present; ``extensions`` is
    the JSON object of the other schema extensions.
    """

    user_name: str
    external_id: str
    name_formatted: str
    name_family_name: str
    name_given_name: str
    name_middle_name: str
    name_honorific_prefix: str
    name_honorific_suffix: str
    display_name: str
    nick_name: str
    profile_url: str
    title: str
    user_type: str
    preferred_language: str
    locale: str
    timezone: str
    emails: list[dict[str, Any]]
    phone_numbers: list[dict[str, Any]]
    ims: list[dict[str, Any]]
    photos: list[dict[str, Any]]
    addresses: list[dict[str, Any]]
    entitlements: list[dict[str, Any]]
    x509_certificates: list[dict[str, Any]]
    employee_number: str
    cost_center: str
    organization: str
    division: str
    department: str
    manager_id: UUID | None
    manager_display_name: str
    extensions: dict[str, Any]
    # None: on create the account's default role; on update the current role is kept.
    account_role_id: UUID | None


@dataclass(frozen=True)
class SpaceDraft:
    name: str
    description: str


@dataclass(frozen=True)
class RoleDraft:
    name: str
    # ROLE_SCOPE_ACCOUNT or ROLE_SCOPE_SPACE; on update None keeps the (immutable) scope.
    scope: str | None
    # Sorted and without duplicates.
    permissions: list[str]
    description: str


@dataclass(frozen=True)
class GroupDraft:
    display_name: str
    idp_identifier: str


@dataclass(frozen=True)
class SpaceRoleAssignment:
    """A space role a group grants to its members."""

    space_id: UUID
    role_id: UUID


@dataclass(frozen=True)
class MemberChange:
    """Who joins and leaves a group, and under which source."""

    add: list[UUID]
    remove: list[UUID]
    # The source of added memberships; removals match remove_source, or every source when None.
    add_source: str
    remove_source: str | None


# Stored spelling of ProvisioningOutcome.
OUTCOME_SUCCESS = "success"
OUTCOME_REJECTED = "rejected"
OUTCOME_FAILED = "failed"


@dataclass(frozen=True)
class ProvisioningEventDraft:
    """One provisioning log event to append (columns of provisioning_events)."""

    account_id: UUID
    id: UUID
    time: datetime
    token_id: str
    method: str
    operation: str
    resource_type: str
    resource_id: str
    outcome: str
    http_status: int
    duration_us: int
    detail: str
    trace_id: str
