"""Hostile OIDC callback input (issue "Under load, faults and hostile input it keeps working and
loses nothing"; docs/sso-security.md §1): whatever a browser brings back as state, code,
iss and error, the flow refuses with LoginFailed (403 "sign-in failed" with a trace id) and
records one login trace whose reason is a stable word and whose detail quotes none of the
values sent; never another exception (a 500).

The stores and the IdP are in-memory fakes: one live transaction whose state is known, so
arbitrary values meet every check (unknown state, other browser, error codes, RFC 9207 iss,
the code exchange, and the IdP's answer to an arbitrary code fed to the ID token checks).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, Final, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auth.sso.oidc.connector import CallbackParams, OidcConnector
from auth.sso.oidc.jwks import SigningKeyError
from auth.sso.pending import PendingLogins
from auth.sso.pipeline import LoginPipeline
from auth.sso.refusal import LoginFailed

CONNECTION_ID: Final = uuid.UUID("8d1c0e1e-5c4e-4d7e-9a57-6a8d4e0f0c11")
ACCOUNT_ID: Final = uuid.UUID("1b7e0c2a-3d4f-4e5a-8b6c-7d8e9f0a1b2c")
ISSUER: Final = "https://idp.acme.test"
REDIRECT_URI: Final = f"https://id.example.test/sso/oidc/{CONNECTION_ID}/callback"
STATE: Final = "s" * 43
BINDING: Final = "b" * 43
REASON: Final = re.compile(r"^[a-z][a-z0-9_]*$")
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


class Transactions:
    """One live transaction, for STATE from BINDING; every other state is unknown."""

    async def consume(self, state_hash: bytes) -> bool:
        return state_hash == _digest(STATE)

    async def find(self, state_hash: bytes) -> Any:
        if state_hash != _digest(STATE):
            return None
        now = datetime.now(UTC)
        return SimpleNamespace(
            connection_id=CONNECTION_ID,
            account_id=ACCOUNT_ID,
            binding_hash=_digest(BINDING),
            nonce="n" * 32,
            code_verifier="v" * 43,
            redirect_uri=REDIRECT_URI,
            return_to="/me",
            issuer=ISSUER,
            create_time=now,
            expire_time=now + timedelta(minutes=10),
            expired=False,
            already_consumed=False,
        )


class Connections:
    async def for_login(self, connection_id: uuid.UUID) -> Any:
        oidc = SimpleNamespace(
            issuer=ISSUER,
            discovery_url=f"{ISSUER}/.well-known/openid-configuration",
            client_id="idmesh",
            scopes=("openid", "email"),
            vendor="generic",
            entra_tenant_id="",
            allowed_tenant_ids=(),
            signing_algorithms=("RS256",),
            client_secret=b"sealed",
            multi_tenant=False,
            userinfo=False,
        )
        return SimpleNamespace(
            id=connection_id,
            account_id=ACCOUNT_ID,
            enabled=True,
            oidc=oidc,
            name="acme",
            protocol="oidc",
        )


class Discovery:
    async def get(self, discovery_url: str, issuer: str) -> Any:
        return SimpleNamespace(
            issuer=ISSUER,
            authorization_endpoint=f"{ISSUER}/authorize",
            token_endpoint=f"{ISSUER}/token",
            jwks_uri=f"{ISSUER}/jwks",
            iss_parameter_supported=True,
            code_challenge_methods=("S256",),
        )


class Idp:
    """The IdP's token endpoint: refuses codes starting with "x", else answers the code itself
    as the id_token (so arbitrary text reaches the ID token checks)."""

    async def post_form(
        self, url: str, what: str, data: dict[str, str], headers: dict[str, str]
    ) -> Any:
        code = data["code"]
        if code.startswith("x"):
            return SimpleNamespace(status=400, body={"error": "invalid_grant"}, headers={})
        return SimpleNamespace(
            status=200, body={"id_token": code, "token_type": "Bearer"}, headers={}
        )


class Jwks:
    async def key_for(self, jwks_uri: str, kid: str | None, alg: str) -> Any:
        raise SigningKeyError("unknown_kid", "no key of the IdP has this kid")


class Secretbox:
    def open(self, sealed: bytes, associated_data: bytes) -> str:
        return "client-secret"


class Traces:
    def __init__(self) -> None:
        self.recorded: list[tuple[str, str]] = []

    async def record(
        self, attempt: Any, *, reason: str = "", detail: str = "", outcome: str = ""
    ) -> str:
        self.recorded.append((reason, detail))
        return "0" * 32


def _finish(traces: Traces, params: CallbackParams) -> Any:
    """The callback through the login pipeline and the OIDC connector, as auth wires them."""
    pending = PendingLogins(
        cast(Any, Transactions()), timedelta(minutes=10), lambda: datetime.now(UTC)
    )
    pipeline = LoginPipeline(
        pending=pending,
        sessions=cast(Any, None),
        traces=cast(Any, traces),
        directory=cast(Any, None),
        clock=lambda: datetime.now(UTC),
    )
    connector = OidcConnector(
        pending=pending,
        http=cast(Any, Idp()),
        discovery=cast(Any, Discovery()),
        jwks=cast(Any, Jwks()),
        secretbox=cast(Any, Secretbox()),
    )

    async def run() -> Any:
        connection = await Connections().for_login(CONNECTION_ID)
        return await pipeline.finish(connection, connector, params)

    return asyncio.run(run())


def _refused(params: CallbackParams) -> tuple[str, str]:
    """Runs the callback; it must raise LoginFailed after recording exactly one trace."""
    traces = Traces()
    with pytest.raises(LoginFailed):
        _finish(traces, params)
    assert len(traces.recorded) == 1
    reason, detail = traces.recorded[0]
    assert REASON.match(reason), reason
    return reason, detail


ANY_TEXT = st.text(max_size=60) | st.sampled_from(["", "%00", "\x00", "é" * 5, "a" * 5000])
JWT_LIKE = st.lists(
    st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=", max_size=40
    ),
    min_size=1,
    max_size=5,
).map(".".join)


def mostly(valid: str, other: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """``valid`` three times in four, so that later checks see arbitrary values too."""
    return st.integers(0, 3).flatmap(lambda i: st.just(valid) if i else other)


@SETTINGS
@given(
    state=mostly(STATE, ANY_TEXT),
    binding=mostly(BINDING, ANY_TEXT),
    code=ANY_TEXT | JWT_LIKE | st.sampled_from(["eyJhbGciOiJub25lIn0.e30.", "x"]),
    iss=mostly(ISSUER, st.sampled_from(["", ISSUER + "/"]) | ANY_TEXT),
    error=mostly("", st.sampled_from(["access_denied", "<script>", "a" * 100]) | ANY_TEXT),
)
def test_any_callback_values_are_a_login_failure_with_a_stable_reason(
    state: str, binding: str, code: str, iss: str, error: str
) -> None:
    """sso-security.md §1: state single-use and bound to the browser, error codes passed on
    only when they are plain codes, RFC 9207 iss checked, any code and any token the IdP
    answers refused with a reason; the detail never echoes the state, code or error sent."""
    reason, detail = _refused(
        CallbackParams(
            redirect_uri=REDIRECT_URI,
            state=state,
            code=code,
            iss=iss,
            error=error,
            browser_binding=binding,
        )
    )
    for sent in (state, code, iss):
        if len(sent) >= 8:
            assert sent not in detail, reason
    if len(error) >= 8 and not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", error):
        assert error not in detail


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("state", "", "state_missing"),
        ("state", "s" * 5000, "state_unknown"),
        ("browser_binding", "", "browser_mismatch"),
        ("error", "access_denied", "idp_error"),
        ("error", "<img src=x onerror=alert(1)>", "idp_error"),
        ("iss", "https://evil.test", "response_iss_mismatch"),
        ("iss", "", "response_iss_missing"),
        ("code", "", "code_missing"),
        ("code", "x-refused", "token_exchange_failed"),
        ("code", "not a jwt", "id_token_malformed"),
    ],
)
def test_each_hostile_callback_value_is_refused_with_its_reason(
    field: str, value: str, reason: str
) -> None:
    """sso-security.md §1 checklist rows, one hostile value at a time from a live transaction."""
    values = {
        "redirect_uri": REDIRECT_URI,
        "state": STATE,
        "code": "a.b.c",
        "iss": ISSUER,
        "error": "",
        "browser_binding": BINDING,
        field: value,
    }
    got, detail = _refused(CallbackParams(**values))
    assert got == reason or (reason == "id_token_malformed" and got.startswith("id_token")), got
    assert "<img" not in detail
