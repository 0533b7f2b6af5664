"""Rows (asyncpg records) to protobuf messages, and request messages to models.

Mapping only: values reaching ``*_draft`` functions are validated by the servicer first.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
from google.protobuf import duration_pb2, json_format, struct_pb2, timestamp_pb2

from directory import models, paging
from idmesh.directory.v1 import directory_pb2 as pb
from idmesh.directory.v1 import events_pb2

ACTOR_TYPES: Mapping[pb.ActorType.ValueType, str] = {
    pb.ACTOR_TYPE_UNSPECIFIED: "unspecified",
    pb.ACTOR_TYPE_SCIM_TOKEN: "scim_token",
    pb.ACTOR_TYPE_SSO_LOGIN: "sso_login",
    pb.ACTOR_TYPE_ADMIN_API: "admin_api",
    pb.ACTOR_TYPE_CLI: "cli",
    pb.ACTOR_TYPE_SYSTEM: "system",
    pb.ACTOR_TYPE_SETUP_LINK: "setup_link",
}
_ACTOR_TYPE_VALUES = {name: value for value, name in ACTOR_TYPES.items()}
SOURCES: Mapping[pb.MembershipSource.ValueType, str] = {
    pb.MEMBERSHIP_SOURCE_SSO: models.SOURCE_SSO,
    pb.MEMBERSHIP_SOURCE_SCIM: models.SOURCE_SCIM,
    pb.MEMBERSHIP_SOURCE_GROUP: models.SOURCE_GROUP,
    pb.MEMBERSHIP_SOURCE_MANUAL: models.SOURCE_MANUAL,
}
_SOURCE_VALUES = {name: value for value, name in SOURCES.items()}
STATUSES: Mapping[pb.UserStatus.ValueType, str] = {
    pb.USER_STATUS_PENDING: models.STATUS_PENDING,
    pb.USER_STATUS_ACTIVE: models.STATUS_ACTIVE,
    pb.USER_STATUS_DEACTIVATED: models.STATUS_DEACTIVATED,
}
_STATUS_VALUES = {name: value for value, name in STATUSES.items()}
SCOPES: Mapping[pb.RoleScope.ValueType, str] = {
    pb.ROLE_SCOPE_ACCOUNT: models.ROLE_SCOPE_ACCOUNT,
    pb.ROLE_SCOPE_SPACE: models.ROLE_SCOPE_SPACE,
}
_SCOPE_VALUES = {name: value for value, name in SCOPES.items()}


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    """``value`` (timezone-aware, as asyncpg returns timestamptz) as a Timestamp. Computed
    directly: Timestamp.FromDatetime costs several times more, on the GetUser hot path."""
    if value is None:
        return None
    elapsed = value - _EPOCH
    return timestamp_pb2.Timestamp(
        seconds=elapsed.days * 86_400 + elapsed.seconds, nanos=elapsed.microseconds * 1000
    )


def _json(raw: str) -> Any:
    # Most multi-valued attributes are empty: skip the parser for them (GetUser hot path).
    if raw == "[]":
        return []
    return json.loads(raw)


def source_value(source: str) -> pb.MembershipSource.ValueType:
    return _SOURCE_VALUES[source]


def page_response(page: paging.Page) -> pb.PageResponse:
    return pb.PageResponse(next_page_token=page.next_page_token, total_size=page.total)


# -- accounts ----------------------------------------------------------------------------------


def account(row: asyncpg.Record) -> pb.Account:
    default_role = row["default_account_role_id"]
    return pb.Account(
        id=str(row["id"]),
        name=row["name"],
        display_name=row["display_name"],
        settings=pb.AccountSettings(
            require_given_name=row["require_given_name"],
            require_family_name=row["require_family_name"],
            require_email_user_name=row["require_email_user_name"],
            default_account_role_id=str(default_role) if default_role else "",
            scim_group_patch_returns_resource=row["scim_group_patch_returns_resource"],
        ),
        create_time=timestamp(row["create_time"]),
        update_time=timestamp(row["update_time"]),
        version=row["version"],
    )


def account_settings(
    settings: pb.AccountSettings, default_role: UUID | None
) -> models.AccountSettings:
    return models.AccountSettings(
        require_given_name=settings.require_given_name,
        require_family_name=settings.require_family_name,
        require_email_user_name=settings.require_email_user_name,
        default_account_role_id=default_role,
        # Unset: the default, 200 with the group (the proto's comment).
        scim_group_patch_returns_resource=(
            settings.scim_group_patch_returns_resource
            if settings.HasField("scim_group_patch_returns_resource")
            else True
        ),
    )


# -- users -------------------------------------------------------------------------------------


def _multi_values(values: Iterable[pb.MultiValue]) -> list[dict[str, Any]]:
    return [
        {"value": v.value, "type": v.type, "primary": v.primary, "display": v.display}
        for v in values
    ]


def _addresses(values: Iterable[pb.Address]) -> list[dict[str, Any]]:
    return [
        {
            "formatted": a.formatted,
            "street_address": a.street_address,
            "locality": a.locality,
            "region": a.region,
            "postal_code": a.postal_code,
            "country": a.country,
            "type": a.type,
            "primary": a.primary,
        }
        for a in values
    ]


def user_draft(
    user: pb.User, *, manager_id: UUID | None, account_role_id: UUID | None
) -> models.UserDraft:
    """The writable attributes of ``user``; its references are passed in already parsed."""
    name = user.name
    enterprise = user.enterprise
    return models.UserDraft(
        user_name=user.user_name,
        external_id=user.external_id,
        name_formatted=name.formatted,
        name_family_name=name.family_name,
        name_given_name=name.given_name,
        name_middle_name=name.middle_name,
        name_honorific_prefix=name.honorific_prefix,
        name_honorific_suffix=name.honorific_suffix,
        display_name=user.display_name,
        nick_name=user.nick_name,
        profile_url=user.profile_url,
        title=user.title,
        user_type=user.user_type,
        preferred_language=user.preferred_language,
        locale=user.locale,
        timezone=user.timezone,
        emails=_multi_values(user.emails),
        phone_numbers=_multi_values(user.phone_numbers),
        ims=_multi_values(user.ims),
        photos=_multi_values(user.photos),
        addresses=_addresses(user.addresses),
        entitlements=_multi_values(user.entitlements),
        x509_certificates=_multi_values(user.x509_certificates),
        employee_number=enterprise.employee_number,
        cost_center=enterprise.cost_center,
        organization=enterprise.organization,
        division=enterprise.division,
        department=enterprise.department,
        manager_id=manager_id,
        manager_display_name=enterprise.manager_display_name,
        extensions=json_format.MessageToDict(user.extensions),
        account_role_id=account_role_id,
    )


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    result = struct_pb2.Struct()
    result.update(value)
    return result


def user(row: asyncpg.Record) -> pb.User:
    manager_id = row["manager_id"]
    status = row["status"]
    return pb.User(
        id=str(row["id"]),
        account_id=str(row["account_id"]),
        user_name=row["user_name"],
        external_id=row["external_id"],
        name=pb.Name(
            formatted=row["name_formatted"],
            family_name=row["name_family_name"],
            given_name=row["name_given_name"],
            middle_name=row["name_middle_name"],
            honorific_prefix=row["name_honorific_prefix"],
            honorific_suffix=row["name_honorific_suffix"],
        ),
        display_name=row["display_name"],
        nick_name=row["nick_name"],
        profile_url=row["profile_url"],
        title=row["title"],
        user_type=row["user_type"],
        preferred_language=row["preferred_language"],
        locale=row["locale"],
        timezone=row["timezone"],
        active=status != models.STATUS_DEACTIVATED,
        status=_STATUS_VALUES[status],
        # Stored by user_draft with exactly the message's field names.
        emails=[pb.MultiValue(**v) for v in _json(row["emails"])],
        phone_numbers=[pb.MultiValue(**v) for v in _json(row["phone_numbers"])],
        ims=[pb.MultiValue(**v) for v in _json(row["ims"])],
        photos=[pb.MultiValue(**v) for v in _json(row["photos"])],
        addresses=[pb.Address(**v) for v in _json(row["addresses"])],
        entitlements=[pb.MultiValue(**v) for v in _json(row["entitlements"])],
        x509_certificates=[pb.MultiValue(**v) for v in _json(row["x509_certificates"])],
        enterprise=pb.EnterpriseAttributes(
            employee_number=row["employee_number"],
            cost_center=row["cost_center"],
            organization=row["organization"],
            division=row["division"],
            department=row["department"],
            manager_id=str(manager_id) if manager_id else "",
            manager_display_name=row["manager_display_name"],
        ),
        extensions=_struct(json.loads(row["extensions"])) if row["extensions"] != "{}" else None,
        account_role_id=str(row["account_role_id"]),
        account_role_name=row["account_role_name"],
        create_time=timestamp(row["create_time"]),
        update_time=timestamp(row["update_time"]),
        last_login_time=timestamp(row["last_login_time"]),
        version=row["version"],
        active_unassigned=row["active_unassigned"],
        account_role_unassigned=row["account_role_unassigned"],
        # Only the reads asked for groups select them (store.users, include_groups).
        groups=[pb.UserGroup(**g) for g in _json(row.get("groups") or "[]")],
    )


def identity_link(row: asyncpg.Record) -> pb.IdentityLink:
    return pb.IdentityLink(
        account_id=str(row["account_id"]),
        user_id=str(row["user_id"]),
        connection_id=row["connection_id"],
        subject=row["subject"],
        create_time=timestamp(row["create_time"]),
        last_login_time=timestamp(row["last_login_time"]),
    )


# -- spaces, roles, memberships ----------------------------------------------------------------


def space(row: asyncpg.Record) -> pb.Space:
    return pb.Space(
        id=str(row["id"]),
        account_id=str(row["account_id"]),
        name=row["name"],
        description=row["description"],
        create_time=timestamp(row["create_time"]),
        update_time=timestamp(row["update_time"]),
        version=row["version"],
    )


def role(row: asyncpg.Record, prefix: str = "") -> pb.Role:
    """A role from ``row``, whose role columns may carry ``prefix`` (joined reads)."""
    return pb.Role(
        id=str(row[prefix + "id"]),
        account_id=str(row["account_id"]),
        name=row[prefix + "name"],
        scope=_SCOPE_VALUES[row[prefix + "scope"]],
        permissions=row[prefix + "permissions"],
        built_in=row[prefix + "built_in"],
        description=row[prefix + "description"],
        create_time=timestamp(row[prefix + "create_time"]),
        update_time=timestamp(row[prefix + "update_time"]),
        version=row[prefix + "version"],
    )


def membership(row: asyncpg.Record) -> pb.SpaceMembership:
    return pb.SpaceMembership(
        account_id=str(row["account_id"]),
        user_id=str(row["user_id"]),
        space_id=str(row["space_id"]),
        space_name=row["space_name"],
        role_id=str(row["role_id"]),
        role_name=row["role_name"],
        source=_SOURCE_VALUES[row["source"]],
        create_time=timestamp(row["create_time"]),
    )


# -- groups ------------------------------------------------------------------------------------


def group_member(row: asyncpg.Record) -> pb.GroupMember:
    return pb.GroupMember(
        user_id=str(row["user_id"]),
        user_name=row["user_name"],
        display_name=row["display_name"],
        source=_SOURCE_VALUES[row["source"]],
    )


def group(row: asyncpg.Record, members: Iterable[asyncpg.Record] = ()) -> pb.Group:
    return pb.Group(
        id=str(row["id"]),
        account_id=str(row["account_id"]),
        display_name=row["display_name"],
        idp_identifier=row["idp_identifier"],
        members=[group_member(m) for m in members],
        member_count=row["member_count"],
        space_roles=[pb.GroupSpaceRole(**r) for r in json.loads(row["space_roles"])],
        create_time=timestamp(row["create_time"]),
        update_time=timestamp(row["update_time"]),
        version=row["version"],
    )


# -- audit -------------------------------------------------------------------------------------


def actor(value: pb.Actor) -> models.Actor:
    return models.Actor(
        type=ACTOR_TYPES.get(value.type, "unspecified"),
        id=value.id,
        display_name=value.display_name,
    )


def audit_event(row: asyncpg.Record) -> pb.AuditEvent:
    return pb.AuditEvent(
        id=str(row["id"]),
        account_id=str(row["account_id"]),
        time=timestamp(row["time"]),
        actor=pb.Actor(
            type=_ACTOR_TYPE_VALUES.get(row["actor_type"], pb.ACTOR_TYPE_UNSPECIFIED),
            id=row["actor_id"],
            display_name=row["actor_display_name"],
        ),
        action=row["action"],
        target_type=row["target_type"],
        target_id=row["target_id"],
        details=_struct(json.loads(row["details"])),
    )


# -- provisioning log --------------------------------------------------------------------------

OUTCOMES: Mapping[pb.ProvisioningOutcome.ValueType, str] = {
    pb.PROVISIONING_OUTCOME_SUCCESS: models.OUTCOME_SUCCESS,
    pb.PROVISIONING_OUTCOME_REJECTED: models.OUTCOME_REJECTED,
    pb.PROVISIONING_OUTCOME_FAILED: models.OUTCOME_FAILED,
}
_OUTCOME_VALUES = {name: value for value, name in OUTCOMES.items()}


def provisioning_event(row: asyncpg.Record) -> pb.ProvisioningEvent:
    duration_us = row["duration_us"]
    return pb.ProvisioningEvent(
        id=str(row["id"]),
        account_id=str(row["account_id"]),
        time=timestamp(row["time"]),
        token_id=row["token_id"],
        method=row["method"],
        operation=row["operation"],
        resource_type=row["resource_type"],
        resource_id=row["resource_id"],
        outcome=_OUTCOME_VALUES.get(row["outcome"], pb.PROVISIONING_OUTCOME_UNSPECIFIED),
        http_status=row["http_status"],
        duration=duration_pb2.Duration(
            seconds=duration_us // 1_000_000, nanos=duration_us % 1_000_000 * 1000
        ),
        detail=row["detail"],
        trace_id=row["trace_id"],
    )


# -- change feed and webhooks ------------------------------------------------------------------


def event(row: asyncpg.Record) -> events_pb2.Event:
    return events_pb2.Event(
        id=str(row["id"]),
        account_id=str(row["account_id"]),
        cursor=row["seq"],
        type=row["type"],
        version=row["version"],
        time=timestamp(row["time"]),
        actor=pb.Actor(
            type=_ACTOR_TYPE_VALUES.get(row["actor_type"], pb.ACTOR_TYPE_UNSPECIFIED),
            id=row["actor_id"],
            display_name=row["actor_display_name"],
        ),
        channel=row["channel"],
        resource=_struct(json.loads(row["resource"])),
    )


def webhook(row: asyncpg.Record) -> events_pb2.Webhook:
    return events_pb2.Webhook(
        id=str(row["id"]),
        account_id=str(row["account_id"]),
        url=row["url"],
        types=row["types"],
        description=row["description"],
        enabled=row["enabled"],
        disabled_reason=row["disabled_reason"],
        delivered_cursor=row["delivered_seq"],
        failing_since=timestamp(row["failing_since"]),
        create_time=timestamp(row["create_time"]),
    )


def webhook_delivery(row: asyncpg.Record) -> events_pb2.WebhookDelivery:
    return events_pb2.WebhookDelivery(
        id=str(row["id"]),
        event_id=str(row["event_id"]),
        event_cursor=row["event_seq"],
        event_type=row["event_type"],
        attempt=row["attempt"],
        resend=row["resend"],
        succeeded=row["succeeded"],
        http_status=row["http_status"],
        latency_ms=row["latency_ms"],
        error=row["error"],
        time=timestamp(row["time"]),
    )
