"""OpenID Provider metadata (OIDC Discovery 1.0), fetched and cached per discovery URL.

The document's ``issuer`` must equal the connection's issuer exactly (Discovery §4.3): a
document that names another issuer is refused, whatever else it says. Endpoints must be https
(http only on a loopback host, for the test IdPs). A good document is kept for an hour; a
failure is remembered for a few seconds so a broken IdP is not hammered by every login.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from auth.sso.connections import check_url
from auth.sso.http import IdpHttp, IdpHttpError
from meshkit.errors import InvalidArgument

TTL_SECONDS: Final = 3600.0
FAILURE_TTL_SECONDS: Final = 5.0


class DiscoveryError(Exception):
    """The discovery document cannot be used; ``reason`` goes to the login trace."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    # RFC 9207 §3: the IdP sends "iss" in authorization responses; then it must be there.
    iss_parameter_supported: bool
    code_challenge_methods: tuple[str, ...]
    # OIDC Core §5.3; "" when the IdP publishes none.
    userinfo_endpoint: str = ""
    # RP-Initiated Logout 1.0 §2.1; "" when the IdP publishes none.
    end_session_endpoint: str = ""


def _endpoint(document: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = document.get(name)
    if not required and value is None:
        return ""
    if not isinstance(value, str) or not value:
        raise DiscoveryError("discovery_invalid", f"the discovery document has no {name}")
    try:
        return check_url(value, name)
    except InvalidArgument:
        raise DiscoveryError(
            "discovery_invalid", f"the discovery document's {name} is not an https URL"
        ) from None


def parse_metadata(document: dict[str, Any], expected_issuer: str) -> ProviderMetadata:
    """The metadata in ``document``, checked against ``expected_issuer`` (pure)."""
    issuer = document.get("issuer")
    if issuer != expected_issuer:
        raise DiscoveryError(
            "discovery_issuer_mismatch",
            "the discovery document names another issuer than the connection's",
        )
    methods = document.get("code_challenge_methods_supported")
    return ProviderMetadata(
        issuer=expected_issuer,
        authorization_endpoint=_endpoint(document, "authorization_endpoint"),
        token_endpoint=_endpoint(document, "token_endpoint"),
        jwks_uri=_endpoint(document, "jwks_uri"),
        iss_parameter_supported=document.get("authorization_response_iss_parameter_supported")
        is True,
        code_challenge_methods=tuple(m for m in methods if isinstance(m, str))
        if isinstance(methods, list)
        else (),
        userinfo_endpoint=_endpoint(document, "userinfo_endpoint", required=False),
        end_session_endpoint=_endpoint(document, "end_session_endpoint", required=False),
    )


@dataclass
class _Entry:
    at: float
    metadata: ProviderMetadata | None
    error: DiscoveryError | None


class DiscoveryCache:
    def __init__(self, http: IdpHttp, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._http = http
        self._clock = clock
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def get(self, discovery_url: str, issuer: str) -> ProviderMetadata:
        """The metadata at ``discovery_url``, whose issuer must be ``issuer``."""
        key = (discovery_url, issuer)
        entry = self._fresh(key)
        if entry is None:
            lock = self._locks.setdefault(key, asyncio.Lock())
            async with lock:
                entry = self._fresh(key)
                if entry is None:
                    entry = await self._fetch(discovery_url, issuer)
                    self._entries[key] = entry
        if entry.error is not None:
            raise entry.error
        assert entry.metadata is not None
        return entry.metadata

    def forget(self, discovery_url: str, issuer: str) -> None:
        self._entries.pop((discovery_url, issuer), None)

    def _fresh(self, key: tuple[str, str]) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        ttl = TTL_SECONDS if entry.error is None else FAILURE_TTL_SECONDS
        return entry if self._clock() - entry.at < ttl else None

    async def _fetch(self, discovery_url: str, issuer: str) -> _Entry:
        now = self._clock()
        try:
            response = await self._http.get_json(discovery_url, "discovery")
            if response.status != 200:
                raise DiscoveryError(
                    "discovery_unavailable", f"the discovery endpoint answered {response.status}"
                )
            return _Entry(now, parse_metadata(response.body, issuer), None)
        except IdpHttpError as error:
            return _Entry(now, None, DiscoveryError(error.reason, str(error)))
        except DiscoveryError as error:
            return _Entry(now, None, error)
