"""The self-serve setup wizard: what a customer's IT admin opens with a setup link.

``/setup/<secret>`` opens the link for one browser; the steps (``/setup/domains``,
``/setup/sso``, ``/setup/test``, ``/setup/scim``, ``/setup/finish``) act only in the link's
account, as the link (session.py). A connection made here stays disabled until Finish.
"""

from __future__ import annotations

from aiohttp import web

from gateway.setup import connect, domains, finish, opening, scim, test_sign_in


def add_setup_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/setup", opening.home)
    router.add_get("/setup/domains", domains.domains)
    router.add_post("/setup/domains", domains.add_domain)
    router.add_post("/setup/domains/check", domains.check_domains)
    router.add_get("/setup/sso", connect.sso)
    router.add_post("/setup/sso/reset", connect.reset)
    router.add_get("/setup/sso/{protocol:oidc|saml}/{vendor}", connect.connect_page)
    router.add_post("/setup/sso/{protocol:oidc|saml}/{vendor}", connect.connect)
    router.add_get("/setup/test", test_sign_in.test_page)
    router.add_post("/setup/test/start", test_sign_in.start_test)
    router.add_get("/setup/scim", scim.scim_page)
    router.add_post("/setup/scim/token", scim.create_token)
    router.add_get("/setup/scim/log", scim.scim_log)
    router.add_get("/setup/finish", finish.finish_page)
    router.add_post("/setup/finish", finish.finish)
    router.add_get(r"/setup/{secret:idsl_[A-Za-z0-9_-]{43}}", opening.open_link)
