"""The one logout pipeline, whatever the protocol: a sign-out here, and a logout from the IdP.

sign_out:  the browser's session ends here first (whatever happens next, it is over) → the
           connector says where the browser goes so the IdP ends its session too (OIDC
           RP-Initiated Logout 1.0: end_session_endpoint with id_token_hint; SAML: a signed
           LogoutRequest) → a trace of kind logout.
from_idp:  the connector verifies what the IdP sends (an OIDC back-channel logout token; a SAML
           LogoutRequest, or the LogoutResponse to ours) → the sessions it names end, on every
           replica at once (nothing caches a session: auth.sso.sessions) → a trace of kind
           logout, refused or not, with the reason.

Every logout request is traced; logs and spans carry ids and reasons, never tokens or NameIDs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final

from auth.sso import login_span
from auth.sso.connector import (
    Connector,
    IdpLogout,
    LogoutAnswered,
    LogoutRedirect,
    LogoutStart,
)
from auth.sso.login_connections import LoginConnections
from auth.sso.login_store import SessionStore
from auth.sso.models import KIND_LOGOUT, OUTCOME_PARTIAL, Connection
from auth.sso.refusal import Refusal
from auth.sso.sessions import SessionManager
from auth.sso.traces import STAGE_LOGOUT, Attempt, TraceRecorder
from meshkit.errors import InvalidArgument, NotFound, Unavailable

logger = logging.getLogger(__name__)

REASON_SIGN_OUT: Final = "logout"
REASON_IDP: Final = "idp_logout"
LOGOUT_REFUSED: Final = "logout_refused"


@dataclass(frozen=True)
class SignedOut:
    """The browser's session has ended; ``redirect`` (when set) ends the IdP's too."""

    redirect: LogoutRedirect | None
    trace_id: str = ""


@dataclass(frozen=True)
class IdpLogoutDone:
    """The IdP's logout was honoured: ``ended`` sessions; the browser goes to ``answer_url``
    (SAML) or, for an answer to our own request, to ``return_to``."""

    ended: int
    trace_id: str
    answer_url: str = ""
    partial: bool = False
    return_to: str = ""


class LogoutRefused(InvalidArgument):
    """A logout message that failed a check: the caller learns the reason (the IdP does, in
    the back-channel answer's error description) and the trace id."""

    def __init__(self, reason: str, detail: str, trace_id: str) -> None:
        super().__init__(detail, reason=LOGOUT_REFUSED)
        self.refusal_reason = reason
        self.trace_id = trace_id


class LogoutPipeline:
    def __init__(
        self,
        *,
        sessions: SessionManager,
        store: SessionStore,
        traces: TraceRecorder,
        connections: LoginConnections,
        connectors: dict[str, Connector[Any, Any]],
    ) -> None:
        self._sessions = sessions
        self._store = store
        self._traces = traces
        self._connections = connections
        self._connectors = connectors

    async def sign_out(self, secret: str, *, public_url: str, browser_binding: str) -> SignedOut:
        """Ends the browser's session; where to send it next for the IdP's, if anywhere."""
        ended = await self._sessions.end(secret)
        if ended is None or ended.session.connection_id is None:
            return SignedOut(None)
        session = ended.session
        try:
            connection = await self._connection(str(session.connection_id))
        except NotFound:  # deleted or disabled since the sign-in: nothing to tell the IdP
            return SignedOut(None)
        connector = self._connectors[connection.protocol]
        login_span.annotate(connection, connector.protocol, STAGE_LOGOUT)
        attempt = self._attempt(connection)
        attempt.user_id = session.user_id
        if not public_url:  # the caller sends no browser anywhere (the admin pages' sign-out)
            trace_id = await self._traces.record(
                attempt, detail="the session ended; the IdP was not asked (no browser redirect)"
            )
            return SignedOut(None, trace_id)
        start = LogoutStart(
            session_id=str(session.id),
            logout=ended.logout,
            id_token=self._sessions.id_token(ended),
            public_url=public_url,
            browser_binding=browser_binding,
        )
        try:
            redirect = await connector.logout_redirect(connection, start)
        except Refusal as refusal:
            trace_id = await self._traces.record(
                attempt, reason=refusal.reason,
                detail=f"the session ended here; the IdP was not asked: {refusal.detail}",
            )  # fmt: skip
            return SignedOut(None, trace_id)
        detail = "the browser signed out; the session ended" + (
            f"; {redirect.detail}" if redirect is not None and redirect.detail
            else "; the IdP takes no logout request from this connection"
        )  # fmt: skip
        trace_id = await self._traces.record(attempt, detail=detail)
        return SignedOut(redirect, trace_id)

    async def from_idp(self, connection_id: str, protocol: str, message: object) -> IdpLogoutDone:
        """Honours a verified logout from the IdP; LogoutRefused (traced) otherwise."""
        connection = await self._connection(connection_id, protocol)
        connector = self._connectors[protocol]
        login_span.annotate(connection, connector.protocol, STAGE_LOGOUT)
        attempt = self._attempt(connection)
        try:
            verified = await connector.verify_logout(connection, message, attempt)
        except Refusal as refusal:
            login_span.outcome("failure", refusal.reason, STAGE_LOGOUT)
            logger.info(
                "logout refused: %s",
                refusal.reason,
                extra={"connection_id": str(connection.id), "reason": refusal.reason},
            )
            trace_id = await self._traces.record(
                attempt, reason=refusal.reason, detail=refusal.detail
            )
            if refusal.unavailable:
                raise Unavailable("a service the logout needs is unavailable") from None
            raise LogoutRefused(refusal.reason, refusal.detail, trace_id) from None
        if isinstance(verified, LogoutAnswered):
            return await self._answered(attempt, verified)
        return await self._end_named(connection, attempt, verified)

    async def _end_named(
        self, connection: Connection, attempt: Attempt, order: IdpLogout
    ) -> IdpLogoutDone:
        match = order.match
        attempt.subject = order.subject
        if match.saml_name_id:
            ended = await self._store.revoke_saml(
                connection.account_id, connection.id, match.saml_name_id,
                list(match.saml_session_indexes), REASON_IDP,
            )  # fmt: skip
        else:
            ended = await self._store.revoke_oidc(
                connection.account_id, connection.id, match.oidc_sid, match.oidc_sub, REASON_IDP
            )
        login_span.outcome("success")
        logger.info(
            "IdP logout ended %d sessions",
            ended,
            extra={"connection_id": str(connection.id), "account_id": str(connection.account_id)},
        )
        trace_id = await self._traces.record(
            attempt, detail=f"the IdP's logout ended {ended} session(s)"
        )
        return IdpLogoutDone(ended, trace_id, answer_url=order.answer_url)

    async def _answered(self, attempt: Attempt, answer: LogoutAnswered) -> IdpLogoutDone:
        if answer.partial:
            login_span.outcome(OUTCOME_PARTIAL)
            trace_id = await self._traces.record(
                attempt,
                detail="the IdP reports a partial logout: some of its other sessions may remain",
                outcome=OUTCOME_PARTIAL,
            )
        else:
            login_span.outcome("success")
            trace_id = await self._traces.record(attempt, detail="the IdP confirmed the logout")
        return IdpLogoutDone(0, trace_id, partial=answer.partial, return_to=answer.return_to)

    async def _connection(self, connection_id: str, protocol: str = "") -> Connection:
        if protocol:
            return await self._connections.get(connection_id, protocol)
        for candidate in self._connectors:
            try:
                return await self._connections.get(connection_id, candidate)
            except NotFound:
                continue
        raise NotFound("connection not found", field="connection_id")

    @staticmethod
    def _attempt(connection: Connection) -> Attempt:
        return Attempt(connection.account_id, connection.id, stage=STAGE_LOGOUT, kind=KIND_LOGOUT)
