"""The SAML 2.0 Web Browser SSO profile of a service provider, in auth (the gateway carries).

start:  connection → an AuthnRequest (our random ID) over HTTP-Redirect (bindings 3.4: raw
        DEFLATE, base64, URL-encoded) with an opaque RelayState; the RelayState's hash keys a
        single-use login transaction bound to the browser, the request ID kept beside it
        (sso-security.md §2 rows 6 and 14). The shared login_transactions table holds it: the
        request ID in ``nonce``, the ACS URL in ``redirect_uri``, the IdP entity id in ``issuer``.
finish: the ACS POST's RelayState consumes the transaction (unknown, replayed, expired and
        foreign-browser states are refused); without RelayState the response is unsolicited and
        only an IdP-initiated connection takes it → the strict validator in a worker thread
        (validator.py) → the shared replay cache → attribute mapping → directory's
        ProvisionLogin (the same path as OIDC) → a session.
restart: a valid unsolicited response signs nobody in. An IdP-initiated POST can be forged by
        anyone holding a response of their own (login CSRF: the victim's browser is signed in as
        the attacker), so its ids are spent in the replay cache and the browser is sent to
        start an SP-initiated login of the same connection (sso-security.md row 15); the IdP,
        which has just signed the user in, answers that at once with a solicited response bound
        to this browser.

Every attempt ends in a login trace with the stage and reason (and the clock delta for time
failures); the caller of a failed attempt learns only the trace id. Logs and spans carry ids,
stages and reasons, never the response, the NameID or attribute values.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import re
import secrets
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final
from xml.sax.saxutils import quoteattr

import yarl

from auth.secretbox import SecretBox, SecretBoxError
from auth.sso import login_span
from auth.sso.claims import ClaimError
from auth.sso.login_store import NewTransaction, TransactionStore
from auth.sso.models import OUTCOME_RESTARTED, Connection
from auth.sso.oidc.flow import LoginFailed
from auth.sso.provisioning import ProvisioningRefused, provision_login, provisioning_notes
from auth.sso.return_to import ReturnToError, check_return_to
from auth.sso.saml.claims import assertion_claims, map_assertion
from auth.sso.saml.replay import ReplayCache
from auth.sso.saml.validator import Expectations, SamlError, ValidAssertion, validate_response
from auth.sso.sessions import OpenedSession, SessionManager
from auth.sso.traces import (
    STAGE_CLAIMS,
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

STAGE_ACS: Final = "acs"
STAGE_ASSERTION: Final = "assertion"
STAGE_REPLAY: Final = "replay"
_BINDING: Final = re.compile(r"^[A-Za-z0-9_-]{43}$")
# Bindings 3.4.3: RelayState MUST NOT exceed 80 bytes; ours is 43.
MAX_RELAY_STATE: Final = 80


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def _deep_link(relay_state: str) -> str:
    """The IdP's RelayState as the page to land on when it is a path on this site (Okta's
    "Default RelayState" deep link); "/" for anything else, never an open redirect (row 14)."""
    try:
        return check_return_to(relay_state)
    except ReturnToError:
        return "/"


def acs_path(connection_id: uuid.UUID) -> str:
    return f"/sso/saml/{connection_id}/acs"


def metadata_path(connection_id: uuid.UUID) -> str:
    return f"/sso/saml/{connection_id}/metadata"


def authn_request(request_id: str, issue_instant: datetime, *, sp_entity_id: str, acs_url: str,
                  destination: str, name_id_format: str) -> str:  # fmt: skip
    """The AuthnRequest XML (saml-core 3.4.1): HTTP-POST back to our ACS, our entity id."""
    instant = issue_instant.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        '<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"'
        ' xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"'
        f' ID={quoteattr(request_id)} Version="2.0" IssueInstant="{instant}"'
        f" Destination={quoteattr(destination)}"
        ' ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"'
        f" AssertionConsumerServiceURL={quoteattr(acs_url)}>"
        f"<saml:Issuer>{_escape(sp_entity_id)}</saml:Issuer>"
        f'<samlp:NameIDPolicy Format={quoteattr(name_id_format)} AllowCreate="true"/>'
        "</samlp:AuthnRequest>"
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def redirect_binding(xml: str) -> str:
    """Bindings 3.4.4.1: raw DEFLATE (no zlib header), then base64."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = compressor.compress(xml.encode()) + compressor.flush()
    return base64.b64encode(deflated).decode()


def sp_key_associated_data(connection_id: uuid.UUID, account_id: uuid.UUID) -> bytes:
    """What the SP private key's ciphertext is bound to: its row (secretbox)."""
    return f"idmesh connection saml_sp_private_key|{account_id}|{connection_id}".encode()


def expectations(
    connection: Connection, request_id: str | None, secretbox: SecretBox | None = None
) -> Expectations:
    saml = connection.saml
    assert saml is not None
    sp_private_key = saml.sp_private_key
    if not sp_private_key and saml.sealed_sp_key is not None:
        if secretbox is None:
            raise _Refusal("secret_unavailable", "IDMESH_ENCRYPTION_KEY is not configured",
                           unavailable=True)  # fmt: skip
        try:
            sp_private_key = secretbox.open(
                saml.sealed_sp_key, sp_key_associated_data(connection.id, connection.account_id)
            )
        except SecretBoxError as error:
            raise _Refusal("secret_unavailable", str(error), unavailable=True) from None
    return Expectations(
        idp_entity_id=saml.idp_entity_id,
        sp_entity_id=saml.sp_entity_id,
        acs_url=saml.acs_url,
        certificates=saml.certificates,
        request_id=request_id,
        allow_unsolicited=saml.allow_idp_initiated,
        allow_sha1=saml.allow_sha1,
        want_response_signed=saml.want_response_signed,
        skew_seconds=saml.clock_skew_seconds,
        sp_private_key=sp_private_key,
        sp_certificate=saml.sp_certificate,
    )


@dataclass(frozen=True)
class StartedSamlLogin:
    redirect_url: str
    relay_state: str = field(repr=False)
    browser_binding: str = field(repr=False)
    request_id: str
    expire_time: datetime


@dataclass(frozen=True)
class FinishedSamlLogin:
    opened: OpenedSession
    return_to: str
    trace_id: str


@dataclass(frozen=True)
class RestartSamlLogin:
    """A valid IdP-initiated response: start an SP-initiated login with ``return_to``."""

    return_to: str
    trace_id: str


class _Refusal(Exception):
    def __init__(
        self, reason: str, detail: str, *, clock_delta: float | None = None,
        unavailable: bool = False,
    ) -> None:  # fmt: skip
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.clock_delta = clock_delta
        self.unavailable = unavailable


class SamlFlow:
    def __init__(
        self,
        *,
        transactions: TransactionStore,
        replay: ReplayCache,
        sessions: SessionManager,
        traces: TraceRecorder,
        directory: DirectoryServiceAsyncStub,
        transaction_ttl: timedelta,
        secretbox: SecretBox | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._secretbox = secretbox
        self._transactions = transactions
        self._replay = replay
        self._sessions = sessions
        self._traces = traces
        self._directory = directory
        self._ttl = transaction_ttl
        self._clock = clock
        self._wall_clock = wall_clock

    async def start(
        self, connection: Connection, *, return_to: str, browser_binding: str
    ) -> StartedSamlLogin:
        """An AuthnRequest for ``connection`` and the transaction the ACS will consume."""
        saml = connection.saml
        assert saml is not None
        login_span.annotate(connection, "saml", STAGE_START)
        try:
            safe_return_to = check_return_to(return_to)
        except ReturnToError as error:
            attempt = Attempt(connection.account_id, connection.id, stage=STAGE_START)
            await self._fail(attempt, "return_to_rejected", str(error))
            raise InvalidArgument(
                str(error), field="return_to", reason="return_to_rejected"
            ) from None
        request_id = "_" + secrets.token_hex(20)
        relay_state = secrets.token_urlsafe(32)
        binding = browser_binding if _BINDING.match(browser_binding) else secrets.token_urlsafe(32)
        now = self._clock()
        expire_time = now + self._ttl
        await self._transactions.insert(
            NewTransaction(
                state_hash=_digest(relay_state),
                connection_id=connection.id,
                account_id=connection.account_id,
                binding_hash=_digest(binding),
                nonce=request_id,
                code_verifier="",
                redirect_uri=saml.acs_url,
                return_to=safe_return_to,
                issuer=saml.idp_entity_id,
                expire_time=expire_time,
            )
        )
        xml = authn_request(
            request_id, now, sp_entity_id=saml.sp_entity_id, acs_url=saml.acs_url,
            destination=saml.sso_url, name_id_format=saml.name_id_format,
        )  # fmt: skip
        url = yarl.URL(saml.sso_url).update_query(
            {"SAMLRequest": redirect_binding(xml), "RelayState": relay_state}
        )
        return StartedSamlLogin(str(url), relay_state, binding, request_id, expire_time)

    async def finish(
        self,
        connection: Connection,
        saml_response: str,
        *,
        relay_state: str,
        browser_binding: str,
    ) -> FinishedSamlLogin | RestartSamlLogin:
        """The ACS: a validated, first-seen response to a login this browser started opens a
        session; a validated, first-seen unsolicited one (IdP-initiated on) asks for a restart;
        anything else raises LoginFailed with the trace id."""
        login_span.annotate(connection, "saml", STAGE_ACS)
        attempt = Attempt(connection.account_id, connection.id, stage=STAGE_ACS)
        try:
            return await self._finish(connection, saml_response, relay_state,
                                      browser_binding, attempt)  # fmt: skip
        except _Refusal as refusal:
            attempt.clock_delta = refusal.clock_delta
            trace_id = await self._fail(attempt, refusal.reason, refusal.detail)
            if refusal.unavailable:
                raise Unavailable("a service the sign-in needs is unavailable") from None
            raise LoginFailed(trace_id) from None

    async def _request_id(
        self, connection: Connection, relay_state: str, browser_binding: str
    ) -> tuple[str | None, str]:
        """The AuthnRequest ID this browser's transaction expects, and where to go after; None
        for an unsolicited response (no RelayState, or the IdP's own)."""
        if not relay_state:
            return None, "/"
        idp_initiated = connection.saml is not None and connection.saml.allow_idp_initiated
        if len(relay_state) > MAX_RELAY_STATE:
            if idp_initiated:
                return None, _deep_link(relay_state)
            raise _Refusal("relay_state_invalid", "the RelayState is longer than 80 bytes")
        consumed = await self._transactions.consume(_digest(relay_state))
        if consumed is None:
            # Okta's "Default RelayState" and Entra's "Relay State" ride on IdP-initiated
            # responses: the response is simply unsolicited.
            if idp_initiated:
                return None, _deep_link(relay_state)
            raise _Refusal("relay_state_unknown", "no login was started with this RelayState")
        tx = consumed.transaction
        if tx.connection_id != connection.id:
            raise _Refusal(
                "relay_state_connection_mismatch", "the login belongs to another connection"
            )
        if consumed.replayed:
            raise _Refusal("relay_state_replayed", "this login was already completed or refused")
        if consumed.expired:
            raise _Refusal("relay_state_expired", "the login took too long")
        if not hmac.compare_digest(_digest(browser_binding), tx.binding_hash):
            raise _Refusal("browser_mismatch", "the response came through another browser")
        return tx.nonce, tx.return_to

    async def _finish(
        self,
        connection: Connection,
        saml_response: str,
        relay_state: str,
        browser_binding: str,
        attempt: Attempt,
    ) -> FinishedSamlLogin | RestartSamlLogin:
        if not saml_response:
            raise _Refusal("response_missing", "the ACS POST carries no SAMLResponse")
        request_id, return_to = await self._request_id(connection, relay_state, browser_binding)
        # -- assertion: the checklist, off the event loop.
        attempt.stage = STAGE_ASSERTION
        expect = expectations(connection, request_id, self._secretbox)
        try:
            valid: ValidAssertion = await asyncio.to_thread(
                validate_response, saml_response, expect, self._wall_clock()
            )
        except SamlError as error:
            raise _Refusal(error.reason, error.detail, clock_delta=error.clock_delta) from None
        attempt.clock_delta = valid.clock_delta
        attempt.claims = assertion_claims(valid)
        # -- replay: first use wins, across every replica.
        attempt.stage = STAGE_REPLAY
        ids = [("response", valid.response_id), ("assertion", valid.assertion_id)]
        if not await self._replay.claim(connection.id, ids, valid.expire_at):
            raise _Refusal("replayed", "this response or assertion was already used")
        if request_id is None:
            return await self._restart(attempt, return_to)
        # -- claims.
        attempt.stage = STAGE_CLAIMS
        try:
            mapped = map_assertion(connection, valid)
        except ClaimError as error:
            raise _Refusal(error.reason, str(error)) from None
        attempt.subject, attempt.email, attempt.groups = mapped.subject, mapped.email, mapped.groups
        if mapped.groups_overage:
            attempt.notes.append(
                "groups overage: the IdP sent groups.link instead of groups; group memberships"
                " were left unchanged"
            )
        # -- provisioning: the same directory transaction as OIDC.
        attempt.stage = STAGE_PROVISIONING
        try:
            provisioned = await provision_login(self._directory, connection, mapped, self._clock())
        except ProvisioningRefused as refused:
            raise _Refusal(
                refused.reason, refused.detail, unavailable=refused.unavailable
            ) from None
        attempt.notes.extend(provisioning_notes(provisioned))
        user_id = uuid.UUID(provisioned.user.id)
        attempt.user_id = user_id
        # -- session.
        attempt.stage = STAGE_SESSION
        record = TraceRecorder.build(attempt)
        opened = await self._sessions.open(connection.account_id, user_id, connection.id, record)
        logger.info(
            "Valid SAML login detected",
            extra={
                "connection_id": str(connection.id),
                "account_id": str(connection.account_id),
                "user_id": str(user_id),
                "idp_initiated": request_id is None,
            },
        )
        login_span.outcome("success")
        return FinishedSamlLogin(opened, return_to, record.trace_id)

    async def _restart(self, attempt: Attempt, return_to: str) -> RestartSamlLogin:
        """Row 15: the unsolicited response is spent; the browser starts an SP-initiated login."""
        login_span.outcome(OUTCOME_RESTARTED)
        trace_id = await self._traces.record(
            attempt,
            reason="idp_initiated",
            detail="a valid IdP-initiated response; no session was opened from it: the browser"
            " was sent to start a login through idmesh, which the IdP answers at once",
            outcome=OUTCOME_RESTARTED,
        )
        return RestartSamlLogin(return_to, trace_id)

    async def _fail(self, attempt: Attempt, reason: str, detail: str) -> str:
        login_span.outcome("failure", reason, attempt.stage)
        logger.info(
            "SAML login refused at stage %s: %s",
            attempt.stage,
            reason,
            extra={"connection_id": str(attempt.connection_id), "reason": reason},
        )
        return await self._traces.record(attempt, reason=reason, detail=detail)
