"""Tells the change feed, ahead of time, what is about to expire in auth: a pinned SAML IdP
signing certificate (``certificate.expiring``) and an API token such as a SCIM client's
(``scim_token.expiring``), 90, 30 and 7 days before. Every auth replica checks every
``EXPIRY_CHECK_EVERY``; the directory records each (target, threshold) once, so replicas and
restarts repeat nothing.

A deliberate cross-account scan, like the session janitor's: it reads every account's
certificates and token expiry times, and reports each to its own account.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any, Final

import asyncpg
import grpc
from cryptography import x509

from auth.feed import report

logger = logging.getLogger(__name__)
THRESHOLDS_DAYS: Final = (7, 30, 90)
_CERTIFICATES = """
SELECT account_id, id, name, saml_certificates FROM auth.connections
WHERE saml_certificates IS NOT NULL
"""
_TOKENS = """
SELECT account_id, id, description, expire_time FROM auth.api_tokens
WHERE revoke_time IS NULL AND expire_time > now() AND expire_time <= now() + interval '90 days'
"""


def threshold(not_after: datetime, now: datetime) -> int | None:
    """The smallest of 7, 30, 90 days that ``not_after`` falls within; None beyond 90 days or
    once expired."""
    left = (not_after - now).total_seconds() / 86400
    if left <= 0:
        return None
    return next((days for days in THRESHOLDS_DAYS if left <= days), None)


def _not_after(pem: str) -> datetime | None:
    try:
        return x509.load_pem_x509_certificate(pem.encode()).not_valid_after_utc
    except ValueError:
        return None


class ExpiryWatch:
    def __init__(self, pool: asyncpg.Pool, channel: grpc.aio.Channel, every: float) -> None:
        self.pool = pool
        self.channel = channel
        self.every = every

    async def run(self) -> None:
        while True:
            try:
                await self.check()
            except Exception as error:  # the next round tries again
                logger.warning("expiry check failed: %s", type(error).__name__)
            await asyncio.sleep(self.every)

    async def check(self, now: datetime | None = None) -> int:
        """Reports what falls within a threshold now; the number of reports sent."""
        now = now or datetime.now(UTC)
        sent = 0
        for row in await self.pool.fetch(_CERTIFICATES):
            for pem in row["saml_certificates"]:
                not_after = _not_after(pem)
                days = threshold(not_after, now) if not_after else None
                if days is None or not_after is None:
                    continue
                resource: dict[str, Any] = {
                    "connection_id": str(row["id"]),
                    "connection_name": row["name"],
                    "not_after": not_after.isoformat(),
                    "threshold_days": days,
                }
                await report(
                    self.channel, str(row["account_id"]), "connection.certificate_expiring",
                    "connection", str(row["id"]), resource,
                )  # fmt: skip
                sent += 1
        for row in await self.pool.fetch(_TOKENS):
            days = threshold(row["expire_time"], now)
            if days is None:
                continue
            resource = {
                "token_id": str(row["id"]),
                "description": row["description"],
                "expire_time": row["expire_time"].isoformat(),
                "threshold_days": days,
            }
            await report(
                self.channel, str(row["account_id"]), "scim_token.expiring", "api_token",
                str(row["id"]), resource,
            )  # fmt: skip
            sent += 1
        return sent
