"""SAML: ACS validations per second, and complete SAML logins per second through the real mesh.

- ACS validation: the strict validator (python3-saml behind auth.sso.saml.validator) over
  pre-signed responses, each with fresh Response and Assertion IDs, in this process on one
  thread: what one auth worker thread can validate. Reported as a note (no server involved).
- Complete login: each worker is a browser: GET the gateway's SAML start (auth stores the
  transaction, builds the AuthnRequest) → the test IdP signs a response to that request (xmlsec,
  in the load generator's process: its CPU shows as client CPU) → POST to the ACS (auth:
  RelayState transaction, strict validation in a worker thread, the shared replay cache, directory
  provisioning with group sync, session) → 303 with the session cookie. Each service's peak RSS
  is sampled during the load. CPU per login is the mesh's (gateway, auth, scim, directory,
  PostgreSQL); the IdP's signing is in the load generator's. Target: at most 5 ms of mesh CPU
  per login (and, with the polis scenario, 1.5× Ory Polis's logins per second).
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import statistics
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import parse_qs, urlsplit

import aiohttp
from lxml import etree

from auth.sso.saml.validator import Expectations, validate_response
from idmesh.auth.v1 import auth_pb2, auth_pb2_grpc
from idmesh.directory.v1 import directory_pb2, directory_pb2_grpc
from infra.dev.mesh import SERVICES, Mesh
from meshkit.channels import connect
from tests.bench.context import BenchContext
from tests.bench.cost import LOADGEN, MESH
from tests.bench.database import BenchDatabase
from tests.bench.environment import mesh_environment
from tests.bench.figures import Figure, below
from tests.bench.load import Session
from tests.bench.peak import PeakRss
from tests.bench.process_groups import mesh_groups
from tests.bench.summary import LOGIN_LOADS
from tests.idps.saml.responses import KeyPair, ResponseSpec, build, encode, sign, sign_with_xmlsec

# The cost table's name of a complete login; Ory Polis's line has the same name.
LOGIN: Final = "SAML login"
CPU_TARGET_MS: Final = 5.0
IDP: Final = "https://bench-idp.test/saml/metadata"
_ACTOR = directory_pb2.Actor(
    type=directory_pb2.ACTOR_TYPE_CLI, id="bench", display_name="make bench"
)
_GROUPS: Final = ("gid-platform", "gid-engineering")
VALIDATION_SECONDS: Final = 3.0


def _concurrency() -> int:
    value = int(os.environ.get("BENCH_SAML_CONCURRENCY", "").strip() or "16")
    if value < 1:
        raise ValueError("BENCH_SAML_CONCURRENCY must be at least 1")
    return value


@dataclass(frozen=True)
class SamlLogin:
    """A complete SP-initiated login per call (picklable for the load generator's process)."""

    gateway_url: str
    connection_id: str
    acs_url: str
    sp_entity_id: str
    domain: str
    key_pem: str
    cert_pem: str
    timeout: float = 30.0

    def describe(self) -> str:
        return f"SAML logins through {self.gateway_url}"

    async def open(self, workers: int, workers_per_channel: int) -> Session:
        return _LoginSession(self, workers)


class _LoginSession:
    def __init__(self, target: SamlLogin, workers: int) -> None:
        self._target = target
        self._keys = KeyPair(target.key_pem, target.cert_pem)
        self._connector = aiohttp.TCPConnector(limit=0)
        self._browsers = [
            aiohttp.ClientSession(
                connector=self._connector,
                connector_owner=False,
                cookie_jar=aiohttp.CookieJar(unsafe=True),
                timeout=aiohttp.ClientTimeout(total=target.timeout),
            )
            for _ in range(workers)
        ]

    async def call(self, worker: int) -> str | None:
        try:
            return await self._login(self._browsers[worker], worker)
        except (aiohttp.ClientError, TimeoutError) as error:
            return type(error).__name__

    async def _login(self, browser: aiohttp.ClientSession, worker: int) -> str | None:
        t = self._target
        start = f"{t.gateway_url}/sso/saml/{t.connection_id}/start"
        async with browser.get(start, allow_redirects=False) as response:
            await response.read()
            if response.status != 302:
                return f"start {response.status}"
            query = parse_qs(urlsplit(response.headers["Location"]).query)
        request = etree.fromstring(zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15))
        email = f"bench-user-{worker}@{t.domain}"
        spec = ResponseSpec(
            acs_url=t.acs_url, audience=t.sp_entity_id, issuer=IDP,
            request_id=request.get("ID"), name_id=email,
            attributes={"email": [email], "space_name": ["DevOps"],
                        "space_role": ["Space Developer"], "groups": list(_GROUPS)},
        )  # fmt: skip
        body = {"SAMLResponse": encode(sign_with_xmlsec(build(spec), self._keys)),
                "RelayState": query["RelayState"][0]}  # fmt: skip
        async with browser.post(t.acs_url, data=body, allow_redirects=False) as response:
            await response.read()
            if response.status != 303:
                return f"acs {response.status}"
            if "idmesh_session" not in response.cookies:
                return "no session cookie"
        return None

    async def close(self) -> None:
        for browser in self._browsers:
            await browser.close()
        await self._connector.close()


@dataclass(frozen=True)
class ValidationRate:
    per_second: float
    p50_ms: float
    p99_ms: float
    count: int


def validation_rate(keys: KeyPair, seconds: float) -> ValidationRate:
    """ACS validations per second on one thread over pre-signed responses with fresh ids."""
    acs = "https://bench.test/sso/saml/c/acs"
    audience = "https://bench.test/sso/saml/c/metadata"
    expect = Expectations(idp_entity_id=IDP, sp_entity_id=audience, acs_url=acs,
                          certificates=(keys.cert_pem,), request_id="_bench")  # fmt: skip
    attributes = {"email": ["ada@bench.test"], "groups": list(_GROUPS)}
    responses = [
        encode(sign(build(ResponseSpec(acs_url=acs, audience=audience, issuer=IDP,
                                       request_id="_bench", attributes=attributes)), keys))
        for _ in range(200)
    ]  # fmt: skip
    timings: list[float] = []
    deadline = time.perf_counter() + seconds
    index = 0
    while time.perf_counter() < deadline:
        began = time.perf_counter()
        validate_response(responses[index % len(responses)], expect, time.time())
        timings.append(time.perf_counter() - began)
        index += 1
    return ValidationRate(
        per_second=len(timings) / sum(timings),
        p50_ms=statistics.median(timings) * 1000,
        p99_ms=sorted(timings)[max(int(len(timings) * 0.99) - 1, 0)] * 1000,
        count=len(timings),
    )


async def _tenant(mesh: Mesh, keys: KeyPair) -> auth_pb2.Connection:
    async with connect(mesh.address("directory")) as channel:
        directory = directory_pb2_grpc.DirectoryServiceStub(channel)
        account = (
            await directory.CreateAccount(
                directory_pb2.CreateAccountRequest(name="bench-saml", actor=_ACTOR)
            )
        ).account
        # Logins link or create users by email only inside a verified domain served.
        await directory.ClaimDomain(
            directory_pb2.ClaimDomainRequest(
                account_id=account.id, domain="bench-saml.test", verified=True, actor=_ACTOR
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
    async with connect(mesh.address("auth")) as channel:
        auth = auth_pb2_grpc.AuthServiceStub(channel)
        created = await auth.CreateSamlConnection(
            auth_pb2.CreateSamlConnectionRequest(
                connection=auth_pb2.Connection(
                    account_id=account.id,
                    domains=["bench-saml.test"],
                    saml=auth_pb2.SamlSettings(
                        idp_entity_id=IDP,
                        sso_url="https://bench-idp.test/sso",
                        certificates=[keys.cert_pem],
                        vendor=auth_pb2.SAML_VENDOR_OKTA,
                    ),
                ),
                public_url=mesh.gateway_url,
            )
        )
    return created.connection


async def run(ctx: BenchContext) -> None:
    settings = ctx.settings
    concurrency = _concurrency()
    keys = KeyPair.generate("bench-idp")
    ctx.progress("saml: ACS validations on one thread")
    rate = validation_rate(keys, VALIDATION_SECONDS)
    ctx.report.figures.append(
        Figure(
            "SAML ACS validations (python3-saml + strict wrapper, one thread)",
            rate.per_second,
            "/s",
            note=f"p50 {rate.p50_ms:.1f} ms, p99 {rate.p99_ms:.1f} ms over {rate.count}; "
            "pre-signed RSA-SHA256 assertions with fresh ids, no server involved",
        )
    )
    async with contextlib.AsyncExitStack() as stack:
        ctx.progress("saml: starting PostgreSQL and the mesh")
        database = BenchDatabase()
        stack.push_async_callback(database.stop)
        await database.start()
        ctx.own(database.owned_pids)
        log_dir = Path(tempfile.mkdtemp(prefix="idmesh-bench-saml-"))
        stack.callback(shutil.rmtree, log_dir, True)
        mesh = Mesh(
            database.url,
            env_overrides=mesh_environment(settings.exporter),
            log_dir=log_dir,
        )  # fmt: skip
        await mesh.start(timeout=60)
        stack.push_async_callback(mesh.stop)
        connection = await _tenant(mesh, keys)
        groups = mesh_groups(mesh, database)

        target = SamlLogin(
            mesh.gateway_url, connection.id, connection.saml.acs_url,
            connection.saml.sp_entity_id, "bench-saml.test", keys.key_pem, keys.cert_pem,
        )  # fmt: skip
        memory = PeakRss({s: pid for s in SERVICES if (pid := mesh.pid(s)) is not None})
        async with memory.sampling():
            row = await ctx.measure(LOGIN, target, concurrency, groups)
        ctx.report.peak_rss[LOGIN_LOADS[1]] = memory.peak
        ctx.line(LOGIN, row)
        ctx.report.figures.append(
            Figure(
                f"{LOGIN}: mesh CPU per login",
                row.cpu_ms.get(MESH),
                "ms",
                below(CPU_TARGET_MS),
                note=f"{row.load.requests_per_second:,.0f} logins/s at c={concurrency}; the "
                f"IdP signs in the load generator ({row.cpu_ms.get(LOADGEN, 0):.2f} ms)",
                busy=row.busy,
            )
        )
        ctx.report.notes.append(
            "saml: each login = gateway start (AuthnRequest, transaction) + the test IdP signing"
            " in the load generator (client CPU) + ACS POST (auth: RelayState, strict validation"
            " in a thread, replay cache, directory provisioning with group sync, session)"
        )
