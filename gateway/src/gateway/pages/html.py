"""The response headers of every server-rendered page (sign-in pages and admin console), and the
redirect that carries them.

A Content-Security-Policy that allows scripts, styles and images only from the gateway's own
files (/static/, never inline code), no framing, no referrer to other sites (a callback URL
carries a code), no caching (pages show who is signed in), no MIME sniffing. ``connect-src
'self'`` lets the live search fetch the page it is on.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Nothing crosses to another site (a callback URL carries a code); same-origin requests keep
    # their Origin header, which "no-referrer" would turn into "null" and break the form check.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def secure(response: web.StreamResponse) -> web.StreamResponse:
    """Adds the page security headers to ``response`` (redirects too)."""
    response.headers.update(SECURITY_HEADERS)
    return response


def redirect(location: str, status: int = 303) -> web.Response:
    """A redirect that carries the page headers (no referrer, no caching)."""
    response = web.Response(status=status, headers={"Location": location})
    secure(response)
    return response
