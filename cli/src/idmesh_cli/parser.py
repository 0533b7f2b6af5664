"""The command line: ``idmesh <group> <command> [options]``, one module per group."""

from __future__ import annotations

import argparse
from typing import NoReturn

from idmesh_cli import (
    accounts,
    admins,
    connections,
    domains,
    migrate,
    oauth_clients,
    scim,
    sessions,
    setup_links,
    spaces,
    tokens,
    traces,
    users,
    webhooks,
)
from idmesh_cli import groups as user_groups

ENVIRONMENT_HELP = """\
environment:
  DIRECTORY_ADDR  directory service address (default 127.0.0.1:50051)
  AUTH_ADDR       auth service address (default 127.0.0.1:50052)
  PUBLIC_URL      the gateway's public URL, for the redirect, ACS and entity-id URLs
                  `idmesh connection add-oidc|add-saml` print and store, and the link
                  `idmesh setup-link create` prints (else GATEWAY_URL, else
                  http://127.0.0.1:8080)
  DATABASE_URL    PostgreSQL URL, for `idmesh migrate` only
  IDMESH_DATA_DIR where a local `make run` records its addresses (default .data of the
                  current folder or a parent): the three addresses above come from there
                  when they are not set

exit codes: 0 ok, 1 the operation failed, 2 wrong usage or configuration
"""


class UsageError(Exception):
    """A command line argparse refuses; the caller prints it (as text or as JSON)."""

    def __init__(self, message: str, usage: str, prog: str) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage
        self.prog = prog


class Parser(argparse.ArgumentParser):
    """argparse's parser, raising UsageError instead of printing and exiting, so that a
    ``--json`` command line gets its usage error as JSON too. Subcommands inherit the class."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, self.format_usage(), self.prog)


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command; a command's handler is ``args.handler``."""
    parser = Parser(
        prog="idmesh",
        description="Administer idmesh: accounts, spaces, users, groups, API tokens, OAuth "
        "clients, SSO connections, email domains, sessions and login traces, the SCIM "
        "provisioning log and database migrations.",
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
        sessions,
        oauth_clients,
        admins,
        connections,
        domains,
        setup_links,
        traces,
        scim,
        migrate,
        webhooks,
    ):
        module.register(groups, common)
    return parser
