"""idmesh token: create (secret shown once), list, revoke, against the real auth service."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

Idmesh = Callable[..., Awaitable[tuple[int, str, str]]]
SECRET = re.compile(r"idm_[0-9a-f]{32}_[A-Za-z0-9_-]{43}")


async def _account(idmesh: Idmesh, name: str) -> None:
    code, _, err = await idmesh("account", "create", name)
    assert code == 0, err


async def test_the_secret_is_printed_once_on_stdout_with_a_warning(
    idmesh: Idmesh, account_name: str
) -> None:
    """stdout holds only the secret (SECRET=$(idmesh token create ...)); stderr says it will not
    be shown again."""
    await _account(idmesh, account_name)
    code, out, err = await idmesh(
        "token", "create", "--account", account_name, "--permission", "users:manage",
        "--permission", "groups:manage", "--description", "Entra provisioning",
    )  # fmt: skip
    assert code == 0
    assert SECRET.fullmatch(out.strip())
    assert "shown only this once" in err
    assert "cannot be retrieved again" in err
    assert "groups:manage, users:manage" in err
    # Never again: listing shows the token but not its secret.
    code, listed, _ = await idmesh("token", "list", "--account", account_name)
    assert code == 0
    assert out.strip() not in listed
    assert "Entra provisioning" in listed
    assert "active" in listed


async def test_json_mode_gives_the_token_and_its_secret(idmesh: Idmesh, account_name: str) -> None:
    """--json: {token, secret} for scripts; the warning still goes to stderr."""
    await _account(idmesh, account_name)
    code, out, err = await idmesh(
        "token", "create", "--account", account_name, "--permission", "users:read", "--json"
    )
    assert code == 0
    created = json.loads(out)
    assert SECRET.fullmatch(created["secret"])
    assert created["token"]["permissions"] == ["users:read"]
    assert "expire_time" not in created["token"]
    assert "shown only this once" in err


async def test_expires_in_sets_the_expiry(idmesh: Idmesh, account_name: str) -> None:
    """Brief: --expires-in 90d sets expire_time to now + 90 days."""
    await _account(idmesh, account_name)
    before = datetime.now(UTC)
    code, out, _ = await idmesh(
        "token", "create", "--account", account_name, "--permission", "users:manage",
        "--expires-in", "90d", "--json",
    )  # fmt: skip
    assert code == 0
    expire = datetime.fromisoformat(json.loads(out)["token"]["expire_time"].replace("Z", "+00:00"))
    assert before + timedelta(days=90) <= expire <= datetime.now(UTC) + timedelta(days=90)


async def test_a_revoked_token_is_listed_as_revoked(idmesh: Idmesh, account_name: str) -> None:
    """Brief: `idmesh token revoke --account NAME TOKEN_ID`; revoked tokens are listed only
    when asked for."""
    await _account(idmesh, account_name)
    _, out, _ = await idmesh(
        "token", "create", "--account", account_name, "--permission", "users:manage", "--json"
    )
    token_id = json.loads(out)["token"]["id"]
    code, out, _ = await idmesh("token", "revoke", "--account", account_name, token_id)
    assert code == 0
    assert out == f"Revoked API token {token_id} of account '{account_name}'.\n"
    _, out, _ = await idmesh("token", "list", "--account", account_name, "--json")
    assert json.loads(out) == []
    _, out, _ = await idmesh(
        "token", "list", "--account", account_name, "--include-revoked", "--json"
    )
    (token,) = json.loads(out)
    assert (token["id"], token["status"]) == (token_id, "revoked")
    assert "revoke_time" in token


async def test_revoking_an_unknown_token_fails(idmesh: Idmesh, account_name: str) -> None:
    """auth answers NOT_FOUND (field token_id); the CLI exits 1 with that reason."""
    await _account(idmesh, account_name)
    code, _, err = await idmesh(
        "token", "revoke", "--account", account_name, "00000000-0000-4000-8000-000000000000"
    )
    assert code == 1
    assert err == "error: token_id: no such API token\n"


async def test_an_unknown_permission_is_refused_by_auth(idmesh: Idmesh, account_name: str) -> None:
    """auth owns the permission names; the CLI relays its one-line reason."""
    await _account(idmesh, account_name)
    code, out, err = await idmesh(
        "token", "create", "--account", account_name, "--permission", "users:delete"
    )
    assert (code, out) == (1, "")
    assert err.startswith("error: permissions: unknown permission 'users:delete'")
    assert err.count("\n") == 1
