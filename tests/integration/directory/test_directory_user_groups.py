"""A user's groups read with the user (GetUser and ListUsers include_groups): what SCIM renders
as the User's ``groups`` (RFC 7643 §4.1.2) without a ListGroups call per user."""

from __future__ import annotations

import asyncpg

from idmesh.directory.v1 import directory_pb2 as pb
from tests.support.directory import ADMIN, Stub, eq, new_account, new_group, new_user


def _groups(user: pb.User) -> list[tuple[str, str]]:
    return [(group.id, group.display_name) for group in user.groups]


async def _join(
    directory: Stub, group: pb.Group, user: pb.User, source: pb.MembershipSource.ValueType
) -> None:
    await directory.ModifyGroupMembers(
        pb.ModifyGroupMembersRequest(
            account_id=group.account_id,
            group_id=group.id,
            add_user_ids=[user.id],
            source=source,
            actor=ADMIN,
        )
    )


async def _get(directory: Stub, user: pb.User, *, include_groups: bool) -> pb.User:
    request = pb.GetUserRequest(
        account_id=user.account_id, user_id=user.id, include_groups=include_groups
    )
    return (await directory.GetUser(request)).user


async def test_get_user_with_groups_gives_exactly_its_groups_in_creation_order(
    directory: Stub,
) -> None:
    """RFC 7643 §4.1.2 groups: the groups the user is a direct member of, each once even when
    two sources (SCIM and SSO) hold the membership, in ListGroups' order (creation); a group
    the user is not in is not listed."""
    account = await new_account(directory)
    ada, alan = [await new_user(directory, account.id) for _ in range(2)]
    # Created first, named last: creation order, not the name, decides.
    zeta = await new_group(directory, account.id, "Zeta")
    alpha = await new_group(directory, account.id, "Alpha")
    other = await new_group(directory, account.id, "Only Alan")
    await _join(directory, alpha, ada, pb.MEMBERSHIP_SOURCE_SCIM)
    await _join(directory, zeta, ada, pb.MEMBERSHIP_SOURCE_SCIM)
    await _join(directory, zeta, ada, pb.MEMBERSHIP_SOURCE_SSO)
    await _join(directory, other, alan, pb.MEMBERSHIP_SOURCE_SCIM)

    with_groups = await _get(directory, ada, include_groups=True)

    assert _groups(with_groups) == [(zeta.id, "Zeta"), (alpha.id, "Alpha")]
    listed = await directory.ListGroups(
        pb.ListGroupsRequest(account_id=account.id, filter=eq("members.user_id", ada.id))
    )
    assert [g.id for g in listed.groups] == [g.id for g in with_groups.groups]
    without = await _get(directory, ada, include_groups=False)
    assert not without.groups
    with_groups.ClearField("groups")
    assert with_groups == without


async def test_list_users_with_groups_gives_each_user_its_own_groups(directory: Stub) -> None:
    """ListUsers include_groups: every user of the page carries its own groups (a user in no
    group none); without the flag no user carries any."""
    account = await new_account(directory)
    ada, alan, grace = [await new_user(directory, account.id) for _ in range(3)]
    engineering = await new_group(directory, account.id, "Engineering")
    research = await new_group(directory, account.id, "Research")
    await _join(directory, engineering, ada, pb.MEMBERSHIP_SOURCE_SCIM)
    await _join(directory, research, ada, pb.MEMBERSHIP_SOURCE_SCIM)
    await _join(directory, research, grace, pb.MEMBERSHIP_SOURCE_MANUAL)

    def request(include_groups: bool) -> pb.ListUsersRequest:
        return pb.ListUsersRequest(
            account_id=account.id,
            page=pb.PageRequest(page_size=10, include_total=True),
            include_groups=include_groups,
        )

    listed = await directory.ListUsers(request(include_groups=True))

    assert {user.id: _groups(user) for user in listed.users} == {
        ada.id: [(engineering.id, "Engineering"), (research.id, "Research")],
        alan.id: [],
        grace.id: [(research.id, "Research")],
    }
    assert listed.page.total_size == 3
    plain = await directory.ListUsers(request(include_groups=False))
    assert [u.id for u in plain.users] == [u.id for u in listed.users]
    assert not any(user.groups for user in plain.users)


async def test_a_users_groups_never_include_another_accounts_group(
    directory: Stub, directory_pool: asyncpg.Pool
) -> None:
    """Tenant isolation: a user row of another account with the very same id (ids are unique
    per account only) that is in that account's group does not bring the group along."""
    account, other_account = await new_account(directory), await new_account(directory)
    ada = await new_user(directory, account.id)
    ours = await new_group(directory, account.id, "Ours")
    await _join(directory, ours, ada, pb.MEMBERSHIP_SOURCE_SCIM)
    await directory_pool.execute(
        """
        INSERT INTO directory.users (account_id, id, user_name, account_role_id)
        SELECT r.account_id, $2, 'twin@example.com', r.id FROM directory.roles r
        WHERE r.account_id = $1 AND r.scope = 'account' AND r.built_in
        ORDER BY r.id LIMIT 1
        """,
        other_account.id,
        ada.id,
    )
    twin = (
        await directory.GetUser(pb.GetUserRequest(account_id=other_account.id, user_id=ada.id))
    ).user
    theirs = await new_group(directory, other_account.id, "Theirs")
    await _join(directory, theirs, twin, pb.MEMBERSHIP_SOURCE_SCIM)

    assert _groups(await _get(directory, ada, include_groups=True)) == [(ours.id, "Ours")]
    assert _groups(await _get(directory, twin, include_groups=True)) == [(theirs.id, "Theirs")]
    listed = await directory.ListUsers(
        pb.ListUsersRequest(account_id=account.id, include_groups=True)
    )
    assert [_groups(user) for user in listed.users] == [[(ours.id, "Ours")]]
