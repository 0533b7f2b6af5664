"""Ory Polis's complete SAML login beside idmesh's, in the same run, with the ratio of the two.

Polis (npm @boxyhq/saml-jackson, tests/bench/polis/) runs as one node process with an in-memory
store. One login is what its integrating app and a browser do: GET its OAuth authorize endpoint
(PKCE) → 302 to the IdP with an AuthnRequest → the same test IdP as the idmesh SAML rows signs a
response to that request (libxmlsec1 in the load generator, RSA-SHA256 signed assertion) → POST
to Polis's ACS (validation, a code for the app) → the app redeems the code at the token
endpoint. idmesh's login (scenarios/saml.py) ends with a session instead of a token: each side's
login is complete for its kind of product. Run after "saml" to get the ratios (Polis's line is
the baseline of idmesh's "SAML login": CPU per login of its one process beside the mesh's);
when Polis cannot be installed or started, the summary says why instead. Target: idmesh signs
in at least 1.5× as many users a second.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import os
import secrets
import zlib
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qs, urlsplit

import aiohttp
from lxml import etree

from tests.bench.context import BenchContext
from tests.bench.cost import REFERENCE
from tests.bench.figures import Figure, at_least
from tests.bench.lines import IDMESH
from tests.bench.load import Session
from tests.bench.polis_server import PolisServer, PolisUnavailable, install, version
from tests.bench.process_groups import single
from tests.bench.scenarios.saml import IDP, LOGIN
from tests.idps.saml.metadata import idp_metadata
from tests.idps.saml.responses import KeyPair, ResponseSpec, build, encode, sign_with_xmlsec

AUDIENCE: Final = "https://saml.boxyhq.com"
APP: Final = "http://127.0.0.1:9/app"
CLIENT_ID: Final = "tenant=bench&product=bench"
NAME: Final = "Ory Polis SAML login (authorize → signed response → ACS → token)"
RATIO: Final = "SAML logins/s: idmesh / Ory Polis"
RATIO_TARGET: Final = 1.5


def _concurrency() -> int:
    return max(int(os.environ.get("BENCH_SAML_CONCURRENCY", "").strip() or "16"), 1)


@dataclass(frozen=True)
class PolisLogin:
    """A complete login at Polis per call (picklable for the load generator's process)."""

    base_url: str
    acs_url: str
    key_pem: str
    cert_pem: str
    timeout: float = 30.0

    def describe(self) -> str:
        return f"Polis SAML logins at {self.base_url}"

    async def open(self, workers: int, workers_per_channel: int) -> Session:
        return _LoginSession(self)


class _LoginSession:
    def __init__(self, target: PolisLogin) -> None:
        self._target = target
        self._keys = KeyPair(target.key_pem, target.cert_pem)
        self._http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=target.timeout),
        )

    async def call(self, worker: int) -> str | None:
        try:
            return await self._login(worker)
        except (aiohttp.ClientError, TimeoutError) as error:
            return type(error).__name__

    async def _login(self, worker: int) -> str | None:
        t, http = self._target, self._http
        verifier = secrets.token_urlsafe(32)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        query = {
            "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": APP,
            "state": secrets.token_urlsafe(8), "code_challenge": challenge.decode().rstrip("="),
            "code_challenge_method": "S256",
        }  # fmt: skip
        async with http.get(
            f"{t.base_url}/api/oauth/authorize", params=query, allow_redirects=False
        ) as response:
            await response.read()
            if response.status != 302:
                return f"authorize {response.status}"
            sent = parse_qs(urlsplit(response.headers["Location"]).query)
        request = etree.fromstring(zlib.decompress(base64.b64decode(sent["SAMLRequest"][0]), -15))
        email = f"bench-user-{worker}@bench-polis.test"
        spec = ResponseSpec(acs_url=t.acs_url, audience=AUDIENCE, issuer=IDP,
                            request_id=request.get("ID"), name_id=email,
                            attributes={"email": [email], "firstName": ["Bench"],
                                        "lastName": ["User"]})  # fmt: skip
        form = {"SAMLResponse": encode(sign_with_xmlsec(build(spec), self._keys)),
                "RelayState": sent["RelayState"][0]}  # fmt: skip
        async with http.post(t.acs_url, data=form, allow_redirects=False) as response:
            body = await response.read()
            if response.status != 302:
                return f"acs {response.status} {body[:80]!r}"
            code = parse_qs(urlsplit(response.headers["Location"]).query).get("code")
        if not code:
            return "acs: no code"
        token = {"grant_type": "authorization_code", "client_id": CLIENT_ID, "code": code[0],
                 "redirect_uri": APP, "code_verifier": verifier}  # fmt: skip
        async with http.post(f"{t.base_url}/api/oauth/token", data=token) as response:
            answer = await response.json(content_type=None)
            if response.status != 200 or "access_token" not in answer:
                return f"token {response.status}"
        return None

    async def close(self) -> None:
        await self._http.close()


def _not_measured(ctx: BenchContext, why: str) -> None:
    ctx.report.figures.append(Figure(NAME, None, "", note=f"not measured: {why}"))


async def run(ctx: BenchContext) -> None:
    ctx.progress("polis: installing Ory Polis from npm (npm ci on first use)")
    try:
        await install()
    except PolisUnavailable as error:
        _not_measured(ctx, str(error))
        return
    keys = KeyPair.generate("bench-idp")
    async with contextlib.AsyncExitStack() as stack:
        server = PolisServer()
        stack.push_async_callback(server.stop)
        try:
            await server.start()
            acs_url = await server.setup(idp_metadata(IDP, keys))
        except PolisUnavailable as error:
            _not_measured(ctx, str(error))
            return
        target = PolisLogin(server.url, acs_url, keys.key_pem, keys.cert_pem)
        check = _LoginSession(target)
        try:
            failed = await check.call(0)
        finally:
            await check.close()
        if failed is not None:
            _not_measured(ctx, f"a login failed: {failed}")
            return
        system = f"Ory Polis {version()}"
        row = await ctx.measure(
            system + " SAML login", target, _concurrency(), single(REFERENCE, server.pid)
        )
        ctx.line(LOGIN, row, system=system)
        lines = ctx.report.lines
        ours = next(
            (
                i
                for i, line in enumerate(lines)
                if line.key == (LOGIN, IDMESH, row.load.concurrency)
            ),
            None,
        )
        if ours is None or not row.load.requests_per_second:
            ctx.ratio(RATIO, None, note="not computed: run the saml scenario too")
            return
        lines[ours] = dataclasses.replace(lines[ours], baseline=system)
        mine = lines[ours]
        ctx.ratio(
            RATIO,
            mine.requests_per_second / row.load.requests_per_second,
            at_least(RATIO_TARGET, "×"),
            note=f"idmesh {mine.requests_per_second:,.0f}/s vs Polis "
            f"{row.load.requests_per_second:,.0f}/s, same concurrency, same IdP signing; "
            f"@boxyhq/saml-jackson {version()}, one node process, mem store",
            busy=mine.busy or row.busy,
        )
