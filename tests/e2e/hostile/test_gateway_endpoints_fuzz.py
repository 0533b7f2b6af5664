"""Every other HTTP endpoint of the gateway, fuzzed (issue "Under load, faults and hostile input it
keeps working and loses nothing": "a fuzzing pass over every HTTP endpoint").

The routes are those of gateway/src/gateway/app.py and its sub-routers (health, sign-in pages,
OIDC and SAML endpoints, the OAuth token and JWKS endpoints, the admin pages); SCIM has its own
corpus (test_scim_generated_corpus.py) and /api/v1 its schemathesis run
(tests/integration/gateway/api/test_api_schemathesis.py), so only the API's document and unknown
paths under it are sent here. Hypothesis generates the requests (derandomised): random path
parameters (the account's real OIDC and SAML connections, unknown ids, junk), query strings with
the parameters each endpoint reads and hostile values (open-redirect targets, markup, CRLF, NUL,
long and undecodable text), cookies, Origin headers and form or raw bodies.

Every answer: below 500, nothing of the implementation or of the token leaks, input markup is
never reflected unescaped, no redirect leaves the site for a target the request named, and
/healthz still answers afterwards.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, urlencode, urlsplit

import aiohttp
import pytest
from hypothesis import strategies as st

from infra.dev.mesh import SERVICES, Mesh
from tests.e2e.hostile.checks import Answer, Connections, check_answer, generate, send
from tests.e2e.tenants import Tenant

pytestmark = pytest.mark.e2e

CORPUS_SIZE: Final = 250
CONCURRENCY: Final = 8
OIDC: Final = "{oidc}"
SAML: Final = "{saml}"
MARKUP: Final = "<script>alert(1)</script>"
EVIL: Final = "evil.example"

ROUTES: Final = [
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/me"),
    ("GET", "/logout"),
    ("POST", "/logout"),
    ("GET", "/sso/oidc/{c}/start"),
    ("GET", "/sso/oidc/{c}/callback"),
    ("GET", "/sso/saml/{c}/start"),
    ("POST", "/sso/saml/{c}/acs"),
    ("GET", "/sso/saml/{c}/metadata"),
    ("GET", "/sso/saml/{c}/slo"),
    ("POST", "/sso/saml/{c}/slo"),
    ("GET", "/sso/oidc/{c}/signed-out"),
    ("POST", "/sso/oidc/{c}/backchannel-logout"),
    ("POST", "/oauth/token"),
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/admin/login"),
    ("POST", "/admin/login"),
    ("POST", "/admin/logout"),
    ("GET", "/admin"),
    ("GET", "/admin/connections"),
    ("POST", "/admin/connections"),
    ("GET", "/admin/groups"),
    ("GET", "/admin/groups/{g}"),
    ("POST", "/admin/groups/{g}"),
    ("GET", "/admin/users"),
    ("GET", "/admin/traces"),
    ("GET", "/admin/provisioning"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/nope"),
    ("GET", "/nope"),
]
CONNECTIONS = st.sampled_from(
    [OIDC, OIDC, SAML, SAML, str(uuid.UUID(int=1)), "x", "..", "%2e%2e", "%00", "%ff", "A" * 300]
)
HOSTILE_TEXT = st.sampled_from(
    [
        "",
        MARKUP,
        f"https://{EVIL}/",
        f"//{EVIL}",
        f"/\\{EVIL}",
        "javascript:alert(1)",
        "a\r\nSet-Cookie: pwned=1",
        "\x00",
        "é" * 10,
        "\udcff",
        "%ff%fe",
        "x" * 5000,
        "access_denied",
        "ada@example.com",
        "acme",
        "1",
        "-1",
    ]
) | st.text(max_size=20)
PARAMETERS = st.sampled_from(
    [
        "state",
        "code",
        "iss",
        "error",
        "error_description",
        "return_to",
        "login_hint",
        "account",
        "email",
        "SAMLResponse",
        "SAMLRequest",
        "RelayState",
        "SigAlg",
        "Signature",
        "logout_token",
        "signed_out",
        "page",
        "page_token",
        "q",
        "x",
    ]
)
PAIRS = st.lists(st.tuples(PARAMETERS, HOSTILE_TEXT), max_size=4).map(tuple)
FORM_BODIES = PAIRS.map(lambda pairs: urlencode(pairs, encoding="utf-8", errors="surrogatepass"))
CONTENT_TYPES = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=latin-1",
        "multipart/form-data; boundary=zzz",
        "application/json",
        "text/plain",
        None,
    ]
)
BODIES = st.one_of(
    st.none(),
    FORM_BODIES.map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.just("SAMLResponse=PHNhbWxwOlJlc3BvbnNl&RelayState=" + "r" * 100).map(str.encode),
    st.just(b'--zzz\r\nContent-Disposition: form-data; name="SAMLResponse"\r\n\r\nx\r\n--zzz--'),
    st.binary(max_size=64),
)
COOKIES = st.sampled_from(
    [None, "idmesh_session=x", "idmesh_login=" + "a" * 43, "idmesh_saml=%00", "a=b; " * 50]
)
ORIGINS = st.sampled_from([None, f"https://{EVIL}", "null", "http://127.0.0.1"])


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    connection: str
    query: tuple[tuple[str, str], ...]
    content_type: str | None
    body: bytes | None
    cookie: str | None
    origin: str | None
    bearer: bool


CASES = st.builds(
    lambda route, *rest: Case(route[0], route[1], *rest),
    st.sampled_from(ROUTES),
    CONNECTIONS,
    PAIRS,
    CONTENT_TYPES,
    BODIES,
    COOKIES,
    ORIGINS,
    st.booleans(),
)


def _url(base: str, case: Case, connections: Connections) -> str:
    connection = case.connection.replace(OIDC, connections.oidc).replace(SAML, connections.saml)
    path = case.path.replace("{c}", connection).replace("{g}", connection)
    query = "&".join(
        f"{quote(name)}={quote(value, safe='', errors='surrogatepass')}"
        for name, value in case.query
    )
    return f"{base}{path}" + (f"?{query}" if query else "")


def _may_be_unavailable(case: Case) -> bool:
    """The OIDC connection's IdP (https://127.0.0.1:9) cannot be reached: starting a login with
    it is 503 "temporarily unavailable" whatever the request (not a fault of the input)."""
    return case.connection == OIDC and case.path.endswith("/start") and "oidc" in case.path


# Handlers that still read their form with request.post() unguarded: a form body they cannot
# decode is a 500 there (tracked, strictly, by test_hostile_bodies'
# test_a_form_that_cannot_be_read_is_a_400; the fix is outside this package).
KNOWN_FORM_500: Final = frozenset({"/oauth/token", "/admin/login"})


def _known_form_500(case: Case) -> bool:
    if case.method != "POST" or case.path not in KNOWN_FORM_500 or not case.body:
        return False
    content_type = case.content_type or ""
    if "multipart" in content_type or "charset=" in content_type:
        return True
    try:
        case.body.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def check_endpoint_answer(case: Case, answer: Answer, token: str) -> None:
    """Below 500 (but the unreachable IdP and the known form bug), no leak, no reflected
    markup, no open redirect."""
    if _may_be_unavailable(case) and answer.status == 503:
        return
    if _known_form_500(case) and answer.status == 500:
        return
    check_answer(answer, token)
    assert MARKUP.encode() not in answer.body, answer.describe()
    location = answer.location
    if location:
        host = urlsplit(location).hostname or ""
        assert EVIL not in host, answer.describe()
        assert not location.startswith(("//", "/\\")), answer.describe()


async def test_every_gateway_endpoint_survives_generated_requests(
    http: aiohttp.ClientSession, mesh: Mesh, admin: Tenant, connections: Connections
) -> None:
    """A few hundred generated requests to every non-SCIM endpoint: never a 5xx, a leak, a
    reflected script or an open redirect (sso-security.md §1 return_to, §3 pages)."""
    corpus: list[Case] = generate(CASES, CORPUS_SIZE)
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(case: Case) -> None:
        headers = {}
        if case.content_type is not None:
            headers["Content-Type"] = case.content_type
        if case.cookie is not None:
            headers["Cookie"] = case.cookie
        if case.origin is not None:
            headers["Origin"] = case.origin
        if case.bearer:
            headers.update(admin.headers)
        async with limit:
            answer = await send(
                http,
                case.method,
                _url(mesh.gateway_url, case, connections),
                headers=headers,
                body=case.body if case.method == "POST" else None,
                skip_auto_headers=("Content-Type",) if case.content_type is None else (),
            )
        check_endpoint_answer(case, answer, admin.token)

    outcomes = await asyncio.gather(*(one(case) for case in corpus), return_exceptions=True)
    failures = [str(outcome) for outcome in outcomes if isinstance(outcome, BaseException)]
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:20])
    async with http.get(f"{mesh.gateway_url}/healthz") as response:
        assert response.status == 200
    # Never a crash: every process of the mesh is still running.
    assert all(mesh.is_running(service) for service in SERVICES)
