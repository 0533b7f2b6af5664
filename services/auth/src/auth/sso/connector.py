"""The contract between a connector (one protocol: OIDC, SAML) and the login pipeline.

A connector knows one protocol and nothing after it: ``start`` sends the browser to the IdP
with a pending login it began through ``PendingLogins``; ``verify`` checks what the browser
brings back and answers with the proven ``Identity`` and the pending login it answers (the
pipeline consumes that login, then provisions and opens the session), or asks for a restart
(a valid IdP-initiated SAML response), or raises ``Refusal`` (auth.sso.refusal) with a stable
reason for the login trace. A connector never writes a user, a session or a trace: that is the
pipeline's, so a rule about linking or provisioning is written once for every protocol.

Logout is the same split (auth.sso.logout): ``logout_redirect`` says where the browser goes to
end the IdP's session too (OIDC end_session_endpoint, a SAML LogoutRequest), and
``verify_logout`` checks what the IdP sends (a back-channel logout token, a SAML LogoutRequest or
LogoutResponse) and answers which sessions it names; the logout pipeline ends them and writes
the trace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeVar

from auth.sso.identity import Identity
from auth.sso.models import Connection, StoredLogout
from auth.sso.pending import PendingLogin
from auth.sso.traces import Attempt

CallbackT = TypeVar("CallbackT", contravariant=True)
LogoutT = TypeVar("LogoutT", contravariant=True)


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


@dataclass(frozen=True)
class LogoutStart:
    """A browser's sign-out of a session of this connection, just ended here."""

    session_id: str
    logout: StoredLogout = field(repr=False)
    # The session's ID token, opened (OIDC id_token_hint); "" when none was kept.
    id_token: str = field(repr=False)
    # The gateway's base URL: the post-logout redirect URI and SLO URL are made from it.
    public_url: str
    browser_binding: str = field(repr=False)


@dataclass(frozen=True)
class LogoutRedirect:
    """Where the browser goes to end the IdP's session, and the binding cookie to keep."""

    url: str = field(repr=False)
    browser_binding: str = field(default="", repr=False)
    # The trace's sentence: what was sent where.
    detail: str = ""


@dataclass(frozen=True)
class SessionMatch:
    """The sessions of a connection an IdP's logout names."""

    oidc_sid: str = ""
    oidc_sub: str = ""
    saml_name_id: str = field(default="", repr=False)
    saml_session_indexes: tuple[str, ...] = ()


@dataclass(frozen=True)
class IdpLogout:
    """A verified order from the IdP to end ``match``; ``answer_url`` (SAML: our signed
    LogoutResponse) is where the browser goes afterwards, "" for none."""

    match: SessionMatch
    subject: str = field(default="", repr=False)
    answer_url: str = field(default="", repr=False)


@dataclass(frozen=True)
class LogoutAnswered:
    """The IdP's verified answer to a logout we asked for (SAML LogoutResponse)."""

    partial: bool
    return_to: str


class Connector(Protocol[CallbackT, LogoutT]):
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

    async def logout_redirect(
        self, connection: Connection, start: LogoutStart
    ) -> LogoutRedirect | None:
        """Where to send the browser so the IdP ends its session too; None when the IdP or
        the connection takes no such request. A Refusal is traced; the local logout stands."""
        ...

    async def verify_logout(
        self, connection: Connection, message: LogoutT, attempt: Attempt
    ) -> IdpLogout | LogoutAnswered:
        """What the IdP's logout message says, verified; a Refusal otherwise."""
        ...
