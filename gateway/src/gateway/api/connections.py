"""``/api/v1/connections``: the account's SSO connections, and the values an admin pastes into
Okta or Entra (the OIDC redirect URI, the SCIM base URL; for SAML the SP entity id and ACS URL
auth reports).

Create takes an OIDC IdP (issuer, client id, write-only client secret; stored encrypted by auth
and never returned) or a SAML IdP (its metadata XML or URL, or entity id, SSO URL and pinned
signing certificates). Reading is ``connections:read``, changing
``connections:manage``.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web
from google.protobuf import json_format

from gateway.api import schemas
from gateway.api.bodies import merge_patch
from gateway.api.preconditions import read_modify_write
from gateway.api.query import filters, list_response
from gateway.api.routing import Call, endpoint
from gateway.api.schemas import array, obj, string
from gateway.api.values import json_response, no_content, timestamp
from gateway.state import CONFIG
from idmesh.auth.v1 import auth_pb2

VENDORS: Final = {
    "generic": auth_pb2.OIDC_VENDOR_GENERIC,
    "okta": auth_pb2.OIDC_VENDOR_OKTA,
    "azure_ad": auth_pb2.OIDC_VENDOR_AZURE_AD,
    "google": auth_pb2.OIDC_VENDOR_GOOGLE,
}
_VENDOR_NAMES: Final = {value: name for name, value in VENDORS.items()}
POLICIES: Final = {
    "create_users": auth_pb2.PROVISIONING_POLICY_CREATE_USERS,
    "link_existing_users": auth_pb2.PROVISIONING_POLICY_LINK_EXISTING_USERS,
    "deny_unknown_users": auth_pb2.PROVISIONING_POLICY_DENY_UNKNOWN_USERS,
}
_POLICY_NAMES: Final = {value: name for name, value in POLICIES.items()}
# When a login re-applies the IdP's profile and spaces (group memberships: at every login).
PROFILE_UPDATES: Final = {
    "first_login": auth_pb2.PROFILE_UPDATE_FIRST_LOGIN,
    "every_login": auth_pb2.PROFILE_UPDATE_EVERY_LOGIN,
}
_PROFILE_UPDATE_NAMES: Final = {value: name for name, value in PROFILE_UPDATES.items()}
_PROFILE_UPDATE: Final = {
    "type": "string",
    "enum": list(PROFILE_UPDATES),
    "description": "When a login applies the IdP's profile and spaces: at the user's first "
    "login (the default) or at every login. Group memberships follow every login either way.",
}
SAML_VENDORS: Final = {
    "generic": auth_pb2.SAML_VENDOR_GENERIC,
    "okta": auth_pb2.SAML_VENDOR_OKTA,
    "azure_ad": auth_pb2.SAML_VENDOR_AZURE_AD,
}
_SLUG: Final = "^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
_URL: Final = {"type": "string", "format": "uri", "maxLength": 2048}

_CONNECTION = schemas.define(
    "Connection",
    obj(
        {
            "id": schemas.ID,
            "name": string(),
            "display_name": string(),
            "protocol": {"type": "string", "enum": ["oidc", "saml", "unspecified"]},
            "domains": array(string()),
            "enabled": {"type": "boolean"},
            "provisioning_policy": string(),
            "profile_update": _PROFILE_UPDATE,
            "default_space": string(),
            "default_space_role": string(),
            "oidc": {
                "type": ["object", "null"],
                "description": "issuer, client_id, scopes, vendor, userinfo, "
                "client_secret_set (the secret itself is never returned).",
            },
            "saml": {"type": ["object", "null"], "description": "IdP and SP settings."},
            "setup": obj(
                {
                    "redirect_uri": {**_URL, "type": ["string", "null"]},
                    "post_logout_redirect_uri": {
                        **_URL,
                        "type": ["string", "null"],
                        "description": "OIDC: register at the IdP (RP-Initiated Logout).",
                    },
                    "backchannel_logout_uri": {
                        **_URL,
                        "type": ["string", "null"],
                        "description": "OIDC: register at the IdP (Back-Channel Logout).",
                    },
                    "slo_url": {
                        **_URL,
                        "type": ["string", "null"],
                        "description": "SAML: our Single Logout URL (HTTP-Redirect, HTTP-POST).",
                    },
                    "scim_base_url": _URL,
                },
                required=("redirect_uri", "scim_base_url"),
                description="What to paste into the IdP's application settings.",
            ),
            "create_time": schemas.TIMESTAMP,
            "update_time": schemas.NULLABLE_TIMESTAMP,
        },
        required=("id", "name", "display_name", "protocol", "domains", "enabled", "setup"),
    ),
)
schemas.page_of("ConnectionList", _CONNECTION)
schemas.define(
    "ConnectionTest",
    obj(
        {
            "ok": {"type": "boolean", "description": "Every check passed."},
            "checks": array(
                obj(
                    {
                        "name": {
                            "type": "string",
                            "description": "OIDC: client_secret, discovery, issuer, jwks, "
                            "pkce. SAML: certificates, sso_url, sp_key, metadata.",
                        },
                        "ok": {"type": "boolean"},
                        "detail": {"type": "string", "description": "What was found or wrong."},
                    },
                    required=("name", "ok", "detail"),
                )
            ),
        },
        required=("ok", "checks"),
    ),
)
schemas.define(
    "OidcConnectionCreate",
    obj(
        {
            "name": {"type": "string", "pattern": _SLUG, "description": "A lower-case handle."},
            "display_name": string(),
            "domains": array(string(253), maxItems=50),
            "vendor": {"type": "string", "enum": list(VENDORS)},
            "issuer": _URL,
            "client_id": string(500),
            "client_secret": string(2000, description="Write-only; stored encrypted."),
            "scopes": array(string(200), maxItems=20),
            "entra_tenant_id": string(),
            "userinfo": {
                "type": "boolean",
                "description": "Call the IdP's userinfo endpoint after the ID token and merge "
                "its claims under the ID token's. Default: on for okta and generic, off for "
                "azure_ad and google.",
            },
            "provisioning_policy": {"type": "string", "enum": list(POLICIES)},
            "profile_update": _PROFILE_UPDATE,
            "default_space": string(),
            "default_space_role": string(),
            "skip_discovery_check": {
                "type": "boolean",
                "description": "Do not fetch the IdP's discovery document now.",
            },
        },
        required=("vendor", "client_id", "client_secret"),
        additionalProperties=False,
    ),
)


schemas.define(
    "ConnectionPatch",
    obj(
        {
            "display_name": string(),
            "domains": array(string(253), maxItems=50),
            "enabled": {"type": "boolean"},
            "provisioning_policy": {"type": "string", "enum": list(POLICIES)},
            "profile_update": _PROFILE_UPDATE,
            "default_space": string(nullable=True),
            "default_space_role": string(nullable=True),
            "rp_initiated_logout": {
                "type": "boolean",
                "description": "OIDC: at sign-out, send the browser to the IdP's "
                "end_session_endpoint (RP-Initiated Logout 1.0).",
            },
        },
        additionalProperties=False,
        description="A JSON merge patch (RFC 7396).",
    ),
)
schemas.define(
    "SamlConnectionCreate",
    obj(
        {
            "name": {"type": "string", "pattern": _SLUG, "description": "A lower-case handle."},
            "display_name": string(),
            "domains": array(string(253), maxItems=50),
            "vendor": {"type": "string", "enum": list(SAML_VENDORS)},
            "metadata_xml": string(
                1_000_000, description="The IdP's metadata; fills the three IdP fields."
            ),
            "metadata_url": {
                **_URL,
                "description": "Fetched now and re-read every 6 hours (certificate rollover).",
            },
            "idp_entity_id": string(2048),
            "sso_url": _URL,
            "certificates": array(
                string(20_000, description="PEM or base64 DER."),
                maxItems=5,
                description="Pinned IdP signing certificates; two during a rollover.",
            ),
            "want_response_signed": {"type": "boolean"},
            "allow_sha1": {"type": "boolean", "description": "Legacy IdPs only."},
            "allow_idp_initiated": {"type": "boolean"},
            "clock_skew_seconds": {"type": "integer", "minimum": 0, "maximum": 300},
            "provisioning_policy": {"type": "string", "enum": list(POLICIES)},
            "profile_update": _PROFILE_UPDATE,
            "default_space": string(),
            "default_space_role": string(),
        },
        required=("vendor",),
        additionalProperties=False,
    ),
)


def connection_json(call: Call, connection: auth_pb2.Connection) -> dict[str, Any]:
    public_url = call.request.config_dict[CONFIG].public_url
    protocol = connection.WhichOneof("protocol") or "unspecified"
    oidc_base = f"{public_url}/sso/oidc/{connection.id}" if protocol == "oidc" else ""
    oidc = None
    if protocol == "oidc":
        settings = connection.oidc
        oidc = {
            "issuer": settings.issuer,
            "discovery_url": settings.discovery_url,
            "client_id": settings.client_id,
            "client_secret_set": settings.client_secret_set,
            "scopes": list(settings.scopes),
            "vendor": _VENDOR_NAMES.get(settings.vendor, "unspecified"),
            "entra_tenant_id": settings.entra_tenant_id,
            "userinfo": settings.userinfo,
            "rp_initiated_logout": settings.rp_initiated_logout,
        }
    saml = None
    if protocol == "saml":
        saml = json_format.MessageToDict(connection.saml, preserving_proto_field_name=True)
        saml.pop("metadata_xml", None)
    return {
        "id": connection.id,
        "name": connection.name,
        "display_name": connection.display_name,
        "protocol": protocol,
        "domains": list(connection.domains),
        "enabled": connection.enabled,
        "provisioning_policy": _POLICY_NAMES.get(connection.provisioning_policy, "unspecified"),
        "profile_update": _PROFILE_UPDATE_NAMES.get(connection.profile_update, "first_login"),
        "default_space": connection.default_space,
        "default_space_role": connection.default_space_role,
        "oidc": oidc,
        "saml": saml,
        "setup": {
            "redirect_uri": f"{oidc_base}/callback" if oidc_base else None,
            "post_logout_redirect_uri": f"{oidc_base}/signed-out" if oidc_base else None,
            "backchannel_logout_uri": f"{oidc_base}/backchannel-logout" if oidc_base else None,
            "slo_url": f"{public_url}/sso/saml/{connection.id}/slo" if protocol == "saml" else None,
            "scim_base_url": f"{public_url}/scim/v2",
        },
        "create_time": timestamp(connection.create_time),
        "update_time": timestamp(connection.update_time),
    }


def _size(call: Call) -> int:
    size = call.query.get("page_size")
    return size if isinstance(size, int) else 0


@endpoint("List SSO connections", query=filters(), response="ConnectionList")
async def list_connections(call: Call) -> web.Response:
    response = await call.clients.auth.ListConnections(
        auth_pb2.ListConnectionsRequest(
            account_id=call.account_id,
            page_size=_size(call),
            page_token=call.query.text("page_token"),
        )
    )
    return list_response(
        [connection_json(call, c) for c in response.connections], response.next_page_token
    )


async def _get(call: Call) -> auth_pb2.Connection:
    response = await call.clients.auth.GetConnection(
        auth_pb2.GetConnectionRequest(
            account_id=call.account_id, connection_id=call.path("connection_id")
        )
    )
    return response.connection


@endpoint("Get an SSO connection", response="Connection", etag=True)
async def get_connection(call: Call) -> web.Response:
    connection = await _get(call)
    return json_response(connection_json(call, connection), version=connection.version)


@endpoint(
    "Update an SSO connection",
    description="Display name, domains, enabled (a disabled connection signs nobody in and is "
    "not offered at /login), provisioning policy, profile update mode (first_login or "
    "every_login), default space and role, and (OIDC) whether sign-out goes on to the IdP. The "
    "IdP settings themselves are replaced by creating a new connection.",
    body="ConnectionPatch",
    example={"enabled": False},
    merge_patch=True,
    response="Connection",
    etag=True,
    if_match=True,
)
async def update_connection(call: Call) -> web.Response:
    async def write(current: auth_pb2.Connection) -> auth_pb2.Connection:
        values = merge_patch(
            {
                "display_name": current.display_name,
                "domains": list(current.domains),
                "enabled": current.enabled,
                "provisioning_policy": _POLICY_NAMES.get(
                    current.provisioning_policy, "create_users"
                ),
                "profile_update": _PROFILE_UPDATE_NAMES.get(current.profile_update, "first_login"),
                "default_space": current.default_space,
                "default_space_role": current.default_space_role,
            },
            call.body,
        )
        request = auth_pb2.UpdateConnectionRequest(
            account_id=call.account_id,
            connection_id=current.id,
            display_name=values["display_name"],
            domains=values.get("domains") or [],
            enabled=bool(values["enabled"]),
            provisioning_policy=POLICIES[values["provisioning_policy"]],
            profile_update=PROFILE_UPDATES[values["profile_update"]],
            default_space=values.get("default_space") or "",
            default_space_role=values.get("default_space_role") or "",
            expected_version=current.version,
        )
        if isinstance(call.body.get("rp_initiated_logout"), bool):
            request.rp_initiated_logout = call.body["rp_initiated_logout"]
        response = await call.clients.auth.UpdateConnection(request)
        return response.connection

    updated = await read_modify_write(call.request, lambda: _get(call), write, lambda c: c.version)
    return json_response(connection_json(call, updated), version=updated.version)


@endpoint(
    "Create an OIDC connection",
    description="By default auth fetches the issuer's discovery document first and refuses a "
    "connection whose issuer does not match it. The response's setup.redirect_uri is what to "
    "register at the IdP.",
    body="OidcConnectionCreate",
    example={
        "name": "okta",
        "display_name": "Okta",
        "domains": ["example.com"],
        "vendor": "okta",
        "issuer": "https://example.okta.com",
        "client_id": "0oa1b2c3d4e5f6g7h8i9",
        "client_secret": "client-secret-from-okta",
        "skip_discovery_check": True,
    },
    response="Connection",
    status=201,
)
async def create_connection(call: Call) -> web.Response:
    body = call.body
    oidc = auth_pb2.OidcSettings(
        issuer=body.get("issuer") or "",
        client_id=body["client_id"],
        client_secret=body["client_secret"],
        scopes=body.get("scopes") or [],
        vendor=VENDORS[body["vendor"]],
        entra_tenant_id=body.get("entra_tenant_id") or "",
    )
    if body.get("userinfo") is not None:
        oidc.userinfo = bool(body["userinfo"])
    response = await call.clients.auth.CreateConnection(
        auth_pb2.CreateConnectionRequest(
            connection=_connection(call, oidc=oidc),
            skip_discovery_check=bool(body.get("skip_discovery_check")),
        )
    )
    return _created(call, response.connection)


def _connection(call: Call, **protocol: Any) -> auth_pb2.Connection:
    """The fields every protocol shares, from the request body."""
    body = call.body
    return auth_pb2.Connection(
        account_id=call.account_id,
        name=body.get("name") or "",
        display_name=body.get("display_name") or "",
        domains=body.get("domains") or [],
        provisioning_policy=POLICIES.get(
            body.get("provisioning_policy") or "", auth_pb2.PROVISIONING_POLICY_UNSPECIFIED
        ),
        profile_update=PROFILE_UPDATES.get(
            body.get("profile_update") or "", auth_pb2.PROFILE_UPDATE_UNSPECIFIED
        ),
        default_space=body.get("default_space") or "",
        default_space_role=body.get("default_space_role") or "",
        enabled=True,
        created_by=f"admin API ({call.principal.token_id})",
        **protocol,
    )


def _created(call: Call, created: auth_pb2.Connection) -> web.Response:
    return json_response(
        connection_json(call, created),
        status=201,
        location=f"/api/v1/connections/{created.id}",
    )


@endpoint(
    "Create a SAML connection",
    description="From the IdP's metadata (XML or a URL auth re-reads every 6 hours) or from its "
    "entity id, SSO URL and signing certificates. The response's saml.acs_url and "
    "saml.sp_entity_id are what to enter at the IdP; saml.sp_entity_id is also our SP "
    "metadata URL. Signed assertions are always required.",
    body="SamlConnectionCreate",
    example={
        "name": "okta-saml",
        "display_name": "Okta",
        "domains": ["example.com"],
        "vendor": "okta",
        "metadata_url": "https://example.okta.com/app/exk1/sso/saml/metadata",
    },
    response="Connection",
    status=201,
)
async def create_saml_connection(call: Call) -> web.Response:
    body = call.body
    saml = auth_pb2.SamlSettings(
        vendor=SAML_VENDORS[body["vendor"]],
        metadata_xml=body.get("metadata_xml") or "",
        metadata_url=body.get("metadata_url") or "",
        idp_entity_id=body.get("idp_entity_id") or "",
        sso_url=body.get("sso_url") or "",
        certificates=body.get("certificates") or [],
        want_response_signed=bool(body.get("want_response_signed")),
        allow_sha1=bool(body.get("allow_sha1")),
        allow_idp_initiated=bool(body.get("allow_idp_initiated")),
        clock_skew_seconds=int(body.get("clock_skew_seconds") or 0),
    )
    response = await call.clients.auth.CreateSamlConnection(
        auth_pb2.CreateSamlConnectionRequest(
            connection=_connection(call, saml=saml),
            public_url=call.request.config_dict[CONFIG].public_url,
        )
    )
    return _created(call, response.connection)


@endpoint("Delete an SSO connection", status=204)
async def delete_connection(call: Call) -> web.Response:
    await call.clients.auth.DeleteConnection(
        auth_pb2.DeleteConnectionRequest(
            account_id=call.account_id, connection_id=call.path("connection_id")
        )
    )
    return no_content()


@endpoint(
    "Test a connection",
    description="OIDC: fetches the IdP's discovery document and JWKS now and reports what is "
    "wrong (issuer mismatch, unreachable endpoints, no keys, no PKCE S256, no client secret). "
    "SAML: checks the pinned certificates (readable, not expired, expiry ahead), the SSO URL "
    "and, when one is set, re-reads the metadata URL and compares it. Changes nothing.",
    response="ConnectionTest",
)
async def test_connection(call: Call) -> web.Response:
    response = await call.clients.auth.TestConnection(
        auth_pb2.TestConnectionRequest(
            account_id=call.account_id, connection_id=call.path("connection_id")
        )
    )
    return json_response(
        {
            "ok": response.ok,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in response.checks],
        }
    )
