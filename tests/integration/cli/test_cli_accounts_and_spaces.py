"""idmesh account / space: create and list through the real directory (session PostgreSQL), as
the CLI actor."""

from __future__ import annotations

import getpass
import json
from collections.abc import Awaitable, Callable

from idmesh.directory.v1 import directory_pb2
from tests.support.directory import Stub, audit_events

Idmesh = Callable[..., Awaitable[tuple[int, str, str]]]


async def test_an_account_is_created_and_listed(idmesh: Idmesh, account_name: str) -> None:
    """Brief: `idmesh account create NAME [--display-name D]`, `idmesh account list` (a table)."""
    code, out, err = await idmesh("account", "create", account_name, "--display-name", "Acme")
    assert (code, err) == (0, "")
    assert out.startswith(f"Created account '{account_name}' (id ")
    code, out, _ = await idmesh("account", "list")
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == ["NAME", "DISPLAY", "NAME", "ID", "CREATED"]
    assert any(row.split()[:2] == [account_name, "Acme"] for row in rows)


async def test_json_output_is_the_account_resource(idmesh: Idmesh, account_name: str) -> None:
    """--json: the proto3 JSON mapping with snake_case field names, for scripts."""
    code, out, _ = await idmesh("account", "create", account_name, "--json")
    assert code == 0
    created = json.loads(out)
    assert created["name"] == account_name
    assert created["display_name"] == ""
    assert created["version"] == 1, "numbers are JSON numbers"
    code, out, _ = await idmesh("account", "list", "--json")
    listed = json.loads(out)
    assert created["id"] in [account["id"] for account in listed]


async def test_changes_are_recorded_as_the_cli_operator(
    idmesh: Idmesh, account_name: str, directory: Stub
) -> None:
    """Audit: the directory records each change with the actor ACTOR_TYPE_CLI and the OS user
    name, read back from this account's own audit log."""
    code, out, _ = await idmesh("account", "create", account_name, "--json")
    assert code == 0
    account_id = json.loads(out)["id"]
    code, _, _ = await idmesh("space", "create", "--account", account_name, "dev")
    assert code == 0
    events = await audit_events(directory, account_id)
    created = [e for e in events if e.action in ("account.created", "space.created")]
    assert [e.action for e in created] == ["account.created", "space.created"]
    for event in created:
        assert event.actor.type == directory_pb2.ACTOR_TYPE_CLI
        assert event.actor.id == getpass.getuser()


async def test_a_duplicate_account_fails_with_the_directorys_reason(
    idmesh: Idmesh, account_name: str
) -> None:
    """Exit 1 and the directory's own field and message on one stderr line, nothing on stdout."""
    await idmesh("account", "create", account_name)
    code, out, err = await idmesh("account", "create", account_name)
    assert code == 1
    assert out == ""
    assert err == "error: name: an account with this name exists\n"


async def test_spaces_are_created_and_listed_in_their_account(
    idmesh: Idmesh, account_name: str
) -> None:
    """Brief: `idmesh space create --account NAME SPACE [--description D]`, `space list`."""
    await idmesh("account", "create", account_name)
    code, out, _ = await idmesh(
        "space", "create", "--account", account_name, "dev", "--description", "Developers"
    )
    assert code == 0
    assert out.startswith(f"Created space 'dev' in account '{account_name}' (id ")
    await idmesh("space", "create", "--account", account_name, "prod")
    code, out, _ = await idmesh("space", "list", "--account", account_name)
    assert code == 0
    names = [line.split()[0] for line in out.splitlines()[1:]]
    assert names == ["dev", "prod"]
    code, out, _ = await idmesh("spaces", "list", "--account", account_name, "--json")
    assert [space["description"] for space in json.loads(out)] == ["Developers", ""]


async def test_an_unknown_account_is_one_clear_line(idmesh: Idmesh) -> None:
    """Brief: "error: account 'acme' not found", exit 1 (NAME is resolved via GetAccount(name))."""
    code, out, err = await idmesh("space", "list", "--account", "nope-none")
    assert (code, out) == (1, "")
    assert err == "error: account 'nope-none' not found\n"


async def test_listing_reads_every_page(idmesh: Idmesh, account_name: str) -> None:
    """More spaces than one page (100) all appear: the CLI follows next_page_token."""
    await idmesh("account", "create", account_name)
    for index in range(105):
        await idmesh("space", "create", "--account", account_name, f"s{index:03d}")
    code, out, _ = await idmesh("space", "list", "--account", account_name, "--json")
    assert code == 0
    assert len(json.loads(out)) == 105


async def test_an_empty_list_says_so_on_stderr(idmesh: Idmesh, account_name: str) -> None:
    """An empty list is a note on stderr for people and [] for scripts; stdout stays parseable."""
    await idmesh("account", "create", account_name)
    code, out, err = await idmesh("space", "list", "--account", account_name)
    assert (code, out) == (0, "")
    assert "no spaces" in err
    code, out, _ = await idmesh("space", "list", "--account", account_name, "--json")
    assert json.loads(out) == []
