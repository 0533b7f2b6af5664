"""The one HTTP client auth uses to talk to IdPs: OIDC discovery, JWKS, token and userinfo
endpoints, and SAML metadata URLs.

aiohttp, traced with the aiohttp client instrumentation (one CLIENT span per call, the URL
without its query), with a deadline on every call and a cap on every body read: an IdP that
hangs or answers gigabytes cannot hold a login, or the process, hostage. Redirects are not
followed: discovery, JWKS and token endpoints answer directly, and a redirect could lead a
token request elsewhere.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
import yarl

from meshkit.telemetry import tracing_on

MAX_BODY_BYTES: Final = 1024 * 1024
USER_AGENT: Final = "idmesh-auth/1 (OIDC relying party)"


class IdpHttpError(Exception):
    """An IdP endpoint could not be used: unreachable, too slow, a non-JSON or oversized
    answer. ``reason`` is a short machine word for the login trace; the message names the
    endpoint kind and status, never a body or a secret."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class JsonResponse:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def _strip_query(url: yarl.URL) -> str:
    return str(url.with_query(None).with_fragment(None))


def _trace_configs() -> list[aiohttp.TraceConfig]:
    """A CLIENT span per IdP call when tracing is on; none at all when it is off (its hooks
    would run on every call for nothing)."""
    if not tracing_on():
        return []
    from opentelemetry.instrumentation.aiohttp_client import create_trace_config

    return [create_trace_config(url_filter=_strip_query)]


class IdpHttp:
    """A shared aiohttp session, opened lazily inside the running loop, closed at shutdown."""

    def __init__(self, *, timeout: float = 10.0, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=min(timeout, 5.0))
        self._max_body = max_body_bytes
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                trace_configs=_trace_configs(),
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
                # No cookies with IdPs: every call stands alone.
                cookie_jar=aiohttp.DummyCookieJar(),
                connector=aiohttp.TCPConnector(limit=100, ttl_dns_cache=60),
            )
        return self._session

    async def get_json(
        self, url: str, what: str, headers: dict[str, str] | None = None
    ) -> JsonResponse:
        return await self._request("GET", url, what, data=None, headers=headers)

    async def post_form(
        self, url: str, what: str, data: dict[str, str], headers: dict[str, str]
    ) -> JsonResponse:
        return await self._request("POST", url, what, data=data, headers=headers)

    async def _request(
        self,
        method: str,
        url: str,
        what: str,
        *,
        data: dict[str, str] | None,
        headers: dict[str, str] | None,
    ) -> JsonResponse:
        try:
            async with self._client().request(
                method, url, data=data, headers=headers, allow_redirects=False
            ) as response:
                raw = await response.content.read(self._max_body + 1)
                status = response.status
                response_headers = {k.lower(): v for k, v in response.headers.items()}
        except TimeoutError:
            raise IdpHttpError(
                f"{what}_timeout", f"the {what} endpoint did not answer in time"
            ) from None
        except (aiohttp.ClientError, OSError, asyncio.IncompleteReadError) as error:
            raise IdpHttpError(
                f"{what}_unreachable",
                f"the {what} endpoint is unreachable ({type(error).__name__})",
            ) from None
        if len(raw) > self._max_body:
            raise IdpHttpError(f"{what}_invalid", f"the {what} endpoint answered too much")
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise IdpHttpError(
                f"{what}_invalid", f"the {what} endpoint answered {status} without a JSON object"
            )
        return JsonResponse(status, body, response_headers)

    async def get_text(self, url: str, what: str) -> tuple[int, str]:
        """A GET answering text (SAML metadata XML), bounded in size and time."""
        try:
            async with self._client().get(
                url, allow_redirects=False, headers={"Accept": "application/xml, text/xml"}
            ) as response:
                raw = await response.content.read(self._max_body + 1)
                status = response.status
        except TimeoutError:
            raise IdpHttpError(
                f"{what}_timeout", f"the {what} URL did not answer in time"
            ) from None
        except (aiohttp.ClientError, OSError, asyncio.IncompleteReadError) as error:
            raise IdpHttpError(
                f"{what}_unreachable", f"the {what} URL is unreachable ({type(error).__name__})"
            ) from None
        if len(raw) > self._max_body:
            raise IdpHttpError(f"{what}_invalid", f"the {what} URL answered too much")
        return status, raw.decode("utf-8", errors="replace")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
