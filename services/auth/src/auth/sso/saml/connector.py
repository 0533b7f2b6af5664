"""The SAML connector: the Web Browser SSO profile of a service provider, in auth (the gateway
carries the browser's requests).

start:  an AuthnRequest (our random ID) over HTTP-Redirect (bindings 3.4: raw DEFLATE, base64,
        URL-encoded); its RelayState keys a pending login bound to the browser (auth.sso.pending),
        the request ID kept beside it in ``nonce`` (sso-security.md §2 rows 6 and 14).
verify: the ACS POST's RelayState finds this browser's pending login WITHOUT using it up → the
        strict validator in a worker thread (validator.py), which reads the request id the
        response answers from the signed part only → the shared replay cache → attribute
        mapping → an Identity for the login pipeline, which consumes the pending login (only
        now: a refused response leaves it for the genuine one) and does everything after.
unsolicited: a signed assertion that answers no request is unsolicited whatever its unsigned
        envelope claims. It signs nobody in: refused unless the connection takes IdP-initiated
        logins, and then its ids are spent in the replay cache and the browser is sent to start
        an SP-initiated login of the same connection (sso-security.md row 15), which the IdP,
        having just signed the user in, answers at once with a solicited response bound to this
        browser. A forged IdP-initiated POST therefore cannot sign a victim in (login CSRF).

Logs and spans carry ids, stages and reasons, never the response, the NameID or attribute values.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import secrets
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Final
from xml.sax.saxutils import quoteattr

import yarl

from auth.sso.claims import ClaimError
from auth.sso.connector import (
    IdpLogout,
    LogoutAnswered,
    LogoutRedirect,
    LogoutStart,
    Restart,
    SessionMatch,
    Started,
    StartRequest,
    Verified,
)
from auth.sso.identity import LogoutHandle
from auth.sso.models import VENDOR_AZURE_AD, VENDOR_OKTA, Connection
from auth.sso.pending import PendingLogin, PendingLogins
from auth.sso.refusal import Refusal
from auth.sso.return_to import ReturnToError, check_return_to
from auth.sso.saml.claims import assertion_claims, map_assertion
from auth.sso.saml.logout import (
    SUCCESS,
    InboundLogout,
    LogoutExpectations,
    LogoutMessage,
    NameId,
    logout_request_xml,
    logout_response_xml,
    read_logout_message,
    signed_redirect_url,
    slo_url_of,
)
from auth.sso.saml.replay import ReplayCache
from auth.sso.saml.validator import Expectations, SamlError, ValidAssertion, validate_response
from auth.sso.traces import STAGE_CLAIMS, Attempt
from meshkit.secretbox import SecretBox, SecretBoxError

STAGE_ACS: Final = "acs"
STAGE_ASSERTION: Final = "assertion"
STAGE_REPLAY: Final = "replay"
# A pending logout keeps its LogoutRequest id as "logout:<id>": no login response can answer it,
# and no LogoutResponse can answer a login.
LOGOUT_NONCE_PREFIX: Final = "logout:"
LOGOUT_REQUEST_SECONDS: Final = 300
# Bindings 3.4.3: RelayState MUST NOT exceed 80 bytes; ours is 43.
MAX_RELAY_STATE: Final = 80
_VENDOR_LABELS: Final = {VENDOR_OKTA: "Okta", VENDOR_AZURE_AD: "AzureAD"}


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
    """Bindings 3.4.4.1: raw DEFLATE (no zlib header), then base64. A 512-byte window and the
    smallest state: setting up zlib's default 256 KiB one cost four times as much as deflating
    the half-kilobyte request; any inflater reads a stream made with a smaller window."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -9, 1)
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
            raise Refusal("secret_unavailable", "IDMESH_ENCRYPTION_KEY is not configured",
                          unavailable=True)  # fmt: skip
        try:
            sp_private_key = secretbox.open(
                saml.sealed_sp_key, sp_key_associated_data(connection.id, connection.account_id)
            )
        except SecretBoxError as error:
            raise Refusal("secret_unavailable", str(error), unavailable=True) from None
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
class SamlPost:
    """What the browser POSTs to the ACS (bindings 3.5: HTTP-POST)."""

    saml_response: str = field(repr=False)
    relay_state: str = field(repr=False)
    browser_binding: str = field(repr=False)


class SamlConnector:
    protocol: Final = "saml"

    def __init__(
        self,
        *,
        pending: PendingLogins,
        replay: ReplayCache,
        secretbox: SecretBox | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._pending = pending
        self._replay = replay
        self._secretbox = secretbox
        self._clock = clock
        self._wall_clock = wall_clock

    def vendor_label(self, connection: Connection) -> str:
        assert connection.saml is not None
        return _VENDOR_LABELS.get(connection.saml.vendor, "SAML")

    async def start(self, connection: Connection, request: StartRequest) -> Started:
        """An AuthnRequest for ``connection`` and the pending login the ACS will answer."""
        saml = connection.saml
        assert saml is not None
        request_id = "_" + secrets.token_hex(20)
        begun = await self._pending.begin(
            connection, browser_binding=request.browser_binding, return_to=request.return_to,
            nonce=request_id, code_verifier="", redirect_uri=saml.acs_url,
            issuer=saml.idp_entity_id, test=request.test,
        )  # fmt: skip
        xml = authn_request(
            request_id, self._clock(), sp_entity_id=saml.sp_entity_id, acs_url=saml.acs_url,
            destination=saml.sso_url, name_id_format=saml.name_id_format,
        )  # fmt: skip
        url = yarl.URL(saml.sso_url).update_query(
            {"SAMLRequest": redirect_binding(xml), "RelayState": begun.state}
        )
        return Started(str(url), begun.browser_binding, begun.expire_time)

    async def verify(
        self, connection: Connection, post: SamlPost, attempt: Attempt
    ) -> Verified | Restart:
        """A validated, first-seen response answering this browser's pending login proves an
        Identity; a validated, first-seen unsolicited one (IdP-initiated on) asks for a restart;
        anything else is a Refusal, and the pending login stays as it was."""
        saml = connection.saml
        assert saml is not None
        attempt.stage = STAGE_ACS
        if not post.saml_response:
            raise Refusal("response_missing", "the ACS POST carries no SAMLResponse")
        pending = await self._pending_login(connection, post)
        # -- assertion: the checklist, off the event loop.
        attempt.stage = STAGE_ASSERTION
        request_id = pending.transaction.nonce if pending is not None else None
        expect = expectations(connection, request_id, self._secretbox)
        try:
            valid: ValidAssertion = await asyncio.to_thread(
                validate_response, post.saml_response, expect, self._wall_clock()
            )
        except SamlError as error:
            raise Refusal(error.reason, error.detail, clock_delta=error.clock_delta) from None
        attempt.clock_delta = valid.clock_delta
        attempt.claims = assertion_claims(valid)
        # -- replay: first use wins, across every replica.
        attempt.stage = STAGE_REPLAY
        ids = [("response", valid.response_id), ("assertion", valid.assertion_id)]
        if not await self._replay.claim(connection.id, ids, valid.expire_at):
            raise Refusal("replayed", "this response or assertion was already used")
        if not valid.in_response_to:
            # Unsolicited (the validator refuses it unless IdP-initiated login is on): no
            # session, and the pending login, if any, stays for its own answer.
            return Restart(_deep_link(post.relay_state))
        assert pending is not None  # the validator matched the signed InResponseTo to it
        # -- claims.
        attempt.stage = STAGE_CLAIMS
        try:
            identity = map_assertion(connection, valid)
        except ClaimError as error:
            raise Refusal(error.reason, str(error)) from None
        handle = LogoutHandle(
            saml_name_id=valid.name_id,
            saml_name_id_format=valid.name_id_format,
            saml_name_qualifier=valid.name_qualifier,
            saml_sp_name_qualifier=valid.sp_name_qualifier,
            saml_session_index=valid.session_index,
        )
        return Verified(replace(identity, logout=handle), pending, pending.transaction.return_to)

    async def _pending_login(self, connection: Connection, post: SamlPost) -> PendingLogin | None:
        """This browser's pending login that the RelayState names, not used up; None for an
        unsolicited POST (no RelayState, or the IdP's own deep link) on a connection that takes
        IdP-initiated logins."""
        saml = connection.saml
        assert saml is not None
        relay_state = post.relay_state
        if not relay_state:
            if not saml.allow_idp_initiated:
                raise Refusal(
                    "unsolicited_refused", "IdP-initiated login is off for this connection"
                )
            return None
        if len(relay_state) > MAX_RELAY_STATE:
            if saml.allow_idp_initiated:
                return None
            raise Refusal("relay_state_invalid", "the RelayState is longer than 80 bytes")
        pending = await self._pending.find(
            connection, relay_state, post.browser_binding, label="relay_state"
        )
        if pending is None and not saml.allow_idp_initiated:
            raise Refusal("relay_state_unknown", "no login was started with this RelayState")
        # Okta's "Default RelayState" and Entra's "Relay State" ride on IdP-initiated
        # responses: without a pending login of ours the response is simply unsolicited.
        return pending

    # -- Single Logout (saml-profiles 4.4) ------------------------------------------------------

    def _sp_key(self, connection: Connection) -> str:
        return expectations(connection, None, self._secretbox).sp_private_key

    async def logout_redirect(
        self, connection: Connection, start: LogoutStart
    ) -> LogoutRedirect | None:
        """SP-initiated: our signed LogoutRequest for the session's NameID and SessionIndex to
        the IdP's SLO URL, its id kept in a pending logout bound to this browser (the
        LogoutResponse must answer it); None when the IdP has no SLO URL."""
        saml = connection.saml
        assert saml is not None
        handle = start.logout
        if not saml.slo_url or not handle.saml_name_id:
            return None
        request_id = "_" + secrets.token_hex(20)
        begun = await self._pending.begin(
            connection, browser_binding=start.browser_binding, return_to="/",
            nonce=LOGOUT_NONCE_PREFIX + request_id, code_verifier="", redirect_uri=saml.slo_url,
            issuer=saml.idp_entity_id,
        )  # fmt: skip
        now = self._clock()
        xml = logout_request_xml(
            request_id, now, now + timedelta(seconds=LOGOUT_REQUEST_SECONDS),
            sp_entity_id=saml.sp_entity_id, destination=saml.slo_url,
            name_id=NameId(handle.saml_name_id, handle.saml_name_id_format,
                           handle.saml_name_qualifier, handle.saml_sp_name_qualifier),
            session_index=handle.saml_session_index,
        )  # fmt: skip
        url = await asyncio.to_thread(
            signed_redirect_url, saml.slo_url, "SAMLRequest", xml, begun.state,
            self._sp_key(connection),
        )  # fmt: skip
        return LogoutRedirect(
            url, begun.browser_binding,
            detail="a signed LogoutRequest was sent to the IdP's SingleLogoutService",
        )  # fmt: skip

    async def verify_logout(
        self, connection: Connection, message: LogoutMessage, attempt: Attempt
    ) -> IdpLogout | LogoutAnswered:
        """An IdP-initiated LogoutRequest (answered with our signed LogoutResponse), or the
        LogoutResponse to ours; either validated strictly (saml.logout), its id claimed in the
        shared replay cache."""
        saml = connection.saml
        assert saml is not None
        expect = LogoutExpectations(
            idp_entity_id=saml.idp_entity_id, certificates=saml.certificates,
            slo_url=slo_url_of(saml.acs_url), allow_sha1=saml.allow_sha1,
            skew_seconds=saml.clock_skew_seconds,
        )  # fmt: skip
        try:
            inbound = await asyncio.to_thread(
                read_logout_message, message, expect, self._wall_clock()
            )
        except SamlError as error:
            raise Refusal(error.reason, error.detail, clock_delta=error.clock_delta) from None
        if not inbound.is_request:
            return await self._answered(connection, message, inbound)
        if not await self._replay.claim(
            connection.id, [("logout_request", inbound.id)], inbound.expire_at
        ):
            raise Refusal("replayed", "this logout message was already received")
        answer_url = ""
        if saml.slo_url:
            xml = logout_response_xml(
                "_" + secrets.token_hex(20), self._clock(), in_response_to=inbound.id,
                sp_entity_id=saml.sp_entity_id, destination=saml.slo_url,
            )  # fmt: skip
            answer_url = await asyncio.to_thread(
                signed_redirect_url, saml.slo_url, "SAMLResponse", xml, inbound.relay_state,
                self._sp_key(connection),
            )  # fmt: skip
        return IdpLogout(
            SessionMatch(saml_name_id=inbound.name_id,
                         saml_session_indexes=inbound.session_indexes),
            subject=f"{saml.idp_entity_id}|{inbound.name_id}",
            answer_url=answer_url,
        )  # fmt: skip

    async def _answered(
        self, connection: Connection, message: LogoutMessage, inbound: InboundLogout
    ) -> LogoutAnswered:
        """The answer to this browser's pending logout: found first (a refused answer leaves
        it for the genuine one, as a login does), then its id claimed, then the logout used
        up."""
        pending = None
        if inbound.relay_state and len(inbound.relay_state) <= MAX_RELAY_STATE:
            pending = await self._pending.find(
                connection, inbound.relay_state, message.browser_binding, label="relay_state"
            )
        if pending is None or not pending.transaction.nonce.startswith(LOGOUT_NONCE_PREFIX):
            raise Refusal("relay_state_unknown", "no logout was started with this RelayState")
        request_id = pending.transaction.nonce.removeprefix(LOGOUT_NONCE_PREFIX)
        if not hmac.compare_digest(request_id.encode(), inbound.in_response_to.encode()):
            raise Refusal("in_response_to_mismatch", "the LogoutResponse answers another request")
        if not await self._replay.claim(
            connection.id, [("logout_response", inbound.id)], inbound.expire_at
        ):
            raise Refusal("replayed", "this logout message was already received")
        await self._pending.consume(pending)
        if not inbound.partial and inbound.status != SUCCESS:
            raise Refusal("idp_logout_failed", f"the IdP answered {inbound.status[-60:]}")
        return LogoutAnswered(partial=inbound.partial, return_to=pending.transaction.return_to)
