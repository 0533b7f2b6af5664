"""idmesh_cli.parser: the command line of every command."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta

import pytest

from idmesh_cli import accounts, migrate, spaces, tokens
from idmesh_cli.__main__ import run
from idmesh_cli.errors import EXIT_USAGE
from idmesh_cli.parser import build_parser

LEAF_COMMANDS = [
    ["account", "create", "acme"],
    ["account", "list"],
    ["space", "create", "--account", "acme", "dev"],
    ["space", "list", "--account", "acme"],
    ["token", "create", "--account", "acme", "--permission", "users:manage"],
    ["token", "list", "--account", "acme"],
    ["token", "revoke", "--account", "acme", "0b8f9a2e-6c1d-4e5f-8a7b-1c2d3e4f5a6b"],
    ["migrate"],
]


def _parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


@pytest.mark.parametrize("argv", LEAF_COMMANDS)
def test_every_command_accepts_json(argv: list[str]) -> None:
    """--json on every command, for scripts."""
    assert _parse(*argv).json is False
    assert _parse(*argv, "--json").json is True


def test_each_command_dispatches_to_its_group_module() -> None:
    """One module per command group (accounts, spaces, tokens, migrate)."""
    handlers = [_parse(*argv).handler for argv in LEAF_COMMANDS]
    assert handlers == [
        accounts.create,
        accounts.list_accounts,
        spaces.create,
        spaces.list_spaces,
        tokens.create,
        tokens.list_tokens,
        tokens.revoke,
        migrate.run,
    ]


def test_groups_also_answer_to_their_plural() -> None:
    """`idmesh accounts list` is as natural as `idmesh account list`."""
    assert _parse("accounts", "list").handler is accounts.list_accounts
    assert _parse("tokens", "list", "--account", "a").handler is tokens.list_tokens


def test_permissions_repeat_and_keep_their_order() -> None:
    """Brief: --permission users:manage [--permission ...], --description, --expires-in."""
    args = _parse(
        "token", "create", "--account", "acme",
        "--permission", "users:manage", "--permission", "groups:manage",
        "--description", "Entra", "--expires-in", "90d",
    )  # fmt: skip
    assert args.permissions == ["users:manage", "groups:manage"]
    assert args.description == "Entra"
    assert args.expires_in == timedelta(days=90)


def test_a_token_without_expiry_never_expires() -> None:
    """Without --expires-in the request carries no expire_time (auth: never expires)."""
    args = _parse("token", "create", "--account", "acme", "--permission", "users:manage")
    assert args.expires_in is None


def test_optional_texts_default_to_empty() -> None:
    """Optional texts are sent empty, leaving defaults to the directory."""
    assert _parse("account", "create", "acme").display_name == ""
    assert _parse("space", "create", "--account", "a", "dev").description == ""


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["account"],
        ["space", "create", "dev"],
        ["token", "create", "--account", "acme"],
        ["token", "revoke", "--account", "acme"],
        ["account", "list", "--unknown"],
    ],
)
async def test_incomplete_commands_are_usage_errors(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 2 on usage errors, with the usage line and the error on stderr, as argparse
    prints them; with --json, the error is one JSON document on stderr instead."""
    assert await run(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "usage: idmesh" in err
    assert "error: " in err
    assert await run([*argv, "--json"]) == EXIT_USAGE
    err = capsys.readouterr().err
    document = json.loads(err)
    assert document["exit_code"] == EXIT_USAGE
    assert document["error"]
