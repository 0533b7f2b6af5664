"""The server-rendered pages of browser sign-in: /login, /me and the uniform error page."""

from __future__ import annotations

from aiohttp import web

from gateway.pages.login import discover, login_page
from gateway.pages.me import me


def add_page_routes(app: web.Application) -> None:
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", discover)
    app.router.add_get("/me", me)
