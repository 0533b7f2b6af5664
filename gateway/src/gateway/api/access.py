"""Effective access: what a user may do, from every source at once.

``GET /users/{user_id}/access`` lists the user's account role, each space with every role held
there (direct grants with their source, group grants with the group) and the union of their
permissions, and the user's groups. ``POST /access:check`` answers one question, "may this user
do P in space S (or in the account)?", with the reason; a deactivated user may do nothing.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.api import schemas
from gateway.api.groups import GROUP, group_json
from gateway.api.roles import PERMISSION, ROLE, role_json
from gateway.api.routing import Call, endpoint
from gateway.api.schemas import array, obj, string
from gateway.api.users import USER, user_json
from gateway.api.values import SOURCE_NAMES, enum_name, json_response
from idmesh.directory.v1 import directory_pb2 as pb

_ROLE_GRANT = obj(
    {
        "role_id": schemas.ID,
        "role_name": string(),
        "source": schemas.SOURCE,
        "group_id": {**schemas.ID, "type": ["string", "null"], "description": "For source group."},
        "group_name": string(nullable=True),
    },
    required=("role_id", "role_name", "source", "group_id", "group_name"),
)
schemas.define(
    "UserAccess",
    obj(
        {
            "user": USER,
            "account_role": ROLE,
            "spaces": array(
                obj(
                    {
                        "space_id": schemas.ID,
                        "space_name": string(),
                        "roles": array(_ROLE_GRANT),
                        "permissions": array(string(), description="The union, sorted."),
                    },
                    required=("space_id", "space_name", "roles", "permissions"),
                )
            ),
            "groups": array(GROUP),
        },
        required=("user", "account_role", "spaces", "groups"),
    ),
)
schemas.define(
    "AccessCheck",
    obj(
        {
            "user_id": schemas.ID,
            "space_id": {
                **schemas.ID,
                "type": ["string", "null"],
                "description": "Absent or null: an account-level permission.",
            },
            "permission": PERMISSION,
        },
        required=("user_id", "permission"),
        additionalProperties=False,
    ),
)
schemas.define(
    "AccessDecision",
    obj(
        {
            "allowed": {"type": "boolean"},
            "reason": {
                "type": "string",
                "description": "Which role (and group) grants it, or why not.",
            },
        },
        required=("allowed", "reason"),
    ),
)


def _space_json(space: pb.SpaceAccess) -> dict[str, Any]:
    return {
        "space_id": space.space_id,
        "space_name": space.space_name,
        "roles": [
            {
                "role_id": grant.role_id,
                "role_name": grant.role_name,
                "source": enum_name(SOURCE_NAMES, grant.source),
                "group_id": grant.group_id or None,
                "group_name": grant.group_name or None,
            }
            for grant in space.roles
        ],
        "permissions": list(space.permissions),
    }


@endpoint("Get a user's effective access", response="UserAccess")
async def get_user_access(call: Call) -> web.Response:
    response = await call.directory.GetUserAccess(
        pb.GetUserAccessRequest(account_id=call.account_id, user_id=call.path("user_id"))
    )
    return json_response(
        {
            "user": user_json(response.user),
            "account_role": role_json(response.account_role),
            "spaces": [_space_json(space) for space in response.spaces],
            "groups": [group_json(group) for group in response.groups],
        }
    )


@endpoint(
    "Check access",
    description="Whether the user holds the permission in the space (through any role, direct "
    "or from a group), or at account level when no space is named.",
    body="AccessCheck",
    example={
        "user_id": "4f8d9a4e-0d5c-4b8e-9a61-3c1f0e2b7d10",
        "space_id": "a3c1e7d2-5b94-4f0a-8e6d-2b7c9f1e4a35",
        "permission": "space:deploy",
    },
    response="AccessDecision",
)
async def check_access(call: Call) -> web.Response:
    response = await call.directory.CheckAccess(
        pb.CheckAccessRequest(
            account_id=call.account_id,
            user_id=call.body["user_id"],
            space_id=call.body.get("space_id") or "",
            permission=call.body["permission"],
        )
    )
    return json_response({"allowed": response.allowed, "reason": response.reason})
