"""Typed keys of what the application holds for its handlers."""

from __future__ import annotations

import asyncio

from aiohttp import web

from gateway.clients import Clients
from gateway.config import GatewayConfig

CONFIG: web.AppKey[GatewayConfig] = web.AppKey("config", GatewayConfig)
CLIENTS: web.AppKey[Clients] = web.AppKey("clients", Clients)
STOPPING: web.AppKey[asyncio.Event] = web.AppKey("stopping", asyncio.Event)
"""Set when shutdown begins: readiness fails first so load balancers stop sending work."""
