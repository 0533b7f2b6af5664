"""``idmesh connection`` and ``idmesh traces`` against the real auth and directory (brief,
issue 4: "idmesh connection add-oidc --account NAME --issuer URL --client-id ID
--client-secret-stdin ... --domain acme.test", "idmesh traces list|tail --account NAME")."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

import pytest

from idmesh.auth.v1 import auth_pb2
from idmesh_cli.__main__ import run
from tests.idps.oidc.fake_idp import FakeIdp
from tests.integration.sso.harness import Tenant, verify_domain
from tests.integration.sso.test_sso_login_flow import login
from tests.support.directory import Stub, new_account

if TYPE_CHECKING:
    from idmesh.auth.v1.auth_pb2_grpc import AuthServiceAsyncStub

Idmesh = Callable[..., Coroutine[Any, Any, tuple[int, str, str]]]


@pytest.fixture
def idmesh(
    directory_address: str,
    auth_address: str,
    gateway_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Idmesh:
    """``code, out, err = await idmesh(*argv, stdin="...")``."""
    env = {"DIRECTORY_ADDR": directory_address, "AUTH_ADDR": auth_address,
           "GATEWAY_URL": gateway_url}  # fmt: skip

    async def invoke(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        capsys.readouterr()
        code = await run(list(argv), environ=env)
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


async def test_add_oidc_reads_the_secret_from_stdin_and_prints_the_redirect_uri(
    idmesh: Idmesh, directory: Stub, idp: FakeIdp, gateway_url: str
) -> None:
    """The secret never appears on the command line or in the output."""
    account = await new_account(directory)
    domain = f"cli{uuid.uuid4().hex[:8]}.test"
    await verify_domain(directory, account.id, domain)
    code, out, err = await idmesh(
        "connection", "add-oidc", "--account", account.name, "--issuer", idp.issuer,
        "--client-id", idp.client_id, "--client-secret-stdin", "--domain", domain,
        "--vendor", "okta", "--default-space", "Trial", "--attribute", "space_name=torque_space",
        stdin=idp.client_secret + "\n",
    )  # fmt: skip
    assert code == 0, err
    assert idp.client_secret not in out + err
    assert "Created connection 'okta'" in out
    assert f"Register this redirect URI at the IdP: {gateway_url}/sso/oidc/" in out
    # What logout needs registered, next to it (RP-Initiated and Back-Channel Logout 1.0).
    assert "/signed-out" in out.split("Post-logout redirect URI: ")[1]
    assert "/backchannel-logout" in out.split("Back-channel logout URI: ")[1]
    code, listed, _ = await idmesh("connection", "list", "--account", account.name)
    assert code == 0
    assert idp.issuer in listed
    assert domain in listed
    code, as_json, _ = await idmesh("connection", "list", "--account", account.name, "--json")
    (connection,) = json.loads(as_json)
    assert connection["attribute_mapping"]["space_name"] == "torque_space"
    assert connection["default_space"] == "Trial"
    assert connection["oidc"]["client_secret"] == ""
    assert connection["redirect_uri"].endswith(f"/sso/oidc/{connection['id']}/callback")
    assert (
        connection["post_logout_redirect_uri"]
        == f"{gateway_url}/sso/oidc/{connection['id']}/signed-out"
    )
    assert connection["backchannel_logout_uri"].endswith("/backchannel-logout")
    assert connection["oidc"]["rp_initiated_logout"] is True
    code, out, _ = await idmesh("connection", "remove", "--account", account.name, "okta")
    assert code == 0
    assert "Removed connection 'okta'" in out
    code, _, err = await idmesh("connection", "list", "--account", account.name)
    assert "no SSO connections" in err


async def test_add_oidc_explains_what_is_wrong(idmesh: Idmesh, directory: Stub) -> None:
    """Usage errors exit 2, refusals exit 1, each with one line naming the problem."""
    account = await new_account(directory)
    code, _, err = await idmesh(
        "connection", "add-oidc", "--account", account.name, "--issuer", "http://idp.test",
        "--client-id", "c", "--client-secret-stdin", stdin="s\n",
    )  # fmt: skip
    assert code == 1
    assert "https" in err
    code, _, err = await idmesh(
        "connection", "add-oidc", "--account", account.name, "--issuer", "https://idp.test",
        "--client-id", "c", "--client-secret-stdin", stdin="",
    )  # fmt: skip
    assert code == 2
    assert "no secret" in err
    code, _, err = await idmesh(
        "connection", "add-oidc", "--account", account.name, "--issuer", "https://idp.test",
        "--client-id", "c", "--client-secret-stdin", "--attribute", "colour=x", stdin="s\n",
    )  # fmt: skip
    assert code == 2


async def test_traces_list_shows_why_a_login_failed(
    idmesh: Idmesh, tenant: Callable[..., Awaitable[Tenant]], idp: FakeIdp, gateway_url: str
) -> None:
    """What an account admin reads when a login fails: stage, reason, email, trace id."""
    made = await tenant()
    client, _ = await login(gateway_url, made)
    await client.close()
    idp.forge = lambda i, g: "not-a-token"
    client, _ = await login(gateway_url, made)
    await client.close()
    code, out, err = await idmesh("traces", "list", "--account", made.account_name)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].split()[:4] == ["TIME", "OUTCOME", "STAGE", "REASON"]
    assert "failure" in lines[1]
    assert "id_token_malformed" in lines[1]
    assert "success" in lines[2]
    assert f"alice@{made.domain}" in lines[2]
    code, out, _ = await idmesh(
        "traces", "list", "--account", made.account_name, "--failures", "--json"
    )
    (only,) = json.loads(out)
    assert only["reason"] == "id_token_malformed"
    code, out, _ = await idmesh("traces", "list", "--account", made.account_name, "-v",
                                "--limit", "1")  # fmt: skip
    assert "detail:" in out


async def test_traces_tail_prints_attempts_as_they_happen(
    idmesh: Idmesh, tenant: Callable[..., Awaitable[Tenant]], gateway_url: str
) -> None:
    """``idmesh traces tail`` polls; here it stops after two attempts."""
    made = await tenant()
    tail = asyncio.create_task(
        idmesh(
            "traces",
            "tail",
            "--account",
            made.account_name,
            "--interval",
            "100ms",
            "--max",
            "2",
            "--timeout",
            "20s",
        )
    )
    await asyncio.sleep(0.3)
    for _ in range(2):
        client, _ = await login(gateway_url, made)
        await client.close()
    code, out, err = await asyncio.wait_for(tail, 30)
    assert code == 0, err
    assert out.count("success") == 2


async def test_connection_update_changes_the_update_mode_the_label_and_the_state(
    idmesh: Idmesh, directory: Stub, idp: FakeIdp
) -> None:
    """`idmesh connection update`: when profile and spaces follow the IdP (first-login, the
    Torque default, or every-login), the sign-in label and whether the connection is offered;
    --json shows the values as the admin API names them; nothing to change is a usage error."""
    account = await new_account(directory)
    code, _, err = await idmesh(
        "connection", "add-oidc", "--account", account.name, "--issuer", idp.issuer,
        "--client-id", idp.client_id, "--client-secret-stdin", "--vendor", "okta",
        stdin=idp.client_secret + "\n",
    )  # fmt: skip
    assert code == 0, err
    code, out, err = await idmesh(
        "connection", "update", "--account", account.name, "okta", "--update", "every-login",
        "--display-name", "Okta EU", "--disable",
    )  # fmt: skip
    assert code == 0, err
    assert "'Okta EU', disabled, profile and spaces applied at every-login" in out
    code, as_json, _ = await idmesh("connection", "list", "--account", account.name, "--json")
    (connection,) = json.loads(as_json)
    assert connection["profile_update"] == "every_login"
    assert connection["provisioning_policy"] == "create_users"
    assert connection["oidc"]["vendor"] == "okta"
    assert (connection["display_name"], connection["enabled"]) == ("Okta EU", False)
    assert isinstance(connection["version"], int)
    code, out, _ = await idmesh(
        "connection", "update", "--account", account.name, "okta", "--update", "first-login",
        "--enable", "--json",
    )  # fmt: skip
    assert code == 0
    updated = json.loads(out)
    assert (updated["profile_update"], updated["enabled"]) == ("first_login", True)
    assert updated["display_name"] == "Okta EU"
    code, _, err = await idmesh("connection", "update", "--account", account.name, "okta")
    assert code == 2
    assert "nothing to change" in err


async def test_session_list_and_revoke_show_and_end_a_users_sessions(
    idmesh: Idmesh,
    tenant: Callable[..., Awaitable[Tenant]],
    gateway_url: str,
    auth: AuthServiceAsyncStub,
) -> None:
    """``idmesh session list`` shows how each session began; ``revoke`` ends one by id, or
    every one of a user with --user; --json for scripts."""
    made = await tenant()
    first, _ = await login(gateway_url, made)
    second, _ = await login(gateway_url, made)
    secret = next(c.value for c in first.cookie_jar if c.key == "idmesh_session")
    await first.close()
    await second.close()
    validated = await auth.ValidateSession(auth_pb2.ValidateSessionRequest(session_secret=secret))
    user = validated.session.user_id
    code, out, err = await idmesh(
        "session", "list", "--account", made.account_name, "--user", user, "--json"
    )
    assert code == 0, err
    sessions = json.loads(out)
    assert [s["status"] for s in sessions] == ["active", "active"]
    assert all(s["connection_id"] == made.connection_id for s in sessions)
    code, table, _ = await idmesh("session", "list", "--account", made.account_name, "--user", user)
    assert "127.0.0.1" in table
    code, out, _ = await idmesh(
        "session", "revoke", "--account", made.account_name, sessions[0]["id"], "--json"
    )
    assert json.loads(out) == {"session_id": sessions[0]["id"], "revoked": True}
    code, out, _ = await idmesh("session", "revoke", "--account", made.account_name, "--user", user)
    assert out.strip().startswith("Ended 1 session(s) of ")
    code, out, _ = await idmesh(
        "session", "list", "--account", made.account_name, "--user", user, "--json"
    )
    assert [s["status"] for s in json.loads(out)] == ["ended (admin)", "ended (admin)"]
    code, _, err = await idmesh("session", "revoke", "--account", made.account_name)
    assert code == 2
    assert "SESSION_ID or --user" in err
