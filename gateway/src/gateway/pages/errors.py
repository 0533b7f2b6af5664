"""The one error page of the sign-in pages and SSO endpoints: clear, uniform, leaking nothing.

Whatever failed (a forged token, a replayed state, an unknown connection, a deactivated user, a
peer that is down), the browser sees the same sentence and the trace id, which an administrator
finds in the login traces (``idmesh traces list``) and in the tracing backend. The reason is
never shown: the page must not be an oracle for whoever probes the login.
"""

from __future__ import annotations

from aiohttp import web

from gateway.errors import Problem
from gateway.pages.templates import render_page

TITLE = "We couldn't sign you in"
UNAVAILABLE_TITLE = "Sign-in is temporarily unavailable"


def error_page(trace_id: str, status: int) -> web.Response:
    """The uniform failure page with ``trace_id`` as the reference to quote."""
    if status >= 500:
        title = UNAVAILABLE_TITLE
        lead = "Something on our side did not answer. Please try again in a moment."
    else:
        title = TITLE
        lead = (
            "The sign-in could not be completed. Please start again; if it keeps failing, "
            "contact your administrator."
        )
    context = {
        "title": title,
        "lead": lead,
        "trace_id": trace_id,
        "reference_label": "Reference for your administrator",
        "back_href": "/login",
        "back_label": "Back to sign-in",
    }
    return render_page("signin/error.html", context, status=status)


def render_html_problem(request: web.Request, problem: Problem) -> web.StreamResponse:
    """The gateway error renderer (gateway.errors.use_error_renderer) of the HTML routes."""
    response = error_page(problem.trace_id, problem.status)
    for name, value in problem.headers.items():
        if name.lower() in ("allow", "retry-after"):
            response.headers[name] = value
    return response
