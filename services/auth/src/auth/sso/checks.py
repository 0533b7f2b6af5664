"""TestConnection: what an admin runs after pasting values from the IdP, to learn what is wrong
before a user's login fails. OIDC here (the discovery document, its issuer, the JWKS, PKCE, the
secret); SAML in auth.sso.saml.checks.

Read-only: nothing is stored, and the discovery cache entry is refreshed, never poisoned.
"""

from __future__ import annotations

from typing import Any

import grpc

from auth.sso.http import IdpHttpError
from auth.sso.models import OidcConfig
from auth.sso.oidc.discovery import DiscoveryError
from auth.sso.saml.checks import check_saml
from auth.sso.servicer import Sso
from auth.validation import parse_uuid
from idmesh.auth.v1 import auth_pb2
from meshkit.errors import FailedPrecondition

Context = grpc.aio.ServicerContext[Any, Any]


def _check(name: str, ok: bool, detail: str) -> auth_pb2.ConnectionCheck:
    return auth_pb2.ConnectionCheck(name=name, ok=ok, detail=detail)


async def check_oidc(sso: Sso, oidc: OidcConfig) -> list[auth_pb2.ConnectionCheck]:
    """The checks of one OIDC connection, in the order a login meets them."""
    checks = [
        _check(
            "client_secret",
            oidc.client_secret is not None,
            "a client secret is stored (encrypted)"
            if oidc.client_secret is not None
            else "no client secret is stored: recreate the connection with the IdP's secret",
        )
    ]
    if oidc.multi_tenant:
        checks.append(
            _check(
                "discovery",
                True,
                "multi-tenant Entra issuer template: discovery is checked per tenant at login",
            )
        )
        return checks
    sso.discovery.forget(oidc.discovery_url, oidc.issuer)
    try:
        metadata = await sso.discovery.get(oidc.discovery_url, oidc.issuer)
    except DiscoveryError as error:
        reason = error.reason
        name = "issuer" if reason == "discovery_issuer_mismatch" else "discovery"
        hint = (
            " Copy the issuer exactly as the IdP's discovery document states it (trailing "
            "slash included)."
            if name == "issuer"
            else ""
        )
        checks.append(_check(name, False, f"{oidc.discovery_url}: {error}.{hint}"))
        return checks
    checks.append(_check("discovery", True, f"fetched {oidc.discovery_url}"))
    checks.append(_check("issuer", True, f"the document's issuer is {metadata.issuer}"))
    try:
        jwks = await sso.http.get_json(metadata.jwks_uri, "jwks")
        keys = jwks.body.get("keys")
        count = len(keys) if isinstance(keys, list) else 0
        checks.append(
            _check(
                "jwks",
                count > 0,
                f"{metadata.jwks_uri} publishes {count} key(s)"
                if count
                else f"{metadata.jwks_uri} publishes no keys",
            )
        )
    except IdpHttpError as error:
        checks.append(_check("jwks", False, f"{metadata.jwks_uri}: {error}"))
    s256 = "S256" in metadata.code_challenge_methods
    checks.append(
        _check(
            "pkce",
            s256 or not metadata.code_challenge_methods,
            "the IdP supports PKCE S256"
            if s256
            else "the IdP does not advertise code_challenge_methods_supported; PKCE S256 is "
            "sent anyway"
            if not metadata.code_challenge_methods
            else "the IdP does not support PKCE S256",
        )
    )
    return checks


class ConnectionChecks:
    """The TestConnection RPC of AuthService (a mixin; ``sso`` set by the servicer)."""

    sso: Sso

    async def TestConnection(
        self, request: auth_pb2.TestConnectionRequest, context: Context
    ) -> auth_pb2.TestConnectionResponse:
        connection = await self.sso.connections.get(
            parse_uuid(request.account_id, "account_id"),
            parse_uuid(request.connection_id, "connection_id"),
        )
        if connection.oidc is not None:
            checks = await check_oidc(self.sso, connection.oidc)
        elif connection.saml is not None:
            checks = await check_saml(self.sso.http, connection.saml)
        else:
            raise FailedPrecondition("the connection has no protocol", field="connection_id")
        return auth_pb2.TestConnectionResponse(ok=all(c.ok for c in checks), checks=checks)
