"""The pending login: what a browser started and what only a verified answer may use up, the same
for both protocols.

``begin`` stores a single-use login transaction keyed by the SHA-256 of a random value that
travels through the IdP (OIDC ``state``, SAML ``RelayState``), bound to the browser (the hash of
an HttpOnly cookie's value), with what the answer must match (the OIDC nonce and PKCE verifier,
or the SAML AuthnRequest id, in ``nonce``). ``find`` reads it back for a callback WITHOUT using
it: unknown, foreign, expired, already used and other-browser values are refused, and a refused
response leaves the login for the genuine one that follows (an attacker who saw a RelayState in
a URL, or a garbled POST, cannot cancel a user's sign-in). ``consume`` uses it up, atomically,
once the answer has passed every check; a second answer is refused as replayed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from auth.sso.login_store import NewTransaction, TransactionStore
from auth.sso.models import Connection, LoginTransaction
from auth.sso.refusal import Refusal

_BINDING: Final = re.compile(r"^[A-Za-z0-9_-]{43}$")


def digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


@dataclass(frozen=True)
class Begun:
    state: str = field(repr=False)
    browser_binding: str = field(repr=False)
    expire_time: datetime


@dataclass(frozen=True)
class PendingLogin:
    state_hash: bytes = field(repr=False)
    transaction: LoginTransaction
    # The protocol's name for the value in refusal reasons: "state" or "relay_state".
    label: str


class PendingLogins:
    """The pending logins of both protocols; ``label`` in ``find`` names the protocol's value in
    refusal reasons: "state" (OIDC), "relay_state" (SAML)."""

    def __init__(
        self, store: TransactionStore, ttl: timedelta, clock: Callable[[], datetime]
    ) -> None:
        self._store = store
        self._ttl = ttl
        self._clock = clock

    async def begin(
        self, connection: Connection, *, browser_binding: str, return_to: str, nonce: str,
        code_verifier: str, redirect_uri: str, issuer: str, test: bool = False,
    ) -> Begun:  # fmt: skip
        """A new pending login; a browser without a valid binding gets a new one."""
        state = secrets.token_urlsafe(32)
        binding = browser_binding if _BINDING.match(browser_binding) else secrets.token_urlsafe(32)
        expire_time = self._clock() + self._ttl
        await self._store.insert(
            NewTransaction(
                state_hash=digest(state),
                connection_id=connection.id,
                account_id=connection.account_id,
                binding_hash=digest(binding),
                nonce=nonce,
                code_verifier=code_verifier,
                redirect_uri=redirect_uri,
                return_to=return_to,
                issuer=issuer,
                expire_time=expire_time,
                test=test,
            )
        )
        return Begun(state, binding, expire_time)

    async def find(
        self, connection: Connection, state: str, browser_binding: str, *, label: str
    ) -> PendingLogin | None:
        """The live login ``state`` names for this connection and browser, not used up; None
        when no login was started with it. Every other mismatch is a Refusal."""
        state_hash = digest(state)
        tx = await self._store.find(state_hash)
        if tx is None:
            return None
        if tx.connection_id != connection.id:
            raise Refusal(f"{label}_connection_mismatch", "the login belongs to another connection")
        if tx.already_consumed:
            raise Refusal(f"{label}_replayed", "this login was already completed")
        if tx.expired:
            raise Refusal(f"{label}_expired", "the login took too long")
        if not hmac.compare_digest(digest(browser_binding), tx.binding_hash):
            raise Refusal("browser_mismatch", "the answer came through another browser")
        return PendingLogin(state_hash, tx, label)

    async def consume(self, pending: PendingLogin) -> None:
        """Uses the login up; a Refusal when another answer used it first (or it expired)."""
        if not await self._store.consume(pending.state_hash):
            raise Refusal(f"{pending.label}_replayed", "this login was already completed")
