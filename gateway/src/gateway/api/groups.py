"""``/api/v1/groups``: groups, their IdP identifier, members and the space roles they grant.

A group's ``idp_identifier`` is the IdP's id of the group (usually a GUID, e.g. an Entra object
id). When it is set, sign-ins assign and unassign the user to the group from the groups claim,
and a SCIM-pushed group with that externalId is the same group (Torque guide, "Mapping Torque
user groups to IdP groups"). Members added here are manual: sign-ins leave them alone, and only
they are removed here ("users ... can still be added and removed manually from mapped groups").
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from aiohttp import web

from gateway.api import schemas
from gateway.api.bodies import merge_patch
from gateway.api.preconditions import expected_version, read_modify_write
from gateway.api.query import Kind, Param, all_of, eq, filters, list_response
from gateway.api.routing import Call, endpoint
from gateway.api.schemas import NAME_LENGTH, array, obj, required_string, string
from gateway.api.values import SOURCE_NAMES, enum_name, json_response, no_content, timestamp
from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import NotFound

MAX_MEMBERS_PER_CALL: Final = 1000
MAX_SPACE_ROLES: Final = 1000
IDP_IDENTIFIER_DESCRIPTION: Final = (
    "The IdP's id of the group (e.g. an Entra object id); null when the group is not mapped."
)

_SPACE_ROLE = obj(
    {
        "space_id": schemas.ID,
        "space_name": string(),
        "role_id": schemas.ID,
        "role_name": string(),
    },
    required=("space_id", "space_name", "role_id", "role_name"),
)
GROUP = schemas.define(
    "Group",
    obj(
        {
            "id": schemas.ID,
            "account_id": schemas.ID,
            "display_name": string(),
            "idp_identifier": {
                "type": ["string", "null"],
                "description": IDP_IDENTIFIER_DESCRIPTION,
            },
            "member_count": {"type": "integer", "minimum": 0},
            "space_roles": array(_SPACE_ROLE, description="The space roles members get."),
            "create_time": schemas.TIMESTAMP,
            "update_time": schemas.TIMESTAMP,
            "version": schemas.VERSION,
        },
        required=(
            "id",
            "account_id",
            "display_name",
            "idp_identifier",
            "member_count",
            "space_roles",
            "create_time",
            "update_time",
            "version",
        ),
    ),
)
_IDP_IDENTIFIER = string(NAME_LENGTH, nullable=True, description=IDP_IDENTIFIER_DESCRIPTION)
schemas.define(
    "GroupCreate",
    obj(
        {
            "display_name": required_string(),
            "idp_identifier": _IDP_IDENTIFIER,
            "member_ids": array(
                schemas.ID,
                maxItems=MAX_MEMBERS_PER_CALL,
                description="Users to add as manual members.",
            ),
        },
        required=("display_name",),
        additionalProperties=False,
    ),
)
schemas.define(
    "GroupPatch",
    obj(
        {"display_name": required_string(), "idp_identifier": _IDP_IDENTIFIER},
        additionalProperties=False,
        description="A JSON merge patch (RFC 7396); idp_identifier null unmaps the group.",
    ),
)
schemas.define(
    "GroupMembersAdd",
    obj(
        {"user_ids": array(schemas.ID, minItems=1, maxItems=MAX_MEMBERS_PER_CALL)},
        required=("user_ids",),
        additionalProperties=False,
    ),
)
schemas.define(
    "GroupSpaceRoles",
    obj(
        {
            "space_roles": array(
                obj(
                    {"space_id": schemas.ID, "role_id": schemas.ID},
                    required=("space_id", "role_id"),
                    additionalProperties=False,
                ),
                maxItems=MAX_SPACE_ROLES,
                description="One space role per space.",
            )
        },
        required=("space_roles",),
        additionalProperties=False,
    ),
)
GROUP_MEMBER = schemas.define(
    "GroupMember",
    obj(
        {
            "user_id": schemas.ID,
            "user_name": string(),
            "display_name": string(),
            "source": {"type": "string", "enum": list(schemas.SOURCES)},
        },
        required=("user_id", "user_name", "display_name", "source"),
    ),
)
schemas.page_of("GroupList", GROUP)
schemas.page_of("GroupMemberList", GROUP_MEMBER)


def group_json(group: pb.Group) -> dict[str, Any]:
    return {
        "id": group.id,
        "account_id": group.account_id,
        "display_name": group.display_name,
        "idp_identifier": group.idp_identifier or None,
        "member_count": group.member_count,
        "space_roles": [
            {
                "space_id": grant.space_id,
                "space_name": grant.space_name,
                "role_id": grant.role_id,
                "role_name": grant.role_name,
            }
            for grant in group.space_roles
        ],
        "create_time": timestamp(group.create_time),
        "update_time": timestamp(group.update_time),
        "version": group.version,
    }


def _response(group: pb.Group, status: int = 200, location: str | None = None) -> web.Response:
    return json_response(group_json(group), status=status, version=group.version, location=location)


async def _get(call: Call, group_id: str) -> pb.Group:
    response = await call.directory.GetGroup(
        pb.GetGroupRequest(account_id=call.account_id, group_id=group_id)
    )
    return response.group


@endpoint(
    "List groups",
    description="Oldest first.",
    query=filters(
        Param("display_name", "Exact name, case-insensitive.", attribute="display_name"),
        Param("idp_identifier", "The IdP's id of the group (exact).", attribute="idp_identifier"),
        Param(
            "user_id", "Groups this user is a member of.", Kind.UUID, attribute="members.user_id"
        ),
    ),
    response="GroupList",
)
async def list_groups(call: Call) -> web.Response:
    response = await call.directory.ListGroups(
        pb.ListGroupsRequest(
            account_id=call.account_id, filter=call.query.filter(), page=call.query.page()
        )
    )
    return list_response([group_json(g) for g in response.groups], response.page.next_page_token)


@endpoint("Get a group", response="Group", etag=True)
async def get_group(call: Call) -> web.Response:
    return _response(await _get(call, call.path("group_id")))


@endpoint(
    "Create a group",
    body="GroupCreate",
    example={
        "display_name": "Engineering",
        "idp_identifier": "8f6d2c1e-4b3a-4e5f-9a7b-0c1d2e3f4a5b",
    },
    response="Group",
    status=201,
    etag=True,
)
async def create_group(call: Call) -> web.Response:
    body = call.body
    response = await call.directory.CreateGroup(
        pb.CreateGroupRequest(
            group=pb.Group(
                account_id=call.account_id,
                display_name=body["display_name"],
                idp_identifier=body.get("idp_identifier") or "",
                members=[pb.GroupMember(user_id=uid) for uid in body.get("member_ids", ())],
            ),
            member_source=pb.MEMBERSHIP_SOURCE_MANUAL,
            actor=call.actor,
        )
    )
    group = response.group
    return _response(group, 201, location=f"{call.request.path}/{group.id}")


@endpoint(
    "Update a group",
    description="Rename it, or set or clear its IdP identifier.",
    body="GroupPatch",
    example={"idp_identifier": "8f6d2c1e-4b3a-4e5f-9a7b-0c1d2e3f4a5b"},
    merge_patch=True,
    response="Group",
    etag=True,
    if_match=True,
)
async def update_group(call: Call) -> web.Response:
    async def write(current: pb.Group) -> pb.Group:
        values = merge_patch(
            {"display_name": current.display_name, "idp_identifier": current.idp_identifier},
            call.body,
        )
        response = await call.directory.UpdateGroup(
            pb.UpdateGroupRequest(
                group=pb.Group(
                    account_id=call.account_id,
                    id=current.id,
                    display_name=values["display_name"],
                    idp_identifier=values.get("idp_identifier") or "",
                ),
                expected_version=current.version,
                actor=call.actor,
            )
        )
        return response.group

    group_id = call.path("group_id")
    updated = await read_modify_write(
        call.request, lambda: _get(call, group_id), write, lambda g: g.version
    )
    return _response(updated)


async def _version_of(call: Call, group_id: str) -> int:
    return (await _get(call, group_id)).version


@endpoint(
    "Delete a group",
    description="Members lose the space roles the group granted; users stay.",
    if_match=True,
    status=204,
)
async def delete_group(call: Call) -> web.Response:
    group_id = call.path("group_id")
    await call.directory.DeleteGroup(
        pb.DeleteGroupRequest(
            account_id=call.account_id,
            group_id=group_id,
            expected_version=await expected_version(
                call.request, lambda: _version_of(call, group_id)
            ),
            actor=call.actor,
        )
    )
    return no_content()


@endpoint(
    "List a group's members",
    description="Every member with the source of the membership (sso, scim, manual).",
    query=filters(),
    response="GroupMemberList",
)
async def list_group_members(call: Call) -> web.Response:
    response = await call.directory.ListGroupMembers(
        pb.ListGroupMembersRequest(
            account_id=call.account_id, group_id=call.path("group_id"), page=call.query.page()
        )
    )
    members = [
        {
            "user_id": member.user_id,
            "user_name": member.user_name,
            "display_name": member.display_name,
            "source": enum_name(SOURCE_NAMES, member.source),
        }
        for member in response.members
    ]
    return list_response(members, response.page.next_page_token)


@endpoint(
    "Add manual members",
    description="Adding a member already there is no error; unknown user ids are 400.",
    body="GroupMembersAdd",
    example={"user_ids": ["4f8d9a4e-0d5c-4b8e-9a61-3c1f0e2b7d10"]},
    response="Group",
    etag=True,
    if_match=True,
)
async def add_group_members(call: Call) -> web.Response:
    group_id = call.path("group_id")
    response = await call.directory.ModifyGroupMembers(
        pb.ModifyGroupMembersRequest(
            account_id=call.account_id,
            group_id=group_id,
            add_user_ids=call.body["user_ids"],
            source=pb.MEMBERSHIP_SOURCE_MANUAL,
            expected_version=await expected_version(
                call.request, lambda: _version_of(call, group_id)
            ),
            actor=call.actor,
        )
    )
    return _response(response.group)


@endpoint(
    "Remove a manual member",
    description="Removes the user's manual membership; 404 when the user has none (members "
    "from the IdP follow its sign-ins and SCIM).",
    if_match=True,
    status=204,
)
async def remove_group_member(call: Call) -> web.Response:
    group_id, user_id = call.path("group_id"), call.path("user_id")
    group = await _get(call, group_id)
    if not await _is_manual_member(call, group.id, user_id):
        raise NotFound("the user is not a manual member of this group")

    async def current() -> int:
        return group.version

    await call.directory.ModifyGroupMembers(
        pb.ModifyGroupMembersRequest(
            account_id=call.account_id,
            group_id=group_id,
            remove_user_ids=[user_id],
            source=pb.MEMBERSHIP_SOURCE_MANUAL,
            expected_version=await expected_version(call.request, current),
            actor=call.actor,
        )
    )
    return no_content()


async def _is_manual_member(call: Call, group_id: str, user_id: str) -> bool:
    try:
        user_id = str(uuid.UUID(user_id))
    except ValueError:
        return False
    membership = pb.Filter(
        value_path=pb.ValuePathFilter(
            attribute="members",
            filter=all_of([eq("user_id", user_id), eq("source", "manual")]),
        )
    )
    response = await call.directory.ListGroups(
        pb.ListGroupsRequest(
            account_id=call.account_id,
            filter=all_of([eq("id", group_id), membership]),
            page=pb.PageRequest(page_size=1),
        )
    )
    return bool(response.groups)


@endpoint(
    "Set the space roles a group grants",
    description="Replaces the group's space roles (one role per space); every member holds "
    "them while a member.",
    body="GroupSpaceRoles",
    example={
        "space_roles": [
            {
                "space_id": "a3c1e7d2-5b94-4f0a-8e6d-2b7c9f1e4a35",
                "role_id": "0e9b2d4c-7a18-4c3f-b5e2-9d6a1f8c3b47",
            }
        ]
    },
    response="Group",
    etag=True,
    if_match=True,
)
async def set_group_space_roles(call: Call) -> web.Response:
    group_id = call.path("group_id")
    response = await call.directory.SetGroupSpaceRoles(
        pb.SetGroupSpaceRolesRequest(
            account_id=call.account_id,
            group_id=group_id,
            space_roles=[
                pb.GroupSpaceRole(space_id=item["space_id"], role_id=item["role_id"])
                for item in call.body["space_roles"]
            ],
            expected_version=await expected_version(
                call.request, lambda: _version_of(call, group_id)
            ),
            actor=call.actor,
        )
    )
    return _response(response.group)
