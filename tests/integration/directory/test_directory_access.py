"""GetUserAccess and CheckAccess: direct memberships and group space roles add up."""

from __future__ import annotations

import uuid

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


async def _check(
    directory: Stub, account_id: str, user_id: str, space_id: str, permission: str
) -> pb.CheckAccessResponse:
    return await directory.CheckAccess(
        pb.CheckAccessRequest(
            account_id=account_id, user_id=user_id, space_id=space_id, permission=permission
        )
    )


async def _setup(directory: Stub) -> tuple[pb.Account, pb.User, pb.Space, pb.Space, pb.Group]:
    """Ada is a Space Member of "dev" directly (from SCIM), and in group "Deployers", which
    grants Space Developer in "dev" and Space Admin in "ops"."""
    account = await new_account(directory)
    ada = await new_user(directory, account.id)
    dev = await new_space(directory, account.id, "dev")
    ops = await new_space(directory, account.id, "ops")
    member = await role_named(directory, account.id, "Space Member")
    developer = await role_named(directory, account.id, "Space Developer")
    admin = await role_named(directory, account.id, "Space Admin")
    await directory.GrantSpaceRole(
        pb.GrantSpaceRoleRequest(
            account_id=account.id,
            user_id=ada.id,
            space_id=dev.id,
            role_id=member.id,
            source=pb.MEMBERSHIP_SOURCE_SCIM,
            actor=ADMIN,
        )
    )
    group = await new_group(
        directory, account.id, "Deployers", members=[pb.GroupMember(user_id=ada.id)]
    )
    await directory.SetGroupSpaceRoles(
        pb.SetGroupSpaceRolesRequest(
            account_id=account.id,
            group_id=group.id,
            space_roles=[
                pb.GroupSpaceRole(space_id=dev.id, role_id=developer.id),
                pb.GroupSpaceRole(space_id=ops.id, role_id=admin.id),
            ],
            actor=ADMIN,
        )
    )
    return account, ada, dev, ops, group


async def test_user_access_lists_direct_and_group_grants_per_space(directory: Stub) -> None:
    """GetUserAccess: every space with each role grant and its source (GROUP grants name the
    group), the union of permissions, the account role, and the user's groups."""
    account, ada, dev, ops, group = await _setup(directory)

    access = await directory.GetUserAccess(
        pb.GetUserAccessRequest(account_id=account.id, user_id=ada.id)
    )

    assert access.user.id == ada.id
    assert access.account_role.name == "Account Member"
    assert access.account_role.built_in
    spaces = {s.space_name: s for s in access.spaces}
    assert list(spaces) == ["dev", "ops"]
    dev_grants = {(g.role_name, g.source, g.group_name) for g in spaces["dev"].roles}
    assert dev_grants == {
        ("Space Member", pb.MEMBERSHIP_SOURCE_SCIM, ""),
        ("Space Developer", pb.MEMBERSHIP_SOURCE_GROUP, "Deployers"),
    }
    assert list(spaces["dev"].permissions) == ["space:deploy", "space:read", "space:write"]
    assert [(g.role_name, g.group_id) for g in spaces["ops"].roles] == [("Space Admin", group.id)]
    assert "space:manage" in spaces["ops"].permissions
    assert [g.display_name for g in access.groups] == ["Deployers"]
    assert {r.space_name for r in access.groups[0].space_roles} == {"dev", "ops"}
    assert dev.id == spaces["dev"].space_id
    assert ops.id == spaces["ops"].space_id


async def test_a_group_grants_what_a_direct_membership_does_not(directory: Stub) -> None:
    """CheckAccess: allowed when any role, direct or through a group, grants the permission;
    the reason names the role and the group."""
    account, ada, dev, ops, _ = await _setup(directory)

    read = await _check(directory, account.id, ada.id, dev.id, "space:read")
    deploy = await _check(directory, account.id, ada.id, dev.id, "space:deploy")
    manage_dev = await _check(directory, account.id, ada.id, dev.id, "space:manage")
    manage_ops = await _check(directory, account.id, ada.id, ops.id, "space:manage")

    assert read.allowed
    assert "Space Member" in read.reason
    assert deploy.allowed
    assert "via group Deployers" in deploy.reason
    assert not manage_dev.allowed
    assert "Space Developer" in manage_dev.reason
    assert "Space Member" in manage_dev.reason
    assert manage_ops.allowed


async def test_leaving_the_group_takes_its_access_away(directory: Stub) -> None:
    """Group grants are computed at each check, never copied: leaving the group ends them."""
    account, ada, dev, ops, group = await _setup(directory)

    await directory.ModifyGroupMembers(
        pb.ModifyGroupMembersRequest(
            account_id=account.id, group_id=group.id, remove_user_ids=[ada.id], actor=ADMIN
        )
    )

    assert not (await _check(directory, account.id, ada.id, dev.id, "space:deploy")).allowed
    none = await _check(directory, account.id, ada.id, ops.id, "space:read")
    assert not none.allowed
    assert none.reason == "no role in the space"


async def test_a_deactivated_user_is_denied_everything(directory: Stub) -> None:
    """CheckAccess: a deactivated user is denied "user is deactivated", whatever its roles."""
    account, ada, dev, _, _ = await _setup(directory)
    ada.active = False
    await directory.UpdateUser(pb.UpdateUserRequest(user=ada, actor=ADMIN))

    denied = await _check(directory, account.id, ada.id, dev.id, "space:read")

    assert not denied.allowed
    assert denied.reason == "user is deactivated"


async def test_account_permissions_come_from_the_account_role(directory: Stub) -> None:
    """CheckAccess with an empty space_id checks the account role's permissions."""
    account = await new_account(directory)
    admin_role = await role_named(directory, account.id, "Account Admin")
    admin = await new_user(directory, account.id, account_role_id=admin_role.id)
    member = await new_user(directory, account.id)

    allowed = await _check(directory, account.id, admin.id, "", "users:manage")
    denied = await _check(directory, account.id, member.id, "", "users:manage")

    assert allowed.allowed
    assert "Account Admin" in allowed.reason
    assert not denied.allowed
    assert "Account Member" in denied.reason


async def test_unknown_users_and_spaces_are_not_found(directory: Stub) -> None:
    """Unknown or malformed user and space ids are NOT_FOUND; a missing permission is
    INVALID_ARGUMENT."""
    account, ada, _, _, _ = await _setup(directory)

    for user_id, space_id in ((str(uuid.uuid4()), ""), (ada.id, str(uuid.uuid4())), (ada.id, "x")):
        code, _ = await failure(_check(directory, account.id, user_id, space_id, "space:read"))
        assert code == grpc.StatusCode.NOT_FOUND
    code, error = await failure(_check(directory, account.id, ada.id, "", ""))
    assert (code, error.field) == (grpc.StatusCode.INVALID_ARGUMENT, "permission")
