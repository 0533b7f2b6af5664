"""idmesh admin create: a bootstrap admin (Account Admin role) with a local argon2id password
read from stdin, against the real directory and auth services; auth.VerifyLocalPassword then
accepts exactly that password (OWASP Password Storage Cheat Sheet: argon2id)."""

from __future__ import annotations

import io
import json
import os
import uuid
from collections.abc import AsyncIterator

import grpc
import pytest

from auth.app import build_app
from directory.app import build_server
from idmesh.auth.v1 import auth_pb2, auth_pb2_grpc
from idmesh.directory.v1 import directory_pb2, directory_pb2_grpc
from idmesh_cli.__main__ import run
from meshkit.channels import connect
from meshkit.database import create_pool
from meshkit.secretbox import SecretBox
from meshkit.server import GrpcServer
from tests.support.directory import audit_events

PASSWORD = "correct horse battery staple"


def _server() -> GrpcServer:
    return GrpcServer("127.0.0.1", 0, drain_seconds=0, grace_seconds=1)


@pytest.fixture
async def services(database_url: str) -> AsyncIterator[dict[str, str]]:
    pool = await create_pool(database_url, min_size=1, max_size=4)
    directory = build_server(
        pool, host="127.0.0.1", port=0, secretbox=SecretBox(os.urandom(32)), server=_server()
    )
    auth = build_app(pool, host="127.0.0.1", port=0, server=_server())
    env = {
        "DIRECTORY_ADDR": f"127.0.0.1:{await directory.start()}",
        "AUTH_ADDR": f"127.0.0.1:{await auth.start()}",
    }
    try:
        yield env
    finally:
        await auth.stop()
        await directory.stop()
        await pool.close()


async def test_an_admin_is_created_with_a_password_from_stdin(
    services: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The user is an active Account Admin; the password verifies, a wrong one and an unknown
    email fail alike (one message, no oracle); the password never reaches the output."""
    name = f"boot-{uuid.uuid4().hex[:8]}"
    async with connect(services["DIRECTORY_ADDR"]) as channel:
        directory = directory_pb2_grpc.DirectoryServiceStub(channel)
        account = (
            await directory.CreateAccount(
                directory_pb2.CreateAccountRequest(
                    name=name,
                    display_name="Boot",
                    actor=directory_pb2.Actor(type=directory_pb2.ACTOR_TYPE_SYSTEM, id="t"),
                )
            )
        ).account
        monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
        code = await run(
            ["admin", "create", "--account", name, "--email", "Root@Example.com", "--json"],
            environ=services,
        )
        out, err = capsys.readouterr()
        assert code == 0, err
        assert PASSWORD not in out + err
        user_id = json.loads(out)["user_id"]
        user = (
            await directory.GetUser(
                directory_pb2.GetUserRequest(account_id=account.id, user_id=user_id)
            )
        ).user
        assert user.account_role_name == "Account Admin"
        assert user.active
    async with connect(services["AUTH_ADDR"]) as channel:
        auth = auth_pb2_grpc.AuthServiceStub(channel)
        verified = await auth.VerifyLocalPassword(
            auth_pb2.VerifyLocalPasswordRequest(
                account_id=account.id, email="root@example.com", password=PASSWORD
            )
        )
        assert verified.user_id == user_id
        for email, password in (("root@example.com", PASSWORD + "!"), ("x@example.com", PASSWORD)):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await auth.VerifyLocalPassword(
                    auth_pb2.VerifyLocalPasswordRequest(
                        account_id=account.id, email=email, password=password
                    )
                )
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert caught.value.details() == "invalid email or password"


async def test_a_short_password_is_refused_before_anything_is_stored(
    services: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """At least 12 characters (and none at all is refused too): exit code 1, the reason on
    stderr, and neither a user in the directory nor an audit event nor a credential in auth."""
    name = f"boot-{uuid.uuid4().hex[:8]}"
    async with connect(services["DIRECTORY_ADDR"]) as channel:
        directory = directory_pb2_grpc.DirectoryServiceStub(channel)
        account = (
            await directory.CreateAccount(
                directory_pb2.CreateAccountRequest(
                    name=name, actor=directory_pb2.Actor(type=directory_pb2.ACTOR_TYPE_SYSTEM)
                )
            )
        ).account
        before = await audit_events(directory, account.id)
        for stdin, message in (("", "no password"), ("short\n", "at least 12 characters")):
            monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
            code = await run(
                ["admin", "create", "--account", name, "--email", "root@example.com"],
                environ=services,
            )
            assert code == 1
            assert message in capsys.readouterr().err
        users = await directory.ListUsers(directory_pb2.ListUsersRequest(account_id=account.id))
        assert list(users.users) == []
        assert await audit_events(directory, account.id) == before
    async with connect(services["AUTH_ADDR"]) as channel:
        auth = auth_pb2_grpc.AuthServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await auth.VerifyLocalPassword(
                auth_pb2.VerifyLocalPasswordRequest(
                    account_id=account.id, email="root@example.com", password="short"
                )
            )
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
