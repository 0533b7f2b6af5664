"""The one login pipeline every SSO login goes through, whatever the protocol.

start:  the page to land on is checked (no open redirect) → the connector sends the browser to
        the IdP with a pending login (pending.py).
finish: the connector verifies the IdP's answer and proves an Identity (connector.py) → the
        pending login it answered is consumed (only now: a refused answer leaves it for the
        genuine one) → directory's ProvisionLogin, one transaction: the identity link, or the
        email link and JIT creation only inside a verified domain the connection serves
        (nOAuth), the policy, the six space/role rules, timezone and group sync → a session
        and its login trace, written together → "Valid login through <vendor> IdP detected".

Every attempt ends in a login trace with the stage reached and the reason; the caller of a
failed attempt only learns LoginFailed and the trace id. Logs and spans carry ids, stages and
reasons, never tokens, assertions, claims or emails.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from auth.sso import login_span
from auth.sso.connector import Connector, Restart, Started, StartRequest, Verified
from auth.sso.models import OUTCOME_RESTARTED, Connection
from auth.sso.pending import PendingLogins
from auth.sso.provisioning import ProvisioningRefused, provision_login, provisioning_notes
from auth.sso.refusal import LoginFailed, Refusal
from auth.sso.return_to import ReturnToError, check_return_to
from auth.sso.sessions import OpenedSession, SessionManager, SessionOrigin
from auth.sso.traces import (
    STAGE_CALLBACK,
    STAGE_PROVISIONING,
    STAGE_SESSION,
    STAGE_START,
    Attempt,
    TraceRecorder,
)
from meshkit.errors import InvalidArgument, Unavailable

if TYPE_CHECKING:
    from idmesh.directory.v1.directory_pb2_grpc import DirectoryServiceAsyncStub

logger = logging.getLogger(__name__)

GROUPS_OVERAGE_NOTE: Final = (
    "groups overage: the IdP sent no group list (more groups than fit in a token or an"
    " assertion); group memberships were left unchanged"
)


@dataclass(frozen=True)
class FinishedLogin:
    opened: OpenedSession
    return_to: str
    trace_id: str


@dataclass(frozen=True)
class RestartLogin:
    """A valid IdP-initiated response: start an SP-initiated login with ``return_to``."""

    return_to: str
    trace_id: str


class LoginPipeline:
    def __init__(
        self,
        *,
        pending: PendingLogins,
        sessions: SessionManager,
        traces: TraceRecorder,
        directory: DirectoryServiceAsyncStub,
        clock: Callable[[], datetime],
    ) -> None:
        self._pending = pending
        self._sessions = sessions
        self._traces = traces
        self._directory = directory
        self._clock = clock

    async def start(
        self, connection: Connection, connector: Connector[Any, Any], *, return_to: str,
        browser_binding: str, redirect_uri: str = "", login_hint: str = "",
    ) -> Started:  # fmt: skip
        login_span.annotate(connection, connector.protocol, STAGE_START)
        attempt = Attempt(connection.account_id, connection.id, stage=STAGE_START)
        try:
            safe_return_to = check_return_to(return_to)
        except ReturnToError as error:
            await self._fail(attempt, "return_to_rejected", str(error))
            raise InvalidArgument(
                str(error), field="return_to", reason="return_to_rejected"
            ) from None
        request = StartRequest(safe_return_to, browser_binding, redirect_uri, login_hint)
        try:
            return await connector.start(connection, request)
        except Refusal as refusal:  # only what the start depends on can fail: the IdP
            await self._fail(attempt, refusal.reason, refusal.detail)
            raise Unavailable(
                "the identity provider is unavailable", reason=refusal.reason
            ) from None

    async def finish(
        self, connection: Connection, connector: Connector[Any, Any], callback: Any,
        origin: SessionOrigin | None = None,
    ) -> FinishedLogin | RestartLogin:  # fmt: skip
        login_span.annotate(connection, connector.protocol, STAGE_CALLBACK)
        attempt = Attempt(connection.account_id, connection.id)
        try:
            proof = await connector.verify(connection, callback, attempt)
            if isinstance(proof, Restart):
                return await self._restart(attempt, proof)
            if proof.pending is not None:
                await self._pending.consume(proof.pending)
            return await self._sign_in(
                connection, connector, proof, attempt, origin or SessionOrigin()
            )
        except Refusal as refusal:
            if refusal.clock_delta is not None:
                attempt.clock_delta = refusal.clock_delta
            trace_id = await self._fail(attempt, refusal.reason, refusal.detail)
            if refusal.unavailable:
                raise Unavailable("a service the sign-in needs is unavailable") from None
            raise LoginFailed(trace_id) from None

    async def _sign_in(
        self, connection: Connection, connector: Connector[Any, Any], proof: Verified,
        attempt: Attempt, origin: SessionOrigin,
    ) -> FinishedLogin:  # fmt: skip
        identity = proof.identity
        attempt.subject, attempt.email, attempt.groups = (
            identity.subject, identity.email, identity.groups,
        )  # fmt: skip
        if identity.groups_overage:
            attempt.notes.append(GROUPS_OVERAGE_NOTE)
        # -- provisioning: one directory transaction, the same for every protocol.
        attempt.stage = STAGE_PROVISIONING
        try:
            provisioned = await provision_login(
                self._directory, connection, identity, self._clock()
            )
        except ProvisioningRefused as refused:
            raise Refusal(refused.reason, refused.detail, unavailable=refused.unavailable) from None
        attempt.notes.extend(provisioning_notes(provisioned))
        user_id = uuid.UUID(provisioned.user.id)
        attempt.user_id = user_id
        # -- session, stored with the trace of this login, where it came from and what the
        # IdP's logout will name it by.
        attempt.stage = STAGE_SESSION
        trace = TraceRecorder.build(attempt)
        opened = await self._sessions.open(
            connection.account_id, user_id, connection.id, trace, origin=origin,
            logout=identity.logout,
        )  # fmt: skip
        logger.info(
            "Valid login through %s IdP detected",
            connector.vendor_label(connection),
            extra={
                "connection_id": str(connection.id),
                "account_id": str(connection.account_id),
                "user_id": str(user_id),
                "protocol": connector.protocol,
                "group_ids": list(identity.groups),
                "groups_overage": identity.groups_overage,
            },
        )
        login_span.outcome("success")
        return FinishedLogin(opened, proof.return_to, trace.trace_id)

    async def _restart(self, attempt: Attempt, restart: Restart) -> RestartLogin:
        """sso-security.md row 15: an unsolicited response opens no session; the browser starts
        a solicited login, which the IdP that just signed the user in answers at once."""
        login_span.outcome(OUTCOME_RESTARTED)
        trace_id = await self._traces.record(
            attempt,
            reason="idp_initiated",
            detail="a valid IdP-initiated response; no session was opened from it: the browser"
            " was sent to start a login through idmesh, which the IdP answers at once",
            outcome=OUTCOME_RESTARTED,
        )
        return RestartLogin(restart.return_to, trace_id)

    async def _fail(self, attempt: Attempt, reason: str, detail: str) -> str:
        login_span.outcome("failure", reason, attempt.stage)
        logger.info(
            "login refused at stage %s: %s",
            attempt.stage,
            reason,
            extra={"connection_id": str(attempt.connection_id), "reason": reason},
        )
        return await self._traces.record(attempt, reason=reason, detail=detail)
