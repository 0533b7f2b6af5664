"""What verifying a bearer token costs: ``GET /api/v1/accounts/{name}`` through the gateway (one
directory read behind it, the cheapest route of the API), authenticated two ways:

- an access token from the client-credentials grant (``POST /oauth/token``): a JWT the gateway
  verifies itself against auth's public keys;
- an API token: verified by auth (one gRPC call), then kept in the gateway's short cache.

Both rows at BENCH_SCIM_CONCURRENCY, the concurrency of the other HTTP rows.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Final

import aiohttp

from idmesh.auth.v1 import auth_pb2, auth_pb2_grpc
from idmesh.directory.v1 import directory_pb2, directory_pb2_grpc
from infra.dev.mesh import Mesh
from meshkit.channels import connect
from tests.bench.context import BenchContext
from tests.bench.database import BenchDatabase
from tests.bench.environment import mesh_environment
from tests.bench.http_get import HttpGet
from tests.bench.load import Session
from tests.bench.process_groups import mesh_groups
from tests.bench.scenarios.scim import concurrency
from tests.e2e.tenants import create_token

ACCESS_TOKEN: Final = "API GET, access token"
API_TOKEN: Final = "API GET, API token"
_ACTOR = directory_pb2.Actor(
    type=directory_pb2.ACTOR_TYPE_CLI, id="bench", display_name="make bench"
)


async def _access_token(mesh: Mesh, account_id: str) -> str:
    """An OAuth client of the account, and an access token from its client-credentials grant."""
    async with connect(mesh.address("auth")) as channel:
        created = await auth_pb2_grpc.AuthServiceStub(channel).CreateOAuthClient(
            auth_pb2.CreateOAuthClientRequest(
                account_id=account_id, description="bench", permissions=["users:read"],
                created_by="bench",
            )
        )  # fmt: skip
    form = {
        "grant_type": "client_credentials",
        "client_id": created.client.id,
        "client_secret": created.client_secret,
    }
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{mesh.gateway_url}/oauth/token", data=form) as response,
    ):
        answer = await response.json(content_type=None)
        if response.status != 200:
            raise RuntimeError(f"client-credentials grant failed: {response.status} {answer}")
        return str(answer["access_token"])


async def _checked(target: HttpGet) -> HttpGet:
    session: Session = await target.open(1, 1)
    try:
        failed = await session.call(0)
    finally:
        await session.close()
    if failed is not None:
        raise RuntimeError(f"{target.describe()}: {failed}")
    return target


async def run(ctx: BenchContext) -> None:
    settings = ctx.settings
    async with contextlib.AsyncExitStack() as stack:
        ctx.progress("tokens: starting PostgreSQL and the mesh")
        database = BenchDatabase()
        stack.push_async_callback(database.stop)
        await database.start()
        ctx.own(database.owned_pids)
        log_dir = Path(tempfile.mkdtemp(prefix="idmesh-bench-tokens-"))
        stack.callback(shutil.rmtree, log_dir, True)
        mesh = Mesh(database.url, env_overrides=mesh_environment(settings.exporter),
                    log_dir=log_dir)  # fmt: skip
        await mesh.start(timeout=60)
        stack.push_async_callback(mesh.stop)

        name = f"bench-tokens-{uuid.uuid4().hex[:6]}"
        async with connect(mesh.address("directory")) as channel:
            account = await directory_pb2_grpc.DirectoryServiceStub(channel).CreateAccount(
                directory_pb2.CreateAccountRequest(name=name, display_name=name, actor=_ACTOR)
            )
        account_id = account.account.id
        url = f"{mesh.gateway_url}/api/v1/accounts/{name}"
        timeout = settings.call_timeout
        targets = {
            ACCESS_TOKEN: await _access_token(mesh, account_id),
            API_TOKEN: await create_token(mesh, account_id),
        }
        groups = mesh_groups(mesh, database)
        for case, secret in targets.items():
            target = await _checked(
                HttpGet(url, (("Authorization", f"Bearer {secret}"),), timeout=timeout)
            )
            row = await ctx.measure(case, target, concurrency(), groups)
            ctx.line(case, row)
        ctx.report.notes.append(
            "tokens: GET /api/v1/accounts/{name} (one directory read); the access token is a "
            "JWT the gateway verifies, the API token is verified by auth and cached"
        )
