"""``/static/``: the console's stylesheet and scripts, files of the gateway package.

A fixed list, read once: nothing outside it is served, whatever the path says. The CSP allows
scripts and styles from 'self' only, so these files are the pages' only code.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import Final

from aiohttp import web

_TYPES: Final = {".css": "text/css", ".js": "text/javascript"}
FILES: Final = ("console.css", "copy.js", "search.js", "setup.js")


def _load() -> dict[str, tuple[bytes, str, str]]:
    folder = resources.files("gateway") / "static"
    loaded = {}
    for name in FILES:
        body = (folder / name).read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        loaded[name] = (body, _TYPES[name[name.rindex(".") :]], etag)
    return loaded


def add_static_routes(app: web.Application) -> None:
    files = _load()

    async def serve(request: web.Request) -> web.StreamResponse:
        found = files.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        body, content_type, etag = found
        headers = {
            "ETag": etag,
            "Cache-Control": "public, max-age=300",
            "X-Content-Type-Options": "nosniff",
        }
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, content_type=content_type, headers=headers)

    app.router.add_get("/static/{name}", serve)
