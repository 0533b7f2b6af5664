"""``idmesh connection add-oidc|add-saml|list|remove``: SSO connections of an account.

The client secret is read from standard input (``--client-secret-stdin``), never from the
command line, where it would land in the shell history and in ``ps``.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Final

from idmesh.auth.v1 import auth_pb2
from idmesh_cli.errors import EXIT_USAGE, CliError
from idmesh_cli.output import message_dict, table, timestamp
from idmesh_cli.paging import PAGE_SIZE, every_page
from idmesh_cli.runtime import Runtime

VENDORS: Final = {
    "generic": auth_pb2.OIDC_VENDOR_GENERIC,
    "okta": auth_pb2.OIDC_VENDOR_OKTA,
    "azure_ad": auth_pb2.OIDC_VENDOR_AZURE_AD,
    "google": auth_pb2.OIDC_VENDOR_GOOGLE,
}
VENDOR_NAMES: Final = {value: name for name, value in VENDORS.items()}
POLICIES: Final = {
    "create": auth_pb2.PROVISIONING_POLICY_CREATE_USERS,
    "link": auth_pb2.PROVISIONING_POLICY_LINK_EXISTING_USERS,
    "deny": auth_pb2.PROVISIONING_POLICY_DENY_UNKNOWN_USERS,
}
POLICY_NAMES: Final = {value: name for name, value in POLICIES.items()}
UPDATES: Final = {
    "first-login": auth_pb2.PROFILE_UPDATE_FIRST_LOGIN,
    "every-login": auth_pb2.PROFILE_UPDATE_EVERY_LOGIN,
}
UPDATE_NAMES: Final = {value: name for name, value in UPDATES.items()}
ATTRIBUTES: Final = (
    "email",
    "given_name",
    "family_name",
    "display_name",
    "space_name",
    "space_role",
    "timezone",
    "groups",
)
DEFAULT_PUBLIC_URL: Final = "http://127.0.0.1:8080"
SAML_VENDORS: Final = {
    "generic": auth_pb2.SAML_VENDOR_GENERIC,
    "okta": auth_pb2.SAML_VENDOR_OKTA,
    "azure_ad": auth_pb2.SAML_VENDOR_AZURE_AD,
}
SAML_VENDOR_NAMES: Final = {value: name for name, value in SAML_VENDORS.items()}
MAX_METADATA_BYTES: Final = 512 * 1024


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    group = commands.add_parser(
        "connection",
        aliases=["connections"],
        help="add, list, change and remove SSO connections (OpenID Connect and SAML 2.0 IdPs)",
        description="SSO connections: the IdPs an account's users sign in with.",
    )
    actions = group.add_subparsers(title="commands", metavar="COMMAND", required=True)

    add = actions.add_parser(
        "add-oidc",
        parents=[common],
        help="connect an OpenID Connect IdP (Okta, Entra ID, Google, any OIDC provider)",
        description=(
            "Connect an OpenID Connect IdP. The client secret is read from standard input. "
            "The issuer's discovery document is fetched, and its issuer must match. "
            "Prints the redirect URI to register at the IdP."
        ),
    )
    add.add_argument("--account", required=True, metavar="NAME", help="account name")
    add.add_argument(
        "--issuer",
        default="",
        metavar="URL",
        help="the issuer, exactly as the IdP's discovery document states it",
    )
    add.add_argument(
        "--client-id",
        required=True,
        metavar="ID",
        help="the client id at the IdP (write --client-id=ID when it starts with '-')",
    )
    add.add_argument(
        "--client-secret-stdin",
        action="store_true",
        required=True,
        help="read the client secret from standard input (its first line)",
    )
    add.add_argument(
        "--vendor",
        choices=sorted(VENDORS),
        default="generic",
        help="fills sensible claim names and scopes (default generic)",
    )
    add.add_argument("--name", default="", help="handle of the connection (default: the vendor)")
    add.add_argument("--display-name", default="", help='shown as "Sign in with <NAME>"')
    add.add_argument(
        "--domain",
        dest="domains",
        action="append",
        default=[],
        metavar="DOMAIN",
        help="an email domain the IdP serves (home-realm discovery); repeat",
    )
    add.add_argument(
        "--scope",
        dest="scopes",
        action="append",
        default=[],
        metavar="SCOPE",
        help="a scope to request (default: the vendor's); repeat",
    )
    add.add_argument(
        "--algorithm",
        dest="algorithms",
        action="append",
        default=[],
        metavar="ALG",
        help="allowed ID token algorithm (default RS256, PS256, ES256); repeat",
    )
    add.add_argument(
        "--userinfo",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="call the IdP's userinfo endpoint after the ID token (default: on for okta and "
        "generic, off for azure_ad and google)",
    )
    add.add_argument(
        "--no-rp-logout",
        action="store_true",
        help="at sign-out, do not send the browser to the IdP's end_session_endpoint",
    )
    add.add_argument("--tenant-id", default="", help="Entra ID: the tenant (single tenant)")
    add.add_argument(
        "--allowed-tenant",
        dest="allowed_tenants",
        action="append",
        default=[],
        metavar="TID",
        help="Entra ID multi-tenant: a tenant allowed to sign in; repeat",
    )
    add.add_argument(
        "--discovery-url",
        default="",
        metavar="URL",
        help="default: <issuer>/.well-known/openid-configuration",
    )
    add.add_argument(
        "--attribute",
        dest="attributes",
        action="append",
        default=[],
        metavar="ATTR=CLAIM",
        help="claim name of an attribute ("
        + ", ".join(ATTRIBUTES)
        + "); CLAIM '-' turns it off; repeat",
    )
    add.add_argument(
        "--policy",
        choices=sorted(POLICIES),
        default="create",
        help="unknown users: create them (default), only link existing users "
        "by verified email, or deny them",
    )
    add.add_argument(
        "--update",
        choices=sorted(UPDATES),
        default="first-login",
        help="apply profile and spaces at the first login only (default) or at "
        "every login; groups sync at every login",
    )
    add.add_argument(
        "--default-space",
        default="",
        metavar="SPACE",
        help="the space of users the IdP sends none for",
    )
    add.add_argument(
        "--default-role", default="", metavar="ROLE", help="their role there (default Space Member)"
    )
    add.add_argument(
        "--no-discovery-check", action="store_true", help="do not fetch the discovery document now"
    )
    add.set_defaults(handler=add_oidc)

    saml = actions.add_parser(
        "add-saml",
        parents=[common],
        help="connect a SAML 2.0 IdP (Okta, Entra ID, any SAML IdP)",
        description=(
            "Connect a SAML 2.0 IdP from its metadata (a file or an http(s) URL) or from its "
            "entity id, SSO URL and signing certificates. Prints the ACS URL, the SP entity id "
            "and the SP metadata URL to register at the IdP."
        ),
    )
    saml.add_argument("--account", required=True, metavar="NAME", help="account name")
    saml.add_argument("--metadata", default="", metavar="FILE|URL", help="the IdP's metadata XML")
    saml.add_argument("--entity-id", default="", metavar="ID", help="the IdP entity id (issuer)")
    saml.add_argument("--sso-url", default="", metavar="URL", help="HTTP-Redirect SSO URL")
    saml.add_argument(
        "--certificate",
        dest="certificates",
        action="append",
        default=[],
        metavar="FILE",
        help="a PEM signing certificate of the IdP; repeat during a rollover",
    )
    saml.add_argument(
        "--vendor",
        choices=sorted(SAML_VENDORS),
        default="generic",
        help="attribute names: okta, azure_ad (Entra's claim URIs) or generic",
    )
    saml.add_argument("--name", default="", help="handle of the connection")
    saml.add_argument("--display-name", default="", help='shown as "Sign in with <NAME>"')
    saml.add_argument(
        "--domain",
        dest="domains",
        action="append",
        default=[],
        metavar="DOMAIN",
        help="an email domain the IdP serves (home-realm discovery); repeat",
    )
    saml.add_argument(
        "--attribute",
        dest="attributes",
        action="append",
        default=[],
        metavar="ATTR=NAME",
        help="attribute name of " + ", ".join(ATTRIBUTES) + "; '-' turns it off; repeat",
    )
    saml.add_argument("--policy", choices=sorted(POLICIES), default="create")
    saml.add_argument("--update", choices=sorted(UPDATES), default="first-login")
    saml.add_argument("--default-space", default="", metavar="SPACE")
    saml.add_argument("--default-role", default="", metavar="ROLE")
    saml.add_argument("--name-id-format", default="", metavar="URN")
    saml.add_argument(
        "--want-response-signed",
        action="store_true",
        help="require a signed Response too (a signed assertion is always required)",
    )
    saml.add_argument("--allow-sha1", action="store_true", help="legacy IdPs: accept SHA-1")
    saml.add_argument("--allow-idp-initiated", action="store_true",
                      help="accept unsolicited (IdP-initiated) responses")  # fmt: skip
    saml.add_argument("--clock-skew", type=int, default=0, metavar="SECONDS",
                      help="allowed clock difference (default 120, at most 300)")  # fmt: skip
    saml.add_argument("--slo-url", default="", metavar="URL",
                      help="the IdP's Single Logout URL (default: from its metadata)")  # fmt: skip
    saml.set_defaults(handler=add_saml)

    list_parser = actions.add_parser(
        "list",
        parents=[common],
        help="list the connections of an account",
        description="List the SSO connections of an account (never their secrets).",
    )
    list_parser.add_argument("--account", required=True, metavar="NAME", help="account name")
    list_parser.set_defaults(handler=list_connections)

    update = actions.add_parser(
        "update",
        parents=[common],
        help="change a connection's update mode, display name or state",
        description="Change what a connection does without replacing its IdP settings. "
        "--update every-login re-applies the IdP's profile and spaces at each login; "
        "first-login (the default) only at the user's first.",
    )
    update.add_argument("--account", required=True, metavar="NAME", help="account name")
    update.add_argument("connection", metavar="CONNECTION", help="the connection's name or id")
    update.add_argument("--update", choices=UPDATES, default=None, dest="profile_update",
                        help="when profile and spaces follow the IdP")  # fmt: skip
    update.add_argument("--display-name", default=None,
                        help='the sign-in button\'s label ("Sign in with …")')  # fmt: skip
    state = update.add_mutually_exclusive_group()
    state.add_argument("--enable", dest="enabled", action="store_const", const=True,
                       default=None, help="offer the connection at sign-in again")  # fmt: skip
    state.add_argument("--disable", dest="enabled", action="store_const", const=False,
                       help="sign nobody in through it, and hide it at /login")  # fmt: skip
    update.set_defaults(handler=update_connection)

    remove = actions.add_parser(
        "remove",
        parents=[common],
        help="remove a connection",
        description="Remove a connection: its users can no longer sign in through it.",
    )
    remove.add_argument("--account", required=True, metavar="NAME", help="account name")
    remove.add_argument("connection", metavar="CONNECTION", help="the connection's name or id")
    remove.set_defaults(handler=remove_connection)


def _read_secret() -> str:
    if sys.stdin is None:
        raise CliError("--client-secret-stdin: no standard input", EXIT_USAGE)
    if sys.stdin.isatty():
        secret = getpass.getpass("Client secret: ")
    else:
        secret = sys.stdin.readline().rstrip("\r\n")
    if not secret:
        raise CliError("--client-secret-stdin: standard input holds no secret", EXIT_USAGE)
    return secret


def _mapping(pairs: list[str]) -> auth_pb2.AttributeMapping:
    mapping = auth_pb2.AttributeMapping()
    for pair in pairs:
        name, sep, claim = pair.partition("=")
        if not sep or name not in ATTRIBUTES or not claim:
            raise CliError(
                f"--attribute {pair!r}: expected ATTR=CLAIM with ATTR one of "
                + ", ".join(ATTRIBUTES),
                EXIT_USAGE,
            )
        setattr(mapping, name, claim)
    return mapping


def public_url(rt: Runtime) -> str:
    """Where browsers reach the gateway: PUBLIC_URL, else GATEWAY_URL, else the default."""
    environ = rt.environ
    return (environ.get("PUBLIC_URL") or environ.get("GATEWAY_URL") or DEFAULT_PUBLIC_URL).rstrip(
        "/"
    )


def redirect_uri(rt: Runtime, connection_id: str) -> str:
    return f"{public_url(rt)}/sso/oidc/{connection_id}/callback"


def oidc_urls(rt: Runtime, connection_id: str) -> dict[str, str]:
    """What to register at an OIDC IdP: the redirect URI, the post-logout redirect URI
    (RP-Initiated Logout 1.0) and the back-channel logout URI (Back-Channel Logout 1.0)."""
    base = f"{public_url(rt)}/sso/oidc/{connection_id}"
    return {
        "redirect_uri": f"{base}/callback",
        "post_logout_redirect_uri": f"{base}/signed-out",
        "backchannel_logout_uri": f"{base}/backchannel-logout",
    }


async def add_oidc(args: argparse.Namespace, rt: Runtime) -> int:
    mapping = _mapping(args.attributes)
    secret = _read_secret()
    account = await rt.account(args.account)
    connection = auth_pb2.Connection(
        account_id=account.id,
        name=args.name,
        display_name=args.display_name,
        domains=args.domains,
        attribute_mapping=mapping,
        provisioning_policy=POLICIES[args.policy],
        profile_update=UPDATES[args.update],
        default_space=args.default_space,
        default_space_role=args.default_role,
        created_by=rt.operator,
        oidc=auth_pb2.OidcSettings(
            issuer=args.issuer,
            discovery_url=args.discovery_url,
            client_id=args.client_id,
            client_secret=secret,
            scopes=args.scopes,
            vendor=VENDORS[args.vendor],
            entra_tenant_id=args.tenant_id,
            allowed_tenant_ids=args.allowed_tenants,
            signing_algorithms=args.algorithms,
            userinfo=args.userinfo,
            rp_initiated_logout=not args.no_rp_logout,
        ),
    )
    auth = rt.auth
    response = await auth.call(
        auth.stub.CreateConnection(
            auth_pb2.CreateConnectionRequest(
                connection=connection, skip_discovery_check=args.no_discovery_check
            ),
            timeout=15.0,
        )
    )
    created = response.connection
    urls = oidc_urls(rt, created.id)
    if rt.output.json_mode:
        rt.output.document({"connection": message_dict(created), **urls})
    else:
        rt.output.result(
            f"Created connection {created.name!r} ({created.id}) for account {account.name!r}:"
            f" {created.oidc.issuer}, domains {', '.join(created.domains) or 'none'}."
        )
        rt.output.result(f"Register this redirect URI at the IdP: {urls['redirect_uri']}")
        rt.output.result(f"Post-logout redirect URI: {urls['post_logout_redirect_uri']}")
        rt.output.result(f"Back-channel logout URI: {urls['backchannel_logout_uri']}")
    return 0


def _read_metadata(source: str) -> str:
    """The metadata XML from a file (a URL is passed on to auth, which fetches it)."""
    if not source:
        return ""
    try:
        body = _read_file(source)
    except OSError as error:
        raise CliError(f"--metadata: {error.strerror or error}", EXIT_USAGE) from None
    if len(body) > MAX_METADATA_BYTES:
        raise CliError("--metadata: larger than 512 KiB", EXIT_USAGE)
    return body.decode("utf-8", errors="replace")


def _read_file(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(MAX_METADATA_BYTES + 1)


def _read_certificates(paths: list[str]) -> list[str]:
    certificates = []
    for path in paths:
        try:
            with open(path, encoding="ascii", errors="replace") as handle:
                certificates.append(handle.read(64 * 1024))
        except OSError as error:
            raise CliError(f"--certificate: {error.strerror or error}", EXIT_USAGE) from None
    return certificates


async def add_saml(args: argparse.Namespace, rt: Runtime) -> int:
    mapping = _mapping(args.attributes)
    # A URL is fetched by auth, which keeps it and refreshes the certificates from it.
    is_url = args.metadata.startswith(("https://", "http://"))
    metadata = "" if is_url else _read_metadata(args.metadata)
    if not args.metadata and not (args.entity_id and args.sso_url and args.certificates):
        raise CliError("give --metadata, or --entity-id, --sso-url and --certificate", EXIT_USAGE)
    account = await rt.account(args.account)
    connection = auth_pb2.Connection(
        account_id=account.id,
        name=args.name,
        display_name=args.display_name,
        domains=args.domains,
        attribute_mapping=mapping,
        provisioning_policy=POLICIES[args.policy],
        profile_update=UPDATES[args.update],
        default_space=args.default_space,
        default_space_role=args.default_role,
        created_by=rt.operator,
        saml=auth_pb2.SamlSettings(
            idp_entity_id=args.entity_id,
            sso_url=args.sso_url,
            certificates=_read_certificates(args.certificates),
            metadata_xml=metadata,
            metadata_url=args.metadata if is_url else "",
            vendor=SAML_VENDORS[args.vendor],
            name_id_format=args.name_id_format,
            want_response_signed=args.want_response_signed,
            allow_sha1=args.allow_sha1,
            allow_idp_initiated=args.allow_idp_initiated,
            clock_skew_seconds=args.clock_skew,
            slo_url=args.slo_url,
        ),
    )
    auth = rt.auth
    response = await auth.call(
        auth.stub.CreateSamlConnection(
            auth_pb2.CreateSamlConnectionRequest(connection=connection, public_url=public_url(rt)),
            timeout=15.0,
        )
    )
    created = response.connection
    if rt.output.json_mode:
        rt.output.document({"connection": message_dict(created)})
    else:
        rt.output.result(
            f"Created SAML connection {created.name!r} ({created.id}) for account"
            f" {account.name!r}: {created.saml.idp_entity_id},"
            f" domains {', '.join(created.domains) or 'none'}."
        )
        rt.output.result(f"ACS URL (Single sign-on URL): {created.saml.acs_url}")
        rt.output.result(f"Single Logout URL (SLO): {created.saml.sp_slo_url}")
        if not created.saml.slo_url:
            rt.output.note(
                "The IdP's metadata names no SingleLogoutService: sign-out ends idmesh's "
                "session only (set it with the IdP's metadata or --slo-url)."
            )
        rt.output.result(f"SP entity id (Audience URI): {created.saml.sp_entity_id}")
        rt.output.result(f"SP metadata: {created.saml.sp_entity_id} (serves the XML)")
    return 0


def _issuer(connection: auth_pb2.Connection) -> tuple[str, str]:
    if connection.HasField("saml"):
        vendor = SAML_VENDOR_NAMES.get(connection.saml.vendor, "?")
        return f"saml/{vendor}", connection.saml.idp_entity_id
    return VENDOR_NAMES.get(connection.oidc.vendor, "?"), connection.oidc.issuer


async def _all(rt: Runtime, account_id: str) -> list[auth_pb2.Connection]:
    auth = rt.auth

    async def fetch(page_token: str) -> tuple[list[auth_pb2.Connection], str]:
        response = await auth.call(
            auth.stub.ListConnections(
                auth_pb2.ListConnectionsRequest(
                    account_id=account_id, page_size=PAGE_SIZE, page_token=page_token
                )
            )
        )
        return list(response.connections), response.next_page_token

    return await every_page(fetch)


async def list_connections(args: argparse.Namespace, rt: Runtime) -> int:
    account = await rt.account(args.account)
    connections = await _all(rt, account.id)
    if rt.output.json_mode:
        rt.output.document([connection_document(rt, c) for c in connections])
    elif not connections:
        rt.output.note(f"Account {account.name!r} has no SSO connections.")
    else:
        rt.output.result(
            table(
                ["NAME", "ID", "VENDOR", "ISSUER", "DOMAINS", "POLICY", "UPDATE", "CREATED"],
                [
                    [
                        c.name,
                        c.id,
                        *_issuer(c),
                        ",".join(c.domains) or "-",
                        POLICY_NAMES.get(c.provisioning_policy, "?"),
                        UPDATE_NAMES.get(c.profile_update, "?"),
                        timestamp(c.create_time),
                    ]
                    for c in connections
                ],
            )
        )
    return 0


async def resolve(rt: Runtime, account_id: str, handle: str) -> auth_pb2.Connection:
    """The connection named ``handle`` (its name, or its id)."""
    for connection in await _all(rt, account_id):
        if handle in (connection.name, connection.id):
            return connection
    raise CliError(f"connection {handle!r} not found")


def connection_document(rt: Runtime, connection: auth_pb2.Connection) -> dict[str, object]:
    """A connection as ``--json`` prints it: the API's field names and values, plus the
    redirect URI (and for OIDC the logout URIs) to register at the IdP."""
    urls = (
        oidc_urls(rt, connection.id)
        if connection.HasField("oidc")
        else {"redirect_uri": redirect_uri(rt, connection.id)}
    )
    return {**message_dict(connection), **urls}


async def update_connection(args: argparse.Namespace, rt: Runtime) -> int:
    """Reads the connection and writes it back with the options given, under its version (a
    concurrent change fails rather than being overwritten)."""
    if args.profile_update is None and args.display_name is None and args.enabled is None:
        raise CliError(
            "nothing to change: give --update, --display-name, --enable or --disable", EXIT_USAGE
        )
    account = await rt.account(args.account)
    current = await resolve(rt, account.id, args.connection)
    auth = rt.auth
    response = await auth.call(
        auth.stub.UpdateConnection(
            auth_pb2.UpdateConnectionRequest(
                account_id=account.id,
                connection_id=current.id,
                display_name=(
                    current.display_name if args.display_name is None else args.display_name
                ),
                domains=list(current.domains),
                enabled=current.enabled if args.enabled is None else args.enabled,
                provisioning_policy=current.provisioning_policy,
                profile_update=(
                    current.profile_update
                    if args.profile_update is None
                    else UPDATES[args.profile_update]
                ),
                default_space=current.default_space,
                default_space_role=current.default_space_role,
                expected_version=current.version,
            )
        )
    )
    updated = response.connection
    if rt.output.json_mode:
        rt.output.document(connection_document(rt, updated))
    else:
        state = "enabled" if updated.enabled else "disabled"
        rt.output.result(
            f"Updated connection {updated.name!r} of account {account.name!r}: "
            f"{updated.display_name!r}, {state}, profile and spaces applied at "
            f"{UPDATE_NAMES.get(updated.profile_update, '?')}."
        )
    return 0


async def remove_connection(args: argparse.Namespace, rt: Runtime) -> int:
    account = await rt.account(args.account)
    connection = await resolve(rt, account.id, args.connection)
    auth = rt.auth
    await auth.call(
        auth.stub.DeleteConnection(
            auth_pb2.DeleteConnectionRequest(account_id=account.id, connection_id=connection.id)
        )
    )
    if rt.output.json_mode:
        rt.output.document({"removed": connection.id})
    else:
        rt.output.result(
            f"Removed connection {connection.name!r} ({connection.id}) of account {account.name!r}."
        )
    return 0
