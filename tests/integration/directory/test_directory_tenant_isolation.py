"""Tenant isolation: a call naming account A never reaches account B's rows, even with their
ids (proto header: "the directory never returns a row of another account")."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import grpc

from idmesh.directory.v1 import directory_pb2 as pb
from tests.support.directory import (
    ADMIN,
    Stub,
    failure,
    new_account,
    new_group,
    new_space,
    new_user,
    role_named,
)


async def test_another_accounts_ids_are_not_found(directory: Stub) -> None:
    """Get, update, delete, grant and access checks with account A's id and B's object ids are
    NOT_FOUND, and B's rows stay untouched."""
    mine = await new_account(directory)
    theirs = await new_account(directory)
    their_user = await new_user(directory, theirs.id)
    their_space = await new_space(directory, theirs.id)
    their_group = await new_group(directory, theirs.id)
    their_role = await role_named(directory, theirs.id, "Space Member")
    my_user = await new_user(directory, mine.id)
    stolen = pb.User()
    stolen.CopyFrom(their_user)
    stolen.account_id = mine.id
    stolen.title = "Hijacked"

    calls: list[Awaitable[Any]] = [
        directory.GetUser(pb.GetUserRequest(account_id=mine.id, user_id=their_user.id)),
        directory.UpdateUser(pb.UpdateUserRequest(user=stolen, actor=ADMIN)),
        directory.DeleteUser(
            pb.DeleteUserRequest(account_id=mine.id, user_id=their_user.id, actor=ADMIN)
        ),
        directory.GetSpace(pb.GetSpaceRequest(account_id=mine.id, space_id=their_space.id)),
        directory.GetSpace(pb.GetSpaceRequest(account_id=mine.id, name=their_space.name)),
        directory.DeleteSpace(
            pb.DeleteSpaceRequest(account_id=mine.id, space_id=their_space.id, actor=ADMIN)
        ),
        directory.GetGroup(pb.GetGroupRequest(account_id=mine.id, group_id=their_group.id)),
        directory.ModifyGroupMembers(
            pb.ModifyGroupMembersRequest(
                account_id=mine.id, group_id=their_group.id, add_user_ids=[my_user.id], actor=ADMIN
            )
        ),
        directory.DeleteGroup(
            pb.DeleteGroupRequest(account_id=mine.id, group_id=their_group.id, actor=ADMIN)
        ),
        directory.GetRole(pb.GetRoleRequest(account_id=mine.id, role_id=their_role.id)),
        directory.GrantSpaceRole(
            pb.GrantSpaceRoleRequest(
                account_id=mine.id,
                user_id=my_user.id,
                space_id=their_space.id,
                role_id=their_role.id,
                actor=ADMIN,
            )
        ),
        directory.GetUserAccess(pb.GetUserAccessRequest(account_id=mine.id, user_id=their_user.id)),
        directory.CheckAccess(
            pb.CheckAccessRequest(
                account_id=mine.id, user_id=my_user.id, space_id=their_space.id, permission="x:y"
            )
        ),
    ]
    for call in calls:
        code, _ = await failure(call)
        assert code == grpc.StatusCode.NOT_FOUND

    still = await directory.GetUser(pb.GetUserRequest(account_id=theirs.id, user_id=their_user.id))
    assert still.user == their_user


async def test_lists_never_show_another_accounts_rows(directory: Stub) -> None:
    """Lists, totals, id filters and the audit log are scoped to the account named in the
    request."""
    mine = await new_account(directory)
    theirs = await new_account(directory)
    mine_user = await new_user(directory, mine.id, "same@example.com")
    their_user = await new_user(directory, theirs.id, "same@example.com")
    await new_group(directory, theirs.id, members=[pb.GroupMember(user_id=their_user.id)])

    users = await directory.ListUsers(
        pb.ListUsersRequest(account_id=mine.id, page=pb.PageRequest(include_total=True))
    )
    by_id = await directory.ListUsers(
        pb.ListUsersRequest(
            account_id=mine.id,
            filter=pb.Filter(
                comparison=pb.Comparison(
                    attribute="id",
                    operator=pb.OPERATOR_EQUAL,
                    value=pb.FilterValue(string_value=their_user.id),
                )
            ),
        )
    )
    groups = await directory.ListGroups(pb.ListGroupsRequest(account_id=mine.id))
    events = await directory.ListAuditEvents(pb.ListAuditEventsRequest(account_id=mine.id))

    assert [u.id for u in users.users] == [mine_user.id]
    assert users.page.total_size == 1
    assert not by_id.users
    assert not groups.groups
    assert {e.target_id for e in events.events if e.target_type == "user"} == {mine_user.id}
