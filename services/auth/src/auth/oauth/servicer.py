"""The OAuth client RPCs of AuthService (a mixin, as SsoMethods): request fields in, models
out. Decisions live in auth.oauth.issuer, SQL in auth.oauth.store, keys in auth.oauth.signing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import grpc

from auth import convert, pagination, validation
from auth.oauth import secrets
from auth.oauth.issuer import AccessTokenIssuer, narrow_scopes
from auth.oauth.store import ClientCredentials, OAuthClient, OAuthClientStore
from auth.permissions import validate_permissions
from idmesh.auth.v1 import auth_pb2
from meshkit.errors import InvalidArgument, NotFound

logger = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext[Any, Any]


@dataclass
class OAuth:
    """The OAuth components of one process."""

    store: OAuthClientStore
    issuer: AccessTokenIssuer
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    _pending: set[asyncio.Task[None]] = field(default_factory=set)

    def touch_soon(self, client: ClientCredentials) -> None:
        task = asyncio.create_task(self._touch(client.id))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _touch(self, client_id: uuid.UUID) -> None:
        try:
            await self.issuer.touch(client_id)
        except Exception as error:  # cosmetic: the token was issued
            logger.warning(
                "could not record the last use of OAuth client: %s", type(error).__name__
            )

    async def aclose(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)


def oauth_client(client: OAuthClient) -> auth_pb2.OAuthClient:
    """The wire form of ``client``; unset timestamps stay unset."""
    message = auth_pb2.OAuthClient(
        id=secrets.format_client_id(client.id),
        account_id=str(client.account_id),
        description=client.description,
        permissions=client.permissions,
        create_time=convert.timestamp(client.create_time),
        created_by=client.created_by,
    )
    for name in ("rotate_time", "revoke_time", "last_used_time"):
        value = getattr(client, name)
        if value is not None:
            getattr(message, name).CopyFrom(convert.timestamp(value))
    return message


def _client_uuid(client_id: str) -> uuid.UUID:
    parsed = secrets.parse_client_id(client_id)
    if parsed is None:
        raise InvalidArgument("must be an OAuth client id (idmc_...)", field="client_id")
    return parsed


class OAuthMethods:
    """The OAuth RPCs of AuthService; ``oauth`` is set by the servicer's constructor."""

    oauth: OAuth

    async def CreateOAuthClient(
        self, request: auth_pb2.CreateOAuthClientRequest, context: Context
    ) -> auth_pb2.CreateOAuthClientResponse:
        account_id = validation.parse_uuid(request.account_id, "account_id")
        description = validation.validate_description(request.description)
        permissions = validate_permissions(request.permissions)
        created_by = validation.validate_created_by(request.created_by)
        secret, secret_hash = secrets.mint_secret()
        client = await self.oauth.store.insert(
            uuid.uuid4(), account_id, description, permissions, secret_hash, created_by
        )
        logger.info("OAuth client %s created for account %s", client.id, client.account_id)
        return auth_pb2.CreateOAuthClientResponse(client=oauth_client(client), client_secret=secret)

    async def ListOAuthClients(
        self, request: auth_pb2.ListOAuthClientsRequest, context: Context
    ) -> auth_pb2.ListOAuthClientsResponse:
        account_id = validation.parse_uuid(request.account_id, "account_id")
        limit = pagination.page_size(request.page_size)
        after = pagination.decode_page_token(
            request.page_token, account_id, request.include_revoked
        )
        page = await self.oauth.store.list_page(
            account_id, limit=limit + 1, after=after, include_revoked=request.include_revoked
        )
        next_page_token = ""
        if len(page) > limit:
            page = page[:limit]
            last = page[-1]
            next_page_token = pagination.encode_page_token(
                account_id,
                request.include_revoked,
                pagination.Cursor(create_time=last.create_time, id=last.id),
            )
        return auth_pb2.ListOAuthClientsResponse(
            clients=[oauth_client(c) for c in page], next_page_token=next_page_token
        )

    async def GetOAuthClient(
        self, request: auth_pb2.GetOAuthClientRequest, context: Context
    ) -> auth_pb2.GetOAuthClientResponse:
        account_id = validation.parse_uuid(request.account_id, "account_id")
        client = await self.oauth.store.get(account_id, _client_uuid(request.client_id))
        if client is None:
            raise NotFound("no such OAuth client", field="client_id")
        return auth_pb2.GetOAuthClientResponse(client=oauth_client(client))

    async def RotateOAuthClientSecret(
        self, request: auth_pb2.RotateOAuthClientSecretRequest, context: Context
    ) -> auth_pb2.RotateOAuthClientSecretResponse:
        account_id = validation.parse_uuid(request.account_id, "account_id")
        client_uuid = _client_uuid(request.client_id)
        secret, secret_hash = secrets.mint_secret()
        client = await self.oauth.store.rotate(account_id, client_uuid, secret_hash)
        if client is None:
            raise NotFound("no such OAuth client", field="client_id")
        logger.info("OAuth client %s of account %s rotated", client.id, client.account_id)
        return auth_pb2.RotateOAuthClientSecretResponse(
            client=oauth_client(client), client_secret=secret
        )

    async def RevokeOAuthClient(
        self, request: auth_pb2.RevokeOAuthClientRequest, context: Context
    ) -> auth_pb2.RevokeOAuthClientResponse:
        account_id = validation.parse_uuid(request.account_id, "account_id")
        client = await self.oauth.store.revoke(account_id, _client_uuid(request.client_id))
        if client is None:
            raise NotFound("no such OAuth client", field="client_id")
        logger.info("OAuth client %s of account %s revoked", client.id, client.account_id)
        return auth_pb2.RevokeOAuthClientResponse(client=oauth_client(client))

    async def IssueAccessToken(
        self, request: auth_pb2.IssueAccessTokenRequest, context: Context
    ) -> auth_pb2.IssueAccessTokenResponse:
        issuer = self.oauth.issuer
        client = await issuer.authenticate(request.client_id, request.client_secret)
        scopes = narrow_scopes(client.permissions, request.scopes)
        token = issuer.sign(
            client, scopes, issuer=request.issuer, audience=request.audience, now=self.oauth.clock()
        )
        self.oauth.touch_soon(client)
        return auth_pb2.IssueAccessTokenResponse(
            access_token=token,
            expires_in=issuer.keys.token_ttl_seconds,
            scopes=scopes,
            account_id=str(client.account_id),
        )

    async def GetSigningKeys(
        self, request: auth_pb2.GetSigningKeysRequest, context: Context
    ) -> auth_pb2.GetSigningKeysResponse:
        keys = self.oauth.issuer.keys
        return auth_pb2.GetSigningKeysResponse(
            jwks_json=json.dumps(keys.public_jwks(), separators=(",", ":")),
            access_token_ttl_seconds=keys.token_ttl_seconds,
        )
