"""Cross-site POST protection of the sign-in forms: the ``Origin`` a browser sends with a POST
must be ours. SameSite=Lax already keeps the session cookie off cross-site POSTs; this also
refuses a cross-site sign-in or sign-out form outright."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from gateway.state import CONFIG
from meshkit.errors import PermissionDenied


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def require_same_origin(request: web.Request) -> None:
    """PermissionDenied unless the request's Origin (when the browser sends one) is the
    gateway's public origin."""
    origin = request.headers.get("Origin")
    if origin is None:
        return
    if origin.lower() != origin_of(request.app[CONFIG].public_url):
        raise PermissionDenied("cross-site form submissions are refused", reason="cross_site")
