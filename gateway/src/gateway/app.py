"""The gateway's aiohttp application: middlewares, probes and routes, wired in one place."""

from __future__ import annotations

import asyncio

from aiohttp import web

from gateway.access_log import AccessLog
from gateway.admin import add_admin_routes
from gateway.api import add_api_routes
from gateway.auth import VERIFIED_TOKENS
from gateway.clients import Clients
from gateway.config import MAX_REQUEST_BYTES, GatewayConfig
from gateway.errors import error_middleware
from gateway.front_door import front_door_middleware
from gateway.health import add_health_routes
from gateway.oauth import add_oauth_routes
from gateway.oauth.keys import AccessTokenKeys
from gateway.overload import InFlightLimit
from gateway.pages import templates
from gateway.pages.static import add_static_routes
from gateway.protocol_errors import close_after_unread_body
from gateway.request_id import install_log_field
from gateway.scim import add_scim_routes
from gateway.setup import add_setup_routes
from gateway.shared_ratelimit import lease_from_auth
from gateway.sso import add_sign_in_routes
from gateway.state import CLIENTS, CONFIG, STOPPING
from gateway.token_cache import TokenCache
from idmesh.auth.v1 import auth_pb2


def create_app(config: GatewayConfig, clients: Clients) -> web.Application:
    """The application serving ``config`` with ``clients``; the caller owns both (and closes the
    clients after the application has stopped).

    Middlewares, outermost first: the front door (the request's span, its id, load shedding and
    its access-log line: gateway.front_door), then the error mapping closest to the handlers (so
    the access log and the span see the status actually sent). Log records made while a
    request is handled carry its ``request_id`` from then on (a process-wide log record factory,
    installed once)."""
    install_log_field()
    app = web.Application(
        client_max_size=MAX_REQUEST_BYTES,
        middlewares=[
            front_door_middleware(
                InFlightLimit(config.max_in_flight),
                config.request_timeout,
                AccessLog(config.access_log_sample),
            ),
            error_middleware,
        ],
    )
    app[CONFIG] = config
    app[CLIENTS] = clients
    app[STOPPING] = asyncio.Event()
    app[VERIFIED_TOKENS] = TokenCache(config.token_cache_ttl)
    app.on_response_prepare.append(close_after_unread_body)
    templates.install(app)
    add_health_routes(app)
    add_static_routes(app)
    add_api_routes(app)
    add_scim_routes(app)
    add_sign_in_routes(app)
    add_admin_routes(app)
    add_setup_routes(app)

    async def signing_keys() -> auth_pb2.GetSigningKeysResponse:
        return await clients.auth.GetSigningKeys(auth_pb2.GetSigningKeysRequest())

    # The gateway is the resource server and the token endpoint: one URL for iss and aud.
    add_oauth_routes(
        app,
        AccessTokenKeys(signing_keys, issuer=config.public_url, audience=config.public_url),
        lease=lease_from_auth(clients),
        rate=config.token_rate_limit,
        burst=config.token_rate_burst,
    )
    return app
