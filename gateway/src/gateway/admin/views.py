"""The admin pages (issue 6): connections with the values to paste into Okta and Entra, groups
and their IdP identifier (the Torque guide's Groups page), users, login traces with the decoded
claims (instead of pasting an id_token into a JWT decoder, as the Torque guide's debugging
section does) and the SCIM provisioning log.

Each handler gets the signed-in ``Admin`` (gateway.admin.guard) and checks its permission first.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Final

import grpc
from aiohttp import web
from google.protobuf import json_format, timestamp_pb2

from gateway.admin.guard import (
    Admin,
    SignInRequired,
    check_csrf,
    csrf_input,
    current_admin,
    require,
    to_sign_in,
)
from gateway.admin.layout import NAV, admin_page, table
from gateway.api.connections import VENDORS
from gateway.forms import read_form
from gateway.pages.html import esc, redirect
from gateway.state import CLIENTS, CONFIG
from idmesh.auth.v1 import auth_pb2
from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import NotFound

PAGE_SIZE: Final = 100
_STATUSES: Final = {
    pb.USER_STATUS_PENDING: "pending",
    pb.USER_STATUS_ACTIVE: "active",
    pb.USER_STATUS_DEACTIVATED: "deactivated",
}
_OUTCOMES: Final = {
    auth_pb2.LOGIN_OUTCOME_SUCCESS: "success",
    auth_pb2.LOGIN_OUTCOME_FAILURE: "failure",
    auth_pb2.LOGIN_OUTCOME_RESTARTED: "restarted",
}
_PROVISIONING: Final = {
    pb.PROVISIONING_OUTCOME_SUCCESS: "success",
    pb.PROVISIONING_OUTCOME_REJECTED: "rejected",
    pb.PROVISIONING_OUTCOME_FAILED: "failed",
}

AdminHandler = Callable[[web.Request, Admin], Awaitable[web.StreamResponse]]


def admin_view(handler: AdminHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """``handler`` behind the session check: no live session redirects to the sign-in."""

    async def view(request: web.Request) -> web.StreamResponse:
        try:
            admin = await current_admin(request)
        except SignInRequired:
            return to_sign_in(request)
        return await handler(request, admin)

    return view


def _time(value: timestamp_pb2.Timestamp) -> str:
    if not value.seconds and not value.nanos:
        return "-"
    return value.ToDatetime().strftime("%Y-%m-%d %H:%M:%S UTC")


def _code(value: str) -> str:
    return f"<code>{esc(value)}</code>" if value else "-"


def _message(kind: str, text: str) -> str:
    role = "alert" if kind == "alert" else "status"
    return f'<div class="{kind}" role="{role}"><p>{esc(text)}</p></div>' if text else ""


# -- home -----------------------------------------------------------------------------------


async def home(request: web.Request, admin: Admin) -> web.StreamResponse:
    links = "".join(f'<li><a href="{href}">{esc(label)}</a></li>' for href, label in NAV)
    body = f"<p>Manage your account's single sign-on, groups and users.</p><ul>{links}</ul>"
    return admin_page(admin, "Admin", body)


# -- connections ----------------------------------------------------------------------------


def _setup_values(public_url: str, connection: auth_pb2.Connection) -> str:
    values = [("SCIM base URL", f"{public_url}/scim/v2")]
    if connection.WhichOneof("protocol") == "oidc":
        values.append(("OIDC redirect URI", f"{public_url}/sso/oidc/{connection.id}/callback"))
    elif connection.WhichOneof("protocol") == "saml":
        saml = connection.saml
        values += [
            ("SAML ACS URL", saml.acs_url or f"{public_url}/sso/saml/{connection.id}/acs"),
            ("SP entity ID", saml.sp_entity_id or "-"),
            ("SP metadata URL", f"{public_url}/sso/saml/{connection.id}/metadata"),
        ]
    return "<dl>" + "".join(f"<dt>{esc(k)}</dt><dd>{_code(v)}</dd>" for k, v in values) + "</dl>"


def _connection_form(admin: Admin, values: dict[str, str], error: str = "") -> str:
    def field(name: str, label: str, kind: str = "text", required: bool = True) -> str:
        value = "" if kind == "password" else values.get(name, "")
        req = " required" if required else ""
        return (
            f'<label for="{name}">{esc(label)}</label>\n'
            f'<input id="{name}" name="{name}" type="{kind}" value="{esc(value)}"{req}>\n'
        )

    vendor = values.get("vendor", "okta")
    options = "".join(
        f'<option value="{v}"{" selected" if v == vendor else ""}>{esc(v)}</option>'
        for v in VENDORS
    )
    checked = "" if values.get("submitted") and not values.get("discovery_check") else " checked"
    return (
        '<h2 id="add-oidc">Add an OIDC connection</h2>\n'
        f"{_message('alert', error)}"
        '<form method="post" action="/admin/connections" aria-labelledby="add-oidc">\n'
        f"{csrf_input(admin)}\n"
        + field("name", "Name (lower-case letters, digits, dashes)")
        + field("display_name", "Button label (Sign in with …)", required=False)
        + field("issuer", "Issuer URL", "url")
        + field("client_id", "Client ID")
        + field("client_secret", "Client secret", "password")
        + f'<label for="vendor">Vendor</label>\n<select id="vendor" name="vendor">{options}'
        "</select>\n"
        + field("domain", "Email domain", required=False)
        + f'<p><input id="discovery_check" name="discovery_check" type="checkbox" value="1"'
        f'{checked}> <label for="discovery_check">Check the issuer\'s '
        "discovery document now</label></p>\n"
        '<button type="submit">Add connection</button>\n</form>'
    )


async def _connections_page(
    request: web.Request, admin: Admin, *, form: dict[str, str], error: str = "", status: int = 200
) -> web.Response:
    listed = await request.app[CLIENTS].auth.ListConnections(
        auth_pb2.ListConnectionsRequest(account_id=admin.account_id, page_size=PAGE_SIZE)
    )
    public_url = request.app[CONFIG].public_url
    sections = []
    for connection in listed.connections:
        protocol = connection.WhichOneof("protocol") or "-"
        issuer = connection.oidc.issuer if protocol == "oidc" else connection.saml.idp_entity_id
        sections.append(
            f"<section><h3>{esc(connection.display_name or connection.name)}</h3>\n"
            f"<p>{esc(protocol.upper())} · {esc(connection.name)} · issuer {_code(issuer)} · "
            f"domains {esc(', '.join(connection.domains) or '-')}</p>\n"
            f"{_setup_values(public_url, connection)}</section>"
        )
    listing = "\n".join(sections) or "<p>No connection yet.</p>"
    intro = (
        "<p>Paste these values into the application of your IdP (Okta, Microsoft Entra ID): "
        f"the SCIM base URL for provisioning is {_code(public_url + '/scim/v2')}.</p>"
    )
    body = f"{intro}\n<h2>Connections</h2>\n{listing}\n{_connection_form(admin, form, error)}"
    return admin_page(admin, "Connections", body, status=status)


async def connections(request: web.Request, admin: Admin) -> web.StreamResponse:
    require(admin, "connections:read")
    return await _connections_page(request, admin, form={})


async def add_connection(request: web.Request, admin: Admin) -> web.StreamResponse:
    """Creates an OIDC connection with the same auth RPC as ``POST /api/v1/connections``."""
    form = await read_form(request)
    check_csrf(request, admin, form)
    require(admin, "connections:manage")
    values = {k: str(form.get(k, "")).strip() for k in _CONNECTION_FIELDS}
    values["submitted"] = "1"
    vendor = VENDORS.get(values["vendor"])
    if vendor is None:
        return await _connections_page(
            request, admin, form=values, error="Choose a vendor.", status=400
        )
    connection = auth_pb2.Connection(
        account_id=admin.account_id,
        name=values["name"],
        display_name=values["display_name"] or values["name"],
        domains=[values["domain"]] if values["domain"] else [],
        enabled=True,
        created_by=f"admin pages ({admin.user_name})",
        oidc=auth_pb2.OidcSettings(
            issuer=values["issuer"],
            client_id=values["client_id"],
            client_secret=str(form.get("client_secret", "")),
            vendor=vendor,
        ),
    )
    try:
        await request.app[CLIENTS].auth.CreateConnection(
            auth_pb2.CreateConnectionRequest(
                connection=connection, skip_discovery_check=not values["discovery_check"]
            )
        )
    except grpc.aio.AioRpcError as error:
        if error.code() not in _FORM_ERRORS:
            raise
        message = f"The connection was not added: {error.details()}"
        return await _connections_page(
            request, admin, form=values, error=message, status=_FORM_ERRORS[error.code()]
        )
    return redirect("/admin/connections")


_CONNECTION_FIELDS: Final = (
    "name",
    "display_name",
    "issuer",
    "client_id",
    "vendor",
    "domain",
    "discovery_check",
)
_FORM_ERRORS: Final = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
}


# -- groups ---------------------------------------------------------------------------------


async def groups(request: web.Request, admin: Admin) -> web.StreamResponse:
    require(admin, "groups:read")
    listed = await request.app[CLIENTS].directory.ListGroups(
        pb.ListGroupsRequest(account_id=admin.account_id, page=pb.PageRequest(page_size=PAGE_SIZE))
    )
    rows = [
        (
            f'<a href="/admin/groups/{esc(g.id)}">{esc(g.display_name)}</a>',
            _code(g.idp_identifier),
            esc(g.member_count),
        )
        for g in listed.groups
    ]
    body = (
        table("Groups of your account", ("Group", "IdP identifier", "Members"), rows)
        if rows
        else "<p>No group yet.</p>"
    )
    return admin_page(admin, "Groups", body)


async def _group(request: web.Request, admin: Admin) -> pb.Group:
    try:
        found = await request.app[CLIENTS].directory.GetGroup(
            pb.GetGroupRequest(account_id=admin.account_id, group_id=request.match_info["group"])
        )
    except grpc.aio.AioRpcError as error:
        if error.code() is grpc.StatusCode.INVALID_ARGUMENT:
            raise NotFound("no such group") from None
        raise
    return found.group


def _group_page(
    admin: Admin, group: pb.Group, *, value: str | None = None, error: str = "", note: str = ""
) -> str:
    shown = group.idp_identifier if value is None else value
    invalid = ' aria-invalid="true" aria-describedby="idp-error"' if error else ""
    alert = (
        f'<div class="alert" role="alert" id="idp-error"><p>{esc(error)}</p></div>' if error else ""
    )
    return (
        f"{_message('note', note)}{alert}"
        f"<dl><dt>Members</dt><dd>{esc(group.member_count)}</dd>"
        f"<dt>IdP identifier</dt><dd>{_code(group.idp_identifier)}</dd></dl>\n"
        f'<form method="post" action="/admin/groups/{esc(group.id)}">\n{csrf_input(admin)}\n'
        f'<input type="hidden" name="version" value="{esc(group.version)}">\n'
        '<label for="idp_identifier">IdP identifier</label>\n'
        f'<input id="idp_identifier" name="idp_identifier" type="text" value="{esc(shown)}"'
        f' maxlength="256"{invalid}>\n'
        "<p>The IdP's id of the group (for Microsoft Entra ID its object id). Users whose "
        "groups claim holds it join this group at sign-in. Leave empty to unmap.</p>\n"
        '<button type="submit">Save</button>\n</form>\n'
        '<p><a href="/admin/groups">All groups</a></p>'
    )


async def group(request: web.Request, admin: Admin) -> web.StreamResponse:
    require(admin, "groups:read")
    found = await _group(request, admin)
    note = "Saved." if request.query.get("saved") else ""
    return admin_page(admin, f"Group {found.display_name}", _group_page(admin, found, note=note))


async def set_idp_identifier(request: web.Request, admin: Admin) -> web.StreamResponse:
    """Sets the group's IdP identifier (Torque guide, "Mapping Torque user groups to IdP
    groups"), with the version the form was rendered at (a concurrent change is not lost)."""
    form = await read_form(request)
    check_csrf(request, admin, form)
    require(admin, "groups:manage")
    current = await _group(request, admin)
    value = str(form.get("idp_identifier", "")).strip()
    try:
        version = int(str(form.get("version", "")))
    except ValueError:
        version = current.version
    try:
        await request.app[CLIENTS].directory.UpdateGroup(
            pb.UpdateGroupRequest(
                group=pb.Group(
                    account_id=admin.account_id,
                    id=current.id,
                    display_name=current.display_name,
                    idp_identifier=value,
                ),
                expected_version=version,
                actor=admin.actor(),
            )
        )
    except grpc.aio.AioRpcError as error:
        messages = {
            grpc.StatusCode.ALREADY_EXISTS: (409, "Another group already has this identifier."),
            grpc.StatusCode.INVALID_ARGUMENT: (400, f"Not saved: {error.details()}"),
            grpc.StatusCode.ABORTED: (409, "The group changed meanwhile; check and save again."),
            grpc.StatusCode.FAILED_PRECONDITION: (
                409,
                "The group changed meanwhile; check and save again.",
            ),
        }
        if error.code() not in messages:
            raise
        status, text = messages[error.code()]
        body = _group_page(admin, current, value=value, error=text)
        return admin_page(admin, f"Group {current.display_name}", body, status=status)
    return redirect(f"/admin/groups/{current.id}?saved=1")


# -- users ----------------------------------------------------------------------------------


async def users(request: web.Request, admin: Admin) -> web.StreamResponse:
    require(admin, "users:read")
    directory = request.app[CLIENTS].directory
    listed = await directory.ListUsers(
        pb.ListUsersRequest(account_id=admin.account_id, page=pb.PageRequest(page_size=PAGE_SIZE))
    )
    accesses = await asyncio.gather(
        *(
            directory.GetUserAccess(
                pb.GetUserAccessRequest(account_id=admin.account_id, user_id=user.id)
            )
            for user in listed.users
        )
    )

    def spaces(access: pb.GetUserAccessResponse) -> str:
        return (
            "<br>".join(
                f"{esc(space.space_name)}: {esc(', '.join(r.role_name for r in space.roles))}"
                for space in access.spaces
            )
            or "-"
        )

    rows = [
        (
            esc(user.user_name),
            esc(_STATUSES.get(user.status, "-")),
            esc(access.account_role.name or user.account_role_name or "-"),
            spaces(access),
        )
        for user, access in zip(listed.users, accesses, strict=True)
    ]
    body = (
        table("Users of your account", ("User", "Status", "Account role", "Spaces and roles"), rows)
        if rows
        else "<p>No user yet.</p>"
    )
    return admin_page(admin, "Users", body)


# -- login traces ---------------------------------------------------------------------------


def _claims(trace: auth_pb2.LoginTrace) -> str:
    claims = json_format.MessageToDict(trace.claims)
    if not claims:
        return "<p>No claims were received.</p>"
    rows = [
        (
            _code(name),
            esc(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)),
        )
        for name, value in sorted(claims.items())
    ]
    return table("Decoded claims of the ID token (secrets redacted)", ("Claim", "Value"), rows)


def render_trace(trace: auth_pb2.LoginTrace) -> str:
    """One trace: outcome, reason, stage, detail, and the decoded claims as a table."""
    outcome = _OUTCOMES.get(trace.outcome, "unknown")
    delta = f"{trace.clock_delta_seconds:+.0f} s" if trace.has_clock_delta else "-"
    facts = [
        ("Outcome", esc(outcome)),
        ("Reason", _code(trace.reason)),
        ("Stage", esc(trace.stage or "-")),
        ("Detail", esc(trace.detail or "-")),
        ("Email", esc(trace.email or "-")),
        ("Subject", _code(trace.subject)),
        ("Groups", esc(", ".join(trace.groups) or "-")),
        ("Clock delta", esc(delta)),
        ("Trace id", _code(trace.trace_id)),
    ]
    listing = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in facts)
    return (
        f'<article class="trace trace-{esc(outcome)}"><h2>{esc(_time(trace.time))}: '
        f"{esc(outcome)}</h2>\n<dl>{listing}</dl>\n{_claims(trace)}</article>"
    )


async def traces(request: web.Request, admin: Admin) -> web.StreamResponse:
    require(admin, "audit:read")
    listed = await request.app[CLIENTS].auth.ListLoginTraces(
        auth_pb2.ListLoginTracesRequest(account_id=admin.account_id, page_size=50)
    )
    ordered = sorted(listed.traces, key=lambda t: t.time.ToNanoseconds(), reverse=True)
    body = "\n".join(render_trace(t) for t in ordered) or "<p>No sign-in attempt yet.</p>"
    return admin_page(admin, "Login traces", body)


# -- provisioning log -----------------------------------------------------------------------


async def provisioning(request: web.Request, admin: Admin) -> web.StreamResponse:
    require(admin, "audit:read")
    listed = await request.app[CLIENTS].directory.ListProvisioningEvents(
        pb.ListProvisioningEventsRequest(
            account_id=admin.account_id,
            page=pb.PageRequest(
                page_size=PAGE_SIZE, order_by="time", sort_order=pb.SORT_ORDER_DESCENDING
            ),
        )
    )
    rows = [
        (
            esc(_time(e.time)),
            esc(f"{e.method} {e.operation}"),
            esc(e.resource_type or "-"),
            _code(e.resource_id),
            esc(_PROVISIONING.get(e.outcome, "-")),
            esc(e.http_status or "-"),
            esc(e.detail or "-"),
            _code(e.trace_id),
        )
        for e in listed.events
    ]
    headers = ("Time", "Request", "Resource", "Id", "Outcome", "HTTP", "Detail", "Trace id")
    body = (
        table("SCIM requests, newest first", headers, rows)
        if rows
        else "<p>No provisioning request yet.</p>"
    )
    return admin_page(admin, "Provisioning log", body)
