"""How the OIDC end-to-end tests set up a tenant and sign in, the way an operator and a browser
do: the ``idmesh`` CLI connects the account to the IdP (the secret on standard input), the IdP
learns the exact callback idmesh printed, and an aiohttp client with a cookie jar walks the
whole redirect dance, filling in the IdP's login and consent forms."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from yarl import URL

from idmesh.auth.v1 import auth_pb2, auth_pb2_grpc
from meshkit.channels import connect
from tests.e2e.tenants import MeshAccess, create_account, unique_name, verify_domain
from tests.idps.oidc.provider import SCOPES, Client, OidcProvider, sign_in_at_idp


@dataclass(frozen=True)
class OidcTenant:
    name: str
    account_id: str
    connection_id: str
    domain: str
    client: Client
    provider: OidcProvider


OidcTenantFactory = Callable[..., Awaitable[OidcTenant]]


async def run_idmesh(mesh: MeshAccess, *args: str, stdin: str = "", timeout: float = 30.0) -> str:  # noqa: ASYNC109
    """Runs the ``idmesh`` console script against ``mesh`` with ``stdin``; its stdout. Fails
    the test with the command's output when it exits non-zero."""
    script = Path(sys.executable).with_name("idmesh")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "idmesh_cli"]
    process = await asyncio.create_subprocess_exec(
        *command, *args,
        env={**os.environ, **mesh.client_env()},
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), timeout)
    assert process.returncode == 0, f"idmesh {' '.join(args)}:\n{out.decode()}\n{err.decode()}"
    return out.decode()


def make_tenant_factory(mesh: MeshAccess, provider: OidcProvider) -> OidcTenantFactory:
    async def make(*extra: str) -> OidcTenant:
        """A new account connected to the provider through ``idmesh connection add-oidc``."""
        name = unique_name("sso")
        account_id = await create_account(mesh, name)
        client = await provider.register_client(f"{mesh.gateway_url}/sso/oidc/pending/callback")
        domain = f"{name}.test"
        await verify_domain(mesh, account_id, domain)
        scopes = [arg for scope in SCOPES.split() for arg in ("--scope", scope)]
        out = await run_idmesh(
            mesh, "connection", "add-oidc", "--account", name, "--issuer", provider.issuer,
            # "=": a registered client id may start with "-", which argparse takes for an option.
            f"--client-id={client.client_id}", "--client-secret-stdin", "--vendor", "okta",
            "--domain", domain, *scopes, *extra, "--json",
            stdin=client.client_secret + "\n",
        )  # fmt: skip
        created = json.loads(out)
        await provider.set_redirect_uri(
            client,
            created["redirect_uri"],
            post_logout_redirect_uri=created["post_logout_redirect_uri"],
            backchannel_logout_uri=created["backchannel_logout_uri"],
        )
        return OidcTenant(name, account_id, created["connection"]["id"], domain, client, provider)

    return make


def browser() -> aiohttp.ClientSession:
    # unsafe=True: without it aiohttp drops cookies of IP hosts (real-idps.md §7).
    return aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=aiohttp.ClientTimeout(total=30)
    )


async def start_login(
    session: aiohttp.ClientSession, mesh: MeshAccess, tenant: OidcTenant, **query: str
) -> str:
    """GET the gateway's start URL; the IdP's authorization URL it redirects to."""
    url = URL(f"{mesh.gateway_url}/sso/oidc/{tenant.connection_id}/start").update_query(query)
    async with session.get(url, allow_redirects=False) as response:
        assert response.status == 302, await response.text()
        return response.headers["Location"]


async def login(
    session: aiohttp.ClientSession, mesh: MeshAccess, tenant: OidcTenant, user: str, **query: str
) -> aiohttp.ClientResponse:
    """A whole login in ``session``: start → IdP login and consent → callback; returns the
    callback's response (303 to return_to on success)."""
    tenant.provider.ensure_email(user, tenant.domain)
    authorization = await start_login(session, mesh, tenant, **query)
    callback = await sign_in_at_idp(
        session, authorization, f"{mesh.gateway_url}/sso/oidc/", login=user
    )
    async with session.get(callback, allow_redirects=False) as response:
        await response.read()
        return response


async def login_traces(mesh: MeshAccess, account_id: str) -> list[auth_pb2.LoginTrace]:
    """The account's login traces, newest first, read over auth's gRPC API."""
    async with connect(mesh.address("auth")) as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        listed = await stub.ListLoginTraces(
            auth_pb2.ListLoginTracesRequest(account_id=account_id, page_size=50)
        )
    return list(listed.traces)


def fresh_user() -> str:
    return f"u{uuid.uuid4().hex[:8]}"
