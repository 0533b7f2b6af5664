"""The two cookies of browser sign-in.

- ``idmesh_login``: binds a started login to this browser (its SHA-256 is in the login
  transaction). Path /sso/ so it travels only to the SSO endpoints; 10 minutes.
- ``idmesh_session``: the opaque session secret (auth stores only its hash).

Both HttpOnly (no script reads them), SameSite=Lax (sent on the IdP's top-level redirect back
to the callback, not on cross-site subrequests or POSTs), and Secure whenever PUBLIC_URL is
https. Values are opaque to the gateway; auth validates them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final

from aiohttp import web

from gateway.config import GatewayConfig

LOGIN_COOKIE: Final = "idmesh_login"
SESSION_COOKIE: Final = "idmesh_session"
LOGIN_COOKIE_PATH: Final = "/sso/"
LOGIN_COOKIE_SECONDS: Final = 600
# What a well-formed value looks like; anything else is not forwarded to auth.
_LOGIN_VALUE: Final = re.compile(r"^[A-Za-z0-9_-]{43}$")
_SESSION_VALUE: Final = re.compile(r"^ids_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$")


def secure(config: GatewayConfig) -> bool:
    return config.public_url.startswith("https://")


def login_binding(request: web.Request) -> str:
    value = request.cookies.get(LOGIN_COOKIE, "")
    return value if _LOGIN_VALUE.match(value) else ""


def session_secret(request: web.Request) -> str:
    value = request.cookies.get(SESSION_COOKIE, "")
    return value if _SESSION_VALUE.match(value) else ""


def set_login(response: web.StreamResponse, value: str, config: GatewayConfig) -> None:
    response.set_cookie(
        LOGIN_COOKIE,
        value,
        max_age=LOGIN_COOKIE_SECONDS,
        path=LOGIN_COOKIE_PATH,
        httponly=True,
        secure=secure(config),
        samesite="Lax",
    )


def set_session(
    response: web.StreamResponse, value: str, expires: datetime, config: GatewayConfig
) -> None:
    max_age = max(int((expires - datetime.now(UTC)).total_seconds()), 0)
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        secure=secure(config),
        samesite="Lax",
    )


def clear_session(response: web.StreamResponse, config: GatewayConfig) -> None:
    response.del_cookie(
        SESSION_COOKIE, path="/", secure=secure(config), httponly=True, samesite="Lax"
    )
