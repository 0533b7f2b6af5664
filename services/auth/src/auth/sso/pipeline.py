"""The one login pipeline every SSO login goes through, whatever the protocol.

start:  the page to land on is checked (no open redirect) → the connector sends the browser to
        the IdP with a pending login (pending.py).
finish: the connector verifies the IdP's answer and proves an Identity (connector.py) → the
        pending login it answered is consumed (only now: a refused answer leaves it for the
        genuine one) → directory's ProvisionLogin, one transaction: the identity link, or the
        email link and JIT creation only inside a verified domain the connection serves
        (nOAuth), the policy, the six space/role rules, timezone and group sync → a session
        and its login trace, written together → "Valid login through <vendor> IdP detected".

A test sign-in (the setup wizard's dry run, started with ``test``) takes the same path with the
same connector; its finish runs ProvisionLogin as a dry run (directory rolls the transaction
back), opens no session and records a trace marked test with what the login would have done
(auth.sso.dry_run). It is the only login that may finish on a connection not yet enabled.

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

from auth.sso import dry_run, login_span
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
class DryRunLogin:
    """A test sign-in's end: no session; ``result`` is what the login would have done."""

    return_to: str
    trace_id: str
    result: dict[str, Any]


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
        browser_binding: str, redirect_uri: str = "", login_hint: str = "", test: bool = False,
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
        request = StartRequest(safe_return_to, browser_binding, redirect_uri, login_hint, test)
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
    ) -> FinishedLogin | RestartLogin | DryRunLogin:  # fmt: skip
        login_span.annotate(connection, connector.protocol, STAGE_CALLBACK)
        attempt = Attempt(connection.account_id, connection.id)
        try:
            proof = await connector.verify(connection, callback, attempt)
            pending = None if isinstance(proof, Restart) else proof.pending
            attempt.test = pending is not None and pending.transaction.test
            if not connection.enabled and not attempt.test:
                raise Refusal(
                    "connection_disabled",
                    "the connection is not enabled yet: only a test sign-in may finish on it",
                )
            if isinstance(proof, Restart):
                return await self._restart(attempt, proof)
            if proof.pending is not None:
                await self._pending.consume(proof.pending)
            if attempt.test:
                return await self._dry_run(connection, proof, attempt)
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

    @staticmethod
    def _note_identity(attempt: Attempt, proof: Verified) -> None:
        identity = proof.identity
        attempt.subject, attempt.email, attempt.groups = (
            identity.subject, identity.email, identity.groups,
        )  # fmt: skip
        if identity.groups_overage:
            attempt.notes.append(GROUPS_OVERAGE_NOTE)

    async def _dry_run(
        self, connection: Connection, proof: Verified, attempt: Attempt
    ) -> DryRunLogin:
        """The test sign-in's tail: ProvisionLogin in dry-run mode, no session, a test trace."""
        self._note_identity(attempt, proof)
        attempt.notes.append("test sign-in: nothing was written, no session was opened")
        identity = proof.identity
        attempt.stage = STAGE_PROVISIONING
        try:
            provisioned = await provision_login(
                self._directory, connection, identity, self._clock(), dry_run=True
            )
        except ProvisioningRefused as refused:
            if refused.unavailable:
                raise Refusal(refused.reason, refused.detail, unavailable=True) from None
            result = dry_run.refused(
                connection, identity, attempt.claims, refused.reason, refused.detail
            )
            login_span.outcome("failure", refused.reason, attempt.stage)
            trace_id = await self._traces.record(
                attempt, reason=refused.reason, detail=refused.detail, test_result=result
            )
            return DryRunLogin(proof.return_to, trace_id, result)
        attempt.notes.extend(provisioning_notes(provisioned))
        result = dry_run.outcome(connection, identity, attempt.claims, provisioned)
        login_span.outcome("success")
        trace_id = await self._traces.record(attempt, test_result=result)
        return DryRunLogin(proof.return_to, trace_id, result)

    async def _sign_in(
        self, connection: Connection, connector: Connector[Any, Any], proof: Verified,
        attempt: Attempt, origin: SessionOrigin,
    ) -> FinishedLogin:  # fmt: skip
        self._note_identity(attempt, proof)
        identity = proof.identity
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
