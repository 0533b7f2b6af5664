"""Browser single sign-on at the gateway: the OIDC start and callback endpoints, sessions in
cookies, logout, and the sign-in pages (gateway.pages). The gateway only carries: the auth
service validates everything."""

from __future__ import annotations

from aiohttp import web

HTML_PREFIXES = ("/sso", "/login", "/me", "/logout")


def add_sign_in_routes(app: web.Application) -> None:
    """Registers the SSO endpoints and the sign-in pages, each failing with the HTML page."""
    # Imported here: the pages use this package's cookies and origin check, so importing them
    # when this package loads would be circular.
    from gateway.errors import use_error_renderer
    from gateway.pages import add_page_routes
    from gateway.pages.errors import render_html_problem
    from gateway.sso.logout import add_logout_routes
    from gateway.sso.routes import callback, start
    from gateway.sso.saml import add_saml_routes

    app.router.add_get("/sso/oidc/{connection}/start", start)
    app.router.add_get("/sso/oidc/{connection}/callback", callback)
    add_saml_routes(app)
    add_logout_routes(app)
    add_page_routes(app)
    for prefix in HTML_PREFIXES:
        use_error_renderer(app, render_html_problem, prefix=prefix)
