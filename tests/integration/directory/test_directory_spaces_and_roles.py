"""Spaces, roles and space memberships."""

from __future__ import annotations

import grpc

from idmesh.directory.v1 import directory_pb2 as pb
from tests.support.directory import (
    ADMIN,
    Stub,
    audit_events,
    failure,
    new_account,
    new_space,
    new_user,
    role_named,
)


async def test_space_names_are_unique_per_account_whatever_their_case(directory: Stub) -> None:
    """IdPs send space names in `space_name`; "DevOps" and "devops" are one space."""
    account = await new_account(directory)
    space = await new_space(directory, account.id, "DevOps")

    code, error = await failure(
        directory.CreateSpace(
            pb.CreateSpaceRequest(space=pb.Space(account_id=account.id, name="devops"), actor=ADMIN)
        )
    )
    found = await directory.GetSpace(pb.GetSpaceRequest(account_id=account.id, name="DEVOPS"))

    assert (code, error.reason, error.field) == (
        grpc.StatusCode.ALREADY_EXISTS,
        "uniqueness",
        "space.name",
    )
    assert found.space == space


async def test_granting_again_replaces_the_role_of_that_source(directory: Stub) -> None:
    """GrantSpaceRole: at most one role per user, space and source; granting again replaces it,
    and each source keeps its own."""
    account = await new_account(directory)
    ada = await new_user(directory, account.id)
    space = await new_space(directory, account.id)
    member = await role_named(directory, account.id, "Space Member")
    developer = await role_named(directory, account.id, "Space Developer")

    def grant(role: pb.Role, source: int) -> pb.GrantSpaceRoleRequest:
        return pb.GrantSpaceRoleRequest(
            account_id=account.id,
            user_id=ada.id,
            space_id=space.id,
            role_id=role.id,
            source=source,  # type: ignore[arg-type]
            actor=ADMIN,
        )

    await directory.GrantSpaceRole(grant(member, pb.MEMBERSHIP_SOURCE_SSO))
    replaced = await directory.GrantSpaceRole(grant(developer, pb.MEMBERSHIP_SOURCE_SSO))
    await directory.GrantSpaceRole(grant(member, pb.MEMBERSHIP_SOURCE_MANUAL))
    await directory.GrantSpaceRole(grant(member, pb.MEMBERSHIP_SOURCE_MANUAL))  # no change

    assert replaced.membership.role_name == "Space Developer"
    assert replaced.membership.space_name == space.name
    listed = await directory.ListSpaceMemberships(
        pb.ListSpaceMembershipsRequest(account_id=account.id)
    )
    assert {(m.role_name, m.source) for m in listed.memberships} == {
        ("Space Developer", pb.MEMBERSHIP_SOURCE_SSO),
        ("Space Member", pb.MEMBERSHIP_SOURCE_MANUAL),
    }
    actions = [e.action for e in await audit_events(directory, account.id, ada.id)]
    assert actions.count("space_role.granted") == 3


async def test_a_membership_needs_a_space_role_and_a_direct_source(directory: Stub) -> None:
    """A membership's role must be a space role; GROUP is not a direct source (SetGroupSpaceRoles
    grants those)."""
    account = await new_account(directory)
    ada = await new_user(directory, account.id)
    space = await new_space(directory, account.id)
    account_admin = await role_named(directory, account.id, "Account Admin")
    member = await role_named(directory, account.id, "Space Member")

    code, error = await failure(
        directory.GrantSpaceRole(
            pb.GrantSpaceRoleRequest(
                account_id=account.id,
                user_id=ada.id,
                space_id=space.id,
                role_id=account_admin.id,
                actor=ADMIN,
            )
        )
    )
    assert (code, error.field) == (grpc.StatusCode.INVALID_ARGUMENT, "role_id")
    code, error = await failure(
        directory.GrantSpaceRole(
            pb.GrantSpaceRoleRequest(
                account_id=account.id,
                user_id=ada.id,
                space_id=space.id,
                role_id=member.id,
                source=pb.MEMBERSHIP_SOURCE_GROUP,
                actor=ADMIN,
            )
        )
    )
    assert (code, error.field) == (grpc.StatusCode.INVALID_ARGUMENT, "source")


async def test_revoking_removes_the_membership_and_an_absent_one_is_not_found(
    directory: Stub,
) -> None:
    """RevokeSpaceRole removes the membership; revoking what is not there is NOT_FOUND."""
    account = await new_account(directory)
    ada = await new_user(directory, account.id)
    space = await new_space(directory, account.id)
    member = await role_named(directory, account.id, "Space Member")
    await directory.GrantSpaceRole(
        pb.GrantSpaceRoleRequest(
            account_id=account.id, user_id=ada.id, space_id=space.id, role_id=member.id, actor=ADMIN
        )
    )
    revoke = pb.RevokeSpaceRoleRequest(
        account_id=account.id, user_id=ada.id, space_id=space.id, actor=ADMIN
    )

    await directory.RevokeSpaceRole(revoke)
    code, _ = await failure(directory.RevokeSpaceRole(revoke))

    assert code == grpc.StatusCode.NOT_FOUND


async def test_built_in_roles_cannot_be_renamed_or_deleted(directory: Stub) -> None:
    """docs/architecture.md: built-in roles are created with every account and cannot be renamed or
    deleted (FAILED_PRECONDITION); their description may change."""
    account = await new_account(directory)
    role = await role_named(directory, account.id, "Space Member")

    renamed = pb.Role()
    renamed.CopyFrom(role)
    renamed.name = "Viewer"
    code, error = await failure(
        directory.UpdateRole(pb.UpdateRoleRequest(role=renamed, actor=ADMIN))
    )
    assert (code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "built_in")
    code, error = await failure(
        directory.DeleteRole(
            pb.DeleteRoleRequest(account_id=account.id, role_id=role.id, actor=ADMIN)
        )
    )
    assert (code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "built_in")

    role.description = "Reads everything in a space"
    described = (await directory.UpdateRole(pb.UpdateRoleRequest(role=role, actor=ADMIN))).role
    assert described.description == "Reads everything in a space"


async def test_a_custom_role_in_use_cannot_be_deleted(directory: Stub) -> None:
    """A role still held by someone is FAILED_PRECONDITION "in_use"; once free it can go.
    Permissions are stored sorted and unique."""
    account = await new_account(directory)
    ada = await new_user(directory, account.id)
    space = await new_space(directory, account.id)
    auditor = (
        await directory.CreateRole(
            pb.CreateRoleRequest(
                role=pb.Role(
                    account_id=account.id,
                    name="Auditor",
                    scope=pb.ROLE_SCOPE_SPACE,
                    permissions=["space:read", "space:audit", "space:read"],
                ),
                actor=ADMIN,
            )
        )
    ).role
    assert list(auditor.permissions) == ["space:audit", "space:read"]
    await directory.GrantSpaceRole(
        pb.GrantSpaceRoleRequest(
            account_id=account.id,
            user_id=ada.id,
            space_id=space.id,
            role_id=auditor.id,
            actor=ADMIN,
        )
    )
    delete = pb.DeleteRoleRequest(account_id=account.id, role_id=auditor.id, actor=ADMIN)

    code, error = await failure(directory.DeleteRole(delete))
    assert (code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "in_use")

    await directory.RevokeSpaceRole(
        pb.RevokeSpaceRoleRequest(
            account_id=account.id, user_id=ada.id, space_id=space.id, actor=ADMIN
        )
    )
    await directory.DeleteRole(delete)


async def test_role_names_are_unique_per_scope_and_the_scope_is_fixed(directory: Stub) -> None:
    """Role names are unique per account and scope, case-insensitively; a scope is required and
    never changes."""
    account = await new_account(directory)

    def create(name: str, scope: int) -> pb.CreateRoleRequest:
        return pb.CreateRoleRequest(
            role=pb.Role(account_id=account.id, name=name, scope=scope),  # type: ignore[arg-type]
            actor=ADMIN,
        )

    code, error = await failure(directory.CreateRole(create("space member", pb.ROLE_SCOPE_SPACE)))
    assert (code, error.field) == (grpc.StatusCode.ALREADY_EXISTS, "role.name")
    same_name_other_scope = (
        await directory.CreateRole(create("Space Member", pb.ROLE_SCOPE_ACCOUNT))
    ).role
    code, error = await failure(directory.CreateRole(create("No Scope", pb.ROLE_SCOPE_UNSPECIFIED)))
    assert (code, error.field) == (grpc.StatusCode.INVALID_ARGUMENT, "role.scope")

    same_name_other_scope.scope = pb.ROLE_SCOPE_SPACE
    code, error = await failure(
        directory.UpdateRole(pb.UpdateRoleRequest(role=same_name_other_scope, actor=ADMIN))
    )
    assert (code, error.field) == (grpc.StatusCode.INVALID_ARGUMENT, "role.scope")


async def test_deleting_a_space_revokes_its_memberships_and_group_grants(directory: Stub) -> None:
    """Deleting a space takes its memberships and group grants along, each audited; the groups'
    versions move on."""
    account = await new_account(directory)
    ada = await new_user(directory, account.id)
    space = await new_space(directory, account.id)
    member = await role_named(directory, account.id, "Space Member")
    await directory.GrantSpaceRole(
        pb.GrantSpaceRoleRequest(
            account_id=account.id, user_id=ada.id, space_id=space.id, role_id=member.id, actor=ADMIN
        )
    )
    group = (
        await directory.CreateGroup(
            pb.CreateGroupRequest(
                group=pb.Group(account_id=account.id, display_name="G"), actor=ADMIN
            )
        )
    ).group
    await directory.SetGroupSpaceRoles(
        pb.SetGroupSpaceRolesRequest(
            account_id=account.id,
            group_id=group.id,
            space_roles=[pb.GroupSpaceRole(space_id=space.id, role_id=member.id)],
            actor=ADMIN,
        )
    )

    await directory.DeleteSpace(
        pb.DeleteSpaceRequest(account_id=account.id, space_id=space.id, actor=ADMIN)
    )

    after = (
        await directory.GetGroup(pb.GetGroupRequest(account_id=account.id, group_id=group.id))
    ).group
    assert not after.space_roles
    assert after.version == group.version + 2
    access = await directory.GetUserAccess(
        pb.GetUserAccessRequest(account_id=account.id, user_id=ada.id)
    )
    assert not access.spaces
    actions = [e.action for e in await audit_events(directory, account.id)]
    assert "space.deleted" in actions
    assert "space_role.revoked" in actions
