"""The admin pages' frame on the sign-in pages' layout (gateway.pages.html): a navigation list,
the sign-out form with its token, and the error page of the admin routes."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from gateway.admin.guard import Admin, csrf_input
from gateway.errors import Problem
from gateway.pages.html import esc, page

NAV = (
    ("/admin/connections", "Connections"),
    ("/admin/groups", "Groups"),
    ("/admin/users", "Users"),
    ("/admin/traces", "Login traces"),
    ("/admin/provisioning", "Provisioning log"),
    ("/admin/webhooks", "Webhooks"),
)
_ERRORS = {
    403: ("Not allowed", "You may not do this, or the form was not sent from this site."),
    404: ("Not found", "There is no such item in your account."),
    429: ("Too many attempts", "Wait a minute, then try again."),
}


def admin_page(admin: Admin, title: str, body: str, *, status: int = 200) -> web.Response:
    links = "".join(f'<li><a href="{href}">{esc(label)}</a></li>' for href, label in NAV)
    frame = (
        f'<nav aria-label="Admin"><ul><li><a href="/admin">Admin home</a></li>{links}</ul></nav>\n'
        f"<p>Signed in as {esc(admin.user_name)}.</p>\n"
        f"{body}\n"
        f'<form method="post" action="/admin/logout">{csrf_input(admin)}'
        '<button type="submit">Sign out</button></form>'
    )
    return page(title, frame, status=status)


def table(caption: str, headers: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    """A table; ``rows`` hold markup (escape values with esc), the first cell a row header."""
    head = "".join(f'<th scope="col">{esc(h)}</th>' for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<th scope="row">{cell}</th>' if i == 0 else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return (
        f"<table><caption>{esc(caption)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def render_admin_problem(request: web.Request, problem: Problem) -> web.StreamResponse:
    """The error page of /admin: a plain sentence and the trace id, never the reason."""
    title, lead = _ERRORS.get(
        problem.status,
        ("Something went wrong", "The request could not be completed. Please try again."),
    )
    reference = (
        f'<p>Reference: <code id="trace-id">{esc(problem.trace_id)}</code></p>'
        if problem.trace_id
        else ""
    )
    body = (
        f'<div class="alert" role="alert"><p>{esc(lead)}</p></div>\n{reference}\n'
        '<p><a class="button" href="/admin">Back to the admin pages</a></p>'
    )
    response = page(title, body, status=problem.status)
    for name, value in problem.headers.items():
        if name.lower() == "retry-after":
            response.headers[name] = value
    return response
