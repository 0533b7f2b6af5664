"""The OIDC authorization code flow of a relying party, in auth (the gateway only carries).

start:  connection → discovery → state, nonce, PKCE S256 verifier and a browser binding, stored
        as a single-use login transaction (the state hashed) → the authorization URL.
finish: the callback's state finds and consumes the transaction (unknown, replayed, expired and
        foreign-browser states are refused) → RFC 9207 ``iss`` → the code exchange
        (client_secret_basic, the PKCE verifier) → ID token validation (idtoken.py) → claims
        mapping → directory's ProvisionLogin (one transaction) → a session.

Every attempt ends in a login trace, success or failure, with the stage reached and the reason;
the caller of a failed attempt only learns that it failed (PERMISSION_DENIED "login_failed")
and the trace id. Logs and spans carry ids, stages and reasons, never codes, tokens or claims.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

import yarl
from joserfc import jwk

from auth.secretbox import SecretBox, SecretBoxError
from auth.sso import claims as claim_mapping
from auth.sso import login_span, presets
from auth.sso.connection_store import ConnectionStore, secret_associated_data
from auth.sso.login_store import NewTransaction, TransactionStore
from auth.sso.models import POLICY_CREATE, POLICY_DENY, POLICY_LINK, Connection
from auth.sso.oidc.discovery import DiscoveryCache, DiscoveryError, ProviderMetadata
from auth.sso.oidc.http import IdpHttp
from auth.sso.oidc.idtoken import Expectations, IdTokenError, validate_id_token
from auth.sso.oidc.jwks import JwksCache, SigningKeyError
from auth.sso.oidc.token import TokenExchangeError, exchange_code
from auth.sso.provisioning import ProvisioningRefused, provision_login, provisioning_notes
from auth.sso.return_to import ReturnToError, check_return_to
from auth.sso.sessions import OpenedSession, SessionManager
from auth.sso.traces import (
    STAGE_CALLBACK,
    STAGE_CLAIMS,
    STAGE_ID_TOKEN,
    STAGE_PROVISIONING,
    STAGE_SESSION,
    STAGE_START,
    STAGE_TOKEN,
    Attempt,
    TraceRecorder,
)
from idmesh.directory.v1 import directory_pb2
from meshkit.errors import (
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
)

if TYPE_CHECKING:
    from idmesh.directory.v1.directory_pb2_grpc import DirectoryServiceAsyncStub

logger = logging.getLogger(__name__)

LOGIN_FAILED: Final = "login_failed"
PROVISION_DEADLINE_SECONDS: Final = 5.0
# Connections are read twice per login (start, callback); a short cache spares those reads. A
# deletion through this process evicts at once; through another replica it takes effect here
# within the TTL, as API token revocations do (auth.cache).
CONNECTION_CACHE_SECONDS: Final = 5.0
CONNECTION_CACHE_ENTRIES: Final = 1000
_BINDING: Final = re.compile(r"^[A-Za-z0-9_-]{43}$")
_ERROR_CODE: Final = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_POLICIES: Final = {
    POLICY_CREATE: directory_pb2.LOGIN_PROVISIONING_POLICY_CREATE_USERS,
    POLICY_LINK: directory_pb2.LOGIN_PROVISIONING_POLICY_LINK_EXISTING_USERS,
    POLICY_DENY: directory_pb2.LOGIN_PROVISIONING_POLICY_DENY_UNKNOWN_USERS,
}
# Directory's denials, passed on as the trace's reason.
_DIRECTORY_REASONS: Final = frozenset(
    {"user_deactivated", "user_not_provisioned", "email_not_verified"}
)


class LoginFailed(PermissionDenied):
    """A refused login: the caller learns nothing more (the trace holds the reason)."""

    def __init__(self, trace_id: str) -> None:
        super().__init__("the sign-in failed", reason=LOGIN_FAILED)
        self.trace_id = trace_id


class _Refusal(Exception):
    """Internal: stop the attempt at the current stage for ``reason``."""

    def __init__(self, reason: str, detail: str, *, unavailable: bool = False) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.unavailable = unavailable


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 §4.2 S256: BASE64URL(SHA256(ASCII(verifier))), unpadded."""
    return base64.urlsafe_b64encode(_digest(verifier)).decode().rstrip("=")


def callback_path(connection_id: uuid.UUID) -> str:
    return f"/sso/oidc/{connection_id}/callback"


def check_redirect_uri(redirect_uri: str, connection_id: uuid.UUID) -> str:
    """The gateway's callback for this connection, exactly: RFC 9700 §4.1, one redirect URI
    per connection (which is also the mix-up defence of §4.4)."""
    parts = urlsplit(redirect_uri)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path != callback_path(connection_id)
        or parts.query
        or parts.fragment
    ):
        raise InvalidArgument("not this connection's callback URL", field="redirect_uri")
    return redirect_uri


def issuer_matches(expected: str, received: str, allowed_tenants: tuple[str, ...]) -> bool:
    """RFC 9207 §2.4: the authorization response's ``iss`` is the issuer the flow started with
    (for an Entra template: the template filled with an allowed tenant)."""
    if presets.ENTRA_TENANT_TEMPLATE not in expected:
        return hmac.compare_digest(expected.encode(), received.encode())
    return any(
        expected.replace(presets.ENTRA_TENANT_TEMPLATE, tenant) == received
        for tenant in allowed_tenants
    )


@dataclass(frozen=True)
class StartedLogin:
    authorization_url: str
    browser_binding: str = field(repr=False)
    expire_time: datetime


@dataclass(frozen=True)
class FinishedLogin:
    opened: OpenedSession
    return_to: str
    trace_id: str


@dataclass(frozen=True)
class CallbackParams:
    connection_id: str
    redirect_uri: str
    state: str = field(repr=False)
    code: str = field(repr=False)
    iss: str
    error: str
    browser_binding: str = field(repr=False)


class OidcFlow:
    def __init__(
        self,
        *,
        connections: ConnectionStore,
        transactions: TransactionStore,
        sessions: SessionManager,
        traces: TraceRecorder,
        http: IdpHttp,
        discovery: DiscoveryCache,
        jwks: JwksCache,
        secretbox: SecretBox | None,
        directory: DirectoryServiceAsyncStub,
        transaction_ttl: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._connections = connections
        self._transactions = transactions
        self._sessions = sessions
        self._traces = traces
        self._http = http
        self._discovery = discovery
        self._jwks = jwks
        self._secretbox = secretbox
        self._directory = directory
        self._ttl = transaction_ttl
        self._clock = clock
        self._wall_clock = wall_clock
        self._cached: dict[uuid.UUID, tuple[float, Connection]] = {}

    def forget(self, connection_id: uuid.UUID) -> None:
        """Drops the cached copy of a connection (called when this process deletes it)."""
        self._cached.pop(connection_id, None)

    async def _connection(self, raw_id: str) -> Connection:
        try:
            connection_id = uuid.UUID(raw_id)
        except ValueError:
            raise NotFound("connection not found", field="connection_id") from None
        now = time.monotonic()
        cached = self._cached.get(connection_id)
        if cached is not None and now - cached[0] < CONNECTION_CACHE_SECONDS:
            return cached[1]
        connection = await self._connections.for_login(connection_id)
        if connection is None or not connection.enabled or connection.oidc is None:
            self._cached.pop(connection_id, None)
            raise NotFound("connection not found", field="connection_id")
        if len(self._cached) >= CONNECTION_CACHE_ENTRIES:
            self._cached.clear()
        self._cached[connection_id] = (now, connection)
        return connection

    # -- start ---------------------------------------------------------------------------------

    async def start(
        self,
        connection_id: str,
        redirect_uri: str,
        *,
        login_hint: str,
        return_to: str,
        browser_binding: str,
    ) -> StartedLogin:
        connection = await self._connection(connection_id)
        oidc = connection.oidc
        assert oidc is not None
        login_span.annotate(connection, "oidc", STAGE_START)
        check_redirect_uri(redirect_uri, connection.id)
        attempt = Attempt(connection.account_id, connection.id, stage=STAGE_START)
        try:
            safe_return_to = check_return_to(return_to)
        except ReturnToError as error:
            await self._fail(attempt, "return_to_rejected", str(error))
            raise InvalidArgument(
                str(error), field="return_to", reason="return_to_rejected"
            ) from None
        try:
            metadata = await self._discovery.get(oidc.discovery_url, oidc.issuer)
        except DiscoveryError as error:
            await self._fail(attempt, error.reason, str(error))
            raise Unavailable("the identity provider is unavailable", reason=error.reason) from None
        state = secrets.token_urlsafe(32)
        nonce = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(48)
        binding = browser_binding if _BINDING.match(browser_binding) else secrets.token_urlsafe(32)
        expire_time = self._clock() + self._ttl
        await self._transactions.insert(
            NewTransaction(
                state_hash=_digest(state),
                connection_id=connection.id,
                account_id=connection.account_id,
                binding_hash=_digest(binding),
                nonce=nonce,
                code_verifier=verifier,
                redirect_uri=redirect_uri,
                return_to=safe_return_to,
                issuer=oidc.issuer,
                expire_time=expire_time,
            )
        )
        params = {
            "response_type": "code",
            "client_id": oidc.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(oidc.scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": pkce_challenge(verifier),
            "code_challenge_method": "S256",
        }
        hint = login_hint.strip()
        if hint and len(hint) <= 320 and hint.isprintable():
            params["login_hint"] = hint
        url = yarl.URL(metadata.authorization_endpoint).update_query(params)
        return StartedLogin(str(url), binding, expire_time)

    # -- finish --------------------------------------------------------------------------------

    async def finish(self, params: CallbackParams) -> FinishedLogin:
        connection = await self._connection(params.connection_id)
        login_span.annotate(connection, "oidc", STAGE_CALLBACK)
        attempt = Attempt(connection.account_id, connection.id)
        try:
            return await self._finish(connection, params, attempt)
        except _Refusal as refusal:
            trace_id = await self._fail(attempt, refusal.reason, refusal.detail)
            if refusal.unavailable:
                raise Unavailable("a service the sign-in needs is unavailable") from None
            raise LoginFailed(trace_id) from None

    async def _finish(
        self, connection: Connection, params: CallbackParams, attempt: Attempt
    ) -> FinishedLogin:
        oidc = connection.oidc
        assert oidc is not None
        # -- callback: the state must name a live transaction of this connection and browser.
        if not params.state:
            raise _Refusal("state_missing", "the callback carries no state")
        consumed = await self._transactions.consume(_digest(params.state))
        if consumed is None:
            raise _Refusal("state_unknown", "no login was started with this state")
        tx = consumed.transaction
        if tx.connection_id != connection.id:
            raise _Refusal("state_connection_mismatch", "the state belongs to another connection")
        if consumed.replayed:
            raise _Refusal("state_replayed", "this login was already completed or refused")
        if consumed.expired:
            raise _Refusal("state_expired", "the login took too long")
        if not hmac.compare_digest(_digest(params.browser_binding), tx.binding_hash):
            raise _Refusal("browser_mismatch", "the callback came from another browser")
        if not hmac.compare_digest(params.redirect_uri.encode(), tx.redirect_uri.encode()):
            raise _Refusal("redirect_uri_mismatch", "the callback URL is not the one started with")
        if params.error:
            code = params.error if _ERROR_CODE.match(params.error) else "invalid"
            raise _Refusal("idp_error", f"the IdP answered error={code}")
        try:
            metadata = await self._discovery.get(oidc.discovery_url, oidc.issuer)
        except DiscoveryError as error:
            raise _Refusal(error.reason, str(error), unavailable=True) from None
        self._check_response_issuer(params, tx.issuer, oidc.allowed_tenant_ids, metadata)
        if not params.code:
            raise _Refusal("code_missing", "the callback carries no authorization code")
        # -- token: the code exchange.
        attempt.stage = STAGE_TOKEN
        client_secret = self._client_secret(connection)
        try:
            tokens = await exchange_code(
                self._http,
                metadata.token_endpoint,
                client_id=oidc.client_id,
                client_secret=client_secret,
                code=params.code,
                redirect_uri=tx.redirect_uri,
                code_verifier=tx.code_verifier,
            )
        except TokenExchangeError as error:
            raise _Refusal(error.reason, str(error)) from None
        # -- id_token: the checklist.
        attempt.stage = STAGE_ID_TOKEN
        expect = Expectations(
            issuer=oidc.issuer,
            client_id=oidc.client_id,
            nonce=tx.nonce,
            algorithms=oidc.signing_algorithms,
            allowed_tenant_ids=oidc.allowed_tenant_ids,
        )

        async def key_for(kid: str | None, alg: str) -> jwk.Key:
            return await self._jwks.key_for(metadata.jwks_uri, kid, alg)

        try:
            valid = await validate_id_token(tokens.id_token, expect, key_for, self._wall_clock())
        except IdTokenError as error:
            if error.claims is not None:
                attempt.claims = claim_mapping.redact_claims(error.claims)
            attempt.clock_delta = error.clock_delta
            raise _Refusal(error.reason, str(error)) from None
        except SigningKeyError as error:
            raise _Refusal(error.reason, str(error)) from None
        attempt.claims = claim_mapping.redact_claims(valid.claims)
        attempt.clock_delta = round(valid.clock_delta, 3)
        # -- claims: who the IdP says this is.
        attempt.stage = STAGE_CLAIMS
        try:
            mapped = claim_mapping.map_claims(connection, valid.claims)
        except claim_mapping.ClaimError as error:
            raise _Refusal(error.reason, str(error)) from None
        attempt.subject, attempt.email, attempt.groups = mapped.subject, mapped.email, mapped.groups
        if mapped.groups_overage:
            attempt.notes.append(
                "groups overage: the IdP sent no groups claim (more groups than fit in a"
                " token); group memberships were left unchanged"
            )
        # -- provisioning: one directory transaction.
        attempt.stage = STAGE_PROVISIONING
        provisioned = await self._provision(connection, mapped, attempt)
        user_id = uuid.UUID(provisioned.user.id)
        attempt.user_id = user_id
        # -- session.
        attempt.stage = STAGE_SESSION
        trace = TraceRecorder.build(attempt)
        opened = await self._sessions.open(connection.account_id, user_id, connection.id, trace)
        trace_id = trace.trace_id
        vendor = presets.PRESETS[oidc.vendor].log_label
        logger.info(
            "Valid login through %s IdP detected",
            vendor,
            extra={
                "connection_id": str(connection.id),
                "account_id": str(connection.account_id),
                "user_id": str(user_id),
                "group_ids": list(mapped.groups),
                "groups_overage": mapped.groups_overage,
            },
        )
        login_span.outcome("success")
        return FinishedLogin(opened, tx.return_to, trace_id)

    def _check_response_issuer(
        self,
        params: CallbackParams,
        started_with: str,
        allowed_tenants: tuple[str, ...],
        metadata: ProviderMetadata,
    ) -> None:
        if params.iss:
            if not issuer_matches(started_with, params.iss, allowed_tenants):
                raise _Refusal(
                    "response_iss_mismatch",
                    "the authorization response comes from another issuer (RFC 9207)",
                )
        elif metadata.iss_parameter_supported:
            raise _Refusal(
                "response_iss_missing",
                "the IdP promises an iss parameter and the response lacks it (RFC 9207)",
            )

    def _client_secret(self, connection: Connection) -> str:
        oidc = connection.oidc
        assert oidc is not None
        assert oidc.client_secret is not None
        if self._secretbox is None:
            raise _Refusal(
                "secret_unavailable",
                "IDMESH_ENCRYPTION_KEY is not configured",
                unavailable=True,
            )
        try:
            return self._secretbox.open(
                oidc.client_secret, secret_associated_data(connection.id, connection.account_id)
            )
        except SecretBoxError as error:
            raise _Refusal("secret_unavailable", str(error), unavailable=True) from None

    async def _provision(
        self, connection: Connection, mapped: claim_mapping.MappedLogin, attempt: Attempt
    ) -> directory_pb2.ProvisionLoginResponse:
        try:
            response = await provision_login(self._directory, connection, mapped, self._clock())
        except ProvisioningRefused as refused:
            raise _Refusal(
                refused.reason, refused.detail, unavailable=refused.unavailable
            ) from None
        attempt.notes.extend(provisioning_notes(response))
        return response

    async def _fail(self, attempt: Attempt, reason: str, detail: str) -> str:
        login_span.outcome("failure", reason, attempt.stage)
        logger.info(
            "login refused at stage %s: %s",
            attempt.stage,
            reason,
            extra={"connection_id": str(attempt.connection_id), "reason": reason},
        )
        return await self._traces.record(attempt, reason=reason, detail=detail)
