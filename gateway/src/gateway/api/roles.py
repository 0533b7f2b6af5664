"""``/api/v1/roles``: account roles and space roles, each a set of permissions.

Every account has built-in roles (Account Admin, Account Member, Space Admin, Space Developer,
Space Member); they are read-only here. Custom roles are created, renamed, re-permitted and
deleted (when nothing uses them). A role's scope never changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from gateway.api import schemas
from gateway.api.bodies import merge_patch
from gateway.api.preconditions import expected_version, read_modify_write
from gateway.api.query import Kind, Param, filters, list_response
from gateway.api.routing import Call, endpoint
from gateway.api.schemas import NAME_LENGTH, TEXT_LENGTH, array, obj, required_string, string
from gateway.api.values import enum_name, json_response, no_content, timestamp
from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import FailedPrecondition

SCOPE_NAMES: Final[Mapping[pb.RoleScope.ValueType, str]] = {
    pb.ROLE_SCOPE_ACCOUNT: "account",
    pb.ROLE_SCOPE_SPACE: "space",
}
_SCOPE_VALUES: Final = {name: value for value, name in SCOPE_NAMES.items()}
# "resource:verb", as the directory stores them (e.g. "users:manage", "space:deploy").
PERMISSION = string(
    NAME_LENGTH,
    pattern=r"^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$",
    description='A permission, "resource:verb".',
)
_PERMISSIONS = array(PERMISSION, maxItems=100)

ROLE = schemas.define(
    "Role",
    obj(
        {
            "id": schemas.ID,
            "account_id": schemas.ID,
            "name": string(),
            "scope": {"type": "string", "enum": list(SCOPE_NAMES.values())},
            "permissions": array(string(), description="Sorted."),
            "built_in": {"type": "boolean", "description": "Built-in roles are read-only."},
            "description": string(TEXT_LENGTH),
            "create_time": schemas.TIMESTAMP,
            "update_time": schemas.TIMESTAMP,
            "version": schemas.VERSION,
        },
        required=(
            "id",
            "account_id",
            "name",
            "scope",
            "permissions",
            "built_in",
            "description",
            "create_time",
            "update_time",
            "version",
        ),
    ),
)
schemas.define(
    "RoleCreate",
    obj(
        {
            "name": required_string(description="Unique per account and scope."),
            "scope": {"type": "string", "enum": list(SCOPE_NAMES.values())},
            "permissions": _PERMISSIONS,
            "description": string(TEXT_LENGTH),
        },
        required=("name", "scope", "permissions"),
        additionalProperties=False,
    ),
)
schemas.define(
    "RolePatch",
    obj(
        {
            "name": required_string(),
            "permissions": _PERMISSIONS,
            "description": string(TEXT_LENGTH, nullable=True),
        },
        additionalProperties=False,
        description="A JSON merge patch (RFC 7396); the scope cannot change.",
    ),
)
schemas.page_of("RoleList", ROLE)


def role_json(role: pb.Role) -> dict[str, Any]:
    return {
        "id": role.id,
        "account_id": role.account_id,
        "name": role.name,
        "scope": enum_name(SCOPE_NAMES, role.scope),
        "permissions": list(role.permissions),
        "built_in": role.built_in,
        "description": role.description,
        "create_time": timestamp(role.create_time),
        "update_time": timestamp(role.update_time),
        "version": role.version,
    }


def _response(role: pb.Role, status: int = 200, location: str | None = None) -> web.Response:
    return json_response(role_json(role), status=status, version=role.version, location=location)


async def _get(call: Call, role_id: str) -> pb.Role:
    response = await call.directory.GetRole(
        pb.GetRoleRequest(account_id=call.account_id, role_id=role_id)
    )
    return response.role


@endpoint(
    "List roles",
    description="Built-in and custom roles, account and space scope, oldest first.",
    query=filters(
        Param("name", "Exact name, case-insensitive.", attribute="name"),
        Param("scope", "Account or space roles.", Kind.ENUM, tuple(SCOPE_NAMES.values()), "scope"),
        Param(
            "built_in", "Only built-in (true) or custom (false) roles.", Kind.BOOL, (), "built_in"
        ),
    ),
    response="RoleList",
)
async def list_roles(call: Call) -> web.Response:
    response = await call.directory.ListRoles(
        pb.ListRolesRequest(
            account_id=call.account_id, filter=call.query.filter(), page=call.query.page()
        )
    )
    return list_response([role_json(r) for r in response.roles], response.page.next_page_token)


@endpoint("Get a role", response="Role", etag=True)
async def get_role(call: Call) -> web.Response:
    return _response(await _get(call, call.path("role_id")))


@endpoint(
    "Create a custom role",
    body="RoleCreate",
    example={
        "name": "Space Auditor",
        "scope": "space",
        "permissions": ["space:read", "audit:read"],
        "description": "Reads a space and its audit trail.",
    },
    response="Role",
    status=201,
    etag=True,
)
async def create_role(call: Call) -> web.Response:
    body = call.body
    response = await call.directory.CreateRole(
        pb.CreateRoleRequest(
            role=pb.Role(
                account_id=call.account_id,
                name=body["name"],
                scope=_SCOPE_VALUES[body["scope"]],
                permissions=body["permissions"],
                description=body.get("description", ""),
            ),
            actor=call.actor,
        )
    )
    role = response.role
    return _response(role, 201, location=f"{call.request.path}/{role.id}")


def _read_only(role: pb.Role) -> None:
    if role.built_in:
        raise FailedPrecondition("built-in roles are read-only", reason="built_in")


@endpoint(
    "Update a custom role",
    description="A JSON merge patch of name, permissions and description. Built-in roles are "
    "read-only (400).",
    body="RolePatch",
    example={"permissions": ["space:read"], "description": None},
    merge_patch=True,
    response="Role",
    etag=True,
    if_match=True,
)
async def update_role(call: Call) -> web.Response:
    async def write(current: pb.Role) -> pb.Role:
        _read_only(current)
        values = merge_patch(
            {
                "name": current.name,
                "permissions": list(current.permissions),
                "description": current.description,
            },
            call.body,
        )
        changed = pb.Role()
        changed.CopyFrom(current)
        changed.name = values["name"]
        del changed.permissions[:]
        changed.permissions.extend(values.get("permissions", ()))
        changed.description = values.get("description", "")
        response = await call.directory.UpdateRole(
            pb.UpdateRoleRequest(role=changed, expected_version=current.version, actor=call.actor)
        )
        return response.role

    role_id = call.path("role_id")
    updated = await read_modify_write(
        call.request, lambda: _get(call, role_id), write, lambda r: r.version
    )
    return _response(updated)


@endpoint(
    "Delete a custom role",
    description="Only a custom role that no user, grant or group uses (400 otherwise).",
    if_match=True,
    status=204,
)
async def delete_role(call: Call) -> web.Response:
    role_id = call.path("role_id")
    role = await _get(call, role_id)
    _read_only(role)

    async def current() -> int:
        return role.version

    await call.directory.DeleteRole(
        pb.DeleteRoleRequest(
            account_id=call.account_id,
            role_id=role_id,
            expected_version=await expected_version(call.request, current),
            actor=call.actor,
        )
    )
    return no_content()
