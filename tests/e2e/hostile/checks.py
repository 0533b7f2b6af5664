"""What every hostile-input test needs: raw requests, a generated corpus, and the checks every
answer must pass (below 500, nothing of the implementation or of a secret in the body)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from yarl import URL

# What only an implementation detail can put in an answer: a traceback, a source path, a
# library's or the generated code's name, a gRPC status, a Python exception class (by its
# CamelCase name, so that the words "error" and "Error" alone are fine).
_CLASS_NAME: Final = re.compile(r"\b(?:[A-Z][a-z]+)+(?:Error|Exception)\b|JSONDecodeError|OSError")
_OTHER_LEAKS: Final = re.compile(
    r"Traceback|File \"|site-packages|\.py\b|/work/|asyncpg|grpc|_pb2|StatusCode\.|"
    r"set_int_max_str_digits|sqlstate",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Answer:
    """One request and its answer, as the checks need them."""

    method: str
    url: str
    status: int
    content_type: str
    body: bytes
    location: str = ""

    def describe(self) -> str:
        return f"{self.method} {self.url[:200]} -> {self.status}: {self.body[:300]!r}"


def leak_in(body: bytes) -> str | None:
    """The implementation detail ``body`` gives away, or None."""
    text = body.decode("utf-8", "replace")
    found = _OTHER_LEAKS.search(text) or _CLASS_NAME.search(text)
    return found.group() if found else None


def check_answer(answer: Answer, *secrets: str, not_implemented: bool = False) -> None:
    """Never a 5xx (docs/architecture.md: the gateway never turns a failure into a bare 500, and
    bad input is the client's fault), never a leak of the implementation or of a secret.
    ``not_implemented``: 501 is the documented answer here (SCIM /Me and /Bulk)."""
    assert answer.status < 500 or (not_implemented and answer.status == 501), answer.describe()
    leak = leak_in(answer.body)
    assert leak is None, f"{leak!r} leaked: {answer.describe()}"
    for secret in secrets:
        assert secret.encode() not in answer.body, answer.describe()


async def send(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    skip_auto_headers: tuple[str, ...] = (),
) -> Answer:
    """One raw request (the URL is sent as written: encoded=True), its whole answer."""
    async with http.request(
        method,
        URL(url, encoded=True),
        headers=headers,
        data=body,
        allow_redirects=False,
        skip_auto_headers=skip_auto_headers,
    ) as response:
        return Answer(
            method,
            url,
            response.status,
            response.headers.get("Content-Type", ""),
            await response.read(),
            response.headers.get("Location", ""),
        )


def generate(strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
    """``count`` examples of ``strategy``, the same ones on every run (derandomised, no example
    database): a reproducible generated corpus, sent afterwards by the async test."""
    corpus: list[Any] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(example: Any) -> None:
        corpus.append(example)

    collect()
    return corpus


@dataclass(frozen=True)
class Connections:
    """The ids of the test account's OIDC and SAML connections."""

    oidc: str
    saml: str
