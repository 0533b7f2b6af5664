"""Driving the scim service the way the gateway does: an authenticated, account-scoped request
with a path relative to /scim/v2 (scim.proto HandleRequest). The request bodies Entra ID and Okta
send live in replays.py, shared with the end-to-end tests."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from idmesh.scim.v1 import scim_pb2, scim_pb2_grpc
from meshkit.channels import connect
from meshkit.server import GrpcServer
from scim.app import build_server as build_scim
from scim.directory import Directory
from tests.integration.scim.replays import Reply, entra_user, okta_user

__all__ = ["BASE_URL", "CORE", "ENTERPRISE", "Reply", "Scim", "created", "entra_user", "okta_user"]

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
BASE_URL = "https://idmesh.test/scim/v2"


class Scim:
    """SCIM requests of one account, as the gateway forwards them."""

    def __init__(self, stub: Any, account_id: str) -> None:
        self.stub = stub
        self.account_id = account_id

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
    ) -> Reply:
        pairs = list(query.items()) if isinstance(query, dict) else list(query or [])
        payload = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        response = await self.stub.HandleRequest(
            scim_pb2.HandleRequestRequest(
                account_id=self.account_id,
                token_id="token-1",
                permissions=["users:manage"],
                method=method,
                path=path,
                query=[scim_pb2.QueryParameter(name=n, value=v) for n, v in pairs],
                if_match=if_match,
                content_type=content_type if payload else "",
                body=payload,
                base_url=BASE_URL,
            )
        )
        parsed = json.loads(response.body) if response.body else None
        return Reply(response.status, parsed, response.etag, response.location)

    async def get(self, path: str, **query: str) -> Reply:
        return await self.request("GET", path, query=query)

    async def post(self, path: str, body: Any, **kwargs: Any) -> Reply:
        return await self.request("POST", path, body, **kwargs)

    async def put(self, path: str, body: Any, **kwargs: Any) -> Reply:
        return await self.request("PUT", path, body, **kwargs)

    async def patch(self, path: str, *operations: dict[str, Any], **kwargs: Any) -> Reply:
        body = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": list(operations),
        }
        return await self.request("PATCH", path, body, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("DELETE", path, **kwargs)


async def created(scim: Scim, body: dict[str, Any]) -> dict[str, Any]:
    """POSTs a user that must be created; its representation."""
    reply = await scim.post("/Users", body)
    assert reply.status == 201, reply.body
    return reply.body  # type: ignore[no-any-return]


@contextlib.asynccontextmanager
async def serving_scim(directory: Any) -> AsyncIterator[Any]:
    """A stub of an in-process scim server whose directory calls go to ``directory`` (no
    settings cache, so tests that change account settings see them at once)."""
    server = build_scim(
        Directory(directory, account_cache_ttl=0),
        host="127.0.0.1",
        port=0,
        server=GrpcServer("127.0.0.1", 0, drain_seconds=0, grace_seconds=1),
    )
    port = await server.start()
    channel = connect(f"127.0.0.1:{port}")
    try:
        yield scim_pb2_grpc.ScimServiceStub(channel)
    finally:
        await channel.close()
        await server.stop()
