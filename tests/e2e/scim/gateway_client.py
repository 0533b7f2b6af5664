"""A SCIM client of the real gateway over HTTP, with the same ``request`` as the in-process
harness (tests/integration/scim/replays.Client), so the replays of Entra ID and Okta run
through the front door unchanged.

It behaves like the client it stands for where the gateway could tell: Entra sends no
User-Agent (docs/scim-clients.md §2 "Auth and transport"), Okta sends "Okta SCIM Client
1.0.0" (§5 row 2).
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import aiohttp

from tests.integration.scim.replays import Reply

ENTRA = None
OKTA_USER_AGENT = "Okta SCIM Client 1.0.0"
_SECRET = re.compile(r"idm_(?P<token_id>[0-9a-f]{32})_")


def token_id_of(secret: str) -> str:
    """The id of the API token a secret belongs to (auth embeds it in the secret)."""
    match = _SECRET.match(secret)
    assert match, "not an idmesh API token secret"
    return str(uuid.UUID(match.group("token_id")))


class GatewayScim:
    """SCIM requests of one account through ``{gateway}/scim/v2`` with a bearer token."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        gateway_url: str,
        token: str,
        *,
        user_agent: str | None = ENTRA,
    ) -> None:
        self.http = http
        self.base_url = f"{gateway_url}/scim/v2"
        self.token = token
        self.user_agent = user_agent

    @property
    def token_id(self) -> str:
        return token_id_of(self.token)

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, str] | list[tuple[str, str]] | None = None,
        if_match: str = "",
        content_type: str = "application/scim+json",
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        pairs = list(query.items()) if isinstance(query, dict) else list(query or [])
        payload = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        sent = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        skip = []
        if self.user_agent is None:
            skip.append("User-Agent")
        else:
            sent["User-Agent"] = self.user_agent
        if payload is not None:
            sent["Content-Type"] = content_type
        if if_match:
            sent["If-Match"] = if_match
        async with self.http.request(
            method,
            self.base_url + path,
            params=[(name, value) for name, value in pairs],
            data=payload,
            headers=sent,
            skip_auto_headers=skip,
        ) as response:
            text = await response.read()
            if text:
                assert response.content_type == "application/scim+json", (
                    f"{method} {path} answered {response.content_type}"
                )
            parsed = json.loads(text) if text else None
            return Reply(
                response.status,
                parsed,
                response.headers.get("ETag", ""),
                response.headers.get("Location", ""),
            )
