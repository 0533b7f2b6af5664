"""Hostile bodies through the real gateway (issue "Under load, faults and hostile input it keeps
working and loses nothing": "oversized, truncated, wrongly encoded, deeply nested bodies: always
a 4xx with a clear body, never a 5xx, never a crash or a leak").

Every body goes to every endpoint that reads one: SCIM POST, PUT, PATCH and .search, the admin
API's POST and PATCH (/api/v1), the OAuth token endpoint and the SAML ACS. Each answer is a 4xx
whose body says what is wrong (JSON endpoints name the problem), nothing of the implementation
leaks, and the gateway answers /healthz afterwards.
"""

from __future__ import annotations

import gzip
import json
import uuid
import zlib
from dataclasses import dataclass
from typing import Final

import aiohttp
import pytest

from infra.dev.mesh import Mesh
from tests.e2e.hostile.checks import Answer, Connections, leak_in, send
from tests.e2e.tenants import Tenant

pytestmark = pytest.mark.e2e

MIB: Final = 1024 * 1024
USER: Final = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "userName": "hostile@example.com",
    "displayName": "Ada",
}
USER_JSON: Final = json.dumps(USER)


@dataclass(frozen=True)
class Body:
    """A hostile body: its bytes, extra headers, and the words (any of them) a JSON endpoint's
    answer must contain to name the problem."""

    name: str
    raw: bytes
    names: tuple[str, ...]
    headers: tuple[tuple[str, str], ...] = ()
    status: tuple[int, ...] = (400,)
    encoded: bool = False


def _nested(depth: int) -> bytes:
    return f'{{"schemas": [], "displayName": {"[" * depth}1{"]" * depth}}}'.encode()


# Words of the refusals: "size" (aiohttp's 413 "Maximum request body size ... exceeded").
TOO_LARGE: Final = ("large", "size")
ANY_4XX: Final = tuple(range(400, 500))
BODIES = [
    Body("oversized", b'{"displayName": "' + b"x" * (MIB + 10) + b'"}', TOO_LARGE, status=(413,)),
    Body("empty", b"", ("empty", "required")),
    Body("truncated JSON", USER_JSON.encode()[:25], ("not valid JSON",)),
    Body("latin-1", USER_JSON.replace("Ada", "Adé").encode("latin-1"), ("UTF-8",)),
    Body("UTF-16 with a BOM", USER_JSON.encode("utf-16"), ("UTF-8",)),
    Body("UTF-16 without a BOM", USER_JSON.encode("utf-16-le"), ("UTF-8",)),
    Body("UTF-32", USER_JSON.encode("utf-32"), ("UTF-8",)),
    Body(
        "invalid UTF-8",
        USER_JSON.replace("Ada", "\udcff").encode("utf-8", "surrogateescape"),
        ("UTF-8",),
    ),
    Body("100,000 nested arrays", b"[" * 100_000 + b"]" * 100_000, ("nests", "deep")),
    Body("500 nested arrays in a member", _nested(500), ("nests", "deep")),
    Body("a number beyond the double range", b'{"displayName": 1e999999}', ("too large",)),
    Body("a number of 5,000 digits", b'{"displayName": ' + b"9" * 5000 + b"}", ("digits",)),
    Body("duplicate members", b'{"displayName": "a", "displayName": "b"}', ("twice",)),
    Body("NaN", b'{"displayName": NaN}', ("NaN",)),
    # Refused for the NUL or the surrogate where the endpoint reads the member, for the body's
    # shape elsewhere: any 4xx.
    Body(
        "an escaped NUL", b'{"displayName": "a\\u0000b", "name": "a\\u0000b"}', (), status=ANY_4XX
    ),
    Body("a raw NUL byte", b'{"displayName": "a\x00b"}', ("UTF-8", "NUL")),
    Body("a lone surrogate", b'{"displayName": "\\ud800", "name": "\\ud800"}', (), status=ANY_4XX),
    Body(
        "text/plain",
        USER_JSON.encode(),
        ("Content-Type", "Send the body"),
        (("Content-Type", "text/plain"),),
        status=(415,),
    ),
    Body(
        "XML",
        b"<user/>",
        ("Content-Type", "Send the body"),
        (("Content-Type", "application/xml"),),
        status=(415,),
    ),
    # aiohttp inflates gzip and deflate bodies (RFC 9110 §8.4), after which the size limit
    # applies to what was inflated: a bomb is 413, a body that does not inflate is 400.
    Body(
        "a gzip bomb",
        gzip.compress(b" " * (64 * MIB)),
        TOO_LARGE,
        (("Content-Encoding", "gzip"),),
        status=(413,),
    ),
    Body(
        "gzip that is not gzip",
        b"not gzip at all",
        ("Content-Encoding",),
        (("Content-Encoding", "gzip"),),
    ),
    Body(
        "deflate that is not deflate",
        b"not deflate at all",
        ("Content-Encoding",),
        (("Content-Encoding", "deflate"),),
    ),
]
# Encoded bodies that decode: answered as the same body sent plainly would be (any status
# below 500 here: each endpoint refuses USER for its own reasons, or accepts it).
ENCODED = [
    Body("gzip", gzip.compress(USER_JSON.encode()), (), (("Content-Encoding", "gzip"),), (), True),
    Body(
        "deflate",
        zlib.compress(USER_JSON.encode()),
        (),
        (("Content-Encoding", "deflate"),),
        (),
        True,
    ),
    Body(
        "an unknown coding", USER_JSON.encode(), (), (("Content-Encoding", "x-unknown"),), (), True
    ),
]


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str
    content_type: str
    json: bool = True


def _endpoints(user_id: str, connections: Connections) -> list[Endpoint]:
    return [
        Endpoint("SCIM POST", "POST", "/scim/v2/Users", "application/scim+json"),
        Endpoint("SCIM PUT", "PUT", f"/scim/v2/Users/{user_id}", "application/scim+json"),
        Endpoint("SCIM PATCH", "PATCH", f"/scim/v2/Users/{user_id}", "application/scim+json"),
        Endpoint("SCIM search", "POST", "/scim/v2/Users/.search", "application/json"),
        Endpoint("API POST", "POST", "/api/v1/spaces", "application/json"),
        Endpoint("API PATCH", "PATCH", f"/api/v1/users/{user_id}", "application/merge-patch+json"),
        Endpoint("token", "POST", "/oauth/token", "application/x-www-form-urlencoded", False),
        Endpoint(
            "SAML ACS",
            "POST",
            f"/sso/saml/{connections.saml}/acs",
            "application/x-www-form-urlencoded",
            False,
        ),
    ]


def _detail(answer: Answer) -> str:
    """The human part of a JSON refusal: RFC 7644 §3.12 detail, RFC 9457 detail, RFC 6749
    error_description."""
    try:
        document = json.loads(answer.body)
    except ValueError:
        return answer.body.decode("utf-8", "replace")
    if not isinstance(document, dict):
        return ""
    parts = [str(document.get(key, "")) for key in ("detail", "title", "error_description")]
    parts += [str(error.get("detail", "")) for error in document.get("errors", []) or []]
    return " ".join(parts)


async def _user_id(http: aiohttp.ClientSession, mesh: Mesh, admin: Tenant) -> str:
    user = {**USER, "userName": f"{uuid.uuid4().hex[:10]}@example.com"}
    async with http.post(
        f"{mesh.gateway_url}/scim/v2/Users",
        json=user,
        headers={**admin.headers, "Content-Type": "application/scim+json"},
    ) as response:
        assert response.status == 201
        return str((await response.json(content_type=None))["id"])


async def _refusals(
    http: aiohttp.ClientSession,
    mesh: Mesh,
    admin: Tenant,
    endpoints: list[Endpoint],
    body: Body,
) -> list[str]:
    """What is wrong with the answers of ``endpoints`` to ``body``, one line per endpoint."""
    failures = []
    for endpoint in endpoints:
        headers = {**admin.headers, "Content-Type": endpoint.content_type, **dict(body.headers)}
        answer = await send(
            http, endpoint.method, mesh.gateway_url + endpoint.path, headers=headers, body=body.raw
        )
        leak = leak_in(answer.body)
        if answer.status >= 500 or leak or admin.token.encode() in answer.body:
            failures.append(f"{endpoint.name}: leaked {leak!r}: {answer.describe()}")
            continue
        if body.encoded:
            continue  # a body that decodes: whatever the plain one gets, below 500
        if not 400 <= answer.status < 500 or not answer.body.strip():
            failures.append(f"{endpoint.name}: not a 4xx with a body: {answer.describe()}")
        if not endpoint.json:
            # Forms: the token endpoint's RFC 6749 §5.2 error, the ACS's HTML error page
            # (400 for a form it cannot read, 403 "sign-in failed" for values auth refuses).
            continue
        if answer.status not in body.status:
            failures.append(f"{endpoint.name}: {answer.status} not in {body.status}")
        detail = _detail(answer)
        if body.names and not any(word.lower() in detail.lower() for word in body.names):
            failures.append(f"{endpoint.name}: {detail[:200]!r} names none of {body.names}")
    async with http.get(f"{mesh.gateway_url}/healthz") as health:
        if health.status != 200:
            failures.append(f"/healthz answered {health.status} afterwards")
    return failures


@pytest.mark.parametrize("body", BODIES, ids=[body.name for body in BODIES])
async def test_a_hostile_body_is_a_clear_4xx_at_every_endpoint(
    http: aiohttp.ClientSession, mesh: Mesh, admin: Tenant, connections: Connections, body: Body
) -> None:
    """RFC 8259 §8.1 (UTF-8 only), §4 (unique names), §6 (numbers); RFC 7644 §3.12; RFC 9457;
    RFC 9110 §15.5.14 (413) and §15.5.16 (415): a 4xx naming the problem (JSON endpoints),
    never a 5xx or a leak; the gateway keeps answering. The token endpoint: see below."""
    endpoints = _endpoints(await _user_id(http, mesh, admin), connections)
    failures = await _refusals(http, mesh, admin, endpoints[:-2] + endpoints[-1:], body)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("body", BODIES, ids=[body.name for body in BODIES])
async def test_a_hostile_body_to_the_token_endpoint_is_a_4xx(
    http: aiohttp.ClientSession, mesh: Mesh, admin: Tenant, connections: Connections, body: Body
) -> None:
    """RFC 6749 §5.2: a refused token request is a 4xx error JSON; never a 5xx or a leak."""
    token = _endpoints("x", connections)[-2]
    failures = await _refusals(http, mesh, admin, [token], body)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("body", ENCODED, ids=[body.name for body in ENCODED])
async def test_an_encoded_body_is_answered_like_the_plain_one(
    http: aiohttp.ClientSession, mesh: Mesh, admin: Tenant, connections: Connections, body: Body
) -> None:
    """RFC 9110 §8.4: gzip and deflate are inflated (within the size limit), an unknown coding
    is ignored; whatever the endpoint makes of the body, never a 5xx or a leak."""
    endpoints = _endpoints(await _user_id(http, mesh, admin), connections)
    failures = await _refusals(http, mesh, admin, endpoints, body)
    assert not failures, "\n".join(failures)


UNREADABLE_FORMS: Final = {
    "latin-1 bytes": ("email=é&SAMLResponse=é".encode("latin-1"), {}),
    "an unknown charset": (
        b"email=x",
        {"Content-Type": "application/x-www-form-urlencoded; charset=x-no-such-charset"},
    ),
    "broken multipart": (b"--zzz\r\nbroken", {"Content-Type": "multipart/form-data; boundary=zzz"}),
    "gzip that is not gzip": (b"xx", {"Content-Encoding": "gzip"}),
}
FORM_ENDPOINTS: Final = ["/login", "/admin/login", "/oauth/token", "/sso/saml/{saml}/acs"]


@pytest.mark.parametrize(
    ("path", "form"),
    [
        pytest.param(path, form, id=f"{path} {form}")
        for path in FORM_ENDPOINTS
        for form in UNREADABLE_FORMS
    ],
)
async def test_a_form_that_cannot_be_read_is_a_400(
    http: aiohttp.ClientSession, mesh: Mesh, connections: Connections, path: str, form: str
) -> None:
    """Bindings 3.5.4, RFC 6749 §4.4.2 and the sign-in pages read HTML forms (UTF-8,
    application/x-www-form-urlencoded): one in another charset, with broken multipart parts or
    an undecodable Content-Encoding is a 400 with a body, never a 500."""
    raw, extra = UNREADABLE_FORMS[form]
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Origin": mesh.gateway_url,
        **extra,
    }
    url = mesh.gateway_url + path.replace("{saml}", connections.saml)
    answer = await send(http, "POST", url, headers=headers, body=raw)
    assert answer.status == 400, answer.describe()
    assert answer.body.strip()
    assert leak_in(answer.body) is None, answer.describe()


@pytest.mark.parametrize(
    ("name", "path", "headers", "status"),
    [
        ("a request line over 8190 bytes", "/healthz?x=" + "a" * 9000, {}, 400),
        ("a brotli body", "/api/v1/spaces", {"Content-Encoding": "br"}, 415),
    ],
    ids=["long request line", "brotli"],
)
async def test_protocol_level_refusals_are_4xx_without_implementation_details(
    http: aiohttp.ClientSession,
    mesh: Mesh,
    name: str,
    path: str,
    headers: dict[str, str],
    status: int,
) -> None:
    """RFC 9112 §3 (400 for a request line too long), RFC 9110 §15.5.16 (415 for a content
    coding the server cannot decode): an RFC 9457 problem that names neither Python types nor
    packages, nor echoes the request line."""
    answer = await send(
        http,
        "POST",
        mesh.gateway_url + path,
        headers={"Content-Type": "application/json", "Connection": "close", **headers},
        body=b"{}",
    )
    assert answer.status == status, answer.describe()
    assert answer.content_type == "application/problem+json", answer.describe()
    for detail in (b"bytearray(", b"install", b"Brotli", b"aaaa"):
        assert detail not in answer.body, f"{name}: {answer.describe()}"


async def test_a_body_that_does_not_inflate_closes_its_connection_and_says_so(
    mesh: Mesh, admin: Tenant
) -> None:
    """RFC 9112 §9.6: a server that will close the connection after a response sends
    Connection: close. A body that does not decode with its Content-Encoding cannot be drained,
    so the connection ends; the client learns it from the answer and its next request, on a
    new connection, is served."""
    async with aiohttp.ClientSession(headers=admin.headers) as http:
        async with http.post(
            f"{mesh.gateway_url}/scim/v2/Users",
            data=b"not gzip at all",
            headers={"Content-Type": "application/scim+json", "Content-Encoding": "gzip"},
        ) as refused:
            assert refused.status == 400
            assert refused.headers.get("Connection", "").lower() == "close"
            await refused.read()
        async with http.get(f"{mesh.gateway_url}/scim/v2/Users?count=1") as next_request:
            assert next_request.status == 200
