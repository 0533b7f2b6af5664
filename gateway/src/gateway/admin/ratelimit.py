"""The admin sign-in's rate limits (OWASP Authentication Cheat Sheet, "Protect against automated
attacks"): per account and email, and per client address, on gateway.ratelimit token buckets.
One gateway process's memory: with several replicas an attacker gets a few more tries, never
unlimited."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.ratelimit import TokenBucket


@dataclass
class LoginLimits:
    """5 attempts a minute per account and email; 30 per client address (an office behind
    one NAT address has several admins)."""

    per_identity: TokenBucket = field(default_factory=lambda: TokenBucket.per_period(5, 60.0))
    per_address: TokenBucket = field(default_factory=lambda: TokenBucket.per_period(30, 60.0))

    def take(self, account: str, email: str, address: str) -> float:
        """0 when the attempt may go ahead, else the seconds to wait."""
        wait = self.per_identity.take(f"{account.lower()}\n{email.lower()}")
        return max(wait, self.per_address.take(address))

    def clear(self) -> None:
        self.per_identity.clear()
        self.per_address.clear()
