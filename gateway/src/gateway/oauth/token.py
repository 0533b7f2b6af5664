"""``POST /oauth/token``: the client-credentials grant (RFC 6749 §4.4).

The client authenticates with HTTP Basic (``client_secret_basic``, §2.3.1, each part
form-url-decoded) or with ``client_id`` and ``client_secret`` in the form body
(``client_secret_post``), never both (§2.3: one method per request). ``scope`` (§3.3,
space-separated permissions) narrows the client's permissions; without it the token carries all
of them. auth checks the secret (constant time) and signs the JWT; this handler only parses and
answers.

Answers: §5.1 success JSON, §5.2 error JSON (``invalid_request``, ``invalid_client`` with 401
and a ``WWW-Authenticate: Basic`` challenge when the client tried Basic, ``invalid_grant`` is
never used by this grant, ``unsupported_grant_type``, ``invalid_scope``), always with
``Cache-Control: no-store`` and ``Pragma: no-cache``. 429 with Retry-After (RFC 6585 §4,
RFC 9110 §10.2.3) past the rate limit of the client id or of its account (gateway.oauth.limits).
The secret is never logged and never put in a span.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Final
from urllib.parse import unquote_plus

import grpc
from aiohttp import web
from multidict import MultiDictProxy

from gateway.forms import read_form
from gateway.oauth.keys import ACCESS_TOKEN_KEYS
from gateway.oauth.limits import TOKEN_RATE_LIMIT
from gateway.ratelimit import retry_after
from gateway.state import CLIENTS
from idmesh.auth.v1 import auth_pb2
from meshkit.errors import InvalidArgument, from_rpc_error

TOKEN_PATH: Final = "/oauth/token"
_Form = MultiDictProxy[Any]
_FORM: Final = "application/x-www-form-urlencoded"
_NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_BASIC_CHALLENGE: Final = 'Basic realm="idmesh", charset="UTF-8"'
_MAX_FIELD: Final = 512


class OAuthError(Exception):
    """An RFC 6749 §5.2 error answer."""

    def __init__(
        self, error: str, description: str, *, status: int = 400, challenge: bool = False
    ) -> None:
        super().__init__(error)
        self.error = error
        self.description = description
        self.status = status
        self.challenge = challenge

    def response(self) -> web.Response:
        headers = dict(_NO_STORE)
        if self.challenge:
            headers["WWW-Authenticate"] = _BASIC_CHALLENGE
        return web.json_response(
            {"error": self.error, "error_description": self.description},
            status=self.status,
            headers=headers,
        )


def _single(form: _Form, name: str) -> str | None:
    """The one value of ``name``; §3.2: "Request and response parameters MUST NOT be included
    more than once"."""
    values = form.getall(name, [])
    if len(values) > 1:
        raise OAuthError("invalid_request", f"The parameter {name} is repeated.")
    if not values:
        return None
    value = values[0]
    if not isinstance(value, str) or len(value) > _MAX_FIELD:
        raise OAuthError("invalid_request", f"The parameter {name} is invalid.")
    return value


def _basic_credentials(header: str) -> tuple[str, str]:
    _, _, encoded = header.partition(" ")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError(
            "invalid_client", "Malformed Basic credentials.", status=401, challenge=True
        ) from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise OAuthError(
            "invalid_client", "Malformed Basic credentials.", status=401, challenge=True
        )
    # §2.3.1: client id and secret are form-url-encoded before Basic encoding.
    return unquote_plus(client_id), unquote_plus(secret)


def client_credentials(authorization: str | None, form: _Form) -> tuple[str, str, bool]:
    """(client id, secret, whether Basic was used) of a token request."""
    posted_id, posted_secret = _single(form, "client_id"), _single(form, "client_secret")
    if authorization and authorization.lower().startswith("basic "):
        if posted_secret is not None:
            raise OAuthError("invalid_request", "Use one client authentication method, not two.")
        client_id, secret = _basic_credentials(authorization)
        if posted_id is not None and posted_id != client_id:
            raise OAuthError("invalid_request", "client_id differs from the Basic credentials.")
        return client_id, secret, True
    if not posted_id or not posted_secret:
        raise OAuthError(
            "invalid_client",
            "Client authentication is required (HTTP Basic or client_id and client_secret).",
            status=401,
            challenge=True,
        )
    return posted_id, posted_secret, False


async def token_handler(request: web.Request) -> web.Response:
    """RFC 6749 §4.4.2 access token request → §4.4.3 response."""
    try:
        return await _issue(request)
    except OAuthError as error:
        return error.response()


async def _issue(request: web.Request) -> web.Response:
    if request.content_type != _FORM:
        raise OAuthError("invalid_request", f"The request body must be {_FORM}.")
    try:
        form = await read_form(request)
    except InvalidArgument as error:
        raise OAuthError("invalid_request", f"{error.message}.") from None
    grant_type = _single(form, "grant_type")
    if grant_type is None:
        raise OAuthError("invalid_request", "grant_type is required.")
    client_id, secret, basic = client_credentials(request.headers.get("Authorization"), form)
    if grant_type != "client_credentials":
        raise OAuthError(
            "unsupported_grant_type", "This endpoint serves grant_type=client_credentials only."
        )
    scope = _single(form, "scope")
    limits = request.config_dict[TOKEN_RATE_LIMIT]
    # Client ids are short; a longer string is not one, and must not grow the bucket keys.
    throttled = await limits.take(client_id[:64])
    if throttled is not None:
        return web.json_response(
            {
                "error": "temporarily_unavailable",
                "error_description": f"Too many token requests for this {throttled.scope}; "
                "retry after the number of seconds in Retry-After.",
            },
            status=429,
            headers={**_NO_STORE, "Retry-After": retry_after(throttled.wait)},
        )
    keys = request.config_dict[ACCESS_TOKEN_KEYS]
    try:
        issued = await request.config_dict[CLIENTS].auth.IssueAccessToken(
            auth_pb2.IssueAccessTokenRequest(
                client_id=client_id,
                client_secret=secret,
                scopes=(scope or "").split(),
                issuer=keys.issuer,
                audience=keys.audience,
            )
        )
    except grpc.aio.AioRpcError as error:
        if error.code() == grpc.StatusCode.UNAUTHENTICATED:
            # §5.2: 401 for a failed client authentication; the challenge when Basic was used.
            raise OAuthError(
                "invalid_client", "Client authentication failed.", status=401, challenge=basic
            ) from None
        refused = from_rpc_error(error)
        if refused.reason == "invalid_scope":
            raise OAuthError("invalid_scope", refused.message) from None
        raise
    if issued.account_id:
        await limits.issued(client_id[:64], issued.account_id)
    return web.json_response(
        {
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
            "scope": " ".join(issued.scopes),
        },
        headers=_NO_STORE,
    )
