"""The token endpoint's rate limits: per OAuth client id and per account (gateway.ratelimit).

A token request names only its client id; the account is known once auth has verified the
client. So the gateway remembers which account each client it has issued a token to belongs
to, and from then on refuses that client's requests up front when its account is over the
limit: an account with many clients gets the account's rate in total, and a refused request
costs auth nothing. A client never verified is limited by its client id alone.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from gateway.ratelimit import DEFAULT_MAX_KEYS, TokenBucket


@dataclass(frozen=True)
class Throttled:
    """A refused request: the seconds until it may be retried, and whose limit it hit."""

    wait: float
    scope: str
    """``"client"`` or ``"account"``."""


class TokenEndpointLimits:
    """``rate`` token requests a second, bursts of ``burst``, per client id and per account."""

    def __init__(
        self,
        *,
        rate: float,
        burst: float,
        max_keys: int = DEFAULT_MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_client = TokenBucket(rate=rate, burst=burst, max_keys=max_keys, clock=clock)
        self.per_account = TokenBucket(rate=rate, burst=burst, max_keys=max_keys, clock=clock)
        self._max_keys = max_keys
        # client id -> account id, least recently used first (bounded like the buckets).
        self._accounts: OrderedDict[str, str] = OrderedDict()

    def take(self, client_id: str) -> Throttled | None:
        """None when a request of ``client_id`` may go ahead (spending a token of the client
        and, when known, of its account), else what refused it."""
        wait = self.per_client.take(client_id)
        if wait:
            return Throttled(wait, "client")
        account_id = self._accounts.get(client_id)
        if account_id is None:
            return None
        self._accounts.move_to_end(client_id)
        wait = self.per_account.take(account_id)
        return Throttled(wait, "account") if wait else None

    def issued(self, client_id: str, account_id: str) -> None:
        """Records that ``client_id`` of ``account_id`` got a token; its first one is charged
        to the account now (``take`` could not know the account yet)."""
        if client_id not in self._accounts:
            self.per_account.take(account_id)
        self._accounts[client_id] = account_id
        self._accounts.move_to_end(client_id)
        while len(self._accounts) > self._max_keys:
            self._accounts.popitem(last=False)

    def clear(self) -> None:
        self.per_client.clear()
        self.per_account.clear()
        self._accounts.clear()


TOKEN_RATE_LIMIT: web.AppKey[TokenEndpointLimits] = web.AppKey(
    "token_rate_limit", TokenEndpointLimits
)
