"""The token endpoint's rate limits: per OAuth client id and per account (gateway.ratelimit),
each one total across every gateway replica (gateway.shared_ratelimit).

A token request names only its client id; the account is known once auth has verified the
client. So the gateway remembers which account each client it has issued a token to belongs
to, and from then on refuses that client's requests up front when its account is over the
limit: an account with many clients gets the account's rate in total, and a refused request
costs auth nothing. A client never verified is limited by its client id alone. The first token
a process issues to a client is charged to the account after the fact, so an account may get
one request more per client and process than its limit, once.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from gateway.ratelimit import DEFAULT_MAX_KEYS, LocalRateLimit, RateLimit


@dataclass(frozen=True)
class Throttled:
    """A refused request: the seconds until it may be retried, and whose limit it hit."""

    wait: float
    scope: str
    """``"client"`` or ``"account"``."""


class TokenEndpointLimits:
    """Token requests per client id (``per_client``) and per account (``per_account``)."""

    def __init__(
        self, per_client: RateLimit, per_account: RateLimit, *, max_keys: int = DEFAULT_MAX_KEYS
    ) -> None:
        self.per_client = per_client
        self.per_account = per_account
        self._max_keys = max_keys
        # client id -> account id, least recently used first (bounded like the buckets).
        self._accounts: OrderedDict[str, str] = OrderedDict()

    @classmethod
    def in_process(
        cls,
        *,
        rate: float,
        burst: float,
        max_keys: int = DEFAULT_MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> TokenEndpointLimits:
        """``rate`` requests a second, bursts of ``burst``, counted in this process only."""
        return cls(
            LocalRateLimit.of(rate=rate, burst=burst, max_keys=max_keys, clock=clock),
            LocalRateLimit.of(rate=rate, burst=burst, max_keys=max_keys, clock=clock),
            max_keys=max_keys,
        )

    async def take(self, client_id: str) -> Throttled | None:
        """None when a request of ``client_id`` may go ahead (spending a token of the client
        and, when known, of its account), else what refused it."""
        wait = await self.per_client.take(client_id)
        if wait:
            return Throttled(wait, "client")
        account_id = self._accounts.get(client_id)
        if account_id is None:
            return None
        self._accounts.move_to_end(client_id)
        wait = await self.per_account.take(account_id)
        return Throttled(wait, "account") if wait else None

    async def issued(self, client_id: str, account_id: str) -> None:
        """Records that ``client_id`` of ``account_id`` got a token; its first one is charged
        to the account now (``take`` could not know the account yet)."""
        if client_id not in self._accounts:
            await self.per_account.take(account_id)
        self._accounts[client_id] = account_id
        self._accounts.move_to_end(client_id)
        while len(self._accounts) > self._max_keys:
            self._accounts.popitem(last=False)


TOKEN_RATE_LIMIT: web.AppKey[TokenEndpointLimits] = web.AppKey(
    "token_rate_limit", TokenEndpointLimits
)
