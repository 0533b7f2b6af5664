"""Connections: the list with each one's health, the add forms (OIDC and SAML, per vendor with
the field names of its console), each connection's page (the values to paste with copy
buttons, edit, test, disable, remove with confirmation) and the account's domains with the TXT
record to publish. auth's connection RPCs and directory's domain RPCs, as
``/api/v1/connections`` and ``/api/v1/domains``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import grpc
from aiohttp import web
from cryptography import x509
from google.protobuf import timestamp_pb2

from gateway.admin import presets
from gateway.admin.common import form_error, not_found_for_bad_ids
from gateway.admin.guard import Admin, check_csrf, require
from gateway.admin.layout import render_admin
from gateway.api.connections import SAML_VENDORS, VENDORS
from gateway.auth import has_permission
from gateway.forms import Form, read_form
from gateway.pages.html import redirect
from gateway.state import CLIENTS, CONFIG
from idmesh.auth.v1 import auth_pb2
from idmesh.directory.v1 import directory_pb2 as pb

_OIDC_FIELDS: Final = (
    "name",
    "display_name",
    "issuer",
    "entra_tenant_id",
    "client_id",
    "vendor",
    "domain",
    "discovery_check",
)
_SAML_FIELDS: Final = (
    "name",
    "display_name",
    "vendor",
    "domain",
    "metadata_url",
    "metadata_xml",
    "idp_entity_id",
    "sso_url",
    "certificate",
)
# The services' field names, as the form's.
_FIELDS: Final = {
    "connection.name": "name",
    "name": "name",
    "connection.display_name": "display_name",
    "connection.domains": "domain",
    "domains": "domain",
    "connection.oidc.issuer": "issuer",
    "oidc.issuer": "issuer",
    "issuer": "issuer",
    "connection.oidc.client_id": "client_id",
    "client_id": "client_id",
    "connection.oidc.client_secret": "client_secret",
    "client_secret": "client_secret",
    "entra_tenant_id": "entra_tenant_id",
    "connection.oidc.entra_tenant_id": "entra_tenant_id",
    "metadata_url": "metadata_url",
    "connection.saml.metadata_url": "metadata_url",
    "metadata_xml": "metadata_xml",
    "connection.saml.metadata_xml": "metadata_xml",
    "idp_entity_id": "idp_entity_id",
    "connection.saml.idp_entity_id": "idp_entity_id",
    "sso_url": "sso_url",
    "connection.saml.sso_url": "sso_url",
    "certificates": "certificate",
    "connection.saml.certificates": "certificate",
    "domain": "domain",
}
NOTES: Final = {
    "added": "The connection was added. Paste the values below into your IdP.",
    "saved": "Saved.",
    "disabled": "The connection is disabled: it signs nobody in and is not offered at /login.",
    "enabled": "The connection is enabled.",
    "removed": "The connection was removed.",
    "claimed": "The domain was claimed. Publish its TXT record, then verify it.",
    "verified": "The domain is verified.",
    "domain_removed": "The domain was removed.",
}
_CERT_WARNING_DAYS: Final = 30


@dataclass(frozen=True)
class Health:
    """What the login traces and the pinned certificates say about a connection."""

    last_success: timestamp_pb2.Timestamp
    last_failure: timestamp_pb2.Timestamp
    last_failure_reason: str
    certificate_expiry: datetime | None

    @property
    def certificate_days(self) -> int | None:
        if self.certificate_expiry is None:
            return None
        return (self.certificate_expiry - datetime.now(UTC)).days


def certificate_expiry(connection: auth_pb2.Connection) -> datetime | None:
    """The earliest expiry of a SAML connection's pinned signing certificates."""
    if connection.WhichOneof("protocol") != "saml":
        return None
    expiries = []
    for pem in connection.saml.certificates:
        text = (
            pem
            if "BEGIN CERTIFICATE" in pem
            else (f"-----BEGIN CERTIFICATE-----\n{pem}\n-----END CERTIFICATE-----")
        )
        try:
            expiries.append(x509.load_pem_x509_certificate(text.encode()).not_valid_after_utc)
        except ValueError:
            continue
    return min(expiries) if expiries else None


async def health(request: web.Request, admin: Admin, connection: auth_pb2.Connection) -> Health:
    auth = request.app[CLIENTS].auth

    async def newest(outcome: str) -> auth_pb2.LoginTrace | None:
        if not has_permission(admin.permissions, "audit:read"):
            return None
        listed = await auth.ListLoginTraces(
            auth_pb2.ListLoginTracesRequest(
                account_id=admin.account_id,
                connection_id=connection.id,
                outcome=outcome,
                page_size=1,
            )
        )
        return listed.traces[0] if listed.traces else None

    success, failure = await asyncio.gather(newest("success"), newest("failure"))
    return Health(
        last_success=success.time if success else timestamp_pb2.Timestamp(),
        last_failure=failure.time if failure else timestamp_pb2.Timestamp(),
        last_failure_reason=failure.reason if failure else "",
        certificate_expiry=certificate_expiry(connection),
    )


def protocol(connection: auth_pb2.Connection) -> str:
    return connection.WhichOneof("protocol") or "unspecified"


_OIDC_VENDOR_KEYS: Final = {value: key for key, value in VENDORS.items()}
_SAML_VENDOR_KEYS: Final = {value: key for key, value in SAML_VENDORS.items()}


def _vendor(connection: auth_pb2.Connection) -> str:
    if protocol(connection) == "oidc":
        return _OIDC_VENDOR_KEYS.get(connection.oidc.vendor, "generic")
    return _SAML_VENDOR_KEYS.get(connection.saml.vendor, "generic")


async def list_connections(request: web.Request, admin: Admin) -> list[auth_pb2.Connection]:
    listed = await request.app[CLIENTS].auth.ListConnections(
        auth_pb2.ListConnectionsRequest(account_id=admin.account_id, page_size=100)
    )
    return list(listed.connections)


async def _domains(request: web.Request, admin: Admin) -> list[pb.Domain]:
    listed = await request.app[CLIENTS].directory.ListDomains(
        pb.ListDomainsRequest(account_id=admin.account_id, page=pb.PageRequest(page_size=200))
    )
    return list(listed.domains)


def domain_rows(domains: list[pb.Domain]) -> list[dict[str, Any]]:
    return [
        {
            "id": d.id,
            "domain": d.domain,
            "verified": d.status == pb.DOMAIN_STATUS_VERIFIED,
            "record_name": d.record_name,
            "record_value": d.record_value,
            "last_check": d.last_check_time,
            "error": d.last_check_error,
        }
        for d in domains
    ]


async def connections(request: web.Request, admin: Admin) -> web.StreamResponse:
    require(admin, "connections:read")
    return await connections_page(request, admin)


async def connections_page(
    request: web.Request,
    admin: Admin,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    found, domains = await asyncio.gather(
        list_connections(request, admin), _domains(request, admin)
    )
    healths = await asyncio.gather(*(health(request, admin, c) for c in found))
    rows = [
        {
            "id": c.id,
            "name": c.display_name or c.name,
            "slug": c.name,
            "protocol": protocol(c).upper(),
            "vendor": presets.VENDOR_NAMES.get(_vendor(c), "Generic"),
            "domains": list(c.domains),
            "enabled": c.enabled,
            "health": h,
        }
        for c, h in zip(found, healths, strict=True)
    ]
    return render_admin(
        request,
        admin,
        "connections.html",
        nav="connections",
        title="Connections",
        lead="Single sign-on connections to your IdPs, and the email domains they serve.",
        note=NOTES.get(request.query.get("note", ""), ""),
        rows=rows,
        domains=domain_rows(domains),
        scim_url=f"{request.app[CONFIG].public_url}/scim/v2",
        values=values or {},
        errors=errors or {},
        error="The domain was not claimed: see the form." if errors else "",
        can_manage=has_permission(admin.permissions, "connections:manage"),
        status=status,
    )


# -- adding -----------------------------------------------------------------------------------


async def new_connection(request: web.Request, admin: Admin) -> web.StreamResponse:
    require(admin, "connections:manage")
    kind = request.query.get("protocol", "oidc")
    vendor = request.query.get("vendor", "okta")
    return _new_page(request, admin, kind, vendor, values={"vendor": vendor})


def _new_page(
    request: web.Request,
    admin: Admin,
    kind: str,
    vendor: str,
    *,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    kind = kind if kind in ("oidc", "saml") else "oidc"
    choices = presets.SAML if kind == "saml" else presets.OIDC
    vendor = vendor if vendor in choices else "generic"
    errors = errors or {}
    return render_admin(
        request,
        admin,
        f"connection_new_{kind}.html",
        nav="connections",
        title="Add a connection",
        crumbs=(("/admin/connections", "Connections"),),
        protocol=kind,
        preset=choices[vendor],
        presets=choices,
        values=values,
        errors=errors,
        error="The connection was not added: see the form." if errors else "",
        status=status,
    )


def _values(form: Form, names: tuple[str, ...]) -> dict[str, str]:
    return {name: str(form.get(name, "")).strip() for name in names}


async def add_connection(request: web.Request, admin: Admin) -> web.StreamResponse:
    """Creates an OIDC connection with the same auth RPC as ``POST /api/v1/connections``."""
    form = await read_form(request)
    check_csrf(request, admin, form)
    require(admin, "connections:manage")
    values = _values(form, _OIDC_FIELDS)
    vendor = values["vendor"] if values["vendor"] in VENDORS else "generic"
    preset = presets.OIDC[vendor]
    issuer = values["issuer"] or preset.issuer
    if preset.tenant and values["entra_tenant_id"] and not issuer:
        issuer = f"https://login.microsoftonline.com/{values['entra_tenant_id']}/v2.0"
    errors = {}
    for name, message in (
        ("name", "Enter a name: lower-case letters, digits and dashes."),
        ("client_id", f"Enter the {preset.client_id_label}."),
    ):
        if not values[name]:
            errors[name] = message
    if not issuer:
        errors["entra_tenant_id" if preset.tenant else "issuer"] = (
            "Enter the Directory (tenant) ID." if preset.tenant else "Enter the issuer URL."
        )
    if not form.get("client_secret"):
        errors["client_secret"] = f"Enter the {preset.client_secret_label}."
    if errors:
        return _new_page(request, admin, "oidc", vendor, values=values, errors=errors, status=400)
    connection = auth_pb2.Connection(
        account_id=admin.account_id,
        name=values["name"],
        display_name=values["display_name"] or values["name"],
        domains=[values["domain"]] if values["domain"] else [],
        enabled=True,
        created_by=f"admin console ({admin.user_name})",
        oidc=auth_pb2.OidcSettings(
            issuer=issuer,
            client_id=values["client_id"],
            client_secret=str(form.get("client_secret", "")),
            vendor=VENDORS[vendor],
            entra_tenant_id=values["entra_tenant_id"] if preset.tenant else "",
        ),
    )
    try:
        created = await request.app[CLIENTS].auth.CreateConnection(
            auth_pb2.CreateConnectionRequest(
                connection=connection, skip_discovery_check=not values["discovery_check"]
            )
        )
    except grpc.aio.AioRpcError as error:
        status, errors = form_error(error, _FIELDS)
        return _new_page(
            request, admin, "oidc", vendor, values=values, errors=errors, status=status
        )
    return redirect(f"/admin/connections/{created.connection.id}?note=added")


async def add_saml_connection(request: web.Request, admin: Admin) -> web.StreamResponse:
    """Creates a SAML connection from the IdP's metadata URL or XML, or from its entity id, SSO
    URL and certificate, as ``POST /api/v1/connections/saml``."""
    form = await read_form(request)
    check_csrf(request, admin, form)
    require(admin, "connections:manage")
    values = _values(form, _SAML_FIELDS)
    vendor = values["vendor"] if values["vendor"] in SAML_VENDORS else "generic"
    upload = form.get("metadata_file")
    if isinstance(upload, web.FileField):
        values["metadata_xml"] = upload.file.read(1_000_000).decode("utf-8", "replace")
    errors = {}
    if not values["name"]:
        errors["name"] = "Enter a name: lower-case letters, digits and dashes."
    given = values["metadata_url"] or values["metadata_xml"] or values["idp_entity_id"]
    if not given:
        errors["metadata_url"] = "Enter the metadata URL, upload the metadata, or fill the fields."
    if errors:
        return _new_page(request, admin, "saml", vendor, values=values, errors=errors, status=400)
    saml = auth_pb2.SamlSettings(
        vendor=SAML_VENDORS[vendor],
        metadata_url=values["metadata_url"],
        metadata_xml=values["metadata_xml"],
        idp_entity_id=values["idp_entity_id"],
        sso_url=values["sso_url"],
        certificates=[values["certificate"]] if values["certificate"] else [],
    )
    connection = auth_pb2.Connection(
        account_id=admin.account_id,
        name=values["name"],
        display_name=values["display_name"] or values["name"],
        domains=[values["domain"]] if values["domain"] else [],
        enabled=True,
        created_by=f"admin console ({admin.user_name})",
        saml=saml,
    )
    try:
        created = await request.app[CLIENTS].auth.CreateSamlConnection(
            auth_pb2.CreateSamlConnectionRequest(
                connection=connection, public_url=request.app[CONFIG].public_url
            )
        )
    except grpc.aio.AioRpcError as error:
        status, errors = form_error(error, _FIELDS)
        if len(values["metadata_xml"]) > 20_000:
            values["metadata_xml"] = ""  # an uploaded file is not sent back into the form
        return _new_page(
            request, admin, "saml", vendor, values=values, errors=errors, status=status
        )
    return redirect(f"/admin/connections/{created.connection.id}?note=added")


# -- one connection -------------------------------------------------------------------------


async def _connection(request: web.Request, admin: Admin) -> auth_pb2.Connection:
    try:
        found = await request.app[CLIENTS].auth.GetConnection(
            auth_pb2.GetConnectionRequest(
                account_id=admin.account_id, connection_id=request.match_info["connection"]
            )
        )
    except grpc.aio.AioRpcError as error:
        raise not_found_for_bad_ids(error) from None
    return found.connection


def paste_values(public_url: str, connection: auth_pb2.Connection) -> list[tuple[str, str, str]]:
    """(id, label in the IdP's words, value) of what the admin pastes into the IdP."""
    vendor = _vendor(connection)
    if protocol(connection) == "oidc":
        preset = presets.OIDC.get(vendor, presets.OIDC["generic"])
        return [
            (
                "redirect-uri",
                preset.redirect_label,
                f"{public_url}/sso/oidc/{connection.id}/callback",
            ),
            ("scim-url", "SCIM base URL (provisioning)", f"{public_url}/scim/v2"),
        ]
    saml_preset = presets.SAML.get(vendor, presets.SAML["generic"])
    saml = connection.saml
    return [
        (
            "acs-url",
            saml_preset.acs_label,
            saml.acs_url or f"{public_url}/sso/saml/{connection.id}/acs",
        ),
        ("entity-id", saml_preset.entity_label, saml.sp_entity_id),
        ("sp-metadata", "SP metadata URL", f"{public_url}/sso/saml/{connection.id}/metadata"),
        ("scim-url", "SCIM base URL (provisioning)", f"{public_url}/scim/v2"),
    ]


async def connection(request: web.Request, admin: Admin) -> web.StreamResponse:
    require(admin, "connections:read")
    found = await _connection(request, admin)
    return await _connection_page(
        request, admin, found, note=NOTES.get(request.query.get("note", ""), "")
    )


async def _connection_page(
    request: web.Request,
    admin: Admin,
    found: auth_pb2.Connection,
    *,
    note: str = "",
    test: auth_pb2.TestConnectionResponse | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    checked, domains = await asyncio.gather(health(request, admin, found), _domains(request, admin))
    served = [d for d in domain_rows(domains) if d["domain"] in found.domains]
    kind = protocol(found)
    settings: list[tuple[str, str]] = [("Name", found.name), ("Protocol", kind.upper())]
    if kind == "oidc":
        settings += [
            ("Issuer", found.oidc.issuer),
            ("Client ID", found.oidc.client_id),
            ("Client secret", "set (never shown)" if found.oidc.client_secret_set else "not set"),
        ]
        if found.oidc.entra_tenant_id:
            settings.append(("Directory (tenant) ID", found.oidc.entra_tenant_id))
    else:
        settings += [
            ("IdP entity ID", found.saml.idp_entity_id),
            ("IdP SSO URL", found.saml.sso_url),
            ("Metadata URL", found.saml.metadata_url or "—"),
        ]
    shown = {"display_name": found.display_name, "domains": ", ".join(found.domains)}
    shown.update(values or {})
    return render_admin(
        request,
        admin,
        "connection.html",
        nav="connections",
        title=found.display_name or found.name,
        crumbs=(("/admin/connections", "Connections"),),
        note=note,
        error="Not saved: see the form." if errors else "",
        connection=found,
        vendor=presets.VENDOR_NAMES.get(_vendor(found), "Generic"),
        paste=paste_values(request.app[CONFIG].public_url, found),
        settings=settings,
        health=checked,
        domains=served,
        test=test,
        values=shown,
        errors=errors or {},
        can_manage=has_permission(admin.permissions, "connections:manage"),
        status=status,
    )


def _domains_from(text: str) -> list[str]:
    return [d.strip().lower() for d in text.replace("\n", ",").split(",") if d.strip()]


async def _update(
    request: web.Request,
    admin: Admin,
    current: auth_pb2.Connection,
    *,
    display_name: str,
    domains: list[str],
    enabled: bool,
) -> None:
    await request.app[CLIENTS].auth.UpdateConnection(
        auth_pb2.UpdateConnectionRequest(
            account_id=admin.account_id,
            connection_id=current.id,
            display_name=display_name,
            domains=domains,
            enabled=enabled,
            provisioning_policy=current.provisioning_policy,
            default_space=current.default_space,
            default_space_role=current.default_space_role,
            expected_version=current.version,
        )
    )


async def save_connection(request: web.Request, admin: Admin) -> web.StreamResponse:
    """Edits the display name and the served domains (the IdP settings are replaced by adding a
    new connection, as in the API)."""
    form = await read_form(request)
    check_csrf(request, admin, form)
    require(admin, "connections:manage")
    current = await _connection(request, admin)
    values = _values(form, ("display_name", "domains"))
    if not values["display_name"]:
        return await _connection_page(
            request,
            admin,
            current,
            values=values,
            errors={"display_name": "Enter the label of the sign-in button."},
            status=400,
        )
    try:
        await _update(
            request,
            admin,
            current,
            display_name=values["display_name"],
            domains=_domains_from(values["domains"]),
            enabled=current.enabled,
        )
    except grpc.aio.AioRpcError as error:
        status, errors = form_error(error, {**_FIELDS, "domains": "domains"})
        if "domain" in errors:
            errors = {"domains": errors.pop("domain")}
        return await _connection_page(
            request, admin, current, values=values, errors=errors, status=status
        )
    return redirect(f"/admin/connections/{current.id}?note=saved")


async def set_enabled(request: web.Request, admin: Admin) -> web.StreamResponse:
    form = await read_form(request)
    check_csrf(request, admin, form)
    require(admin, "connections:manage")
    current = await _connection(request, admin)
    enabled = form.get("enabled") == "true"
    await _update(
        request,
        admin,
        current,
        display_name=current.display_name,
        domains=list(current.domains),
        enabled=enabled,
    )
    note = "enabled" if enabled else "disabled"
    return redirect(f"/admin/connections/{current.id}?note={note}")


async def test_connection(request: web.Request, admin: Admin) -> web.StreamResponse:
    """Runs auth's TestConnection (discovery and JWKS, or certificates and metadata) and shows
    each check on the connection's page. Changes nothing, but is a POST: it fetches from the
    IdP."""
    form = await read_form(request)
    check_csrf(request, admin, form)
    require(admin, "connections:manage")
    current = await _connection(request, admin)
    result = await request.app[CLIENTS].auth.TestConnection(
        auth_pb2.TestConnectionRequest(account_id=admin.account_id, connection_id=current.id)
    )
    note = "Every check passed." if result.ok else ""
    return await _connection_page(request, admin, current, note=note, test=result)


async def confirm_remove(request: web.Request, admin: Admin) -> web.StreamResponse:
    require(admin, "connections:manage")
    current = await _connection(request, admin)
    return _remove_page(request, admin, current)


def _remove_page(
    request: web.Request, admin: Admin, current: auth_pb2.Connection, *, error: str = ""
) -> web.Response:
    return render_admin(
        request,
        admin,
        "connection_remove.html",
        nav="connections",
        title=f"Remove {current.display_name or current.name}?",
        crumbs=(
            ("/admin/connections", "Connections"),
            (f"/admin/connections/{current.id}", current.display_name or current.name),
        ),
        connection=current,
        errors={"confirm": error} if error else {},
        status=400 if error else 200,
    )


async def remove_connection(request: web.Request, admin: Admin) -> web.StreamResponse:
    """Deletes the connection once the admin typed its name (GitHub's "type the name to
    confirm"): its users stay, they can no longer sign in through it."""
    form = await read_form(request)
    check_csrf(request, admin, form)
    require(admin, "connections:manage")
    current = await _connection(request, admin)
    if str(form.get("confirm", "")).strip() != current.name:
        return _remove_page(request, admin, current, error=f"Type {current.name} to confirm.")
    await request.app[CLIENTS].auth.DeleteConnection(
        auth_pb2.DeleteConnectionRequest(account_id=admin.account_id, connection_id=current.id)
    )
    return redirect("/admin/connections?note=removed")
