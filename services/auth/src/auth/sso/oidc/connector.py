"""The OIDC connector: the authorization code flow of a relying party, in auth (the gateway only
carries the browser's requests).

start:  discovery → nonce and PKCE S256 verifier, kept in a pending login whose state travels
        through the IdP (auth.sso.pending) → the authorization URL.
verify: the callback's state finds this browser's pending login (not yet used up) → RFC 9207
        ``iss`` → the code exchange (client_secret_basic, the PKCE verifier) → ID token
        validation (idtoken.py) → the userinfo endpoint when the connection asks for it, its
        ``sub`` the ID token's → claims mapping → an Identity for the login pipeline, which
        consumes the pending login and does everything after (auth.sso.pipeline).

A refusal names a stable reason for the login trace; logs and spans carry ids, stages and
reasons, never codes, tokens or claims.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Final
from urllib.parse import urlsplit

import yarl
from joserfc import jwk

from auth.sso import claims as shared_claims
from auth.sso.connection_store import secret_associated_data
from auth.sso.connector import (
    IdpLogout,
    LogoutRedirect,
    LogoutStart,
    Restart,
    SessionMatch,
    Started,
    StartRequest,
    Verified,
)
from auth.sso.http import IdpHttp
from auth.sso.identity import LogoutHandle
from auth.sso.models import Connection
from auth.sso.oidc import claims as oidc_claims
from auth.sso.oidc import presets
from auth.sso.oidc.discovery import DiscoveryCache, DiscoveryError, ProviderMetadata
from auth.sso.oidc.idtoken import Expectations, IdTokenError, validate_id_token
from auth.sso.oidc.jwks import JwksCache, SigningKeyError
from auth.sso.oidc.logout_token import LogoutTokenError, validate_logout_token
from auth.sso.oidc.token import TokenExchangeError, exchange_code
from auth.sso.oidc.userinfo import UserinfoError, fetch_userinfo, merge_userinfo
from auth.sso.pending import PendingLogins
from auth.sso.refusal import Refusal
from auth.sso.saml.replay import ReplayCache
from auth.sso.traces import STAGE_CLAIMS, STAGE_ID_TOKEN, STAGE_TOKEN, STAGE_USERINFO, Attempt
from meshkit.errors import InvalidArgument
from meshkit.secretbox import SecretBox, SecretBoxError

_ERROR_CODE: Final = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 §4.2 S256: BASE64URL(SHA256(ASCII(verifier))), unpadded."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def callback_path(connection_id: uuid.UUID) -> str:
    return f"/sso/oidc/{connection_id}/callback"


def signed_out_path(connection_id: uuid.UUID) -> str:
    """The post-logout redirect URI to register at the IdP (RP-Initiated Logout 1.0 §3)."""
    return f"/sso/oidc/{connection_id}/signed-out"


def backchannel_logout_path(connection_id: uuid.UUID) -> str:
    """The back-channel logout URI to register at the IdP (Back-Channel Logout 1.0 §2.2)."""
    return f"/sso/oidc/{connection_id}/backchannel-logout"


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
class CallbackParams:
    """What the browser brings back to the callback URL (RFC 6749 §4.1.2)."""

    redirect_uri: str
    state: str = field(repr=False)
    code: str = field(repr=False)
    iss: str
    error: str
    browser_binding: str = field(repr=False)


class OidcConnector:
    protocol: Final = "oidc"

    def __init__(
        self,
        *,
        pending: PendingLogins,
        http: IdpHttp,
        discovery: DiscoveryCache,
        jwks: JwksCache,
        secretbox: SecretBox | None,
        replay: ReplayCache | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._replay = replay
        self._pending = pending
        self._http = http
        self._discovery = discovery
        self._jwks = jwks
        self._secretbox = secretbox
        self._wall_clock = wall_clock

    def vendor_label(self, connection: Connection) -> str:
        assert connection.oidc is not None
        return presets.PRESETS[connection.oidc.vendor].log_label

    # -- start ---------------------------------------------------------------------------------

    async def start(self, connection: Connection, request: StartRequest) -> Started:
        oidc = connection.oidc
        assert oidc is not None
        check_redirect_uri(request.redirect_uri, connection.id)
        try:
            metadata = await self._discovery.get(oidc.discovery_url, oidc.issuer)
        except DiscoveryError as error:
            raise Refusal(error.reason, str(error), unavailable=True) from None
        nonce = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(48)
        begun = await self._pending.begin(
            connection, browser_binding=request.browser_binding, return_to=request.return_to,
            nonce=nonce, code_verifier=verifier, redirect_uri=request.redirect_uri,
            issuer=oidc.issuer, test=request.test,
        )  # fmt: skip
        params = {
            "response_type": "code",
            "client_id": oidc.client_id,
            "redirect_uri": request.redirect_uri,
            "scope": " ".join(oidc.scopes),
            "state": begun.state,
            "nonce": nonce,
            "code_challenge": pkce_challenge(verifier),
            "code_challenge_method": "S256",
        }
        hint = request.login_hint.strip()
        if hint and len(hint) <= 320 and hint.isprintable():
            params["login_hint"] = hint
        url = yarl.URL(metadata.authorization_endpoint).update_query(params)
        return Started(str(url), begun.browser_binding, begun.expire_time)

    # -- verify --------------------------------------------------------------------------------

    async def verify(
        self, connection: Connection, params: CallbackParams, attempt: Attempt
    ) -> Verified | Restart:
        oidc = connection.oidc
        assert oidc is not None
        # -- callback: the state must name a live login of this connection and browser.
        if not params.state:
            raise Refusal("state_missing", "the callback carries no state")
        pending = await self._pending.find(
            connection, params.state, params.browser_binding, label="state"
        )
        if pending is None:
            raise Refusal("state_unknown", "no login was started with this state")
        tx = pending.transaction
        if not hmac.compare_digest(params.redirect_uri.encode(), tx.redirect_uri.encode()):
            raise Refusal("redirect_uri_mismatch", "the callback URL is not the one started with")
        if params.error:
            code = params.error if _ERROR_CODE.match(params.error) else "invalid"
            raise Refusal("idp_error", f"the IdP answered error={code}")
        try:
            metadata = await self._discovery.get(oidc.discovery_url, oidc.issuer)
        except DiscoveryError as error:
            raise Refusal(error.reason, str(error), unavailable=True) from None
        self._check_response_issuer(params, tx.issuer, oidc.allowed_tenant_ids, metadata)
        if not params.code:
            raise Refusal("code_missing", "the callback carries no authorization code")
        # -- token: the code exchange.
        attempt.stage = STAGE_TOKEN
        try:
            tokens = await exchange_code(
                self._http,
                metadata.token_endpoint,
                client_id=oidc.client_id,
                client_secret=self._client_secret(connection),
                code=params.code,
                redirect_uri=tx.redirect_uri,
                code_verifier=tx.code_verifier,
            )
        except TokenExchangeError as error:
            raise Refusal(error.reason, str(error)) from None
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
                attempt.claims = shared_claims.redact_claims(error.claims)
            attempt.clock_delta = error.clock_delta
            raise Refusal(error.reason, str(error)) from None
        except SigningKeyError as error:
            raise Refusal(error.reason, str(error)) from None
        claims = valid.claims
        attempt.claims = shared_claims.redact_claims(claims)
        attempt.clock_delta = round(valid.clock_delta, 3)
        # -- userinfo: more claims about the same subject, under the signed ones.
        if oidc.userinfo and metadata.userinfo_endpoint:
            attempt.stage = STAGE_USERINFO
            try:
                answer = await fetch_userinfo(
                    self._http, metadata.userinfo_endpoint, tokens.access_token
                )
                claims = merge_userinfo(claims, answer)
            except UserinfoError as error:
                raise Refusal(error.reason, str(error)) from None
            attempt.claims = shared_claims.redact_claims(claims)
        # -- claims: who the IdP says this is.
        attempt.stage = STAGE_CLAIMS
        try:
            identity = oidc_claims.map_claims(connection, claims)
        except shared_claims.ClaimError as error:
            raise Refusal(error.reason, str(error)) from None
        # -- what logout needs: the signed token's sid and sub, and the token itself.
        sid, sub = valid.claims.get("sid"), valid.claims.get("sub")
        handle = LogoutHandle(
            oidc_sid=sid if isinstance(sid, str) else "",
            oidc_sub=sub if isinstance(sub, str) else "",
            id_token=tokens.id_token,
        )
        return Verified(replace(identity, logout=handle), pending, tx.return_to)

    # -- logout --------------------------------------------------------------------------------

    async def logout_redirect(
        self, connection: Connection, start: LogoutStart
    ) -> LogoutRedirect | None:
        """RP-Initiated Logout 1.0 §2: the IdP's end_session_endpoint with id_token_hint,
        client_id, the registered post_logout_redirect_uri and a state; None when the
        connection does not ask or the IdP publishes no such endpoint."""
        oidc = connection.oidc
        assert oidc is not None
        if not oidc.rp_logout:
            return None
        try:
            metadata = await self._discovery.get(oidc.discovery_url, oidc.issuer)
        except DiscoveryError as error:
            raise Refusal(error.reason, str(error)) from None
        if not metadata.end_session_endpoint:
            return None
        params = {
            "client_id": oidc.client_id,
            "post_logout_redirect_uri": start.public_url.rstrip("/")
            + signed_out_path(connection.id),
            # Opaque to the IdP and handed back; the signed-out page changes nothing, so it
            # needs no binding (§3).
            "state": secrets.token_urlsafe(16),
        }
        if start.id_token:
            params["id_token_hint"] = start.id_token
        url = yarl.URL(metadata.end_session_endpoint).update_query(params)
        return LogoutRedirect(
            str(url), detail="the browser was sent to the IdP's end_session_endpoint"
        )

    async def verify_logout(
        self, connection: Connection, logout_token: str, attempt: Attempt
    ) -> IdpLogout:
        """Back-Channel Logout 1.0 §2.6 (oidc.logout_token), then the token's jti claimed in
        the replay cache every auth replica shares: the first use wins."""
        oidc = connection.oidc
        assert oidc is not None
        if not logout_token:
            raise Refusal("logout_token_missing", "the request carries no logout_token")
        try:
            metadata = await self._discovery.get(oidc.discovery_url, oidc.issuer)
        except DiscoveryError as error:
            raise Refusal(error.reason, str(error), unavailable=True) from None
        expect = Expectations(
            issuer=oidc.issuer, client_id=oidc.client_id, nonce="",
            algorithms=oidc.signing_algorithms, allowed_tenant_ids=oidc.allowed_tenant_ids,
        )  # fmt: skip

        async def key_for(kid: str | None, alg: str) -> jwk.Key:
            return await self._jwks.key_for(metadata.jwks_uri, kid, alg)

        try:
            order = await validate_logout_token(logout_token, expect, key_for, self._wall_clock())
        except LogoutTokenError as error:
            if error.claims is not None:
                attempt.claims = shared_claims.redact_claims(error.claims)
            raise Refusal(error.reason, str(error)) from None
        except SigningKeyError as error:
            raise Refusal(error.reason, str(error)) from None
        attempt.claims = shared_claims.redact_claims(order.claims)
        assert self._replay is not None
        if not await self._replay.claim(connection.id, [("logout_jti", order.jti)],
                                        order.expire_at):  # fmt: skip
            raise Refusal("replayed", "a logout token with this jti was already received")
        subject = f"{order.claims.get('iss')}|{order.sub}" if order.sub else ""
        return IdpLogout(SessionMatch(oidc_sid=order.sid, oidc_sub=order.sub), subject=subject)

    def _check_response_issuer(
        self,
        params: CallbackParams,
        started_with: str,
        allowed_tenants: tuple[str, ...],
        metadata: ProviderMetadata,
    ) -> None:
        if params.iss:
            if not issuer_matches(started_with, params.iss, allowed_tenants):
                raise Refusal(
                    "response_iss_mismatch",
                    "the authorization response comes from another issuer (RFC 9207)",
                )
        elif metadata.iss_parameter_supported:
            raise Refusal(
                "response_iss_missing",
                "the IdP promises an iss parameter and the response lacks it (RFC 9207)",
            )

    def _client_secret(self, connection: Connection) -> str:
        oidc = connection.oidc
        assert oidc is not None
        assert oidc.client_secret is not None
        if self._secretbox is None:
            raise Refusal(
                "secret_unavailable",
                "IDMESH_ENCRYPTION_KEY is not configured",
                unavailable=True,
            )
        try:
            return self._secretbox.open(
                oidc.client_secret, secret_associated_data(connection.id, connection.account_id)
            )
        except SecretBoxError as error:
            raise Refusal("secret_unavailable", str(error), unavailable=True) from None
