"""Complete OIDC logins per second through the real mesh and the real oidc-provider on loopback.

One login is what a browser does: GET the gateway's start (auth stores a login transaction) →
the IdP's authorization endpoint → the gateway's callback (auth consumes the transaction,
exchanges the code at the IdP's token endpoint, validates the ID token, directory provisions the
user in one transaction, auth opens a session) → the session cookie. Each worker is one browser
(its own cookie jar) signing in as its own user; a login counts when the callback answers 303
with a session cookie.

Two rows at BENCH_OIDC_CONCURRENCY (16 by default):
- "IdP session warm": the user is already signed in at the IdP (the usual repeated login, the
  IdP answers the authorization request with an immediate redirect);
- "IdP login + consent": a fresh browser each time, filling in oidc-provider's login and consent
  forms (the IdP's own work, on the same two cores, dominates here).
CPU per login is the mesh's (gateway, auth, scim, directory, PostgreSQL); the IdP's (node and
its children) is reported apart, since it is a third party's. Target: a login costs the mesh
at most 4 ms of CPU. Each service's peak RSS is sampled during both rows.

Then the slowest hop of a login: the mesh is restarted exporting every span to an in-process OTLP
receiver and signs in BENCH_TRACE_SAMPLES times, one login after the other; each login's start
and callback traces are taken apart hop by hop (tests/bench/traces.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import aiohttp

from idmesh.auth.v1 import auth_pb2, auth_pb2_grpc
from idmesh.directory.v1 import directory_pb2, directory_pb2_grpc
from infra.dev.mesh import SERVICES, Mesh
from meshkit.channels import connect
from tests.bench.context import BenchContext
from tests.bench.cost import IDP, MESH
from tests.bench.database import BenchDatabase
from tests.bench.environment import mesh_environment
from tests.bench.figures import Figure, below
from tests.bench.load import Session
from tests.bench.machine import process_tree
from tests.bench.peak import PeakRss
from tests.bench.process_groups import mesh_groups
from tests.bench.settings import trace_samples
from tests.bench.summary import LOGIN_LOADS
from tests.bench.traces import TimedReceiver, Traces, exporting, login_units, request_path
from tests.e2e.otlp_receiver import ReceivedSpan
from tests.idps.oidc.provider import OidcProvider, install, sign_in_at_idp

WARM: Final = "OIDC login, IdP warm"
COLD: Final = "OIDC login, IdP forms"
_ACTOR = directory_pb2.Actor(
    type=directory_pb2.ACTOR_TYPE_CLI, id="bench", display_name="make bench"
)
_GROUPS: Final = ("gid-platform", "gid-engineering")
# Mesh CPU milliseconds per login.
CPU_TARGET_MS: Final = 4.0
LOGIN_LOAD: Final = LOGIN_LOADS[0]


def _concurrency() -> int:
    raw = os.environ.get("BENCH_OIDC_CONCURRENCY", "").strip() or "16"
    value = int(raw)
    if value < 1:
        raise ValueError("BENCH_OIDC_CONCURRENCY must be at least 1")
    return value


@dataclass(frozen=True)
class OidcLogin:
    """A complete login per call (picklable: opened inside the load generator's process)."""

    gateway_url: str
    connection_id: str
    users: tuple[str, ...]
    # True: a fresh cookie jar per login, so the IdP shows its login and consent forms.
    fresh_browser: bool
    timeout: float = 30.0

    def describe(self) -> str:
        kind = "fresh browser" if self.fresh_browser else "IdP session warm"
        return f"OIDC logins through {self.gateway_url} ({kind})"

    async def open(self, workers: int, workers_per_channel: int) -> Session:
        session = _LoginSession(self, workers)
        await session.warm_up()
        return session


class _LoginSession:
    def __init__(self, target: OidcLogin, workers: int) -> None:
        self._target = target
        self._connector = aiohttp.TCPConnector(limit=0, force_close=False)
        self._jars = [self._new_browser() for _ in range(workers)]
        self._prefix = f"{target.gateway_url}/sso/oidc/"

    def _new_browser(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=self._connector,
            connector_owner=False,
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            timeout=aiohttp.ClientTimeout(total=self._target.timeout),
        )

    def _user(self, worker: int) -> str:
        return self._target.users[worker % len(self._target.users)]

    async def warm_up(self) -> None:
        """Signs every worker in once (IdP session, grant, first-login provisioning)."""
        results = await asyncio.gather(*(self.call(w) for w in range(len(self._jars))))
        failed = [r for r in results if r is not None]
        if failed:
            raise RuntimeError(f"warm-up logins failed: {failed[:3]}")

    async def call(self, worker: int) -> str | None:
        browser = self._jars[worker]
        if self._target.fresh_browser:
            browser = self._new_browser()
        try:
            return await self._login(browser, worker)
        except (aiohttp.ClientError, TimeoutError) as error:
            return type(error).__name__
        finally:
            if self._target.fresh_browser:
                await browser.close()

    async def _login(self, browser: aiohttp.ClientSession, worker: int) -> str | None:
        start = f"{self._prefix}{self._target.connection_id}/start"
        async with browser.get(start, allow_redirects=False) as response:
            await response.read()
            if response.status != 302:
                return f"start {response.status}"
            authorization = response.headers["Location"]
        callback = await sign_in_at_idp(
            browser, authorization, self._prefix, login=self._user(worker)
        )
        async with browser.get(callback, allow_redirects=False) as response:
            await response.read()
            if response.status != 303:
                return f"callback {response.status}"
            if "idmesh_session" not in response.cookies:
                return "no session cookie"
        return None

    async def close(self) -> None:
        for jar in self._jars:
            await jar.close()
        await self._connector.close()


async def _tenant(mesh: Mesh, provider: OidcProvider) -> str:
    """An account with a space and two mapped groups, connected to the provider; the
    connection id."""
    async with connect(mesh.address("directory")) as channel:
        directory = directory_pb2_grpc.DirectoryServiceStub(channel)
        account = (
            await directory.CreateAccount(
                directory_pb2.CreateAccountRequest(name="bench-sso", actor=_ACTOR)
            )
        ).account
        # oidc-provider asserts <login>@acme.test: a login links or creates users by email
        # only inside a domain the account has verified and the connection serves.
        await directory.ClaimDomain(
            directory_pb2.ClaimDomainRequest(
                account_id=account.id, domain="acme.test", verified=True, actor=_ACTOR
            )
        )
        await directory.CreateSpace(
            directory_pb2.CreateSpaceRequest(
                space=directory_pb2.Space(account_id=account.id, name="DevOps"), actor=_ACTOR
            )
        )
        for group in _GROUPS:
            await directory.CreateGroup(
                directory_pb2.CreateGroupRequest(
                    group=directory_pb2.Group(
                        account_id=account.id, display_name=group, idp_identifier=group
                    ),
                    actor=_ACTOR,
                )
            )
    client = await provider.register_client(f"{mesh.gateway_url}/sso/oidc/pending/callback")
    async with connect(mesh.address("auth")) as channel:
        auth = auth_pb2_grpc.AuthServiceStub(channel)
        created = await auth.CreateConnection(
            auth_pb2.CreateConnectionRequest(
                connection=auth_pb2.Connection(
                    account_id=account.id,
                    domains=["acme.test"],
                    oidc=auth_pb2.OidcSettings(
                        issuer=provider.issuer,
                        client_id=client.client_id,
                        client_secret=client.client_secret,
                        vendor=auth_pb2.OIDC_VENDOR_OKTA,
                        scopes=["openid", "email", "profile", "groups", "torque"],
                    ),
                )
            )
        )
    connection_id = created.connection.id
    await provider.set_redirect_uri(client, f"{mesh.gateway_url}/sso/oidc/{connection_id}/callback")
    return connection_id


async def run(ctx: BenchContext) -> None:
    settings = ctx.settings
    concurrency = _concurrency()
    async with contextlib.AsyncExitStack() as stack:
        ctx.progress("oidc: installing and starting oidc-provider (npm ci on first use)")
        await install()
        workdir = Path(tempfile.mkdtemp(prefix="idmesh-bench-idp-"))
        stack.callback(shutil.rmtree, workdir, True)
        provider = OidcProvider(workdir)
        await provider.start()
        stack.push_async_callback(provider.stop)
        users = tuple(f"bench-user-{n}" for n in range(concurrency))
        for user in users:
            provider.set_user(user, space_name="DevOps", space_role="Space Developer",
                              groups=list(_GROUPS), timezone="Europe/Berlin")  # fmt: skip

        ctx.progress("oidc: starting PostgreSQL and the mesh")
        database = BenchDatabase()
        stack.push_async_callback(database.stop)
        await database.start()
        ctx.own(database.owned_pids)
        log_dir = Path(tempfile.mkdtemp(prefix="idmesh-bench-oidc-"))
        stack.callback(shutil.rmtree, log_dir, True)
        environment = mesh_environment(settings.exporter)
        mesh = Mesh(
            database.url,
            env_overrides=environment,
            log_dir=log_dir,
        )
        await mesh.start(timeout=60)
        stack.push_async_callback(mesh.stop)
        connection_id = await _tenant(mesh, provider)

        idp_pid = provider.pid

        def idp() -> set[int]:
            return process_tree(idp_pid) if idp_pid is not None else set()

        groups = mesh_groups(mesh, database, others={IDP: idp})
        memory = PeakRss({s: pid for s in SERVICES if (pid := mesh.pid(s)) is not None})
        async with memory.sampling():
            for scenario, fresh in ((WARM, False), (COLD, True)):
                target = OidcLogin(mesh.gateway_url, connection_id, users, fresh_browser=fresh)
                row = await ctx.measure(scenario, target, concurrency, groups)
                ctx.line(scenario, row)
                ctx.report.figures.append(
                    Figure(
                        f"{scenario}: mesh CPU per login",
                        row.cpu_ms.get(MESH),
                        "ms",
                        below(CPU_TARGET_MS),
                        note=f"IdP apart: {row.cpu_ms.get(IDP, 0):.2f} ms; "
                        f"{row.load.requests_per_second:,.0f} logins/s at c={concurrency}",
                        busy=row.busy,
                    )
                )
        ctx.report.peak_rss[LOGIN_LOAD] = memory.peak
        await _slowest_hop(ctx, stack, mesh, connection_id, users)
        ctx.report.notes.append(
            "oidc: each login = gateway start + IdP authorize (+ login and consent forms when"
            " fresh) + callback (auth: transaction, token exchange, ID token check; directory:"
            " one provisioning transaction with group sync; session); ID tokens RS256"
        )


async def _slowest_hop(
    ctx: BenchContext,
    stack: contextlib.AsyncExitStack,
    mesh: Mesh,
    connection_id: str,
    users: tuple[str, ...],
) -> None:
    """Restarts the mesh exporting every span to an in-process receiver, signs in
    BENCH_TRACE_SAMPLES times one after the other (IdP session warm), and adds the hop with the
    largest median self time to the summary."""
    samples = trace_samples()
    receiver = TimedReceiver()
    await receiver.start()
    stack.push_async_callback(receiver.stop)
    ctx.progress(f"oidc: {samples} traced logins (sampler always_on) for the slowest hop")
    await mesh.stop()
    mesh.env_overrides.update(exporting(receiver, "parentbased_always_on", delay_ms=200))
    await mesh.start(timeout=60)
    session = await OidcLogin(mesh.gateway_url, connection_id, users, False).open(1, 1)
    since = time.time_ns()
    try:
        failures = [error for _ in range(samples) if (error := await session.call(0))]
    finally:
        await session.close()
    await receiver.settle()
    traces = Traces(receiver.spans, receiver.times)

    def path(span: ReceivedSpan) -> str:
        return request_path(span) if span.service == "gateway" else ""

    units = login_units(
        traces, lambda s: path(s).endswith("/start"), lambda s: "/callback" in path(s), since
    )
    hops = traces.report(units)
    name = "slowest hop of an OIDC login (start + callback traces)"
    if hops is None:
        ctx.report.figures.append(Figure(name, None, "", note="no complete login trace arrived"))
        return
    figure = hops.figure(name, "logins")
    if failures:
        figure = dataclasses.replace(figure, note=f"{figure.note}; {len(failures)} logins failed")
    ctx.report.figures.append(figure)
