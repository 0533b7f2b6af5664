"""The authorization code exchange (RFC 6749 §4.1.3 with PKCE, RFC 7636 §4.5), authenticated
with client_secret_basic (RFC 6749 §2.3.1: id and secret form-urlencoded, then HTTP Basic).

Only the OAuth ``error`` code of a refusal is kept (for the login trace), never the body: some
IdPs echo the request, code included.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import quote

from auth.sso.http import IdpHttp, IdpHttpError

_ERROR_CODE: Final = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class TokenExchangeError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class TokenResponse:
    id_token: str = field(repr=False)
    token_type: str
    # For the userinfo endpoint only; never stored.
    access_token: str = field(default="", repr=False)


def basic_authorization(client_id: str, client_secret: str) -> str:
    """The Authorization header value of client_secret_basic."""
    raw = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def oauth_error(body: dict[str, object]) -> str:
    """The ``error`` code of an OAuth error response, if it is a plain code."""
    code = body.get("error")
    return code if isinstance(code, str) and _ERROR_CODE.match(code) else "unknown"


async def exchange_code(
    http: IdpHttp,
    token_endpoint: str,
    *,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
    code_verifier: str,
) -> TokenResponse:
    try:
        response = await http.post_form(
            token_endpoint,
            "token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
            },
            headers={"Authorization": basic_authorization(client_id, client_secret)},
        )
    except IdpHttpError as error:
        raise TokenExchangeError(error.reason, str(error)) from None
    if response.status != 200:
        raise TokenExchangeError(
            "token_exchange_failed",
            f"the token endpoint answered {response.status} error={oauth_error(response.body)}",
        )
    id_token = response.body.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise TokenExchangeError("id_token_missing", "the token response has no id_token")
    token_type = response.body.get("token_type")
    access_token = response.body.get("access_token")
    return TokenResponse(
        id_token,
        token_type if isinstance(token_type, str) else "",
        access_token if isinstance(access_token, str) else "",
    )
