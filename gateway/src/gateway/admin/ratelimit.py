"""In-memory token buckets of the admin sign-in (OWASP Authentication Cheat Sheet, "Protect
against automated attacks"): per account and email, and per client address. One gateway
process's memory: with several replicas an attacker gets a few more tries, never unlimited."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

MAX_KEYS: Final = 10_000


@dataclass
class TokenBucket:
    """``capacity`` attempts, refilled evenly over ``period`` seconds."""

    capacity: int
    period: float
    clock: Callable[[], float] = time.monotonic
    _levels: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, key: str) -> float:
        """Takes one token for ``key``: 0 when allowed, else the seconds until one is back."""
        now = self.clock()
        rate = self.capacity / self.period
        tokens, stamp = self._levels.get(key, (float(self.capacity), now))
        tokens = min(float(self.capacity), tokens + (now - stamp) * rate)
        if tokens < 1:
            self._levels[key] = (tokens, now)
            return (1 - tokens) / rate
        if len(self._levels) >= MAX_KEYS and key not in self._levels:
            self._levels.clear()  # bounded memory; a flood only resets the buckets
        self._levels[key] = (tokens - 1, now)
        return 0.0

    def clear(self) -> None:
        self._levels.clear()


@dataclass
class LoginLimits:
    """5 attempts a minute per account and email; 30 per client address (an office behind
    one NAT address has several admins)."""

    per_identity: TokenBucket = field(default_factory=lambda: TokenBucket(5, 60.0))
    per_address: TokenBucket = field(default_factory=lambda: TokenBucket(30, 60.0))

    def take(self, account: str, email: str, address: str) -> float:
        """0 when the attempt may go ahead, else the seconds to wait."""
        wait = self.per_identity.take(f"{account.lower()}\n{email.lower()}")
        return max(wait, self.per_address.take(address))

    def clear(self) -> None:
        self.per_identity.clear()
        self.per_address.clear()
