"""The contract between a connector (one protocol: OIDC, SAML) and the login pipeline.

A connector knows one protocol and nothing after it: ``start`` sends the browser to the IdP
with a pending login it began through ``PendingLogins``; ``verify`` checks what the browser
brings back and answers with the proven ``Identity`` and the pending login it answers (the
pipeline consumes that login, then provisions and opens the session), or asks for a restart
(a valid IdP-initiated SAML response), or raises ``Refusal`` (auth.sso.refusal) with a stable
reason for the login trace. A connector never writes a user, a session or a trace: that is the
pipeline's, so a rule about linking or provisioning is written once for every protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeVar

from auth.sso.identity import Identity
from auth.sso.models import Connection
from auth.sso.pending import PendingLogin
from auth.sso.traces import Attempt

CallbackT = TypeVar("CallbackT", contravariant=True)


@dataclass(frozen=True)
class StartRequest:
    """What the browser's request to start a login carries (``return_to`` already checked)."""

    return_to: str
    browser_binding: str = field(repr=False)
    redirect_uri: str = ""
    login_hint: str = field(default="", repr=False)
    # A test sign-in (the setup wizard's dry run): the pending login is marked so.
    test: bool = False


@dataclass(frozen=True)
class Started:
    redirect_url: str
    browser_binding: str = field(repr=False)
    expire_time: datetime


@dataclass(frozen=True)
class Verified:
    """The IdP proved ``identity``, answering ``pending`` (None: nothing to consume)."""

    identity: Identity
    pending: PendingLogin | None
    return_to: str


@dataclass(frozen=True)
class Restart:
    """A valid unsolicited response: no session; the browser starts a solicited login."""

    return_to: str


class Connector(Protocol[CallbackT]):
    @property
    def protocol(self) -> str:
        """ "oidc" or "saml": the span attribute and the log line's protocol."""
        ...

    def vendor_label(self, connection: Connection) -> str:
        """The IdP's name in the "Valid login through <label> IdP detected" line."""
        ...

    async def start(self, connection: Connection, request: StartRequest) -> Started: ...

    async def verify(
        self, connection: Connection, callback: CallbackT, attempt: Attempt
    ) -> Verified | Restart: ...
