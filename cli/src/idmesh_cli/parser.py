"""The command line: ``idmesh <group> <command> [options]``, one module per group."""

from __future__ import annotations

import argparse

from idmesh_cli import (
    accounts,
    admins,
    connections,
    domains,
    migrate,
    oauth_clients,
    scim,
    setup_links,
    spaces,
    tokens,
    traces,
    users,
)
from idmesh_cli import groups as user_groups

ENVIRONMENT_HELP = """\
environment:
  DIRECTORY_ADDR  directory service address (default 127.0.0.1:50051)
  AUTH_ADDR       auth service address (default 127.0.0.1:50052)
  PUBLIC_URL      the gateway's public URL, for the redirect URI `idmesh connection add-oidc`
                  and the link `idmesh setup-link create` print (else GATEWAY_URL, else
                  http://127.0.0.1:8080)
  DATABASE_URL    PostgreSQL URL, for `idmesh migrate` only

exit codes: 0 ok, 1 the operation failed, 2 wrong usage or configuration
"""


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command; a command's handler is ``args.handler``."""
    parser = argparse.ArgumentParser(
        prog="idmesh",
        description="Administer idmesh: accounts, spaces, users, groups, API tokens, OAuth "
        "clients, SSO connections, email domains and login traces, the SCIM provisioning log "
        "and database migrations.",
        epilog=ENVIRONMENT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--json", action="store_true", help="print the result as JSON (for scripts)"
    )
    groups = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for module in (
        accounts,
        spaces,
        users,
        user_groups,
        tokens,
        oauth_clients,
        admins,
        connections,
        domains,
        setup_links,
        traces,
        scim,
        migrate,
    ):
        module.register(groups, common)
    return parser
