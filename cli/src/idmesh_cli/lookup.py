"""Naming a user or a group on the command line: its id, or what people call it (a userName,
a group's display name), resolved inside one account."""

from __future__ import annotations

import uuid

import grpc

from idmesh.directory.v1 import directory_pb2
from idmesh_cli.errors import CliError, rpc_failure
from idmesh_cli.runtime import Runtime


def equals(attribute: str, value: str) -> directory_pb2.Filter:
    """The directory filter ``attribute eq "value"`` (the value is data, never query text)."""
    return directory_pb2.Filter(
        comparison=directory_pb2.Comparison(
            attribute=attribute,
            operator=directory_pb2.OPERATOR_EQUAL,
            value=directory_pb2.FilterValue(string_value=value),
        )
    )


def _as_id(reference: str) -> str | None:
    try:
        return str(uuid.UUID(reference))
    except ValueError:
        return None


async def find_user(
    rt: Runtime, account: directory_pb2.Account, reference: str
) -> directory_pb2.User:
    """The user of ``account`` whose id or userName (case-insensitive) is ``reference``."""
    directory = rt.directory
    not_found = CliError(f"user {reference!r} not found in account {account.name!r}")
    user_id = _as_id(reference)
    if user_id is not None:
        try:
            response = await directory.stub.GetUser(
                directory_pb2.GetUserRequest(account_id=account.id, user_id=user_id)
            )
        except grpc.aio.AioRpcError as error:
            if error.code() is not grpc.StatusCode.NOT_FOUND:
                raise rpc_failure(directory.name, directory.address, error) from None
        else:
            return response.user
    listed = await directory.call(
        directory.stub.ListUsers(
            directory_pb2.ListUsersRequest(
                account_id=account.id,
                filter=equals("user_name", reference),
                page=directory_pb2.PageRequest(page_size=1),
            )
        )
    )
    if not listed.users:
        raise not_found
    return listed.users[0]


async def find_group(
    rt: Runtime, account: directory_pb2.Account, reference: str
) -> directory_pb2.Group:
    """The group of ``account`` whose id or display name (case-insensitive) is ``reference``;
    a name several groups carry is refused with their ids."""
    directory = rt.directory
    group_id = _as_id(reference)
    if group_id is not None:
        try:
            response = await directory.stub.GetGroup(
                directory_pb2.GetGroupRequest(account_id=account.id, group_id=group_id)
            )
        except grpc.aio.AioRpcError as error:
            if error.code() is not grpc.StatusCode.NOT_FOUND:
                raise rpc_failure(directory.name, directory.address, error) from None
        else:
            return response.group
    listed = await directory.call(
        directory.stub.ListGroups(
            directory_pb2.ListGroupsRequest(
                account_id=account.id,
                filter=equals("display_name", reference),
                page=directory_pb2.PageRequest(page_size=10),
            )
        )
    )
    if not listed.groups:
        raise CliError(f"group {reference!r} not found in account {account.name!r}")
    if len(listed.groups) > 1:
        ids = ", ".join(group.id for group in listed.groups)
        raise CliError(f"several groups are named {reference!r}; name one by its id: {ids}")
    return listed.groups[0]
