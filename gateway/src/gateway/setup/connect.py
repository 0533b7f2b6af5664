"""The wizard's identity-provider step: choose the IdP and protocol, paste idmesh's values into
the IdP's console, give back what the IdP shows, and see each value checked as it arrives.

The connection's id is reserved on the link before it exists, so that the redirect URI (OIDC) or
the ACS URL and entity id (SAML), which name it, can be pasted into the IdP first. The connection
is created disabled, serving the account's domains: the account's users keep signing in the old
way until the IT admin finishes. Auth checks what arrives (the discovery document, the metadata,
its certificates and signature algorithms); a refusal is shown next to the field, under the
IdP's own name for it.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

import grpc
from aiohttp import web

from gateway.pages.html import redirect
from gateway.setup import idps
from gateway.setup.idps import Guide
from gateway.setup.session import Setup, refusal, setup_view
from gateway.setup.state import account_domains, link_connection
from idmesh.auth.v1 import auth_pb2

_OIDC_VENDORS: Final = {
    "okta": auth_pb2.OIDC_VENDOR_OKTA,
    "azure_ad": auth_pb2.OIDC_VENDOR_AZURE_AD,
    "google": auth_pb2.OIDC_VENDOR_GOOGLE,
    "generic": auth_pb2.OIDC_VENDOR_GENERIC,
}
_SAML_VENDORS: Final = {
    "okta": auth_pb2.SAML_VENDOR_OKTA,
    "azure_ad": auth_pb2.SAML_VENDOR_AZURE_AD,
    "google": auth_pb2.SAML_VENDOR_GENERIC,
    "generic": auth_pb2.SAML_VENDOR_GENERIC,
}
_GUIDE_OF_VENDOR: Final = {
    ("oidc", auth_pb2.OIDC_VENDOR_OKTA): "oidc/okta",
    ("oidc", auth_pb2.OIDC_VENDOR_AZURE_AD): "oidc/azure_ad",
    ("oidc", auth_pb2.OIDC_VENDOR_GOOGLE): "oidc/google",
    ("oidc", auth_pb2.OIDC_VENDOR_GENERIC): "oidc/generic",
    ("saml", auth_pb2.SAML_VENDOR_OKTA): "saml/okta",
    ("saml", auth_pb2.SAML_VENDOR_AZURE_AD): "saml/azure_ad",
    ("saml", auth_pb2.SAML_VENDOR_GENERIC): "saml/generic",
}
MAX_METADATA: Final = 1_000_000


def sp_values(public_url: str, connection_id: str) -> dict[str, str]:
    """What the IdP needs from idmesh for a connection id (auth builds the same on creation)."""
    return {
        idps.REDIRECT_URI: f"{public_url}/sso/oidc/{connection_id}/callback",
        idps.ACS_URL: f"{public_url}/sso/saml/{connection_id}/acs",
        idps.ENTITY_ID: f"{public_url}/sso/saml/{connection_id}/metadata",
        idps.SP_METADATA_URL: f"{public_url}/sso/saml/{connection_id}/metadata",
    }


def paste_rows(guide: Guide, values: dict[str, str]) -> list[dict[str, Any]]:
    """Each value to paste; a literal one (a choice in a dropdown) gets no copy button."""
    return [
        {"id": f"paste-{i}", "label": p.label, "copyable": not p.literal,
         "value": p.value if p.literal else values[p.value]}
        for i, p in enumerate(guide.paste)
    ]  # fmt: skip


def guide_of(connection: auth_pb2.Connection) -> Guide:
    protocol = connection.WhichOneof("protocol") or "oidc"
    vendor = connection.oidc.vendor if protocol == "oidc" else connection.saml.vendor
    return idps.BY_KEY[_GUIDE_OF_VENDOR.get((protocol, vendor), f"{protocol}/generic")]


def claim_steps(guide: Guide, mapping: auth_pb2.AttributeMapping) -> list[str]:
    names = {
        "space_name": mapping.space_name or "space_name",
        "space_role": mapping.space_role or "space_role",
        "timezone": mapping.timezone or "timezone",
        "groups": mapping.groups or "groups",
    }
    return [step.format(**names) for step in guide.claims]


async def _reserved_id(setup: Setup) -> str:
    """The link's connection id, reserved now when it has none."""
    if setup.link.connection_id:
        return setup.link.connection_id
    reserved = str(uuid.uuid4())
    await setup.clients.auth.UpdateSetupLink(
        auth_pb2.UpdateSetupLinkRequest(
            account_id=setup.account_id, link_id=setup.link.id, connection_id=reserved
        )
    )
    return reserved


async def served_domains(setup: Setup, connection_id: str) -> list[str]:
    """The account's domains no other connection of the account serves."""
    listed = await setup.clients.auth.ListConnections(
        auth_pb2.ListConnectionsRequest(account_id=setup.account_id, page_size=200)
    )
    others = {d for c in listed.connections if c.id != connection_id for d in c.domains}
    return [d.domain for d in await account_domains(setup) if d.domain not in others]


@setup_view("sso")
async def sso(setup: Setup) -> web.StreamResponse:
    """The chosen IdP's page once the connection exists; otherwise the choice."""
    connection = await link_connection(setup)
    if connection is None:
        return setup.page("setup/choose.html", "sso", "Choose your identity provider",
                          guides=idps.GUIDES)  # fmt: skip
    guide = guide_of(connection)
    checks = await setup.clients.auth.TestConnection(
        auth_pb2.TestConnectionRequest(account_id=setup.account_id, connection_id=connection.id)
    )
    return setup.page(
        "setup/connected.html", "sso", f"{guide.title}: connected", guide=guide,
        connection=connection, checks=checks,
        paste=paste_rows(guide, sp_values(setup.public_url, connection.id)),
        claims=claim_steps(guide, connection.attribute_mapping),
    )  # fmt: skip


def _guide(setup: Setup) -> Guide:
    info = setup.request.match_info
    guide = idps.BY_KEY.get(f"{info['protocol']}/{info['vendor']}")
    if guide is None:
        raise web.HTTPNotFound()
    return guide


async def _connect_page(
    setup: Setup, guide: Guide, *, errors: dict[str, str] | None = None, status: int = 200
) -> web.Response:
    connection_id = await _reserved_id(setup)
    values = {name: setup.text(name) for name in ("issuer", "client_id", "scopes", "metadata_url")}
    return setup.page(
        "setup/connect.html", "sso", guide.title, status=status, guide=guide,
        paste=paste_rows(guide, sp_values(setup.public_url, connection_id)),
        values=values, errors=errors or {},
        error="Some values need another look." if errors else "",
        claims=claim_steps(guide, auth_pb2.AttributeMapping()),
    )  # fmt: skip


@setup_view("sso")
async def connect_page(setup: Setup) -> web.StreamResponse:
    guide = _guide(setup)
    if await link_connection(setup) is not None:
        return redirect("/setup/sso")
    return await _connect_page(setup, guide)


def _common(setup: Setup, guide: Guide, connection_id: str, domains: list[str]) -> dict[str, Any]:
    return {
        "account_id": setup.account_id,
        "name": f"{guide.vendor.replace('_', '-')}-{guide.protocol}-{connection_id[:8]}",
        "display_name": guide.name if guide.vendor != "generic" else "Single sign-on",
        "domains": domains,
        "created_by": f"setup link {setup.link.id}",
    }


def _field_of(guide: Guide, error: grpc.aio.AioRpcError) -> str:
    detail = (error.details() or "").lower()
    if guide.protocol == "saml":
        return "metadata_url"
    if "secret" in detail:
        return "client_secret"
    if "client" in detail:
        return "client_id"
    return "issuer"


@setup_view("sso")
async def connect(setup: Setup) -> web.StreamResponse:
    """Creates the connection (disabled) from what the IdP's console shows."""
    guide = _guide(setup)
    if await link_connection(setup) is not None:
        return redirect("/setup/sso")
    connection_id = await _reserved_id(setup)
    common = _common(setup, guide, connection_id, await served_domains(setup, connection_id))
    metadata_xml = _upload(setup) or setup.text("metadata_xml")
    errors = _missing(setup, guide, metadata_xml)
    if errors:
        return await _connect_page(setup, guide, errors=errors, status=400)
    try:
        if guide.protocol == "oidc":
            await setup.clients.auth.CreateConnection(
                auth_pb2.CreateConnectionRequest(
                    connection=auth_pb2.Connection(**common, oidc=_oidc(setup, guide)),
                    disabled=True, connection_id=connection_id,
                )
            )  # fmt: skip
        else:
            await setup.clients.auth.CreateSamlConnection(
                auth_pb2.CreateSamlConnectionRequest(
                    connection=auth_pb2.Connection(
                        **common, saml=_saml(setup, guide, metadata_xml)
                    ),
                    public_url=setup.public_url, disabled=True, connection_id=connection_id,
                )
            )  # fmt: skip
    except grpc.aio.AioRpcError as error:
        message = refusal(error)
        if message is None:
            raise
        field = _field_of(guide, error)
        label = _label(guide, field)
        return await _connect_page(setup, guide, errors={field: f"{label}: {message}"}, status=400)
    await setup.audit(
        "setup_link.connection_created", "connection", connection_id,
        protocol=guide.protocol, vendor=guide.vendor, domains=common["domains"], enabled=False,
    )  # fmt: skip
    return redirect("/setup/sso")


def _label(guide: Guide, field: str) -> str:
    return {
        "issuer": guide.issuer_label or "Issuer",
        "client_id": guide.client_id_label,
        "client_secret": guide.client_secret_label,
        "metadata_url": guide.metadata_url_label or "IdP metadata",
    }[field]


def _missing(setup: Setup, guide: Guide, metadata_xml: str) -> dict[str, str]:
    errors = {}
    if guide.protocol == "oidc":
        needed = ["client_id", "client_secret"] + ([] if guide.fixed_issuer else ["issuer"])
        for name in needed:
            if not setup.text(name):
                errors[name] = f"{_label(guide, name)} is required."
    elif not (setup.text("metadata_url") or metadata_xml):
        errors["metadata_url"] = "Give the metadata URL, or upload or paste the metadata XML."
    return errors


def _upload(setup: Setup) -> str:
    upload = setup.form.get("metadata_file") if setup.form is not None else None
    if isinstance(upload, web.FileField):
        return upload.file.read(MAX_METADATA).decode("utf-8", "replace").strip()
    return ""


def _oidc(setup: Setup, guide: Guide) -> auth_pb2.OidcSettings:
    settings = auth_pb2.OidcSettings(
        client_id=setup.text("client_id"),
        client_secret=setup.text("client_secret"),
        vendor=_OIDC_VENDORS[guide.vendor],
    )
    extra = [scope for scope in setup.text("scopes").split() if scope != "openid"]
    if extra:  # on top of the vendor's own (Okta's include groups)
        base = ["openid", "email", "profile", *(["groups"] if guide.vendor == "okta" else [])]
        settings.scopes.extend(dict.fromkeys([*base, *extra]))
    if guide.tenant:
        settings.entra_tenant_id = setup.text("issuer")
    else:
        settings.issuer = guide.fixed_issuer or setup.text("issuer").rstrip("/")
    return settings


def _saml(setup: Setup, guide: Guide, metadata_xml: str) -> auth_pb2.SamlSettings:
    return auth_pb2.SamlSettings(
        vendor=_SAML_VENDORS[guide.vendor],
        metadata_url=setup.text("metadata_url"),
        metadata_xml=metadata_xml,
    )


@setup_view("sso")
async def reset(setup: Setup) -> web.StreamResponse:
    """Another IdP: the connection made through this link (never enabled yet) is removed."""
    connection = await link_connection(setup)
    if connection is not None and not connection.enabled:
        await setup.clients.auth.DeleteConnection(
            auth_pb2.DeleteConnectionRequest(
                account_id=setup.account_id, connection_id=connection.id
            )
        )
        await setup.audit("setup_link.connection_removed", "connection", connection.id)
    return redirect("/setup/sso")
