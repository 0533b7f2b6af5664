"""Wiring of the auth service: stores, cache, verifier, the SSO components and the servicer on a
meshkit GrpcServer.

Shared by ``__main__`` and the integration tests, so tests run the production wiring.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import asyncpg

from auth.cache import MAX_TTL_SECONDS, CredentialsCache
from auth.expiry_watch import ExpiryWatch
from auth.local.passwords import LocalPasswords
from auth.oauth.issuer import AccessTokenIssuer
from auth.oauth.servicer import OAuth
from auth.oauth.signing import SigningKeys
from auth.oauth.store import OAuthClientStore
from auth.rate_buckets.store import RateBuckets
from auth.servicer import AuthServiceServicer
from auth.setup.store import SetupLinkStore
from auth.sso.servicer import Sso, SsoSettings
from auth.store import ApiTokenStore
from auth.verifier import ApiTokenVerifier
from idmesh.auth.v1 import auth_pb2, auth_pb2_grpc
from meshkit.channels import connect
from meshkit.migrate import apply_migrations
from meshkit.server import GrpcServer

SCHEMA: Final = "auth"
MIGRATIONS: Final = Path(__file__).resolve().parent / "migrations"
ACCESS_TOKEN_TTL_SECONDS: Final = 600
"""Client-credentials access tokens live 10 minutes: a revoked client's tokens die that soon."""
SERVICE_NAME: Final = auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name


async def migrate(pool: asyncpg.Pool) -> list[str]:
    """Applies the pending migrations of schema auth; returns their names."""
    async with pool.acquire() as conn:
        return await apply_migrations(conn, SCHEMA, MIGRATIONS)


@dataclass(frozen=True)
class AuthApp:
    server: GrpcServer
    verifier: ApiTokenVerifier
    sso: Sso
    oauth: OAuth
    rate_buckets: RateBuckets
    expiry: ExpiryWatch | None = None
    background_jobs: bool = True
    _watching: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> int:
        """Starts serving (and, with ``background_jobs``, the SSO sweeper, metadata refresh and
        the rate bucket sweeper; and the expiry watch); returns the bound port."""
        port = await self.server.start()
        if self.background_jobs:
            self.sso.start_janitor()
            self._watching.append(asyncio.create_task(self.rate_buckets.sweep_forever()))
        if self.expiry is not None:
            self._watching.append(asyncio.create_task(self.expiry.run()))
        return port

    async def stop(self) -> None:
        """Stops the server gracefully, then waits for background last-use updates and closes
        the IdP client and the directory channel."""
        await self.server.stop()
        await self.aclose()

    async def aclose(self) -> None:
        for task in self._watching:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.expiry is not None:
            await self.expiry.channel.close()
        await self.verifier.aclose()
        await self.oauth.aclose()
        await self.sso.close()


def build_app(
    pool: asyncpg.Pool,
    *,
    host: str,
    port: int,
    cache_ttl: float = MAX_TTL_SECONDS,
    server: GrpcServer | None = None,
    sso: SsoSettings | None = None,
    signing_keys: SigningKeys | None = None,
    expiry_check_every: float | None = None,
    background_jobs: bool = True,
) -> AuthApp:
    """The auth service on ``host:port`` backed by ``pool`` (schema auth already migrated);
    with ``expiry_check_every``, it also tells the change feed what is about to expire. Without
    ``background_jobs`` (every worker but the first) it only serves calls: no sweeps of expired
    rows and no SAML metadata refreshes."""
    store = ApiTokenStore(pool)
    verifier = ApiTokenVerifier(store, CredentialsCache(cache_ttl))
    sso_components = Sso(pool, sso or SsoSettings())
    keys = signing_keys or SigningKeys(None, token_ttl_seconds=ACCESS_TOKEN_TTL_SECONDS)
    oauth = OAuth(OAuthClientStore(pool), AccessTokenIssuer(OAuthClientStore(pool), keys))
    rate_buckets = RateBuckets(pool)
    servicer = AuthServiceServicer(
        store,
        verifier,
        sso_components,
        oauth,
        LocalPasswords(pool),
        SetupLinkStore(pool),
        rate_buckets,
    )
    grpc_server = server or GrpcServer(host, port)
    grpc_server.add_service(
        SERVICE_NAME, lambda s: auth_pb2_grpc.add_AuthServiceServicer_to_server(servicer, s)
    )
    expiry = None
    if expiry_check_every is not None:
        channel = connect(sso_components.settings.directory_addr)
        expiry = ExpiryWatch(pool, channel, expiry_check_every)
    return AuthApp(
        server=grpc_server,
        verifier=verifier,
        sso=sso_components,
        oauth=oauth,
        rate_buckets=rate_buckets,
        expiry=expiry,
        background_jobs=background_jobs,
    )
