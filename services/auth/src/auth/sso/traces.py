"""Login traces: one record per SSO attempt (kind "login") and per logout request (kind
"logout"), what an account admin reads when a sign-in or a sign-out fails.

A trace names the stage reached, the outcome, a machine reason and a sentence, the claims the
IdP sent (redacted: auth.sso.claims.redact_claims), the groups, the clock delta and the
OpenTelemetry trace id. Recording never fails a login: a trace that cannot be stored is logged
(ids and reason only) and the login goes on.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from auth.sso.login_store import NewTrace, TraceStore
from auth.sso.models import KIND_LOGIN, OUTCOME_FAILURE, OUTCOME_SUCCESS
from meshkit.telemetry import current_trace_id

logger = logging.getLogger(__name__)

STAGE_START = "start"
STAGE_CALLBACK = "callback"
STAGE_TOKEN = "token"
STAGE_ID_TOKEN = "id_token"
STAGE_USERINFO = "userinfo"
STAGE_CLAIMS = "claims"
STAGE_PROVISIONING = "provisioning"
STAGE_SESSION = "session"
STAGE_LOGOUT = "logout"


@dataclass
class Attempt:
    """What one attempt has learnt so far; the flow fills it in stage by stage."""

    account_id: uuid.UUID
    connection_id: uuid.UUID
    stage: str = STAGE_CALLBACK
    subject: str = ""
    email: str = ""
    user_id: uuid.UUID | None = None
    claims: dict[str, Any] = field(default_factory=dict)
    groups: tuple[str, ...] = ()
    clock_delta: float | None = None
    notes: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    # "login" or "logout" (a sign-out, a back-channel logout token, a SAML SLO message).
    kind: str = KIND_LOGIN
    # A test sign-in (the setup wizard's dry run), known once its pending login is.
    test: bool = False


class TraceRecorder:
    def __init__(self, store: TraceStore) -> None:
        self._store = store

    @staticmethod
    def build(
        attempt: Attempt, *, reason: str = "", detail: str = "", outcome: str = "",
        test_result: dict[str, Any] | None = None,
    ) -> NewTrace:  # fmt: skip
        """The trace of ``attempt`` as it stands: ``outcome`` when given, else a failure when
        ``reason`` is set and a success otherwise."""
        if attempt.notes:
            detail = "; ".join([detail, *attempt.notes] if detail else attempt.notes)
        return NewTrace(
            account_id=attempt.account_id,
            connection_id=attempt.connection_id,
            trace_id=current_trace_id(),
            stage=attempt.stage,
            outcome=outcome or (OUTCOME_FAILURE if reason else OUTCOME_SUCCESS),
            reason=reason,
            detail=detail,
            subject=attempt.subject,
            email=attempt.email,
            user_id=attempt.user_id,
            claims=attempt.claims,
            groups=attempt.groups,
            clock_delta_seconds=attempt.clock_delta,
            duration_ms=round((time.perf_counter() - attempt.started) * 1000, 1),
            kind=attempt.kind,
            test=attempt.test,
            test_result=test_result,
        )

    async def record(
        self, attempt: Attempt, *, reason: str = "", detail: str = "", outcome: str = "",
        test_result: dict[str, Any] | None = None,
    ) -> str:  # fmt: skip
        """Stores the attempt (as ``build`` names its outcome); returns the trace id. A
        successful login's trace is stored with its session instead (SessionManager.open)."""
        trace = self.build(
            attempt, reason=reason, detail=detail, outcome=outcome, test_result=test_result
        )
        try:
            await self._store.insert(trace)
        except Exception as error:  # a lost trace must not become a lost login
            logger.warning(
                "could not record the login trace of connection %s: %s",
                attempt.connection_id,
                type(error).__name__,
            )
        return trace.trace_id
