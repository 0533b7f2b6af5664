"""Reading the change feed in end-to-end tests: a WatchEvents stream on the mesh's directory,
and the SCIM and admin API calls that make changes through the gateway."""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp

from idmesh.directory.v1 import events_pb2, events_pb2_grpc
from infra.dev.mesh import Mesh
from meshkit.channels import connect


def watch(mesh: Mesh, account_id: str, after: int = 0) -> Any:
    """A WatchEvents call (an async iterator of events) and its channel, to close after."""
    channel = connect(mesh.address("directory"), timeout=120)
    stream = events_pb2_grpc.EventServiceStub(channel).WatchEvents(
        events_pb2.WatchEventsRequest(account_id=account_id, after_cursor=after)
    )
    return stream, channel


async def last_cursor(mesh: Mesh, account_id: str) -> int:
    async with connect(mesh.address("directory")) as channel:
        stub = events_pb2_grpc.EventServiceStub(channel)
        after = 0
        while True:
            page = await stub.ListEvents(
                events_pb2.ListEventsRequest(account_id=account_id, after_cursor=after, limit=1000)
            )
            if not page.events:
                return after
            after = page.next_cursor


async def scim_create_user(http: aiohttp.ClientSession, mesh: Mesh, token: str) -> str:
    async with http.post(
        f"{mesh.gateway_url}/scim/v2/Users",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": f"scim-{uuid.uuid4().hex[:10]}@example.com",
            "active": True,
        },
    ) as response:
        assert response.status == 201, await response.text()
        return str((await response.json())["id"])


async def api_call(
    http: aiohttp.ClientSession,
    mesh: Mesh,
    token: str,
    method: str,
    path: str,
    expect: int,
    body: dict[str, Any] | None = None,
) -> Any:
    async with http.request(
        method,
        f"{mesh.gateway_url}/api/v1{path}",
        headers={"Authorization": f"Bearer {token}"},
        json=body,
    ) as response:
        assert response.status == expect, await response.text()
        return await response.json() if response.status != 204 else None
