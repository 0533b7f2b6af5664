"""The admin pages (issue 6): server-rendered HTML at /admin for account admins, signed in by a
local password (bootstrap admins) or SSO, each page checked against the account role's
permissions and each form against a CSRF synchronizer token."""

from __future__ import annotations

from aiohttp import web

from gateway.admin import login, views, webhooks
from gateway.admin.guard import CSRF_KEY, CsrfKey
from gateway.admin.layout import render_admin_problem
from gateway.admin.ratelimit import LoginLimits
from gateway.errors import use_error_renderer


def add_admin_routes(app: web.Application) -> None:
    """Registers /admin/*, failing with the admin error page."""
    app[CSRF_KEY] = CsrfKey.generate()
    app[login.LIMITS] = LoginLimits()
    app.router.add_get("/admin/login", login.login_page)
    app.router.add_post("/admin/login", login.login)
    app.router.add_post("/admin/logout", login.logout)
    routes = (
        ("GET", "/admin", views.home),
        ("GET", "/admin/connections", views.connections),
        ("POST", "/admin/connections", views.add_connection),
        ("GET", "/admin/groups", views.groups),
        ("GET", "/admin/groups/{group}", views.group),
        ("POST", "/admin/groups/{group}", views.set_idp_identifier),
        ("GET", "/admin/users", views.users),
        ("GET", "/admin/traces", views.traces),
        ("GET", "/admin/provisioning", views.provisioning),
        ("GET", "/admin/webhooks", webhooks.webhooks),
        ("POST", "/admin/webhooks", webhooks.add_webhook),
    )
    for method, path, handler in routes:
        app.router.add_route(method, path, views.admin_view(handler))
    use_error_renderer(app, render_admin_problem, prefix="/admin")
