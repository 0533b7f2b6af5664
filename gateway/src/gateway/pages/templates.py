"""The one Jinja2 environment of every page (sign-in pages and admin console), installed into the
application for aiohttp-jinja2.

Autoescaping is on for every template: a value a user, an IdP or a SCIM client sent is text, never
markup. Undefined names fail loudly (StrictUndefined), so a misspelt variable is a test failure,
not an empty cell. The layout (``layout.html``), the stylesheet and the form macros
(``macros.html``) are shared by every page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import aiohttp_jinja2
import jinja2
from aiohttp import web
from google.protobuf import timestamp_pb2

from gateway.pages.html import secure


def _time(value: timestamp_pb2.Timestamp | datetime | None, empty: str = "—") -> str:
    """A timestamp as UTC text; ``empty`` for an unset one."""
    if isinstance(value, timestamp_pb2.Timestamp):
        if not value.seconds and not value.nanos:
            return empty
        value = value.ToDatetime(tzinfo=UTC)
    if value is None:
        return empty
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _date(value: timestamp_pb2.Timestamp, empty: str = "—") -> str:
    """The UTC day of a timestamp."""
    if not value.seconds and not value.nanos:
        return empty
    return value.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%d")


def _ago(value: timestamp_pb2.Timestamp, empty: str = "never") -> str:
    """How long ago, in the largest whole unit ("3 h ago")."""
    if not value.seconds and not value.nanos:
        return empty
    seconds = (datetime.now(UTC) - value.ToDatetime(tzinfo=UTC)).total_seconds()
    if seconds < 0:
        return "in the future"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"


ENV: Final = jinja2.Environment(
    loader=jinja2.PackageLoader("gateway", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters["time"] = _time
ENV.filters["ago"] = _ago
ENV.filters["date"] = _date


def install(app: web.Application) -> None:
    """Makes ``ENV`` the application's aiohttp-jinja2 environment."""
    app[aiohttp_jinja2.APP_KEY] = ENV


def render(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    """``template`` rendered with ``context``, with the page security headers."""
    response = aiohttp_jinja2.render_template(template, request, context, status=status)
    secure(response)
    return response


def render_text(template: str, context: dict[str, Any]) -> str:
    """``template`` as text, outside a request (the error page, unit tests)."""
    return ENV.get_template(template).render(context)


def render_page(template: str, context: dict[str, Any], *, status: int = 200) -> web.Response:
    """A page rendered outside a request handler's ``render`` (error renderers)."""
    response = web.Response(
        text=render_text(template, context), status=status, content_type="text/html"
    )
    secure(response)
    return response
