"""``/api/v1/spaces``: named workspaces inside the account.

IdPs name spaces in the ``space_name`` attribute of a sign-in (the Torque guide's six rules), so a
space's name is unique per account, compared case-insensitively.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.api import schemas
from gateway.api.bodies import merge_patch
from gateway.api.preconditions import expected_version, read_modify_write
from gateway.api.query import Param, filters, list_response
from gateway.api.routing import Call, endpoint
from gateway.api.schemas import TEXT_LENGTH, obj, required_string, string
from gateway.api.values import json_response, no_content, timestamp
from idmesh.directory.v1 import directory_pb2 as pb

SPACE = schemas.define(
    "Space",
    obj(
        {
            "id": schemas.ID,
            "account_id": schemas.ID,
            "name": string(),
            "description": string(TEXT_LENGTH),
            "create_time": schemas.TIMESTAMP,
            "update_time": schemas.TIMESTAMP,
            "version": schemas.VERSION,
        },
        required=(
            "id",
            "account_id",
            "name",
            "description",
            "create_time",
            "update_time",
            "version",
        ),
    ),
)
schemas.define(
    "SpaceCreate",
    obj(
        {
            "name": required_string(description="Unique in the account, case-insensitively."),
            "description": string(TEXT_LENGTH),
        },
        required=("name",),
        additionalProperties=False,
    ),
)
schemas.define(
    "SpacePatch",
    obj(
        {"name": required_string(), "description": string(TEXT_LENGTH, nullable=True)},
        additionalProperties=False,
        description="A JSON merge patch (RFC 7396).",
    ),
)
schemas.page_of("SpaceList", SPACE)


def space_json(space: pb.Space) -> dict[str, Any]:
    return {
        "id": space.id,
        "account_id": space.account_id,
        "name": space.name,
        "description": space.description,
        "create_time": timestamp(space.create_time),
        "update_time": timestamp(space.update_time),
        "version": space.version,
    }


def _response(space: pb.Space, status: int = 200, location: str | None = None) -> web.Response:
    return json_response(space_json(space), status=status, version=space.version, location=location)


async def _get(call: Call, space_id: str) -> pb.Space:
    response = await call.directory.GetSpace(
        pb.GetSpaceRequest(account_id=call.account_id, space_id=space_id)
    )
    return response.space


@endpoint(
    "List spaces",
    description="Oldest first.",
    query=filters(Param("name", "Exact name, case-insensitive.", attribute="name")),
    response="SpaceList",
)
async def list_spaces(call: Call) -> web.Response:
    response = await call.directory.ListSpaces(
        pb.ListSpacesRequest(
            account_id=call.account_id, filter=call.query.filter(), page=call.query.page()
        )
    )
    return list_response([space_json(s) for s in response.spaces], response.page.next_page_token)


@endpoint("Get a space", response="Space", etag=True)
async def get_space(call: Call) -> web.Response:
    return _response(await _get(call, call.path("space_id")))


@endpoint(
    "Create a space",
    body="SpaceCreate",
    example={"name": "dev", "description": "Developers' workspace"},
    response="Space",
    status=201,
    etag=True,
)
async def create_space(call: Call) -> web.Response:
    response = await call.directory.CreateSpace(
        pb.CreateSpaceRequest(
            space=pb.Space(
                account_id=call.account_id,
                name=call.body["name"],
                description=call.body.get("description", ""),
            ),
            actor=call.actor,
        )
    )
    space = response.space
    return _response(space, 201, location=f"{call.request.path}/{space.id}")


@endpoint(
    "Update a space",
    body="SpacePatch",
    example={"description": "Production"},
    merge_patch=True,
    response="Space",
    etag=True,
    if_match=True,
)
async def update_space(call: Call) -> web.Response:
    async def write(current: pb.Space) -> pb.Space:
        values = merge_patch({"name": current.name, "description": current.description}, call.body)
        changed = pb.Space()
        changed.CopyFrom(current)
        changed.name = values["name"]
        changed.description = values.get("description", "")
        response = await call.directory.UpdateSpace(
            pb.UpdateSpaceRequest(space=changed, expected_version=current.version, actor=call.actor)
        )
        return response.space

    space_id = call.path("space_id")
    updated = await read_modify_write(
        call.request, lambda: _get(call, space_id), write, lambda s: s.version
    )
    return _response(updated)


@endpoint(
    "Delete a space",
    description="Removes the space with every grant in it and the group grants on it.",
    if_match=True,
    status=204,
)
async def delete_space(call: Call) -> web.Response:
    space_id = call.path("space_id")

    async def current() -> int:
        return (await _get(call, space_id)).version

    await call.directory.DeleteSpace(
        pb.DeleteSpaceRequest(
            account_id=call.account_id,
            space_id=space_id,
            expected_version=await expected_version(call.request, current),
            actor=call.actor,
        )
    )
    return no_content()
