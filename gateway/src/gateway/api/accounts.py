"""``/api/v1/accounts``: the caller's own account."""

from __future__ import annotations

import grpc
from aiohttp import web

from gateway.api import schemas
from gateway.api.routing import Call, endpoint
from gateway.api.schemas import obj, string
from gateway.api.values import json_response
from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import NotFound

ACCOUNT_NAME_PARAM = {
    "type": "string",
    "pattern": "^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$",
    "description": "The account's name (a lower-case slug).",
}
schemas.define(
    "Account",
    obj(
        {"id": schemas.ID, "name": string(), "display_name": string()},
        required=("id", "name", "display_name"),
    ),
)


@endpoint(
    "Get the token's account",
    description="Any valid token of the account may read it (its name is what every client of "
    "the account already knows). Another account's name answers the same 404 as an unknown "
    "one, so a token cannot learn which other tenants exist.",
    response="Account",
    path_params={"name": ACCOUNT_NAME_PARAM},
)
async def get_account(call: Call) -> web.Response:
    name = call.path("name")
    not_found = NotFound(f"account {name!r} not found")
    try:
        response = await call.directory.GetAccount(pb.GetAccountRequest(name=name))
    except grpc.aio.AioRpcError as error:
        if error.code() is grpc.StatusCode.NOT_FOUND:
            raise not_found from None
        raise
    account = response.account
    if account.id != call.account_id:
        raise not_found
    return json_response(
        {"id": account.id, "name": account.name, "display_name": account.display_name}
    )
