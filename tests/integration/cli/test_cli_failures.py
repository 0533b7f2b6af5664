"""Failures are one line on stderr with the documented exit codes: 1 the operation failed,
2 wrong usage or configuration."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

import pytest

from idmesh_cli.__main__ import main

Idmesh = Callable[..., Awaitable[tuple[int, str, str]]]


def _nothing_listens() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


async def test_an_unreachable_directory_names_it_and_suggests_make_run(idmesh: Idmesh) -> None:
    """Brief: "error: cannot reach directory at 127.0.0.1:50051 — is the mesh running?
    (make run)"."""
    down = _nothing_listens()
    code, out, err = await idmesh("account", "list", env={"DIRECTORY_ADDR": down})
    assert (code, out) == (1, "")
    assert err == f"error: cannot reach directory at {down} — is the mesh running? (make run)\n"


async def test_an_unreachable_auth_names_it(idmesh: Idmesh, account_name: str) -> None:
    """The message names the peer that failed and the address the CLI used (AUTH_ADDR)."""
    await idmesh("account", "create", account_name)
    down = _nothing_listens()
    code, _, err = await idmesh("token", "list", "--account", account_name, env={"AUTH_ADDR": down})
    assert code == 1
    assert err == f"error: cannot reach auth at {down} — is the mesh running? (make run)\n"


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["account"],
        ["account", "create"],
        ["space", "list"],
        ["token", "create", "--account", "acme"],
        ["token", "create", "--account", "acme", "--permission", "x:y", "--expires-in", "soon"],
        ["token", "revoke", "--account", "acme"],
        ["frobnicate"],
    ],
)  # fmt: skip
async def test_usage_errors_exit_2(idmesh: Idmesh, argv: list[str]) -> None:
    """Exit codes: 2 for usage errors, with argparse's usage line on stderr."""
    code, out, err = await idmesh(*argv)
    assert code == 2
    assert out == ""
    assert "usage: idmesh" in err


async def test_help_exits_0(idmesh: Idmesh) -> None:
    """Consistent --help on every level; the top level documents the environment."""
    code, out, _ = await idmesh("--help")
    assert code == 0
    assert "DIRECTORY_ADDR" in out
    code, out, _ = await idmesh("token", "create", "--help")
    assert code == 0
    assert "--expires-in" in out
    assert "--json" in out


async def test_main_returns_the_exit_code_for_the_console_script(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """main() runs its own event loop (a thread here, as the test loop is busy) and returns the
    code the console script exits with."""
    monkeypatch.setenv("DIRECTORY_ADDR", _nothing_listens())
    assert await asyncio.to_thread(main, ["account", "list"]) == 1
    assert "cannot reach directory" in capsys.readouterr().err
    assert await asyncio.to_thread(main, ["account"]) == 2
