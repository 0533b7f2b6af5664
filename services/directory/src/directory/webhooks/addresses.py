"""Where a webhook may be delivered (SSRF protection).

A URL must be https, and its host must resolve to public addresses only: loopback, private,
link-local (cloud metadata at 169.254.169.254), multicast, reserved and unspecified addresses
are refused. The check runs when the URL is registered and again after DNS resolution at each
delivery, and the connection goes to exactly the addresses checked (no second lookup that a
rebinding DNS server could answer differently). ``WEBHOOK_ALLOW_PRIVATE=1`` lifts both rules for
development and tests (a receiver on 127.0.0.1 over plain http).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from meshkit.errors import InvalidArgument

MAX_URL_LENGTH = 2048


class Refused(Exception):
    """The destination is not allowed; the message says why, without internals."""


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def check_url(url: str, *, allow_private: bool, field: str = "url") -> str:
    """``url`` when it may be registered; INVALID_ARGUMENT saying why otherwise."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidArgument(f"at most {MAX_URL_LENGTH} characters", field=field)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a non-numeric or out-of-range port raises here
    except ValueError:
        raise InvalidArgument("not a valid URL", field=field) from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise InvalidArgument("a webhook URL must be https", field=field, reason="insecure_url")
    if not parts.hostname:
        raise InvalidArgument("the URL has no host", field=field)
    if parts.username or parts.password:
        raise InvalidArgument("the URL must not carry credentials", field=field)
    if parts.fragment:
        raise InvalidArgument("the URL must not have a fragment", field=field)
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        literal = None
    if literal is not None and not allow_private and not is_public(str(literal)):
        raise InvalidArgument(
            "the URL's address is not public (loopback, private or link-local)",
            field=field,
            reason="private_address",
        )
    return url


class PublicResolver(AbstractResolver):
    """aiohttp's resolver, refusing any host that resolves to a non-public address."""

    def __init__(self, *, allow_private: bool) -> None:
        self._inner = DefaultResolver()
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if not self._allow_private:
            for result in results:
                if not is_public(result["host"]):
                    raise Refused(f"{host} resolves to a non-public address")
        return results

    async def close(self) -> None:
        await self._inner.close()


def connector_options(allow_private: bool) -> dict[str, Any]:
    """aiohttp TCPConnector options: the checking resolver, and no DNS cache (each delivery
    resolves and checks again)."""
    return {"resolver": PublicResolver(allow_private=allow_private), "use_dns_cache": False}
