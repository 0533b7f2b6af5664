"""The SSO records to their protobuf messages. A client secret never leaves: only whether one is
stored and the id of the key that encrypts it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Final

from google.protobuf import json_format, struct_pb2

from auth.convert import timestamp
from auth.sso.models import (
    OUTCOME_FAILURE,
    OUTCOME_PARTIAL,
    OUTCOME_RESTARTED,
    OUTCOME_SUCCESS,
    POLICY_CREATE,
    POLICY_DENY,
    POLICY_LINK,
    UPDATE_EVERY_LOGIN,
    UPDATE_FIRST_LOGIN,
    VENDOR_AZURE_AD,
    VENDOR_GENERIC,
    VENDOR_GOOGLE,
    VENDOR_OKTA,
    Connection,
    LoginTrace,
    Session,
)
from auth.sso.saml.logout import slo_url_of
from idmesh.auth.v1 import auth_pb2

_LOGIN_OUTCOMES: Final = {
    OUTCOME_SUCCESS: auth_pb2.LOGIN_OUTCOME_SUCCESS,
    OUTCOME_FAILURE: auth_pb2.LOGIN_OUTCOME_FAILURE,
    OUTCOME_RESTARTED: auth_pb2.LOGIN_OUTCOME_RESTARTED,
    OUTCOME_PARTIAL: auth_pb2.LOGIN_OUTCOME_PARTIAL,
}
_SAML_VENDOR_VALUES: Final = {
    "generic": auth_pb2.SAML_VENDOR_GENERIC,
    "okta": auth_pb2.SAML_VENDOR_OKTA,
    "azure_ad": auth_pb2.SAML_VENDOR_AZURE_AD,
}
VENDOR_VALUES: Final = {
    VENDOR_GENERIC: auth_pb2.OIDC_VENDOR_GENERIC,
    VENDOR_OKTA: auth_pb2.OIDC_VENDOR_OKTA,
    VENDOR_AZURE_AD: auth_pb2.OIDC_VENDOR_AZURE_AD,
    VENDOR_GOOGLE: auth_pb2.OIDC_VENDOR_GOOGLE,
}
_POLICY_VALUES: Final = {
    POLICY_CREATE: auth_pb2.PROVISIONING_POLICY_CREATE_USERS,
    POLICY_LINK: auth_pb2.PROVISIONING_POLICY_LINK_EXISTING_USERS,
    POLICY_DENY: auth_pb2.PROVISIONING_POLICY_DENY_UNKNOWN_USERS,
}
_UPDATE_VALUES: Final = {
    UPDATE_FIRST_LOGIN: auth_pb2.PROFILE_UPDATE_FIRST_LOGIN,
    UPDATE_EVERY_LOGIN: auth_pb2.PROFILE_UPDATE_EVERY_LOGIN,
}


def connection(value: Connection) -> auth_pb2.Connection:
    mapping = value.mapping
    message = auth_pb2.Connection(
        id=str(value.id),
        account_id=str(value.account_id),
        name=value.name,
        display_name=value.display_name,
        domains=value.domains,
        attribute_mapping=auth_pb2.AttributeMapping(
            email=mapping.email,
            given_name=mapping.given_name,
            family_name=mapping.family_name,
            display_name=mapping.display_name,
            space_name=mapping.space_name,
            space_role=mapping.space_role,
            timezone=mapping.timezone,
            groups=mapping.groups,
        ),
        provisioning_policy=_POLICY_VALUES[value.provisioning_policy],
        profile_update=_UPDATE_VALUES[value.profile_update],
        default_space=value.default_space,
        default_space_role=value.default_space_role,
        enabled=value.enabled,
        created_by=value.created_by,
        create_time=timestamp(value.create_time),
        update_time=timestamp(value.update_time),
        version=value.version,
    )
    oidc = value.oidc
    if oidc is not None:
        message.oidc.CopyFrom(
            auth_pb2.OidcSettings(
                issuer=oidc.issuer,
                discovery_url=oidc.discovery_url,
                client_id=oidc.client_id,
                client_secret_set=oidc.client_secret is not None,
                client_secret_key_id=oidc.client_secret.key_id if oidc.client_secret else "",
                scopes=oidc.scopes,
                vendor=VENDOR_VALUES[oidc.vendor],
                entra_tenant_id=oidc.entra_tenant_id,
                allowed_tenant_ids=oidc.allowed_tenant_ids,
                signing_algorithms=oidc.signing_algorithms,
                userinfo=oidc.userinfo,
                rp_initiated_logout=oidc.rp_logout,
            )
        )
    saml = value.saml
    if saml is not None:
        message.saml.CopyFrom(
            auth_pb2.SamlSettings(
                idp_entity_id=saml.idp_entity_id,
                sso_url=saml.sso_url,
                certificates=saml.certificates,
                vendor=_SAML_VENDOR_VALUES.get(saml.vendor, auth_pb2.SAML_VENDOR_GENERIC),
                name_id_format=saml.name_id_format,
                want_response_signed=saml.want_response_signed,
                allow_sha1=saml.allow_sha1,
                allow_idp_initiated=saml.allow_idp_initiated,
                clock_skew_seconds=saml.clock_skew_seconds,
                sp_entity_id=saml.sp_entity_id,
                acs_url=saml.acs_url,
                sp_certificate=saml.sp_certificate,
                metadata_url=saml.metadata_url,
                slo_url=saml.slo_url,
                sp_slo_url=slo_url_of(saml.acs_url),
            )
        )
    return message


def login_options(values: Sequence[Connection]) -> list[auth_pb2.LoginOption]:
    """The sign-in buttons of an account's connections: a label two connections share (display
    names are the admin's free text) is followed by each one's connection name, unique in the
    account, so no two buttons read the same."""
    counts = Counter(value.display_name for value in values)
    return [
        login_option(
            value,
            f"{value.display_name} ({value.name})" if counts[value.display_name] > 1 else "",
        )
        for value in values
    ]


def login_option(value: Connection, label: str = "") -> auth_pb2.LoginOption:
    return auth_pb2.LoginOption(
        connection_id=str(value.id),
        account_id=str(value.account_id),
        display_name=label or value.display_name,
        vendor=VENDOR_VALUES[value.oidc.vendor] if value.oidc else auth_pb2.OIDC_VENDOR_UNSPECIFIED,
        protocol=value.protocol,
    )


def session(value: Session, idle_ttl: timedelta | None = None) -> auth_pb2.Session:
    message = auth_pb2.Session(
        id=str(value.id),
        account_id=str(value.account_id),
        user_id=str(value.user_id),
        connection_id=str(value.connection_id) if value.connection_id else "",
        create_time=timestamp(value.create_time),
        expire_time=timestamp(value.expire_time),
        revoke_reason=value.revoke_reason,
        ip_address=value.ip_address,
        user_agent=value.user_agent,
    )
    if value.revoke_time is not None:
        message.revoke_time.CopyFrom(timestamp(value.revoke_time))
    if value.last_use_time is not None:
        message.last_use_time.CopyFrom(timestamp(value.last_use_time))
        if idle_ttl is not None:
            idle_end = min(value.last_use_time + idle_ttl, value.expire_time)
            message.idle_expire_time.CopyFrom(timestamp(idle_end))
    return message


def login_trace(value: LoginTrace) -> auth_pb2.LoginTrace:
    claims = struct_pb2.Struct()
    json_format.ParseDict(value.claims, claims)
    return auth_pb2.LoginTrace(
        id=str(value.id),
        account_id=str(value.account_id),
        connection_id=str(value.connection_id),
        time=timestamp(value.time),
        trace_id=value.trace_id,
        stage=value.stage,
        outcome=_LOGIN_OUTCOMES.get(value.outcome, auth_pb2.LOGIN_OUTCOME_UNSPECIFIED),
        reason=value.reason,
        detail=value.detail,
        subject=value.subject,
        email=value.email,
        user_id=str(value.user_id) if value.user_id else "",
        claims=claims,
        groups=value.groups,
        clock_delta_seconds=value.clock_delta_seconds or 0.0,
        has_clock_delta=value.clock_delta_seconds is not None,
        duration_ms=value.duration_ms or 0.0,
        kind=value.kind,
        test=value.test,
        test_result=_struct(value.test_result) if value.test_result is not None else None,
    )


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    json_format.ParseDict(value, message)
    return message
