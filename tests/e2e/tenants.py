"""Creating tenants in a running mesh the way an operator does: accounts and API tokens through
directory's and auth's gRPC APIs (fast, for most tests), or through the ``idmesh`` CLI (the
commands ``make run`` tells a newcomer to type)."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from idmesh.auth.v1 import auth_pb2, auth_pb2_grpc
from idmesh.directory.v1 import directory_pb2, directory_pb2_grpc
from meshkit.channels import connect

# What a SCIM client's token carries (seed guides); any valid token may read its own account.
DEFAULT_PERMISSIONS = ("users:manage",)
# An API token secret as auth mints it: idm_<token id, 32 hex>_<43 url-safe characters>.
SECRET_PATTERN = re.compile(r"idm_(?P<token_id>[0-9a-f]{32})_(?P<random>[A-Za-z0-9_-]{43})")


class MeshAccess(Protocol):
    """What tests use of a running mesh: where its gateway and its services answer, and the
    environment a client (the ``idmesh`` CLI) needs. An infra.dev.mesh.Mesh is one; the two
    replicas of tests/e2e/replicas are another."""

    @property
    def gateway_url(self) -> str: ...

    def address(self, service: str) -> str: ...

    def client_env(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class Tenant:
    """An account with an API token, as an operator would hand it to a SCIM client."""

    name: str
    account_id: str
    token: str = field(repr=False)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def unique_name(prefix: str = "acct") -> str:
    """An account name no other test uses (account names are lower-case slugs)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def create_account(mesh: MeshAccess, name: str) -> str:
    """Creates account ``name`` through directory's gRPC API; returns its id."""
    async with connect(mesh.address("directory")) as channel:
        stub = directory_pb2_grpc.DirectoryServiceStub(channel)
        response = await stub.CreateAccount(
            directory_pb2.CreateAccountRequest(
                name=name,
                display_name=name.title(),
                actor=directory_pb2.Actor(
                    type=directory_pb2.ACTOR_TYPE_SYSTEM, id="e2e", display_name="e2e tests"
                ),
            )
        )
    return response.account.id


async def verify_domain(mesh: MeshAccess, account_id: str, domain: str) -> None:
    """``domain`` verified for the account, as an operator bootstraps it (ClaimDomain with
    verified) over directory's gRPC API: a login links or creates by email only inside it."""
    async with connect(mesh.address("directory")) as channel:
        stub = directory_pb2_grpc.DirectoryServiceStub(channel)
        await stub.ClaimDomain(
            directory_pb2.ClaimDomainRequest(
                account_id=account_id,
                domain=domain,
                verified=True,
                actor=directory_pb2.Actor(
                    type=directory_pb2.ACTOR_TYPE_CLI, id="e2e", display_name="e2e operator"
                ),
            )
        )


async def account_id_of(mesh: MeshAccess, name: str) -> str:
    """The id of account ``name``, read through directory's gRPC API."""
    async with connect(mesh.address("directory")) as channel:
        stub = directory_pb2_grpc.DirectoryServiceStub(channel)
        response = await stub.GetAccount(directory_pb2.GetAccountRequest(name=name))
    return response.account.id


async def create_token(
    mesh: MeshAccess, account_id: str, permissions: Sequence[str] = DEFAULT_PERMISSIONS
) -> str:
    """Creates an API token through auth's gRPC API; returns its secret."""
    async with connect(mesh.address("auth")) as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        response = await stub.CreateApiToken(
            auth_pb2.CreateApiTokenRequest(
                account_id=account_id,
                description="e2e",
                permissions=list(permissions),
                created_by="e2e",
            )
        )
    return response.secret


async def create_tenant(
    mesh: MeshAccess, name: str | None = None, permissions: Sequence[str] = DEFAULT_PERMISSIONS
) -> Tenant:
    """A new account and a token for it, over gRPC."""
    name = name or unique_name()
    account_id = await create_account(mesh, name)
    return Tenant(name, account_id, await create_token(mesh, account_id, permissions))


async def run_cli(
    mesh: MeshAccess,
    *args: str,
    timeout: float = 30.0,  # noqa: ASYNC109
    stdin: str | None = None,
    check: bool = True,
) -> CliResult:
    """Runs the ``idmesh`` console script against ``mesh`` with the environment an operator
    would export (and ``stdin`` as its input, e.g. a password); raises AssertionError with its
    output when it hangs, or fails while ``check`` says it must succeed. Asynchronous so that
    the test's event loop (and the OTLP receiver on it) keeps running meanwhile."""
    script = Path(sys.executable).with_name("idmesh")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "idmesh_cli"]
    process = await asyncio.create_subprocess_exec(
        *command,
        *args,
        env={**os.environ, **mesh.client_env()},
        stdin=asyncio.subprocess.DEVNULL if stdin is None else asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(
            process.communicate(None if stdin is None else stdin.encode()), timeout
        )
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"idmesh {' '.join(args)} did not finish in {timeout:g}s") from None
    result = CliResult(process.returncode or 0, out.decode(), err.decode())
    assert not check or result.returncode == 0, (
        f"idmesh {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    )
    return result


async def create_tenant_with_cli(
    mesh: MeshAccess, name: str | None = None, permissions: Sequence[str] = DEFAULT_PERMISSIONS
) -> Tenant:
    """A new account and token through ``idmesh account create NAME`` and ``idmesh token create
    --account NAME --permission P...``; the secret is read from the command's output."""
    name = name or unique_name()
    await run_cli(mesh, "account", "create", name)
    permission_args = [arg for permission in permissions for arg in ("--permission", permission)]
    created = await run_cli(mesh, "token", "create", "--account", name, *permission_args)
    secrets = [match.group(0) for match in SECRET_PATTERN.finditer(created.stdout)]
    assert len(secrets) == 1, "expected exactly one token secret in idmesh token create's output"
    return Tenant(name, await account_id_of(mesh, name), secrets[0])
