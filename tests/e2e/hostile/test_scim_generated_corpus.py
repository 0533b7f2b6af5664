"""A generated SCIM corpus through the real gateway (issue "Under load, faults and hostile input
it keeps working and loses nothing": "a generated corpus for SCIM").

Hypothesis generates the requests (derandomised, so every run sends the same few hundred) to
every SCIM endpoint of RFC 7644 §3.2 (Users, Groups, Schemas, ResourceTypes,
ServiceProviderConfig, Bulk, .search, resources by id, and paths that name nothing): random
methods, query strings (filter, startIndex, count, attributes, excludedAttributes, sortBy,
sortOrder), Content-Type and If-Match headers, and bodies from well-formed SCIM documents with
perturbed values to arbitrary bytes. Hypothesis builds a corpus from strategies more directly
than schemathesis from an OpenAPI document would: SCIM has no official OpenAPI document, and a
hand-written one would only restate the strategies below with less control over the hostile
parts (filters, encodings, dialects).

Every answer: below 500; a refusal is an RFC 7644 §3.12 error body (schemas Error, status as a
string equal to the HTTP status, a detail); no body leaks the implementation; the gateway still
answers /healthz afterwards.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, urlsplit

import aiohttp
import pytest
from hypothesis import strategies as st

from infra.dev.mesh import SERVICES, Mesh
from tests.e2e.hostile.checks import Answer, check_answer, generate, send
from tests.e2e.tenants import Tenant, create_tenant

pytestmark = pytest.mark.e2e

CORPUS_SIZE: Final = 300
CONCURRENCY: Final = 8
TENANTS: Final = 3
MAX_URL: Final = 7000
ERROR: Final = "urn:ietf:params:scim:api:messages:2.0:Error"
CORE_USER: Final = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP: Final = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE: Final = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP: Final = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH: Final = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
USER_ID: Final = "{user}"  # replaced by an existing user's id when sent
GROUP_ID: Final = "{group}"
UNIQUE: Final = "{unique}"  # replaced by a fresh value in each request that carries it


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]
    body: bytes | None


ANY_METHOD = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"])
COLLECTION = ("GET", "POST")
RESOURCE = ("GET", "PUT", "PATCH", "DELETE")
# Each path with the methods a client would use on it (RFC 7644 §3.2); other methods too, less
# often, and paths that name nothing.
ENDPOINTS: dict[str, tuple[str, ...]] = {
    "/Users": COLLECTION,
    f"/Users/{USER_ID}": RESOURCE,
    f"/Users/{uuid.UUID(int=7)}": RESOURCE,
    "/Users/.search": ("POST",),
    "/Groups": COLLECTION,
    f"/Groups/{GROUP_ID}": RESOURCE,
    "/Groups/.search": ("POST",),
    "/.search": ("POST",),
    "/Schemas": ("GET",),
    f"/Schemas/{CORE_USER}": ("GET",),
    "/Schemas/urn:nope": ("GET",),
    "/ResourceTypes": ("GET",),
    "/ResourceTypes/User": ("GET",),
    "/ResourceTypes/Widget": ("GET",),
    "/ServiceProviderConfig": ("GET",),
    "/Bulk": ("POST",),
    "/Me": ("GET",),
    "": ("GET",),
    "/": ("GET",),
    "/Users/": COLLECTION,
    "/Users//x": RESOURCE,
    "/Users/%2e%2e/Groups": COLLECTION,
    "/Users/%2FGroups": COLLECTION,
    "/Users/%ff%fe": RESOURCE,
    "/Users/%00": RESOURCE,
    "/Users/a%20b": RESOURCE,
    f"/Users/{USER_ID}/extra": RESOURCE,
    "/users": COLLECTION,
    "/USERS": COLLECTION,
    "/Users;x=1": COLLECTION,
    "/Users/" + "a" * 3000: RESOURCE,
}
PATH_AND_METHOD = st.sampled_from(sorted(ENDPOINTS)).flatmap(
    lambda path: st.tuples(
        st.just(path),
        st.integers(0, 5).flatmap(lambda i: st.sampled_from(ENDPOINTS[path]) if i else ANY_METHOD),
    )
)
FILTER_WORDS = st.sampled_from(
    [
        "userName",
        "displayName",
        "emails",
        'emails[type eq "work"]',
        'emails[type eq "work"].value',
        "members",
        "meta.lastModified",
        "active",
        ENTERPRISE + ":manager",
        "eq",
        "ne",
        "co",
        "sw",
        "gt",
        "pr",
        "and",
        "or",
        "not",
        "(",
        ")",
        "[",
        "]",
        '"a@example.com"',
        '"2024-01-01T00:00:00Z"',
        "true",
        "null",
        "1e999999",
        "9" * 60,
        '"\\u0000"',
        '"\\ud800"',
        '"',
        "é",
        "\x00",
    ]
)
FILTERS = st.lists(FILTER_WORDS, max_size=10).map(" ".join) | st.sampled_from(
    [
        "(" * 500 + "active pr" + ")" * 500,
        "not(" * 200,
        'userName eq "' + "x" * 5000 + '"',
    ]
)
NUMBERS = st.sampled_from(
    ["0", "1", "-1", "10", "1000000", "99999999999999999999999", "1e3", "1.5", "ten", "", " 1"]
)
ATTRIBUTES = st.lists(
    st.sampled_from(["userName", "emails.value", "name", "meta", "members", "id", "x", "", ","]),
    max_size=4,
).map(",".join)
QUERY_VALUES = {
    "filter": FILTERS,
    "startIndex": NUMBERS,
    "count": NUMBERS,
    "attributes": ATTRIBUTES,
    "excludedAttributes": ATTRIBUTES,
    "sortBy": st.sampled_from(["userName", "meta.created", "emails", "x", ""]),
    "sortOrder": st.sampled_from(["ascending", "descending", "sideways", ""]),
    "x": st.text(max_size=10),
}
QUERY = st.lists(
    st.sampled_from(sorted(QUERY_VALUES)).flatmap(
        lambda name: st.tuples(st.just(name), QUERY_VALUES[name])
    ),
    max_size=4,
).map(tuple)
CONTENT_TYPES = st.sampled_from(
    [
        "application/scim+json",
        "application/scim+json; charset=utf-8",
        "application/json",
        "application/json; charset=utf-16",
        "application/scim+json; charset=iso-8859-1",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "",
    ]
)
HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "Content-Type": CONTENT_TYPES,
        "If-Match": st.sampled_from(['W/"1"', "*", '"x"', "W/", "", 'W/"' + "9" * 40 + '"']),
        "Accept": st.sampled_from(["application/scim+json", "text/html", "*/*", "image/png"]),
    },
).map(lambda headers: tuple(sorted(headers.items())))

JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["True", "False", "", "work", "a@example.com", USER_ID])
)
JSON = st.recursive(
    JSON_LEAVES,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


def _perturbed(document: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """``document`` with some members replaced by arbitrary JSON or dropped."""
    return st.fixed_dictionaries(
        {name: st.just(value) | JSON for name, value in document.items()}
    ) | st.just(document)


def _user() -> dict[str, Any]:
    return {
        "schemas": [CORE_USER, ENTERPRISE],
        "userName": f"{UNIQUE}@example.com",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": "ada@example.com", "type": "work", "primary": True}],
        "active": True,
        ENTERPRISE: {"employeeNumber": "1", "manager": {"value": USER_ID}},
    }


def _group() -> dict[str, Any]:
    return {"schemas": [CORE_GROUP], "displayName": f"G {UNIQUE}", "members": [{"value": USER_ID}]}


OPERATIONS = st.lists(
    st.fixed_dictionaries(
        {"op": st.sampled_from(["add", "Replace", "remove", "move", "ADD"])},
        optional={
            "path": st.lists(FILTER_WORDS, min_size=1, max_size=4).map("".join)
            | st.sampled_from(
                [
                    "active",
                    "name.givenName",
                    'emails[type eq "work"].value',
                    "members",
                    f'members[value eq "{USER_ID}"]',
                    f"{ENTERPRISE}:manager",
                    "displayName",
                ]
            ),
            "value": JSON,
        },
    ),
    max_size=4,
)
DOCUMENTS = st.one_of(
    _perturbed(_user()),
    _perturbed(_group()),
    st.builds(lambda ops: {"schemas": [PATCH_OP], "Operations": ops}, OPERATIONS),
    _perturbed({"schemas": [SEARCH], "filter": "userName pr", "startIndex": 1, "count": 2}),
    JSON,
)


def _encode(document: Any, how: str) -> bytes:
    text = json.dumps(document, ensure_ascii=how == "ascii", allow_nan=False)
    if how == "utf-16":
        return text.encode("utf-16")
    if how == "latin-1":
        return text.encode("latin-1", "replace")
    if how == "truncated":
        return text.encode()[: max(1, len(text) // 2)]
    return text.encode("utf-8", "surrogatepass")


BODIES = st.one_of(
    st.none(),
    st.builds(
        _encode,
        DOCUMENTS,
        st.sampled_from(["utf-8", "utf-8", "utf-8", "ascii", "utf-16", "latin-1", "truncated"]),
    ),
    st.binary(max_size=64),
)
SCIM_JSON: Final = (("Content-Type", "application/scim+json"),)
STORABLE = st.text(
    alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=20
)


def _json(document: Any) -> bytes:
    return json.dumps(document).encode()


def _patch(operations: list[dict[str, Any]]) -> bytes:
    return _json({"schemas": [PATCH_OP], "Operations": operations})


# Requests a provisioning client sends, so that the corpus also reaches creation, replacement,
# patching and searching (201, 200, 204, 409) and not only refusals.
WELL_FORMED = st.one_of(
    # A varying displayName: Hypothesis does not repeat an example, so each shape needs a draw.
    st.builds(
        lambda name: Case("POST", "/Users", (), SCIM_JSON, _json({**_user(), "displayName": name})),
        STORABLE,
    ),
    st.builds(
        lambda name: Case(
            "POST", "/Groups", (), SCIM_JSON, _json({**_group(), "externalId": name})
        ),
        STORABLE,
    ),
    st.builds(
        lambda name: Case(
            "PUT", f"/Users/{USER_ID}", (), SCIM_JSON, _json({**_user(), "displayName": name})
        ),
        STORABLE,
    ),
    st.builds(
        lambda ops: Case("PATCH", f"/Users/{USER_ID}", (), SCIM_JSON, _patch(ops)), OPERATIONS
    ),
    st.builds(
        lambda ops: Case("PATCH", f"/Groups/{GROUP_ID}", (), SCIM_JSON, _patch(ops)), OPERATIONS
    ),
    st.builds(
        lambda query: Case("GET", "/Users", query, (), None),
        QUERY,
    ),
    st.builds(
        lambda filter_: Case(
            "POST",
            "/Users/.search",
            (),
            SCIM_JSON,
            json.dumps({"schemas": [SEARCH], "filter": filter_}).encode(),
        ),
        FILTERS,
    ),
)
CASES = st.one_of(
    st.builds(
        lambda pm, query, headers, body: Case(pm[1], pm[0], query, headers, body),
        PATH_AND_METHOD,
        QUERY,
        HEADERS,
        BODIES,
    ),
    WELL_FORMED,
)


async def _existing(admin: Tenant, http: aiohttp.ClientSession, base: str) -> dict[str, str]:
    """A user and a group of the account, so that paths and bodies name real resources."""
    headers = {**admin.headers, "Content-Type": "application/scim+json"}
    user = {"schemas": [CORE_USER], "userName": f"{uuid.uuid4().hex[:10]}@example.com"}
    async with http.post(f"{base}/Users", json=user, headers=headers) as response:
        assert response.status == 201
        user_id = (await response.json(content_type=None))["id"]
    group = {"schemas": [CORE_GROUP], "displayName": f"g-{uuid.uuid4().hex[:8]}"}
    async with http.post(f"{base}/Groups", json=group, headers=headers) as response:
        assert response.status == 201
        group_id = (await response.json(content_type=None))["id"]
    return {USER_ID: user_id, GROUP_ID: group_id}


def _url(base: str, case: Case, ids: dict[str, str]) -> str:
    path = case.path
    for placeholder, value in ids.items():
        path = path.replace(placeholder, value)
    url = f"{base}{path}"
    separator = "?"
    for name, value in case.query:
        parameter = f"{separator}{_quote(name)}={_quote(value)}"
        # aiohttp's request line limit (8190 bytes) is test_hostile_bodies' business.
        if len(url) + len(parameter) < MAX_URL:
            url, separator = url + parameter, "&"
    return url


def _quote(text: str) -> str:
    return quote(text, safe="", errors="surrogatepass")


def check_scim_answer(answer: Answer, token: str) -> None:
    """Below 500, no leak, and an RFC 7644 §3.12 error body on every refusal with a body; /Me
    and /Bulk answer 501 (§3.11: /Me of a token that is no user; §3.7: bulk.supported false)."""
    path = urlsplit(answer.url).path
    check_answer(answer, token, not_implemented=path.endswith(("/Me", "/Bulk")))
    if answer.status < 400 or answer.method == "HEAD" or not answer.body:
        return
    document = json.loads(answer.body)
    assert document["schemas"] == [ERROR], answer.describe()
    assert document["status"] == str(answer.status), answer.describe()
    assert isinstance(document["detail"], str), answer.describe()
    assert document["detail"].strip(), answer.describe()


async def test_a_generated_scim_corpus_never_gets_a_5xx_or_a_leak(
    http: aiohttp.ClientSession, mesh: Mesh
) -> None:
    """RFC 7644 §3.12 errors for every refusal, never a 5xx, never an internal detail in a
    body, for a few hundred generated requests to every SCIM endpoint (issue requirement:
    "a generated corpus for SCIM"). The corpus is spread over several accounts so that the
    per-account SCIM rate limit (a 429, fine but uninformative) rarely answers instead."""
    base = f"{mesh.gateway_url}/scim/v2"
    tenants = [await create_tenant(mesh) for _ in range(TENANTS)]
    ids = [await _existing(tenant, http, base) for tenant in tenants]
    corpus: list[Case] = generate(CASES, CORPUS_SIZE)
    assert len(corpus) == CORPUS_SIZE
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(index: int, case: Case) -> Answer:
        tenant, names = tenants[index % TENANTS], ids[index % TENANTS]
        answer = await _send(tenant, names, case)
        check_scim_answer(answer, tenant.token)
        return answer

    async def _send(tenant: Tenant, ids: dict[str, str], case: Case) -> Answer:
        headers = {**tenant.headers, **dict(case.headers)}
        body = case.body
        if body is not None:
            for placeholder, value in {**ids, UNIQUE: uuid.uuid4().hex[:12]}.items():
                body = body.replace(placeholder.encode(), value.encode())
        skip = ("Content-Type",) if "Content-Type" not in headers else ()
        async with limit:
            return await send(
                http,
                case.method,
                _url(base, case, ids),
                headers=headers,
                body=body,
                skip_auto_headers=skip,
            )

    answers = await asyncio.gather(*(one(i, case) for i, case in enumerate(corpus)))
    statuses = {answer.status for answer in answers}
    # The corpus reaches past the front door: successes and several kinds of refusal.
    assert {200, 201, 400, 404} <= statuses, statuses
    async with http.get(f"{mesh.gateway_url}/healthz") as response:
        assert response.status == 200
    # Never a crash: every process of the mesh is still running.
    assert all(mesh.is_running(service) for service in SERVICES)
