"""Plain server-rendered HTML for the sign-in pages: one layout, every value escaped.

No framework and no JavaScript: the pages work in any browser, with a screen reader, and with
scripts off. Every dynamic value goes through ``esc`` (``html.escape`` with quotes), and the
layout is fixed text, so nothing a user or an IdP sends can become markup.

Response headers: a Content-Security-Policy that allows nothing but the one inline stylesheet
(by its hash, so no 'unsafe-inline'), no framing, no referrer to other sites (a callback URL
carries a code), no caching (pages show who is signed in), no MIME sniffing.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Iterable
from typing import Final

from aiohttp import web

STYLE: Final = """
:root { color-scheme: light dark; font-family: system-ui, sans-serif; line-height: 1.5; }
body { margin: 0; padding: 2rem 1rem; }
main { max-width: 34rem; margin: 0 auto; }
h1 { font-size: 1.6rem; margin: 0 0 1rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 0.5rem; }
label { display: block; font-weight: 600; margin-bottom: 0.25rem; }
input[type=email] { width: 100%; box-sizing: border-box; padding: 0.6rem; font-size: 1rem;
  border: 1px solid #767676; border-radius: 4px; }
button, .button { display: inline-block; margin-top: 0.75rem; padding: 0.6rem 1.2rem;
  font-size: 1rem; border-radius: 4px; border: 1px solid #1a4d8f; background: #1a4d8f;
  color: #fff; text-decoration: none; cursor: pointer; }
.options { list-style: none; padding: 0; }
.options li { margin: 0.5rem 0; }
:focus-visible { outline: 3px solid #d4351c; outline-offset: 2px; }
.alert { border-left: 4px solid #d4351c; padding: 0.5rem 1rem; background: rgba(212,53,28,.08); }
.note { border-left: 4px solid #1a4d8f; padding: 0.5rem 1rem; }
code { font-size: 0.95rem; word-break: break-all; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 0.3rem 0.5rem; border-bottom: 1px solid #ccc; }
dt { font-weight: 600; } dd { margin: 0 0 0.5rem; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; }
"""
_STYLE_HASH: Final = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
CSP: Final = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
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


def esc(value: object) -> str:
    """``value`` as text inside HTML or a quoted attribute."""
    return html.escape(str(value), quote=True)


def secure(response: web.StreamResponse) -> web.StreamResponse:
    """Adds the page security headers to ``response`` (redirects too)."""
    response.headers.update(SECURITY_HEADERS)
    return response


def page(title: str, body: str, *, status: int = 200) -> web.Response:
    """A complete page: ``title`` is text (escaped here), ``body`` is markup built with esc."""
    document = (
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)} · idmesh</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n<h1>{esc(title)}</h1>\n{body}\n</main>\n</body>\n</html>\n"
    )
    response = web.Response(text=document, status=status, content_type="text/html")
    secure(response)
    return response


def redirect(location: str, status: int = 303) -> web.Response:
    """A redirect that carries the page headers (no referrer, no caching)."""
    response = web.Response(status=status, headers={"Location": location})
    secure(response)
    return response


def items(values: Iterable[str]) -> str:
    return "".join(f"<li>{value}</li>" for value in values)
