"""idmesh oauth-client: create (client id and secret shown once), list, rotate, revoke,
against the real auth service (the ConductorOne connector's credentials, seed 004)."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable

Idmesh = Callable[..., Awaitable[tuple[int, str, str]]]
CLIENT_ID = re.compile(r"client_id: (idmc_[0-9a-f]{32})")
SECRET = re.compile(r"client_secret: (idmcs_[A-Za-z0-9_-]{43})")


async def test_a_client_is_created_rotated_listed_and_revoked(
    idmesh: Idmesh, account_name: str
) -> None:
    """stdout holds the client id and the secret once; the list never shows a secret; a
    rotation prints a new one; a revoked client is listed only with --include-revoked."""
    code, _, err = await idmesh("account", "create", account_name)
    assert code == 0, err
    code, out, err = await idmesh(
        "oauth-client", "create", "--account", account_name, "--permission", "users:read",
        "--permission", "grants:manage", "--description", "ConductorOne",
    )  # fmt: skip
    assert code == 0, err
    client_match, secret_match = CLIENT_ID.search(out), SECRET.search(out)
    assert client_match is not None
    assert secret_match is not None
    client_id, secret = client_match.group(1), secret_match.group(1)
    assert "shown only this once" in err
    code, listed, _ = await idmesh("oauth-client", "list", "--account", account_name)
    assert code == 0
    assert client_id in listed
    assert "ConductorOne" in listed
    assert secret not in listed
    code, out, _ = await idmesh(
        "oauth-client", "rotate", "--account", account_name, client_id, "--json"
    )
    assert code == 0
    rotated = json.loads(out)
    assert rotated["client_secret"] != secret
    code, out, _ = await idmesh("oauth-client", "revoke", "--account", account_name, client_id)
    assert code == 0
    assert "Revoked" in out
    code, listed, _ = await idmesh("oauth-client", "list", "--account", account_name)
    assert client_id not in listed
    code, listed, _ = await idmesh(
        "oauth-client", "list", "--account", account_name, "--include-revoked"
    )
    assert client_id in listed
    assert "revoked" in listed


async def test_an_unknown_permission_fails_with_exit_code_1(
    idmesh: Idmesh, account_name: str
) -> None:
    """auth refuses a permission outside the known set; nothing is created."""
    await idmesh("account", "create", account_name)
    code, out, err = await idmesh(
        "oauth-client", "create", "--account", account_name, "--permission", "root"
    )
    assert code == 1
    assert "permission" in err
    assert out == ""
