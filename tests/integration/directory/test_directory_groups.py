"""Groups: members by source, bulk changes, IdP identifiers, space roles, versions, audit."""

from __future__ import annotations

import uuid

import asyncpg
import grpc

from idmesh.directory.v1 import directory_pb2 as pb
from tests.support.directory import (
    ADMIN,
    Stub,
    audit_events,
    details,
    failure,
    new_account,
    new_group,
    new_space,
    new_user,
    role_named,
)


async def _members(directory: Stub, account_id: str, group_id: str) -> set[tuple[str, int]]:
    response = await directory.ListGroupMembers(
        pb.ListGroupMembersRequest(account_id=account_id, group_id=group_id)
    )
    return {(m.user_id, m.source) for m in response.members}


async def test_modify_adds_and_removes_members_and_bumps_the_version(directory: Stub) -> None:
    """ModifyGroupMembers: one transaction, version + 1, one "group.members_changed" event;
    adding a present member or removing an absent one is no error."""
    account = await new_account(directory)
    ada, alan, grace = [await new_user(directory, account.id) for _ in range(3)]
    group = (
        await directory.CreateGroup(
            pb.CreateGroupRequest(
                group=pb.Group(
                    account_id=account.id,
                    display_name="Pushed by Entra",
                    members=[pb.GroupMember(user_id=ada.id)],
                ),
                member_source=pb.MEMBERSHIP_SOURCE_SCIM,
                actor=ADMIN,
            )
        )
    ).group

    # Removals apply first: ada leaves and comes back, as in Okta's remove + add PATCH.
    changed = (
        await directory.ModifyGroupMembers(
            pb.ModifyGroupMembersRequest(
                account_id=account.id,
                group_id=group.id,
                add_user_ids=[alan.id, grace.id, ada.id],
                remove_user_ids=[ada.id, str(uuid.uuid4())],
                source=pb.MEMBERSHIP_SOURCE_SCIM,
                expected_version=group.version,
                actor=ADMIN,
            )
        )
    ).group

    assert changed.version == group.version + 1
    assert changed.member_count == 3
    assert await _members(directory, account.id, group.id) == {
        (ada.id, pb.MEMBERSHIP_SOURCE_SCIM),
        (alan.id, pb.MEMBERSHIP_SOURCE_SCIM),
        (grace.id, pb.MEMBERSHIP_SOURCE_SCIM),
    }
    events = await audit_events(directory, account.id, group.id)
    assert [e.action for e in events] == ["group.created", "group.members_changed"]


async def test_a_modify_that_changes_nothing_keeps_the_version(directory: Stub) -> None:
    """Adding a present member is no error and no change: no version bump, no event."""
    account = await new_account(directory)
    ada = await new_user(directory, account.id)
    group = await new_group(directory, account.id, members=[pb.GroupMember(user_id=ada.id)])

    same = (
        await directory.ModifyGroupMembers(
            pb.ModifyGroupMembersRequest(
                account_id=account.id, group_id=group.id, add_user_ids=[ada.id], actor=ADMIN
            )
        )
    ).group

    assert same.version == group.version
    assert len(await audit_events(directory, account.id, group.id)) == 1


async def test_unknown_user_ids_are_named_and_nothing_changes(directory: Stub) -> None:
    """Unknown ids (and ids of another account's users) are INVALID_ARGUMENT naming them on
    add_user_ids; the members that were valid are not added either."""
    account = await new_account(directory)
    other = await new_account(directory)
    ada = await new_user(directory, account.id)
    stranger = await new_user(directory, other.id)
    missing = str(uuid.uuid4())
    group = await new_group(directory, account.id)

    code, error = await failure(
        directory.ModifyGroupMembers(
            pb.ModifyGroupMembersRequest(
                account_id=account.id,
                group_id=group.id,
                add_user_ids=[ada.id, missing, stranger.id],
                actor=ADMIN,
            )
        )
    )

    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.field == "add_user_ids"
    assert missing in error.message
    assert stranger.id in error.message
    assert await _members(directory, account.id, group.id) == set()
    code, error = await failure(
        directory.ModifyGroupMembers(
            pb.ModifyGroupMembersRequest(
                account_id=account.id, group_id=group.id, add_user_ids=["junk"], actor=ADMIN
            )
        )
    )
    assert (code, error.field) == (grpc.StatusCode.INVALID_ARGUMENT, "add_user_ids")


async def test_thousands_of_members_change_in_one_call(
    directory: Stub, directory_pool: asyncpg.Pool
) -> None:
    """docs/scim-clients.md §2 step 12: one PATCH may change many memberships; the
    directory adds them with array statements, not one query per member."""
    account = await new_account(directory)
    role = await role_named(directory, account.id, "Account Member")
    user_ids = [
        str(r["id"])
        for r in await directory_pool.fetch(
            """
            INSERT INTO directory.users (account_id, user_name, account_role_id)
            SELECT $1, 'm' || n || '@example.com', $2 FROM generate_series(1, 3000) AS n
            RETURNING id
            """,
            uuid.UUID(account.id),
            uuid.UUID(role.id),
        )
    ]
    group = await new_group(directory, account.id)

    added = (
        await directory.ModifyGroupMembers(
            pb.ModifyGroupMembersRequest(
                account_id=account.id, group_id=group.id, add_user_ids=user_ids, actor=ADMIN
            )
        )
    ).group
    removed = (
        await directory.ModifyGroupMembers(
            pb.ModifyGroupMembersRequest(
                account_id=account.id,
                group_id=group.id,
                remove_user_ids=user_ids[:1000],
                actor=ADMIN,
            )
        )
    ).group

    assert added.member_count == 3000
    assert removed.member_count == 2000
    assert removed.version == group.version + 2


async def test_removal_by_source_leaves_other_sources_alone(directory: Stub) -> None:
    """docs/architecture.md: a login's groups claim unassigns what it assigned; memberships added by
    hand are left alone. Removal with no source removes every source."""
    account = await new_account(directory)
    ada = await new_user(directory, account.id)
    group = await new_group(directory, account.id)
    for source in (pb.MEMBERSHIP_SOURCE_SSO, pb.MEMBERSHIP_SOURCE_MANUAL):
        await directory.ModifyGroupMembers(
            pb.ModifyGroupMembersRequest(
                account_id=account.id,
                group_id=group.id,
                add_user_ids=[ada.id],
                source=source,
                actor=ADMIN,
            )
        )

    after_sso = (
        await directory.ModifyGroupMembers(
            pb.ModifyGroupMembersRequest(
                account_id=account.id,
                group_id=group.id,
                remove_user_ids=[ada.id],
                source=pb.MEMBERSHIP_SOURCE_SSO,
                actor=ADMIN,
            )
        )
    ).group
    assert await _members(directory, account.id, group.id) == {
        (ada.id, pb.MEMBERSHIP_SOURCE_MANUAL)
    }
    assert after_sso.member_count == 1

    gone = (
        await directory.ModifyGroupMembers(
            pb.ModifyGroupMembersRequest(
                account_id=account.id, group_id=group.id, remove_user_ids=[ada.id], actor=ADMIN
            )
        )
    ).group
    assert gone.member_count == 0


async def test_update_with_replace_members_sets_the_exact_list_of_its_source(
    directory: Stub,
) -> None:
    """UpdateGroup replace_members: group.members becomes the member list of member_source."""
    account = await new_account(directory)
    ada, alan, grace = [await new_user(directory, account.id) for _ in range(3)]
    group = await new_group(directory, account.id, members=[pb.GroupMember(user_id=grace.id)])
    group.display_name = "Platform"
    group.idp_identifier = "8a6f2c1e-0000-4000-8000-000000000001"
    del group.members[:]
    group.members.extend([pb.GroupMember(user_id=ada.id), pb.GroupMember(user_id=alan.id)])

    updated = (
        await directory.UpdateGroup(
            pb.UpdateGroupRequest(
                group=group,
                replace_members=True,
                member_source=pb.MEMBERSHIP_SOURCE_SCIM,
                expected_version=group.version,
                actor=ADMIN,
            )
        )
    ).group

    assert updated.display_name == "Platform"
    assert updated.version == group.version + 1
    assert updated.member_count == 3  # grace's manual membership stays
    assert await _members(directory, account.id, group.id) == {
        (ada.id, pb.MEMBERSHIP_SOURCE_SCIM),
        (alan.id, pb.MEMBERSHIP_SOURCE_SCIM),
        (grace.id, pb.MEMBERSHIP_SOURCE_MANUAL),
    }


async def test_idp_identifiers_are_unique_per_account_when_set(directory: Stub) -> None:
    """Group.idp_identifier: SCIM externalId and the groups claim meet there, so it is unique
    per account; groups without one do not collide."""
    account = await new_account(directory)
    await new_group(directory, account.id, "A", idp_identifier="entra-object-id")
    await new_group(directory, account.id, "B")
    await new_group(directory, account.id, "C")

    code, error = await failure(
        directory.CreateGroup(
            pb.CreateGroupRequest(
                group=pb.Group(
                    account_id=account.id, display_name="D", idp_identifier="entra-object-id"
                ),
                actor=ADMIN,
            )
        )
    )

    assert code == grpc.StatusCode.ALREADY_EXISTS
    assert (error.field, error.reason) == ("group.idp_identifier", "uniqueness")


async def test_space_roles_of_a_group_are_set_exactly(directory: Stub) -> None:
    """SetGroupSpaceRoles replaces the group's grants; only space-scope roles qualify; each change
    is audited."""
    account = await new_account(directory)
    dev, ops = await new_space(directory, account.id), await new_space(directory, account.id)
    developer = await role_named(directory, account.id, "Space Developer")
    member = await role_named(directory, account.id, "Space Member")
    account_role = await role_named(directory, account.id, "Account Admin")
    group = await new_group(directory, account.id)

    set_once = (
        await directory.SetGroupSpaceRoles(
            pb.SetGroupSpaceRolesRequest(
                account_id=account.id,
                group_id=group.id,
                space_roles=[
                    pb.GroupSpaceRole(space_id=dev.id, role_id=developer.id),
                    pb.GroupSpaceRole(space_id=ops.id, role_id=member.id),
                ],
                actor=ADMIN,
            )
        )
    ).group
    assert {(r.space_name, r.role_name) for r in set_once.space_roles} == {
        (dev.name, "Space Developer"),
        (ops.name, "Space Member"),
    }
    assert set_once.version == group.version + 1

    code, error = await failure(
        directory.SetGroupSpaceRoles(
            pb.SetGroupSpaceRolesRequest(
                account_id=account.id,
                group_id=group.id,
                space_roles=[pb.GroupSpaceRole(space_id=dev.id, role_id=account_role.id)],
                actor=ADMIN,
            )
        )
    )
    assert (code, error.field) == (grpc.StatusCode.INVALID_ARGUMENT, "space_roles")

    emptied = (
        await directory.SetGroupSpaceRoles(
            pb.SetGroupSpaceRolesRequest(account_id=account.id, group_id=group.id, actor=ADMIN)
        )
    ).group
    assert not emptied.space_roles
    actions = [e.action for e in await audit_events(directory, account.id, group.id)]
    assert actions.count("group.space_roles_changed") == 2


async def test_members_are_listed_only_when_asked_for(directory: Stub) -> None:
    """Group.members is filled only when the request asks for members (SCIM's
    excludedAttributes=members is the common case)."""
    account = await new_account(directory)
    ada = await new_user(directory, account.id)
    group = await new_group(directory, account.id, members=[pb.GroupMember(user_id=ada.id)])

    plain = await directory.ListGroups(pb.ListGroupsRequest(account_id=account.id))
    full = await directory.ListGroups(
        pb.ListGroupsRequest(account_id=account.id, include_members=True)
    )

    assert not plain.groups[0].members
    assert plain.groups[0].member_count == 1
    assert [(m.user_id, m.user_name) for m in full.groups[0].members] == [(ada.id, ada.user_name)]
    assert full.groups[0].id == group.id


async def test_deleting_a_group_removes_its_memberships(directory: Stub) -> None:
    """Deleting a group removes its memberships (and so the access they gave), named in its audit
    event."""
    account = await new_account(directory)
    ada = await new_user(directory, account.id)
    group = await new_group(directory, account.id, members=[pb.GroupMember(user_id=ada.id)])

    await directory.DeleteGroup(
        pb.DeleteGroupRequest(account_id=account.id, group_id=group.id, actor=ADMIN)
    )

    code, _ = await failure(
        directory.ListGroupMembers(
            pb.ListGroupMembersRequest(account_id=account.id, group_id=group.id)
        )
    )
    assert code == grpc.StatusCode.NOT_FOUND
    access = await directory.GetUserAccess(
        pb.GetUserAccessRequest(account_id=account.id, user_id=ada.id)
    )
    assert not access.groups
    deleted = (await audit_events(directory, account.id, group.id))[-1]
    assert deleted.action == "group.deleted"
    assert details(deleted)["before"]["members"] == [ada.id]
