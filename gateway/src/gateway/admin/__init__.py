"""The admin console: server-rendered pages at /admin for account admins, signed in by a local
password (bootstrap admins) or SSO, each page checked against the account role's permissions
and each form against a CSRF synchronizer token. Pages read and write through the same services
the API uses; one module per section."""

from __future__ import annotations

from aiohttp import web

from gateway.admin import (
    connections,
    credentials,
    domains,
    groups,
    login,
    overview,
    provisioning,
    setup_links,
    traces,
    users,
    webhooks,
)
from gateway.admin.common import admin_view
from gateway.admin.guard import CSRF_KEY, CsrfKey
from gateway.admin.layout import render_admin_problem
from gateway.admin.ratelimit import LoginLimits
from gateway.errors import use_error_renderer

ROUTES = (
    ("GET", "/admin", overview.overview),
    ("GET", "/admin/connections", connections.connections),
    ("GET", "/admin/connections/new", connections.new_connection),
    ("POST", "/admin/connections", connections.add_connection),
    ("POST", "/admin/connections/saml", connections.add_saml_connection),
    ("GET", "/admin/connections/{connection}", connections.connection),
    ("POST", "/admin/connections/{connection}", connections.save_connection),
    ("POST", "/admin/connections/{connection}/test", connections.test_connection),
    ("POST", "/admin/connections/{connection}/enabled", connections.set_enabled),
    ("GET", "/admin/connections/{connection}/remove", connections.confirm_remove),
    ("POST", "/admin/connections/{connection}/remove", connections.remove_connection),
    ("POST", "/admin/domains", domains.claim_domain),
    ("POST", "/admin/domains/{domain}/verify", domains.verify_domain),
    ("POST", "/admin/domains/{domain}/remove", domains.remove_domain),
    ("GET", "/admin/users", users.users),
    ("GET", "/admin/users/{user}", users.user),
    ("POST", "/admin/users/{user}/active", users.set_active),
    ("POST", "/admin/users/{user}/sessions/{session}/end", users.end_session),
    ("POST", "/admin/users/{user}/sessions/end", users.end_all_sessions),
    ("GET", "/admin/groups", groups.groups),
    ("POST", "/admin/groups", groups.create_group),
    ("GET", "/admin/groups/{group}", groups.group),
    ("POST", "/admin/groups/{group}", groups.save_group),
    ("POST", "/admin/groups/{group}/members", groups.add_member),
    ("POST", "/admin/groups/{group}/members/remove", groups.remove_member),
    ("POST", "/admin/groups/{group}/space-roles", groups.set_space_roles),
    ("GET", "/admin/traces", traces.traces),
    ("GET", "/admin/traces/{trace}", traces.trace),
    ("GET", "/admin/provisioning", provisioning.provisioning),
    ("GET", "/admin/provisioning/{event}", provisioning.provisioning_event),
    ("GET", "/admin/credentials", credentials.credentials),
    ("POST", "/admin/credentials", credentials.create),
    ("POST", "/admin/credentials/{kind:tokens|clients}/{id}/revoke", credentials.revoke),
    ("GET", "/admin/webhooks", webhooks.webhooks),
    ("POST", "/admin/webhooks", webhooks.add_webhook),
    ("GET", "/admin/setup-links", setup_links.setup_links),
    ("POST", "/admin/setup-links", setup_links.create),
    ("POST", "/admin/setup-links/{link}/revoke", setup_links.revoke),
)


def add_admin_routes(app: web.Application) -> None:
    """Registers /admin/*, failing with the admin error page."""
    app[CSRF_KEY] = CsrfKey.generate()
    app[login.LIMITS] = LoginLimits()
    app.router.add_get("/admin/login", login.login_page)
    app.router.add_post("/admin/login", login.login)
    app.router.add_post("/admin/logout", login.logout)
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, admin_view(handler))
    use_error_renderer(app, render_admin_problem, prefix="/admin")
