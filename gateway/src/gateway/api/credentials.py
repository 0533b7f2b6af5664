"""``/api/v1/tokens`` and ``/api/v1/oauth-clients``: the account's credentials.

API tokens are long-lived bearer secrets (SCIM clients); OAuth clients are the client id and
secret a governance tool exchanges at ``POST /oauth/token`` (RFC 6749 §4.4; ConductorOne's
connector, seed 004). A secret is in the creation (or rotation) response and nowhere else,
ever; auth keeps its SHA-256 only. Both require ``tokens:manage``, and a caller can give a new
credential only permissions it holds itself, so ``tokens:manage`` is never a way to escalate.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web
from google.protobuf import timestamp_pb2

from gateway.api import schemas
from gateway.api.query import filters
from gateway.api.routing import Call, endpoint
from gateway.api.schemas import array, obj, string
from gateway.api.values import json_response, timestamp
from gateway.auth import has_permission
from gateway.oauth.token import TOKEN_PATH
from gateway.state import CONFIG
from idmesh.auth.v1 import auth_pb2
from meshkit.errors import InvalidArgument, PermissionDenied

_PERMISSION: Final = {
    "type": "string",
    "pattern": "^[a-z]+:[a-z]+$",
    "description": 'A permission such as "users:read" or "grants:manage".',
}
_PERMISSIONS: Final = array(_PERMISSION, minItems=1, maxItems=20, uniqueItems=True)
CLIENT_ID_PARAM: Final = {
    "type": "string",
    "pattern": "^idmc_[0-9a-f]{32}$",
    "description": "The OAuth client id.",
}
_DESCRIPTION: Final = string(200, pattern="^[^\\x00-\\x1f\\x7f]*$")

_TOKEN = schemas.define(
    "ApiToken",
    obj(
        {
            "id": schemas.ID,
            "description": string(200),
            "permissions": array(_PERMISSION),
            "create_time": schemas.TIMESTAMP,
            "expire_time": schemas.NULLABLE_TIMESTAMP,
            "revoke_time": schemas.NULLABLE_TIMESTAMP,
            "last_used_time": schemas.NULLABLE_TIMESTAMP,
            "created_by": string(200),
        },
        required=(
            "id",
            "description",
            "permissions",
            "create_time",
            "expire_time",
            "revoke_time",
            "last_used_time",
            "created_by",
        ),
    ),
)
schemas.page_of("ApiTokenList", _TOKEN)
schemas.define(
    "ApiTokenCreate",
    obj(
        {
            "description": _DESCRIPTION,
            "permissions": _PERMISSIONS,
            "expire_time": {**schemas.NULLABLE_TIMESTAMP, "description": "Null: never expires."},
        },
        required=("permissions",),
        additionalProperties=False,
    ),
)
schemas.define(
    "ApiTokenCreated",
    obj(
        {
            "token": _TOKEN,
            "secret": {"type": "string", "description": "The bearer secret: shown this once."},
        },
        required=("token", "secret"),
    ),
)
_CLIENT = schemas.define(
    "OAuthClient",
    obj(
        {
            "client_id": CLIENT_ID_PARAM,
            "description": string(200),
            "permissions": array(_PERMISSION),
            "create_time": schemas.TIMESTAMP,
            "rotate_time": schemas.NULLABLE_TIMESTAMP,
            "revoke_time": schemas.NULLABLE_TIMESTAMP,
            "last_used_time": schemas.NULLABLE_TIMESTAMP,
            "created_by": string(200),
        },
        required=(
            "client_id",
            "description",
            "permissions",
            "create_time",
            "rotate_time",
            "revoke_time",
            "last_used_time",
            "created_by",
        ),
    ),
)
schemas.page_of("OAuthClientList", _CLIENT)
schemas.define(
    "OAuthClientCreate",
    obj(
        {"description": _DESCRIPTION, "permissions": _PERMISSIONS},
        required=("permissions",),
        additionalProperties=False,
    ),
)
schemas.define(
    "OAuthClientSecret",
    obj(
        {
            "client": _CLIENT,
            "client_secret": {"type": "string", "description": "Shown this once."},
            "token_endpoint": {
                "type": "string",
                "format": "uri",
                "description": "Where the client exchanges its credentials (RFC 6749 §4.4).",
            },
        },
        required=("client", "client_secret", "token_endpoint"),
    ),
)

_LIST: Final = filters()


def _ts(value: timestamp_pb2.Timestamp) -> str | None:
    return timestamp(value)


def token_json(token: auth_pb2.ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "description": token.description,
        "permissions": list(token.permissions),
        "create_time": _ts(token.create_time),
        "expire_time": _ts(token.expire_time),
        "revoke_time": _ts(token.revoke_time),
        "last_used_time": _ts(token.last_used_time),
        "created_by": token.created_by,
    }


def client_json(client: auth_pb2.OAuthClient) -> dict[str, Any]:
    return {
        "client_id": client.id,
        "description": client.description,
        "permissions": list(client.permissions),
        "create_time": _ts(client.create_time),
        "rotate_time": _ts(client.rotate_time),
        "revoke_time": _ts(client.revoke_time),
        "last_used_time": _ts(client.last_used_time),
        "created_by": client.created_by,
    }


def _grantable(call: Call, permissions: list[str]) -> list[str]:
    """``permissions`` when the caller holds each of them; 403 otherwise."""
    lacking = [p for p in permissions if not has_permission(call.principal.permissions, p)]
    if lacking:
        raise PermissionDenied(
            f"A credential can only be given permissions the caller holds; lacking {lacking[0]!r}.",
            reason="insufficient_scope",
        )
    return permissions


def _created_by(call: Call) -> str:
    return f"admin API ({call.principal.token_id})"


def _page_size(call: Call) -> int:
    size = call.query.get("page_size")
    return size if isinstance(size, int) else 0


@endpoint(
    "List API tokens",
    description="Revoked tokens are left out.",
    query=_LIST,
    response="ApiTokenList",
)
async def list_api_tokens(call: Call) -> web.Response:
    response = await call.clients.auth.ListApiTokens(
        auth_pb2.ListApiTokensRequest(
            account_id=call.account_id,
            page_size=_page_size(call),
            page_token=call.query.text("page_token"),
        )
    )
    return json_response(
        {
            "items": [token_json(t) for t in response.tokens],
            "next_page_token": response.next_page_token or None,
        }
    )


@endpoint(
    "Create an API token",
    description="The secret is in this response only: copy it now.",
    body="ApiTokenCreate",
    example={"description": "Okta SCIM", "permissions": ["users:manage", "groups:manage"]},
    response="ApiTokenCreated",
    status=201,
)
async def create_api_token(call: Call) -> web.Response:
    request = auth_pb2.CreateApiTokenRequest(
        account_id=call.account_id,
        description=call.body.get("description") or "",
        permissions=_grantable(call, call.body["permissions"]),
        created_by=_created_by(call),
    )
    expire_time = call.body.get("expire_time")
    if expire_time:
        try:
            request.expire_time.FromJsonString(expire_time)
        except ValueError:
            raise InvalidArgument("must be an RFC 3339 time", field="expire_time") from None
    response = await call.clients.auth.CreateApiToken(request)
    return json_response(
        {"token": token_json(response.token), "secret": response.secret},
        status=201,
        location=f"/api/v1/tokens/{response.token.id}",
    )


@endpoint("Get an API token", response="ApiToken")
async def get_api_token(call: Call) -> web.Response:
    response = await call.clients.auth.GetApiToken(
        auth_pb2.GetApiTokenRequest(account_id=call.account_id, token_id=call.path("token_id"))
    )
    return json_response(token_json(response.token))


@endpoint("Revoke an API token", description="Takes effect within seconds.", response="ApiToken")
async def revoke_api_token(call: Call) -> web.Response:
    response = await call.clients.auth.RevokeApiToken(
        auth_pb2.RevokeApiTokenRequest(account_id=call.account_id, token_id=call.path("token_id"))
    )
    return json_response(token_json(response.token))


@endpoint(
    "List OAuth clients",
    description="Revoked clients are left out.",
    query=_LIST,
    response="OAuthClientList",
)
async def list_oauth_clients(call: Call) -> web.Response:
    response = await call.clients.auth.ListOAuthClients(
        auth_pb2.ListOAuthClientsRequest(
            account_id=call.account_id,
            page_size=_page_size(call),
            page_token=call.query.text("page_token"),
        )
    )
    return json_response(
        {
            "items": [client_json(c) for c in response.clients],
            "next_page_token": response.next_page_token or None,
        }
    )


def _secret_json(call: Call, client: auth_pb2.OAuthClient, secret: str) -> dict[str, Any]:
    return {
        "client": client_json(client),
        "client_secret": secret,
        "token_endpoint": call.request.config_dict[CONFIG].public_url + TOKEN_PATH,
    }


@endpoint(
    "Create an OAuth client",
    description="For the client-credentials grant (RFC 6749 §4.4). The secret is in this "
    "response only: copy the client id and secret into the governance tool now.",
    body="OAuthClientCreate",
    example={"description": "ConductorOne", "permissions": ["users:read", "grants:manage"]},
    response="OAuthClientSecret",
    status=201,
)
async def create_oauth_client(call: Call) -> web.Response:
    response = await call.clients.auth.CreateOAuthClient(
        auth_pb2.CreateOAuthClientRequest(
            account_id=call.account_id,
            description=call.body.get("description") or "",
            permissions=_grantable(call, call.body["permissions"]),
            created_by=_created_by(call),
        )
    )
    return json_response(
        _secret_json(call, response.client, response.client_secret),
        status=201,
        location=f"/api/v1/oauth-clients/{response.client.id}",
    )


@endpoint("Get an OAuth client", response="OAuthClient", path_params={"client_id": CLIENT_ID_PARAM})
async def get_oauth_client(call: Call) -> web.Response:
    response = await call.clients.auth.GetOAuthClient(
        auth_pb2.GetOAuthClientRequest(account_id=call.account_id, client_id=call.path("client_id"))
    )
    return json_response(client_json(response.client))


@endpoint(
    "Rotate an OAuth client's secret",
    description="A new secret, in this response only; the previous one stops working at once "
    "(access tokens already issued live out their ten minutes).",
    response="OAuthClientSecret",
    path_params={"client_id": CLIENT_ID_PARAM},
)
async def rotate_oauth_client_secret(call: Call) -> web.Response:
    response = await call.clients.auth.RotateOAuthClientSecret(
        auth_pb2.RotateOAuthClientSecretRequest(
            account_id=call.account_id, client_id=call.path("client_id")
        )
    )
    return json_response(_secret_json(call, response.client, response.client_secret))


@endpoint(
    "Revoke an OAuth client",
    description="No new access tokens; those issued live out their ten minutes.",
    response="OAuthClient",
    path_params={"client_id": CLIENT_ID_PARAM},
)
async def revoke_oauth_client(call: Call) -> web.Response:
    response = await call.clients.auth.RevokeOAuthClient(
        auth_pb2.RevokeOAuthClientRequest(
            account_id=call.account_id, client_id=call.path("client_id")
        )
    )
    return json_response(client_json(response.client))
