"""``python -m auth`` (console script idmesh-auth): the auth gRPC service."""

from __future__ import annotations

import logging
from pathlib import Path

from auth.app import ACCESS_TOKEN_TTL_SECONDS, build_app, migrate
from auth.config import AuthConfig
from auth.oauth.signing import SigningKeys
from meshkit.config import load_config
from meshkit.database import create_pool
from meshkit.service import run_service
from meshkit.workers import current

logger = logging.getLogger("auth")


async def serve() -> None:
    """Serves AuthService on HOST:PORT until SIGTERM or SIGINT."""
    config = load_config(AuthConfig)
    min_size, max_size = config.pool_bounds()
    pool = await create_pool(config.database_url, min_size=min_size, max_size=max_size)
    background = current().runs_background_jobs
    try:
        if config.migrate_on_start:
            applied = await migrate(pool)
            if applied:
                logger.info("applied migrations: %s", ", ".join(applied))
        app = build_app(
            pool,
            host=config.host,
            port=config.port,
            cache_ttl=config.api_token_cache_ttl,
            sso=config.sso_settings(),
            signing_keys=SigningKeys(
                Path(config.signing_keys_file) if config.signing_keys_file else None,
                token_ttl_seconds=ACCESS_TOKEN_TTL_SECONDS,
            ),
            # Sweeps, SAML metadata refreshes and expiry reminders: once, not once per worker.
            expiry_check_every=config.expiry_check_every if background else None,
            background_jobs=background,
        )
        if config.encryption_key is None:
            logger.warning(
                "IDMESH_ENCRYPTION_KEY is not set: SSO connections cannot be created or used"
            )
        await app.start()
        try:
            await app.server.serve_until_signal()
        finally:
            await app.aclose()
    finally:
        await pool.close()


def main() -> None:
    run_service("auth", serve, config=lambda: load_config(AuthConfig))


if __name__ == "__main__":
    main()
