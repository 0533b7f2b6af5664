"""Helpers of the directory's tests (and of any suite that drives a directory server): short
constructors for accounts, users, spaces, groups and filters, and error inspection. No I/O of
their own: the unit tests use the filter builders too."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Any, TypeAlias

import grpc
from google.protobuf import json_format

from idmesh.directory.v1 import directory_pb2 as pb
from idmesh.directory.v1 import directory_pb2_grpc
from meshkit.errors import ServiceError, from_rpc_error

# Only in the typing stubs: at run time an aio channel gives the generated DirectoryServiceStub.
Stub: TypeAlias = "directory_pb2_grpc.DirectoryServiceAsyncStub"
ADMIN = pb.Actor(type=pb.ACTOR_TYPE_ADMIN_API, id="admin@test", display_name="Test Admin")


async def failure(call: Awaitable[Any]) -> tuple[grpc.StatusCode, ServiceError]:
    """The status code and the ServiceError (field, reason) of a call that must fail."""
    try:
        await call
    except grpc.aio.AioRpcError as error:
        return error.code(), from_rpc_error(error)
    raise AssertionError("the call succeeded")


async def new_account(directory: Stub, **settings: Any) -> pb.Account:
    name = f"acme-{uuid.uuid4().hex[:10]}"
    response = await directory.CreateAccount(
        pb.CreateAccountRequest(
            name=name,
            display_name="Acme",
            settings=pb.AccountSettings(**settings),
            actor=ADMIN,
        )
    )
    return response.account


async def new_user(
    directory: Stub, account_id: str, user_name: str | None = None, **fields: Any
) -> pb.User:
    user = pb.User(
        account_id=account_id,
        user_name=user_name or f"user-{uuid.uuid4().hex[:8]}@example.com",
        **fields,
    )
    response = await directory.CreateUser(pb.CreateUserRequest(user=user, actor=ADMIN))
    return response.user


async def new_space(directory: Stub, account_id: str, name: str | None = None) -> pb.Space:
    space = pb.Space(account_id=account_id, name=name or f"space-{uuid.uuid4().hex[:6]}")
    response = await directory.CreateSpace(pb.CreateSpaceRequest(space=space, actor=ADMIN))
    return response.space


async def new_group(
    directory: Stub, account_id: str, display_name: str = "Engineering", **fields: Any
) -> pb.Group:
    group = pb.Group(account_id=account_id, display_name=display_name, **fields)
    response = await directory.CreateGroup(pb.CreateGroupRequest(group=group, actor=ADMIN))
    return response.group


async def role_named(directory: Stub, account_id: str, name: str) -> pb.Role:
    """The account's role called ``name`` (built-in ones included)."""
    response = await directory.ListRoles(
        pb.ListRolesRequest(
            account_id=account_id,
            filter=comparison("name", pb.OPERATOR_EQUAL, string_value=name),
        )
    )
    (role,) = response.roles
    return role


async def audit_events(
    directory: Stub, account_id: str, target_id: str = ""
) -> list[pb.AuditEvent]:
    """Every audit event of the account (of ``target_id`` when given), oldest first."""
    request = pb.ListAuditEventsRequest(account_id=account_id, page=pb.PageRequest(page_size=1000))
    if target_id:
        request.filter.CopyFrom(comparison("target_id", pb.OPERATOR_EQUAL, string_value=target_id))
    return list((await directory.ListAuditEvents(request)).events)


def comparison(attribute: str, operator: int, **value: Any) -> pb.Filter:
    """A one-comparison filter, e.g. ``comparison("user_name", OPERATOR_EQUAL, string_value=x)``."""
    return pb.Filter(
        comparison=pb.Comparison(
            attribute=attribute,
            operator=operator,  # type: ignore[arg-type]
            value=pb.FilterValue(**value) if value else None,
        )
    )


def eq(attribute: str, value: str) -> pb.Filter:
    return comparison(attribute, pb.OPERATOR_EQUAL, string_value=value)


def all_of(*parts: pb.Filter) -> pb.Filter:
    """``and`` (a Python keyword, hence getattr)."""
    result = pb.Filter()
    getattr(result, "and").filters.extend(parts)
    return result


def any_of(*parts: pb.Filter) -> pb.Filter:
    result = pb.Filter()
    getattr(result, "or").filters.extend(parts)
    return result


def negate(part: pb.Filter) -> pb.Filter:
    result = pb.Filter()
    getattr(result, "not").CopyFrom(part)
    return result


def value_path(attribute: str, condition: pb.Filter | None = None) -> pb.Filter:
    return pb.Filter(value_path=pb.ValuePathFilter(attribute=attribute, filter=condition))


def details(event: pb.AuditEvent) -> dict[str, Any]:
    """An audit event's details as plain JSON values."""
    return json_format.MessageToDict(event.details)
