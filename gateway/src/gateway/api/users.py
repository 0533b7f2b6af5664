"""``/api/v1/users``: the account's users, as SCIM and sign-ins provisioned them.

Users are created by the IdP (SCIM or first sign-in), not here. An admin reads them, corrects
their profile (PATCH, a JSON merge patch of the writable members), deactivates and reactivates
them (``POST /users/{id}:deactivate``, Google AIP-136 custom methods, the one style of the API),
and deletes them. Their effective access is in ``access.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, Final

import grpc
from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import Message

from gateway.api import schemas
from gateway.api.bodies import merge_patch
from gateway.api.preconditions import expected_version, read_modify_write
from gateway.api.query import Kind, Param, any_of, eq, filters, list_response
from gateway.api.routing import Call, endpoint
from gateway.api.schemas import NAME_LENGTH, TEXT_LENGTH, obj, required_string, string
from gateway.api.values import enum_name, json_response, no_content, timestamp
from idmesh.directory.v1 import directory_pb2 as pb

STATUS_NAMES: Final[Mapping[pb.UserStatus.ValueType, str]] = {
    pb.USER_STATUS_PENDING: "pending",
    pb.USER_STATUS_ACTIVE: "active",
    pb.USER_STATUS_DEACTIVATED: "deactivated",
}
_STRINGS: Final = {
    "user_name": NAME_LENGTH,
    "external_id": NAME_LENGTH,
    "display_name": NAME_LENGTH,
    "nick_name": NAME_LENGTH,
    "profile_url": TEXT_LENGTH,
    "title": NAME_LENGTH,
    "user_type": NAME_LENGTH,
    "preferred_language": NAME_LENGTH,
    "locale": NAME_LENGTH,
    "timezone": NAME_LENGTH,
}
_MULTI_VALUED: Final = {
    "emails": NAME_LENGTH,
    "phone_numbers": NAME_LENGTH,
    "ims": NAME_LENGTH,
    "photos": TEXT_LENGTH,
    "entitlements": NAME_LENGTH,
    "x509_certificates": 8 * TEXT_LENGTH,
}
_OBJECTS: Final = ("name", "enterprise")
_NAME_PARTS: Final = (
    "formatted",
    "family_name",
    "given_name",
    "middle_name",
    "honorific_prefix",
    "honorific_suffix",
)
_ADDRESS_PARTS: Final = (
    "formatted",
    "street_address",
    "locality",
    "region",
    "postal_code",
    "country",
    "type",
)
_ENTERPRISE_PARTS: Final = (
    "employee_number",
    "cost_center",
    "organization",
    "division",
    "department",
    "manager_display_name",
)
MAX_ITEMS: Final = 100
# The directory bounds a filter at 100 comparisons: a group's members are looked up by id in
# slices of this many.
_IDS_PER_LOOKUP: Final = 90

# -- schemas ---------------------------------------------------------------------------------


def _strings(names: Sequence[str], *, nullable: bool, length: int = TEXT_LENGTH) -> dict[str, Any]:
    return {name: string(length, nullable=nullable) for name in names}


def _multi_value(length: int, *, writing: bool) -> schemas.Schema:
    properties = {
        "value": string(length),
        "type": string(),
        "primary": {"type": "boolean"},
        "display": string(),
    }
    if writing:
        return obj(properties, additionalProperties=False)
    return obj(properties, required=tuple(properties))


def _address(*, writing: bool) -> schemas.Schema:
    properties = {**_strings(_ADDRESS_PARTS, nullable=False), "primary": {"type": "boolean"}}
    if writing:
        return obj(properties, additionalProperties=False)
    return obj(properties, required=tuple(properties))


def _enterprise(*, nullable: bool) -> dict[str, Any]:
    return {
        **_strings(_ENTERPRISE_PARTS, nullable=nullable),
        "manager_id": {
            "type": ["string", "null"] if nullable else "string",
            "description": "The manager's user id in this account; empty for none.",
            **({"format": "uuid"} if nullable else {}),
        },
    }


def _lists(*, writing: bool) -> dict[str, Any]:
    kind = ["array", "null"] if writing else "array"
    lists = {
        name: {
            "type": kind,
            "items": _multi_value(length, writing=writing),
            **({"maxItems": MAX_ITEMS} if writing else {}),
        }
        for name, length in _MULTI_VALUED.items()
    }
    lists["addresses"] = {
        "type": kind,
        "items": _address(writing=writing),
        **({"maxItems": MAX_ITEMS} if writing else {}),
    }
    return lists


USER = schemas.define(
    "User",
    obj(
        {
            "id": schemas.ID,
            "account_id": schemas.ID,
            **{name: string(length) for name, length in _STRINGS.items()},
            "name": obj(
                _strings(_NAME_PARTS, nullable=False, length=NAME_LENGTH), required=_NAME_PARTS
            ),
            "enterprise": obj(
                _enterprise(nullable=False), required=(*_ENTERPRISE_PARTS, "manager_id")
            ),
            **_lists(writing=False),
            "extensions": {
                "type": "object",
                "description": "Attributes of other SCIM schema extensions, by schema URN.",
            },
            "active": {"type": "boolean", "description": "False only when deactivated."},
            "status": {
                "type": "string",
                "enum": list(STATUS_NAMES.values()),
                "description": "pending: provisioned, never signed in.",
            },
            "account_role_id": schemas.ID,
            "account_role_name": string(),
            "create_time": schemas.TIMESTAMP,
            "update_time": schemas.TIMESTAMP,
            "last_login_time": schemas.NULLABLE_TIMESTAMP,
            "version": schemas.VERSION,
        },
        required=(
            "id",
            "account_id",
            *_STRINGS,
            *_OBJECTS,
            *_MULTI_VALUED,
            "addresses",
            "extensions",
            "active",
            "status",
            "account_role_id",
            "account_role_name",
            "create_time",
            "update_time",
            "last_login_time",
            "version",
        ),
    ),
)
USER_PATCH = schemas.define(
    "UserPatch",
    obj(
        {
            **{name: string(length, nullable=True) for name, length in _STRINGS.items()},
            # Every user has a userName: it can change, never go.
            "user_name": required_string(NAME_LENGTH),
            "name": {
                "type": ["object", "null"],
                "properties": _strings(_NAME_PARTS, nullable=True, length=NAME_LENGTH),
                "additionalProperties": False,
            },
            "enterprise": {
                "type": ["object", "null"],
                "properties": _enterprise(nullable=True),
                "additionalProperties": False,
            },
            **_lists(writing=True),
            "account_role_id": {
                "type": "string",
                "format": "uuid",
                "description": "An account-scope role of the account.",
            },
        },
        additionalProperties=False,
        description="A JSON merge patch (RFC 7396) of the user's writable members: members "
        "left out keep their value, null clears one, arrays are replaced whole. Status is "
        "changed with :deactivate and :reactivate.",
    ),
)
USER_LIST = schemas.page_of("UserList", USER)

# -- representation --------------------------------------------------------------------------


def _plain(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def writable(user: pb.User) -> dict[str, Any]:
    """The members a PATCH may change, as the API shows them."""
    body: dict[str, Any] = {name: getattr(user, name) for name in _STRINGS}
    body["name"] = _plain(user.name)
    body["enterprise"] = _plain(user.enterprise)
    for name in (*_MULTI_VALUED, "addresses"):
        body[name] = [_plain(value) for value in getattr(user, name)]
    body["account_role_id"] = user.account_role_id
    return body


def user_json(user: pb.User) -> dict[str, Any]:
    """The API representation of a user (schema User)."""
    return {
        "id": user.id,
        "account_id": user.account_id,
        **writable(user),
        "extensions": json_format.MessageToDict(user.extensions),
        "active": user.active,
        "status": enum_name(STATUS_NAMES, user.status),
        "account_role_name": user.account_role_name,
        "create_time": timestamp(user.create_time),
        "update_time": timestamp(user.update_time),
        "last_login_time": timestamp(user.last_login_time),
        "version": user.version,
    }


def _apply(user: pb.User, values: Mapping[str, Any]) -> None:
    """Sets every writable member of ``user`` from ``values`` (absent ones cleared): the
    inverse of ``writable``."""
    for name in _STRINGS:
        setattr(user, name, values.get(name) or "")
    for name in _OBJECTS:
        user.ClearField(name)  # type: ignore[arg-type]
        json_format.ParseDict(values.get(name) or {}, getattr(user, name))
    for name in (*_MULTI_VALUED, "addresses"):
        target = getattr(user, name)
        del target[:]
        for item in values.get(name) or ():
            json_format.ParseDict(item, target.add())
    # Empty keeps the current role: a user always has one.
    user.account_role_id = values.get("account_role_id") or ""


def _response(user: pb.User) -> web.Response:
    return json_response(user_json(user), version=user.version)


# -- endpoints -------------------------------------------------------------------------------

USER_FILTERS = filters(
    Param("user_name", "Exact userName, case-insensitive.", attribute="user_name", max_length=200),
    Param(
        "email",
        "One of the user's emails, case-insensitive.",
        attribute="emails.value",
        max_length=200,
    ),
    Param("status", "The user's status.", Kind.ENUM, tuple(STATUS_NAMES.values()), "status"),
    Param("external_id", "The IdP's id of the user (exact).", attribute="external_id"),
    Param("group_id", "Only members of this group.", Kind.UUID),
)


@endpoint(
    "List users",
    description="Oldest first. With group_id, only that group's members (any source); a page "
    "may then hold fewer users than page_size while next_page_token is set.",
    query=USER_FILTERS,
    response="UserList",
)
async def list_users(call: Call) -> web.Response:
    group_id = call.query.text("group_id")
    if group_id:
        return await _list_group_members(call, group_id)
    response = await call.directory.ListUsers(
        pb.ListUsersRequest(
            account_id=call.account_id, filter=call.query.filter(), page=call.query.page()
        )
    )
    return list_response([user_json(u) for u in response.users], response.page.next_page_token)


async def _list_group_members(call: Call, group_id: str) -> web.Response:
    """A page of the group's members (the directory has no user filter on groups), each looked
    up with the other filters."""
    try:
        members = await call.directory.ListGroupMembers(
            pb.ListGroupMembersRequest(
                account_id=call.account_id, group_id=group_id, page=call.query.page()
            )
        )
    except grpc.aio.AioRpcError as error:
        if error.code() is grpc.StatusCode.NOT_FOUND:
            # A filter on a group the account does not have matches no user.
            return list_response([], "")
        raise
    user_ids = list(dict.fromkeys(member.user_id for member in members.members))
    slices = [
        user_ids[start : start + _IDS_PER_LOOKUP]
        for start in range(0, len(user_ids), _IDS_PER_LOOKUP)
    ]
    found: dict[str, pb.User] = {}
    for response in await asyncio.gather(*(_users_by_id(call, ids) for ids in slices)):
        found.update((user.id, user) for user in response.users)
    users = [user_json(found[uid]) for uid in user_ids if uid in found]
    return list_response(users, members.page.next_page_token)


async def _users_by_id(call: Call, user_ids: Sequence[str]) -> pb.ListUsersResponse:
    by_id = any_of([eq("id", uid) for uid in user_ids])
    return await call.directory.ListUsers(
        pb.ListUsersRequest(
            account_id=call.account_id,
            filter=call.query.filter(by_id),
            page=pb.PageRequest(page_size=len(user_ids)),
        )
    )


async def get_user_message(call: Call, user_id: str) -> pb.User:
    response = await call.directory.GetUser(
        pb.GetUserRequest(account_id=call.account_id, user_id=user_id)
    )
    return response.user


@endpoint("Get a user", response="User", etag=True)
async def get_user(call: Call) -> web.Response:
    return _response(await get_user_message(call, call.path("user_id")))


async def _update(call: Call, user: pb.User) -> pb.User:
    response = await call.directory.UpdateUser(
        pb.UpdateUserRequest(user=user, expected_version=user.version, actor=call.actor)
    )
    return response.user


@endpoint(
    "Update a user",
    description="A JSON merge patch (RFC 7396) of the writable members.",
    body="UserPatch",
    example={"display_name": "Ada Lovelace", "title": "Analyst", "nick_name": None},
    merge_patch=True,
    response="User",
    etag=True,
    if_match=True,
)
async def update_user(call: Call) -> web.Response:
    async def write(current: pb.User) -> pb.User:
        changed = pb.User()
        changed.CopyFrom(current)
        _apply(changed, merge_patch(writable(current), call.body))
        return await _update(call, changed)

    user_id = call.path("user_id")
    updated = await read_modify_write(
        call.request, lambda: get_user_message(call, user_id), write, lambda u: u.version
    )
    return _response(updated)


async def _set_active(call: Call, active: bool) -> web.Response:
    async def write(current: pb.User) -> pb.User:
        if current.active == active:
            return current  # already so: nothing to change, nothing to audit
        changed = pb.User()
        changed.CopyFrom(current)
        changed.active = active
        return await _update(call, changed)

    user_id = call.path("user_id")
    updated = await read_modify_write(
        call.request, lambda: get_user_message(call, user_id), write, lambda u: u.version
    )
    return _response(updated)


@endpoint(
    "Deactivate a user",
    description="The user can no longer sign in and holds no access; memberships are kept. "
    "Deactivating a deactivated user changes nothing.",
    response="User",
    etag=True,
    if_match=True,
)
async def deactivate_user(call: Call) -> web.Response:
    return await _set_active(call, False)


@endpoint(
    "Reactivate a user",
    description="Active again: status active if the user ever signed in, else pending.",
    response="User",
    etag=True,
    if_match=True,
)
async def reactivate_user(call: Call) -> web.Response:
    return await _set_active(call, True)


@endpoint(
    "Delete a user",
    description="Removes the user with its memberships and identity links; the audit trail "
    "stays. The IdP may provision the user again.",
    if_match=True,
    status=204,
)
async def delete_user(call: Call) -> web.Response:
    user_id = call.path("user_id")

    async def current() -> int:
        return (await get_user_message(call, user_id)).version

    version = await expected_version(call.request, current)
    await call.directory.DeleteUser(
        pb.DeleteUserRequest(
            account_id=call.account_id,
            user_id=user_id,
            expected_version=version,
            actor=call.actor,
        )
    )
    return no_content()
