"""A small OpenID Provider in-process, for integration tests that must control every byte of
the ID token (the forgeries of the checklist) or count JWKS fetches. The end-to-end suite uses
the real, certified oidc-provider instead (tests/idps/oidc/server.mjs).

Endpoints on 127.0.0.1:<port>: discovery, JWKS, ``/authorize`` (signs the user in at once and
redirects with code, state and the RFC 9207 ``iss``), ``/token`` (client_secret_basic, PKCE
S256, single-use codes; the ID token is built by ``forge``, which tests may replace).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from aiohttp import web
from yarl import URL

from tests.idps.oidc import tokens


@dataclass
class Grant:
    """What /authorize recorded for a code: the test's view of one login."""

    client_id: str
    redirect_uri: str
    nonce: str
    code_challenge: str
    code_challenge_method: str
    login_hint: str
    scope: str
    claims: dict[str, Any]
    used: bool = False


Forge = Callable[["FakeIdp", Grant], str]


def signed_token(idp: FakeIdp, grant: Grant) -> str:
    """The default: a correct ID token signed with the first published key."""
    claims = {"email_domain": idp.email_domain, **grant.claims}
    body = tokens.claims(idp.issuer, grant.client_id, grant.nonce, **claims)
    return tokens.sign(body, idp.signing_key)


@dataclass
class FakeIdp:
    client_id: str = "idmesh-test"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    issuer: str = ""
    signing_key: tokens.SigningKey = field(default_factory=lambda: tokens.rsa_key("k1"))
    published: list[tokens.SigningKey] = field(default_factory=list)
    send_iss: bool = True
    advertise_iss: bool = True
    # Claims the next logins get, by login_hint (else ``default_claims``).
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    default_claims: dict[str, Any] = field(default_factory=dict)
    # The domain of the emails it asserts by default: the tenant's verified domain.
    email_domain: str = "acme.test"
    # What the userinfo endpoint answers besides the login's sub (a "sub" here replaces the
    # login's: a substitution the relying party must refuse).
    userinfo_claims: dict[str, Any] = field(default_factory=dict)
    _userinfo: dict[str, dict[str, Any]] = field(default_factory=dict)
    forge: Forge = signed_token
    jwks_fetches: int = 0
    token_requests: int = 0
    grants: dict[str, Grant] = field(default_factory=dict)
    _runner: web.AppRunner | None = None

    def __post_init__(self) -> None:
        if not self.published:
            self.published = [self.signing_key]

    def reset(self) -> None:
        """Back to a well-behaved IdP (tests share one instance)."""
        self.signing_key = tokens.rsa_key("k1")
        self.published = [self.signing_key]
        self.send_iss = self.advertise_iss = True
        self.forge = signed_token
        self.users.clear()
        self.default_claims = {}
        self.userinfo_claims = {}

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/.well-known/openid-configuration", self._discovery)
        app.router.add_get("/jwks", self._jwks)
        app.router.add_get("/authorize", self._authorize)
        app.router.add_post("/token", self._token)
        app.router.add_get("/userinfo", self._userinfo_endpoint)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.issuer = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _discovery(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "code_challenge_methods_supported": ["S256"],
                "id_token_signing_alg_values_supported": ["RS256", "ES256"],
                "authorization_response_iss_parameter_supported": self.advertise_iss,
                "userinfo_endpoint": f"{self.issuer}/userinfo",
            }
        )

    async def _jwks(self, request: web.Request) -> web.Response:
        self.jwks_fetches += 1
        return web.json_response(tokens.key_set(*self.published))

    async def _authorize(self, request: web.Request) -> web.Response:
        query = request.query
        if query.get("response_type") != "code" or query.get("client_id") != self.client_id:
            return web.json_response({"error": "invalid_request"}, status=400)
        login = query.get("login_hint", "")
        claims = dict(self.users.get(login, self.default_claims))
        code = secrets.token_urlsafe(24)
        self.grants[code] = Grant(
            client_id=self.client_id,
            redirect_uri=query["redirect_uri"],
            nonce=query.get("nonce", ""),
            code_challenge=query.get("code_challenge", ""),
            code_challenge_method=query.get("code_challenge_method", ""),
            login_hint=login,
            scope=query.get("scope", ""),
            claims=claims,
        )
        params = {"code": code, "state": query.get("state", "")}
        if self.send_iss:
            params["iss"] = self.issuer
        location = URL(query["redirect_uri"]).update_query(params)
        raise web.HTTPFound(str(location))

    async def _userinfo_endpoint(self, request: web.Request) -> web.Response:
        """OIDC Core §5.3.1: the claims of the access token's login (RFC 6750 bearer)."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        claims = self._userinfo.get(token) if scheme == "Bearer" else None
        if claims is None:
            return web.json_response({"error": "invalid_token"}, status=401)
        return web.json_response(claims)

    async def _token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        form = await request.post()
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Basic":
            return web.json_response({"error": "invalid_client"}, status=401)
        client_id, _, secret = base64.b64decode(credentials).decode().partition(":")
        if unquote(client_id) != self.client_id or unquote(secret) != self.client_secret:
            return web.json_response({"error": "invalid_client"}, status=401)
        grant = self.grants.get(str(form.get("code", "")))
        if grant is None or grant.used:
            return web.json_response({"error": "invalid_grant"}, status=400)
        grant.used = True
        if form.get("redirect_uri") != grant.redirect_uri:
            return web.json_response({"error": "invalid_grant"}, status=400)
        verifier = str(form.get("code_verifier", ""))
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if grant.code_challenge_method != "S256" or challenge.decode().rstrip("=") != (
            grant.code_challenge
        ):
            return web.json_response({"error": "invalid_grant"}, status=400)
        access_token = secrets.token_urlsafe(16)
        self._userinfo[access_token] = {
            "sub": grant.claims.get("subject", "alice"),
            **self.userinfo_claims,
        }
        return web.json_response(
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": self.forge(self, grant),
                "issued_at": int(time.time()),
            }
        )
