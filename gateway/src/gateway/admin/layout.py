"""The console's frame: the navigation, rendering a page for the signed-in admin (the layout,
its sign-out form and flash messages), paging links, and the error page of the admin routes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web
from yarl import URL

from gateway.admin.guard import Admin
from gateway.errors import Problem
from gateway.pages.templates import render, render_page

NAV: Final = (
    ("/admin", "Overview", "overview"),
    ("/admin/connections", "Connections", "connections"),
    ("/admin/users", "Users", "users"),
    ("/admin/groups", "Groups", "groups"),
    ("/admin/traces", "Login traces", "traces"),
    ("/admin/provisioning", "Provisioning log", "provisioning"),
    ("/admin/credentials", "Tokens and clients", "credentials"),
    ("/admin/webhooks", "Webhooks", "webhooks"),
    ("/admin/setup-links", "Setup links", "setup-links"),
)
PAGE_SIZE: Final = 50
_ERRORS: Final = {
    403: ("Not allowed", "You may not do this, or the form was not sent from this site."),
    404: ("Not found", "There is no such item in your account."),
    429: ("Too many attempts", "Wait a minute, then try again."),
}


def render_admin(
    request: web.Request,
    admin: Admin,
    template: str,
    *,
    nav: str,
    title: str,
    status: int = 200,
    **context: Any,
) -> web.Response:
    """``template`` (extending admin/base.html) for ``admin``; ``note`` and ``error`` in the
    context become the page's status message and alert."""
    values: dict[str, Any] = {
        "admin": admin,
        "nav": nav,
        "nav_items": NAV,
        "title": title,
        "lead": "",
        "crumbs": (),
        "note": "",
        "error": "",
        "errors": {},
        **context,
    }
    # A form's values and errors by field: a field without one reads as "".
    for name in ("values", "errors"):
        values[name] = defaultdict(str, values.get(name) or {})
    return render(request, f"admin/{template}", values, status=status)


@dataclass(frozen=True)
class Page:
    """Where a listing is: the link to the next page (the API's page token), the first page's
    link when this is not the first, and a sentence for the pager."""

    next_url: str
    first_url: str
    summary: str


def page_links(request: web.Request, next_token: str, shown: int, noun: str) -> Page:
    """Links that keep the request's filters and move its ``page_token``."""
    url = URL(request.path_qs)
    query = {k: v for k, v in url.query.items() if k not in ("page_token", "note")}
    here = request.query.get("page_token", "")
    next_url = str(url.with_query({**query, "page_token": next_token})) if next_token else ""
    first_url = str(url.with_query(query)) if here else ""
    position = "on this page" if here or next_token else "in all"
    counted = noun if shown != 1 else noun.removesuffix("s")
    return Page(next_url, first_url, f"{shown} {counted} {position}")


def page_token(request: web.Request) -> str:
    """The page token of the request (bounded: the services check the rest)."""
    return request.query.get("page_token", "")[:512]


def query_values(request: web.Request, names: tuple[str, ...]) -> Mapping[str, str]:
    """The request's filter values, trimmed and bounded."""
    return {name: request.query.get(name, "").strip()[:256] for name in names}


def render_admin_problem(request: web.Request, problem: Problem) -> web.StreamResponse:
    """The error page of /admin: a plain sentence and the trace id, never the reason."""
    title, lead = _ERRORS.get(
        problem.status,
        ("Something went wrong", "The request could not be completed. Please try again."),
    )
    response = render_page(
        "admin/error.html",
        {"title": title, "lead": lead, "trace_id": problem.trace_id},
        status=problem.status,
    )
    for name, value in problem.headers.items():
        if name.lower() == "retry-after":
            response.headers[name] = value
    return response
