"""The background re-check of verified domains: a domain whose TXT record disappears is
reported at its next check and, after the grace period, is no longer verified.

Every replica of directory runs it; the store leases due rows (FOR UPDATE SKIP LOCKED) so that
each domain is checked by one of them. A failed check is never dropped: it is written on the
domain (failing_since, last_check_error), audited (``domain.verification_failed``) and logged
as a warning naming the domain and the account only.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Final

from directory.domains.dns import DnsChecker
from directory.models import Actor
from directory.store.domains import PENDING, DomainStore

logger = logging.getLogger(__name__)

ACTOR: Final = Actor(type="system", id="domain-recheck", display_name="domain re-check")
BATCH: Final = 50
MAX_POLL_SECONDS: Final = 60.0
"""How often due domains are looked for, at most: a domain is checked within a minute of
falling due (or within its interval, when that is shorter)."""


class DomainRecheck:
    def __init__(
        self,
        store: DomainStore,
        dns: DnsChecker,
        *,
        interval: timedelta,
        grace: timedelta,
    ) -> None:
        self.store = store
        self.dns = dns
        self.interval = interval
        self.grace = grace

    async def run_once(self) -> int:
        """Checks the domains due now, each once (those it checks are not due again within
        this run, however short the interval); returns how many were checked."""
        checked = 0
        due = await self.store.now() - self.interval
        while True:
            rows = await self.store.claim_due(due, BATCH)
            for row in rows:
                check = await self.dns.check(row["domain"], row["challenge_token"])
                after = await self.store.record_recheck(
                    row["account_id"], row["id"], check, self.grace, ACTOR
                )
                checked += 1
                if after is None or check.passed:
                    continue
                if after["status"] == PENDING:
                    logger.warning(
                        "verified domain %s of account %s is pending again: its DNS checks"
                        " failed for the whole grace period (%s)",
                        row["domain"],
                        row["account_id"],
                        check.reason,
                    )
                else:
                    logger.warning(
                        "verified domain %s of account %s failed its DNS check (%s)",
                        row["domain"],
                        row["account_id"],
                        check.reason,
                    )
            if len(rows) < BATCH:
                return checked

    async def run_forever(self) -> None:
        """``run_once`` every poll period until cancelled; an unexpected failure (database
        down) is logged and retried at the next period."""
        poll = min(self.interval.total_seconds(), MAX_POLL_SECONDS)
        while True:
            try:
                await self.run_once()
            except Exception:
                logger.exception("domain re-check failed; retrying in %.0f s", poll)
            await asyncio.sleep(poll)
