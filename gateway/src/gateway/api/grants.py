"""``/api/v1/grants``: who holds which role in which space, and from where.

A grant is a user's role in a space from one source: ``sso`` (a sign-in's space attributes),
``scim``, or ``manual`` (an admin or a governance tool). A user holds at most one role per
space and source, so a grant's id is ``<user_id>.<space_id>.<source>``. Grants made here are
manual: the just-in-time access a governance tool such as ConductorOne requests and later
revokes (seed 004), independent of what the IdP grants. Roles a group grants its members are
not listed here: they are in the group (``/groups``) and in a user's effective access
(``/users/{id}/access``).
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from aiohttp import web

from gateway.api import schemas
from gateway.api.query import Kind, Param, all_of, eq, filters, list_response
from gateway.api.routing import Call, endpoint
from gateway.api.schemas import obj, string
from gateway.api.values import SOURCE_NAMES, SOURCE_VALUES, enum_name, json_response, no_content
from gateway.api.values import timestamp as time_text
from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import NotFound

# Sources a direct grant can have (group roles are not memberships).
GRANT_SOURCES: Final = ("sso", "scim", "manual")
GRANT_ID_PARAM: Final = {
    "type": "string",
    "pattern": r"^[0-9a-f-]{36}\.[0-9a-f-]{36}\.(sso|scim|manual)$",
    "description": "<user_id>.<space_id>.<source>",
}

GRANT = schemas.define(
    "Grant",
    obj(
        {
            "id": {"type": "string", "description": GRANT_ID_PARAM["description"]},
            "user_id": schemas.ID,
            "space_id": schemas.ID,
            "space_name": string(),
            "role_id": schemas.ID,
            "role_name": string(),
            "source": {"type": "string", "enum": list(GRANT_SOURCES)},
            "create_time": schemas.TIMESTAMP,
        },
        required=(
            "id",
            "user_id",
            "space_id",
            "space_name",
            "role_id",
            "role_name",
            "source",
            "create_time",
        ),
    ),
)
schemas.define(
    "GrantCreate",
    obj(
        {"user_id": schemas.ID, "space_id": schemas.ID, "role_id": schemas.ID},
        required=("user_id", "space_id", "role_id"),
        additionalProperties=False,
        description="A manual grant of a space role; granting again replaces the role the "
        "user holds manually in that space.",
    ),
)
schemas.page_of("GrantList", GRANT)


def grant_id(membership: pb.SpaceMembership) -> str:
    return (
        f"{membership.user_id}.{membership.space_id}.{enum_name(SOURCE_NAMES, membership.source)}"
    )


def grant_json(membership: pb.SpaceMembership) -> dict[str, Any]:
    return {
        "id": grant_id(membership),
        "user_id": membership.user_id,
        "space_id": membership.space_id,
        "space_name": membership.space_name,
        "role_id": membership.role_id,
        "role_name": membership.role_name,
        "source": enum_name(SOURCE_NAMES, membership.source),
        "create_time": time_text(membership.create_time),
    }


def _parse_id(raw: str) -> tuple[str, str, str]:
    """(user_id, space_id, source) of a grant id; 404 for anything else (no grant has it)."""
    user_id, _, rest = raw.partition(".")
    space_id, _, source = rest.partition(".")
    try:
        ids = (str(uuid.UUID(user_id)), str(uuid.UUID(space_id)))
    except ValueError:
        raise NotFound("grant not found") from None
    if source not in GRANT_SOURCES:
        raise NotFound("grant not found")
    return ids[0], ids[1], source


@endpoint(
    "List grants",
    description="Direct grants (sso, scim, manual), oldest first.",
    query=filters(
        Param("user_id", "Grants of this user.", Kind.UUID, attribute="user_id"),
        Param("space_id", "Grants in this space.", Kind.UUID, attribute="space_id"),
        Param("role_id", "Grants of this role.", Kind.UUID, attribute="role_id"),
        Param("source", "Where the grant comes from.", Kind.ENUM, GRANT_SOURCES, "source"),
    ),
    response="GrantList",
)
async def list_grants(call: Call) -> web.Response:
    response = await call.directory.ListSpaceMemberships(
        pb.ListSpaceMembershipsRequest(
            account_id=call.account_id, filter=call.query.filter(), page=call.query.page()
        )
    )
    return list_response(
        [grant_json(m) for m in response.memberships], response.page.next_page_token
    )


@endpoint("Get a grant", response="Grant", path_params={"grant_id": GRANT_ID_PARAM})
async def get_grant(call: Call) -> web.Response:
    user_id, space_id, source = _parse_id(call.path("grant_id"))
    response = await call.directory.ListSpaceMemberships(
        pb.ListSpaceMembershipsRequest(
            account_id=call.account_id,
            filter=all_of([eq("user_id", user_id), eq("space_id", space_id), eq("source", source)]),
            page=pb.PageRequest(page_size=1),
        )
    )
    if not response.memberships:
        raise NotFound("grant not found")
    return json_response(grant_json(response.memberships[0]))


@endpoint(
    "Grant a space role",
    description="A manual grant: the user holds the role in the space until it is revoked, "
    "whatever the IdP sends. The role must be a space role.",
    body="GrantCreate",
    example={
        "user_id": "4f8d9a4e-0d5c-4b8e-9a61-3c1f0e2b7d10",
        "space_id": "a3c1e7d2-5b94-4f0a-8e6d-2b7c9f1e4a35",
        "role_id": "0e9b2d4c-7a18-4c3f-b5e2-9d6a1f8c3b47",
    },
    response="Grant",
    status=201,
)
async def create_grant(call: Call) -> web.Response:
    response = await call.directory.GrantSpaceRole(
        pb.GrantSpaceRoleRequest(
            account_id=call.account_id,
            user_id=call.body["user_id"],
            space_id=call.body["space_id"],
            role_id=call.body["role_id"],
            source=pb.MEMBERSHIP_SOURCE_MANUAL,
            actor=call.actor,
        )
    )
    membership = response.membership
    return json_response(
        grant_json(membership),
        status=201,
        location=f"{call.request.path}/{grant_id(membership)}",
    )


@endpoint(
    "Revoke a grant",
    description="Removes this grant only; the user's grants from other sources stay.",
    status=204,
    path_params={"grant_id": GRANT_ID_PARAM},
)
async def delete_grant(call: Call) -> web.Response:
    user_id, space_id, source = _parse_id(call.path("grant_id"))
    await call.directory.RevokeSpaceRole(
        pb.RevokeSpaceRoleRequest(
            account_id=call.account_id,
            user_id=user_id,
            space_id=space_id,
            source=SOURCE_VALUES[source],
            actor=call.actor,
        )
    )
    return no_content()
