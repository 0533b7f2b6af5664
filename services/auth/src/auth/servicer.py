"""AuthService over gRPC: request fields in, models out, nothing more.

API token methods are here (validation in permissions/validation/pagination, SQL in store,
verification in verifier); the SSO methods come from auth.sso.servicer. Errors are meshkit
ServiceErrors mapped to status codes by the server's interceptor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import grpc

from auth import convert, pagination, tokens, validation
from auth.connection_events import ConnectionEvents
from auth.local.passwords import LocalPasswordMethods, LocalPasswords
from auth.models import NewApiToken
from auth.oauth.servicer import OAuth, OAuthMethods
from auth.permissions import validate_permissions
from auth.rate_buckets.servicer import RateBucketMethods
from auth.rate_buckets.store import RateBuckets
from auth.setup.servicer import SetupLinkMethods
from auth.setup.store import SetupLinkStore
from auth.sso.checks import ConnectionChecks
from auth.sso.servicer import Sso, SsoMethods
from auth.store import ApiTokenStore
from auth.verifier import ApiTokenVerifier
from idmesh.auth.v1 import auth_pb2, auth_pb2_grpc
from meshkit.errors import NotFound

logger = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext[Any, Any]


class AuthServiceServicer(
    ConnectionEvents,
    SsoMethods,
    ConnectionChecks,
    OAuthMethods,
    LocalPasswordMethods,
    SetupLinkMethods,
    RateBucketMethods,
    auth_pb2_grpc.AuthServiceServicer,
):
    """idmesh.auth.v1.AuthService: API tokens here, SSO from SsoMethods (whose connection
    changes ConnectionEvents reports to the change feed), OAuth clients and access tokens from
    OAuthMethods, the shared rate limits' buckets from RateBucketMethods."""

    def __init__(
        self,
        store: ApiTokenStore,
        verifier: ApiTokenVerifier,
        sso: Sso,
        oauth: OAuth,
        local_passwords: LocalPasswords,
        setup_links: SetupLinkStore,
        rate_buckets: RateBuckets,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._verifier = verifier
        self.sso = sso
        self.oauth = oauth
        self.local_passwords = local_passwords
        self.setup_links = setup_links
        self.rate_buckets = rate_buckets
        self._clock = clock

    async def CreateApiToken(
        self, request: auth_pb2.CreateApiTokenRequest, context: Context
    ) -> auth_pb2.CreateApiTokenResponse:
        account_id = validation.parse_uuid(request.account_id, "account_id")
        description = validation.validate_description(request.description)
        permissions = validate_permissions(request.permissions)
        expire_time = validation.validate_expire_time(
            convert.optional_datetime(request, "expire_time"), self._clock()
        )
        created_by = validation.validate_created_by(request.created_by)
        minted = tokens.mint_secret()
        token = await self._store.insert(
            NewApiToken(
                id=minted.token_id,
                account_id=account_id,
                description=description,
                permissions=permissions,
                secret_hash=minted.secret_hash,
                expire_time=expire_time,
                created_by=created_by,
            )
        )
        logger.info("API token %s created for account %s", token.id, token.account_id)
        return auth_pb2.CreateApiTokenResponse(token=convert.api_token(token), secret=minted.secret)

    async def ListApiTokens(
        self, request: auth_pb2.ListApiTokensRequest, context: Context
    ) -> auth_pb2.ListApiTokensResponse:
        account_id = validation.parse_uuid(request.account_id, "account_id")
        limit = pagination.page_size(request.page_size)
        after = pagination.decode_page_token(
            request.page_token, account_id, request.include_revoked
        )
        # One row more than asked says whether another page exists without a COUNT.
        page = await self._store.list_page(
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
        return auth_pb2.ListApiTokensResponse(
            tokens=[convert.api_token(token) for token in page], next_page_token=next_page_token
        )

    async def GetApiToken(
        self, request: auth_pb2.GetApiTokenRequest, context: Context
    ) -> auth_pb2.GetApiTokenResponse:
        account_id = validation.parse_uuid(request.account_id, "account_id")
        token_id = validation.parse_uuid(request.token_id, "token_id")
        token = await self._store.get(account_id, token_id)
        if token is None:
            raise NotFound("no such API token", field="token_id")
        return auth_pb2.GetApiTokenResponse(token=convert.api_token(token))

    async def RevokeApiToken(
        self, request: auth_pb2.RevokeApiTokenRequest, context: Context
    ) -> auth_pb2.RevokeApiTokenResponse:
        account_id = validation.parse_uuid(request.account_id, "account_id")
        token_id = validation.parse_uuid(request.token_id, "token_id")
        token = await self._store.revoke(account_id, token_id)
        if token is None:
            raise NotFound("no such API token", field="token_id")
        # Before answering: once the caller sees "revoked", this process no longer accepts it.
        self._verifier.evict(token_id)
        logger.info("API token %s of account %s revoked", token.id, token.account_id)
        return auth_pb2.RevokeApiTokenResponse(token=convert.api_token(token))

    async def VerifyApiToken(
        self, request: auth_pb2.VerifyApiTokenRequest, context: Context
    ) -> auth_pb2.VerifyApiTokenResponse:
        credentials = await self._verifier.verify(request.secret)
        return auth_pb2.VerifyApiTokenResponse(
            account_id=str(credentials.account_id),
            token_id=str(credentials.id),
            permissions=credentials.permissions,
        )
