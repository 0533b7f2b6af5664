"""The UserInfo endpoint (OIDC Core §5.3), asked after the ID token has passed every check.

Some IdPs put claims only there: Okta's custom profile attributes and groups unless they are
added to the ID token, and generic IdPs that keep tokens small. The answer is used only when its
``sub`` equals the ID token's exactly (§5.3.2: otherwise its values MUST NOT be used, since a
mix-up or substitution would hand one user's attributes to another); its claims are merged
UNDER the ID token's, so the signed token wins every conflict. The call is a traced CLIENT span
(auth.sso.http) and nothing of the answer is logged.
"""

from __future__ import annotations

import hmac
from typing import Any

from auth.sso.http import IdpHttp, IdpHttpError


class UserinfoError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


async def fetch_userinfo(http: IdpHttp, endpoint: str, access_token: str) -> dict[str, Any]:
    """The endpoint's JSON claims for ``access_token`` (RFC 6750 §2.1 bearer header)."""
    if not access_token:
        raise UserinfoError("userinfo_no_access_token", "the token response has no access_token")
    try:
        response = await http.get_json(
            endpoint, "userinfo", headers={"Authorization": f"Bearer {access_token}"}
        )
    except IdpHttpError as error:
        raise UserinfoError(error.reason, str(error)) from None
    if response.status != 200:
        raise UserinfoError("userinfo_failed", f"the userinfo endpoint answered {response.status}")
    return response.body


def merge_userinfo(id_token_claims: dict[str, Any], userinfo: dict[str, Any]) -> dict[str, Any]:
    """The ID token's claims over the userinfo answer's, once both name the same subject."""
    sub, received = id_token_claims.get("sub"), userinfo.get("sub")
    if not (
        isinstance(sub, str)
        and isinstance(received, str)
        and hmac.compare_digest(sub.encode(), received.encode())
    ):
        raise UserinfoError(
            "userinfo_sub_mismatch", "the userinfo answer names another subject than the ID token"
        )
    return {**userinfo, **id_token_claims}
