"""Users: uniqueness, attributes, status rules, references, optimistic concurrency, deletion."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import asyncpg
import grpc
from google.protobuf import struct_pb2

from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import from_rpc_error
from tests.support.directory import (
    ADMIN,
    Stub,
    audit_events,
    details,
    failure,
    new_account,
    new_space,
    new_user,
    role_named,
)


def _create(account_id: str, user_name: str, **fields: object) -> pb.CreateUserRequest:
    return pb.CreateUserRequest(
        user=pb.User(account_id=account_id, user_name=user_name, **fields),  # type: ignore[arg-type]
        actor=ADMIN,
    )


async def test_user_names_are_unique_per_account_whatever_their_case(directory: Stub) -> None:
    """docs/scim-clients.md §1: a live duplicate userName, case-insensitive, is a 409
    `uniqueness` (ALREADY_EXISTS on user.user_name here)."""
    account = await new_account(directory)
    await new_user(directory, account.id, "Ada.Lovelace@Example.com")

    code, error = await failure(
        directory.CreateUser(_create(account.id, "ada.lovelace@example.COM"))
    )

    assert code == grpc.StatusCode.ALREADY_EXISTS
    assert error.reason == "uniqueness"
    assert error.field == "user.user_name"


async def test_the_same_user_name_may_exist_in_two_accounts(directory: Stub) -> None:
    """Uniqueness is per account: tenants do not see each other's names."""
    first = await new_account(directory)
    second = await new_account(directory)

    await new_user(directory, first.id, "shared@example.com")
    user = await new_user(directory, second.id, "shared@example.com")

    assert user.account_id == second.id


async def test_a_burst_of_concurrent_creates_of_one_user_name_creates_exactly_one(
    directory: Stub,
) -> None:
    """IdPs retry and run in parallel: 20 concurrent creates of one userName (in different
    cases) leave one user; the others are ALREADY_EXISTS, never a 500."""
    account = await new_account(directory)
    names = ["BURST@example.com" if i % 2 else "burst@Example.com" for i in range(20)]

    results = await asyncio.gather(
        *(directory.CreateUser(_create(account.id, name)) for name in names),
        return_exceptions=True,
    )

    created = [r for r in results if isinstance(r, pb.CreateUserResponse)]
    failed = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(created) == 1
    assert len(failed) == 19
    assert {e.code() for e in failed} == {grpc.StatusCode.ALREADY_EXISTS}
    listed = await directory.ListUsers(pb.ListUsersRequest(account_id=account.id))
    assert len(listed.users) == 1


async def test_every_attribute_survives_a_round_trip(directory: Stub) -> None:
    """The User message is stored as sent: names, multi-valued attributes, enterprise
    attributes and other schema extensions."""
    account = await new_account(directory)
    manager = await new_user(directory, account.id)
    extensions = struct_pb2.Struct()
    extensions.update({"urn:example:custom": {"badge": "B-7", "floors": [1, 2]}})
    sent = pb.User(
        account_id=account.id,
        user_name="grace@example.com",
        external_id="00u1ExT",
        name=pb.Name(formatted="Dr Grace Hopper", family_name="Hopper", given_name="Grace"),
        display_name="Grace",
        nick_name="Amazing Grace",
        profile_url="https://example.com/grace",
        title="Rear Admiral",
        user_type="Employee",
        preferred_language="en-US",
        locale="en-US",
        timezone="America/New_York",
        emails=[
            pb.MultiValue(value="grace@example.com", type="work", primary=True),
            pb.MultiValue(value="g@home.example", type="home"),
        ],
        phone_numbers=[pb.MultiValue(value="+1 555 0100", type="mobile")],
        addresses=[pb.Address(street_address="1 Navy Way", locality="Arlington", type="work")],
        entitlements=[pb.MultiValue(value="compiler")],
        enterprise=pb.EnterpriseAttributes(
            employee_number="1906",
            department="Research",
            manager_id=manager.id,
            manager_display_name="Boss",
        ),
        extensions=extensions,
    )

    created = (await directory.CreateUser(pb.CreateUserRequest(user=sent, actor=ADMIN))).user
    read = (
        await directory.GetUser(pb.GetUserRequest(account_id=account.id, user_id=created.id))
    ).user

    assert read == created
    for field in ("user_name", "external_id", "name", "emails", "phone_numbers", "addresses"):
        assert getattr(read, field) == getattr(sent, field), field
    assert read.enterprise == sent.enterprise
    assert read.extensions == sent.extensions
    assert read.timezone == "America/New_York"
    assert read.status == pb.USER_STATUS_PENDING
    assert read.active
    assert read.account_role_name == "Account Member"
    assert read.version == 1


async def test_a_timezone_must_be_an_iana_name(directory: Stub) -> None:
    """docs/architecture.md: a timezone is a valid IANA name, else INVALID_ARGUMENT on
    user.timezone."""
    account = await new_account(directory)

    code, error = await failure(
        directory.CreateUser(_create(account.id, "tz@example.com", timezone="Mars/Olympus"))
    )

    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.field == "user.timezone"


async def test_references_must_point_into_the_same_account(directory: Stub) -> None:
    """A manager is a user of the account and the account role an account-scope role of it;
    otherwise INVALID_ARGUMENT naming the field."""
    account = await new_account(directory)
    other = await new_account(directory)
    stranger = await new_user(directory, other.id)
    space_role = await role_named(directory, account.id, "Space Member")
    foreign_role = await role_named(directory, other.id, "Account Admin")

    cases = [
        (
            _create(
                account.id,
                "a@example.com",
                enterprise=pb.EnterpriseAttributes(manager_id=stranger.id),
            ),
            "user.enterprise.manager_id",
        ),
        (
            _create(
                account.id,
                "b@example.com",
                enterprise=pb.EnterpriseAttributes(manager_id="not-an-id"),
            ),
            "user.enterprise.manager_id",
        ),
        (
            _create(account.id, "c@example.com", account_role_id=space_role.id),
            "user.account_role_id",
        ),
        (
            _create(account.id, "d@example.com", account_role_id=foreign_role.id),
            "user.account_role_id",
        ),
        (_create(account.id, ""), "user.user_name"),
    ]
    for request, field in cases:
        code, error = await failure(directory.CreateUser(request))
        assert (code, error.field) == (grpc.StatusCode.INVALID_ARGUMENT, field)


async def test_a_user_in_an_unknown_account_is_not_found(directory: Stub) -> None:
    """CreateUser in an account that does not exist is NOT_FOUND, not a foreign-key 500."""
    code, _ = await failure(directory.CreateUser(_create(str(uuid.uuid4()), "x@example.com")))
    assert code == grpc.StatusCode.NOT_FOUND


async def test_unknown_and_malformed_ids_are_not_found(directory: Stub) -> None:
    """Unknown ids answer NOT_FOUND, and so do malformed ones (never a 500)."""
    account = await new_account(directory)

    for user_id in (str(uuid.uuid4()), "not-a-uuid", "'; DROP TABLE users; --"):
        code, _ = await failure(
            directory.GetUser(pb.GetUserRequest(account_id=account.id, user_id=user_id))
        )
        assert code == grpc.StatusCode.NOT_FOUND
    code, _ = await failure(
        directory.GetUser(pb.GetUserRequest(account_id="junk", user_id=str(uuid.uuid4())))
    )
    assert code == grpc.StatusCode.NOT_FOUND
    code, _ = await failure(
        directory.DeleteUser(
            pb.DeleteUserRequest(account_id=account.id, user_id=str(uuid.uuid4()), actor=ADMIN)
        )
    )
    assert code == grpc.StatusCode.NOT_FOUND


async def test_deactivation_and_reactivation_follow_the_status_rules(directory: Stub) -> None:
    """UpdateUser: active=false deactivates; active=true on a deactivated user gives ACTIVE if
    it ever signed in, else PENDING (provisioned, never signed in)."""
    account = await new_account(directory)
    user = await new_user(directory, account.id)

    user.active = False
    deactivated = (await directory.UpdateUser(pb.UpdateUserRequest(user=user, actor=ADMIN))).user
    assert deactivated.status == pb.USER_STATUS_DEACTIVATED
    assert not deactivated.active

    deactivated.active = True
    reactivated = (
        await directory.UpdateUser(pb.UpdateUserRequest(user=deactivated, actor=ADMIN))
    ).user
    assert reactivated.status == pb.USER_STATUS_PENDING

    await directory.LinkIdentity(
        pb.LinkIdentityRequest(
            link=pb.IdentityLink(
                account_id=account.id,
                user_id=user.id,
                connection_id="conn-1",
                subject="sub-1",
                last_login_time=reactivated.create_time,
            ),
            actor=ADMIN,
        )
    )
    signed_in = (
        await directory.GetUser(pb.GetUserRequest(account_id=account.id, user_id=user.id))
    ).user
    assert signed_in.status == pb.USER_STATUS_ACTIVE
    signed_in.active = False
    again = (await directory.UpdateUser(pb.UpdateUserRequest(user=signed_in, actor=ADMIN))).user
    again.active = True
    back = (await directory.UpdateUser(pb.UpdateUserRequest(user=again, actor=ADMIN))).user
    assert back.status == pb.USER_STATUS_ACTIVE

    actions = [e.action for e in await audit_events(directory, account.id, user.id)]
    assert actions.count("user.deactivated") == 2
    assert actions.count("user.reactivated") == 2


async def test_a_deactivated_user_stays_readable_and_listable(directory: Stub) -> None:
    """docs/scim-clients.md §1: deactivation is the normal end of life; an active=false
    user stays readable and filterable."""
    account = await new_account(directory)
    user = await new_user(directory, account.id)
    user.active = False
    await directory.UpdateUser(pb.UpdateUserRequest(user=user, actor=ADMIN))

    listed = await directory.ListUsers(pb.ListUsersRequest(account_id=account.id))

    assert [u.id for u in listed.users] == [user.id]
    assert not listed.users[0].active


async def test_a_stale_expected_version_is_refused_and_changes_nothing(directory: Stub) -> None:
    """Optimistic concurrency: an update naming an old version is FAILED_PRECONDITION
    "version_mismatch", and the stored user (and its audit trail) stay as they were."""
    account = await new_account(directory)
    user = await new_user(directory, account.id, title="Engineer")
    user.title = "Staff Engineer"
    first = (
        await directory.UpdateUser(
            pb.UpdateUserRequest(user=user, expected_version=user.version, actor=ADMIN)
        )
    ).user
    assert first.version == user.version + 1

    user.title = "Lost Update"
    code, error = await failure(
        directory.UpdateUser(
            pb.UpdateUserRequest(user=user, expected_version=user.version, actor=ADMIN)
        )
    )

    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert error.reason == "version_mismatch"
    stored = (
        await directory.GetUser(pb.GetUserRequest(account_id=account.id, user_id=user.id))
    ).user
    assert stored.title == "Staff Engineer"
    assert stored.version == first.version
    actions = [e.action for e in await audit_events(directory, account.id, user.id)]
    assert actions == ["user.created", "user.updated"]


async def test_a_stale_expected_version_also_protects_deletion(directory: Stub) -> None:
    """DeleteUser honours expected_version like UpdateUser: a stale one deletes nothing."""
    account = await new_account(directory)
    user = await new_user(directory, account.id)

    code, error = await failure(
        directory.DeleteUser(
            pb.DeleteUserRequest(
                account_id=account.id, user_id=user.id, expected_version=7, actor=ADMIN
            )
        )
    )

    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert error.reason == "version_mismatch"
    await directory.GetUser(pb.GetUserRequest(account_id=account.id, user_id=user.id))


async def test_an_update_that_changes_nothing_keeps_the_version_and_writes_no_event(
    directory: Stub,
) -> None:
    """Okta re-sends whole users with PUT; an identical PUT is no change, so no event."""
    account = await new_account(directory)
    user = await new_user(directory, account.id, title="Engineer")

    same = (await directory.UpdateUser(pb.UpdateUserRequest(user=user, actor=ADMIN))).user

    assert same.version == user.version
    actions = [e.action for e in await audit_events(directory, account.id, user.id)]
    assert actions == ["user.created"]


async def test_an_update_records_what_changed_before_and_after(directory: Stub) -> None:
    """AuditEvent.details: the before/after of the changed fields, and only those."""
    account = await new_account(directory)
    user = await new_user(directory, account.id, title="Engineer")
    user.title = "Manager"
    user.emails.append(pb.MultiValue(value="new@example.com", type="work"))

    await directory.UpdateUser(pb.UpdateUserRequest(user=user, actor=ADMIN))

    event = (await audit_events(directory, account.id, user.id))[-1]
    assert event.action == "user.updated"
    changed = details(event)
    assert set(changed) == {"title", "emails"}
    assert changed["title"] == {"before": "Engineer", "after": "Manager"}


async def test_an_empty_account_role_keeps_the_current_role_on_update(directory: Stub) -> None:
    """UpdateUser: an empty account_role_id keeps the role (SCIM PUTs from Okta know nothing of
    roles)."""
    account = await new_account(directory)
    admin = await role_named(directory, account.id, "Account Admin")
    user = await new_user(directory, account.id, account_role_id=admin.id)

    user.account_role_id = ""
    user.title = "CTO"
    updated = (await directory.UpdateUser(pb.UpdateUserRequest(user=user, actor=ADMIN))).user

    assert updated.account_role_id == admin.id
    assert updated.account_role_name == "Account Admin"


async def test_unassigned_state_and_role_hold_only_for_the_defaults(directory: Stub) -> None:
    """RFC 7644 §3.5.2.2 (a removed attribute is unassigned), stored by migration 0006: an
    unassigned state means active and an unassigned role means the account's default role, so
    UpdateUser keeps either flag only with its default; anything else is assigned."""
    account = await new_account(directory)
    admin = await role_named(directory, account.id, "Account Admin")
    member = await role_named(directory, account.id, "Account Member")
    user = await new_user(directory, account.id, account_role_id=admin.id)
    assert (user.active_unassigned, user.account_role_unassigned) == (False, False)

    async def update(**fields: object) -> pb.User:
        changed = pb.User()
        changed.CopyFrom(user)
        for name, value in fields.items():
            setattr(changed, name, value)
        request = pb.UpdateUserRequest(user=changed, actor=ADMIN)
        return (await directory.UpdateUser(request)).user

    # An administrator's role and a deactivation are never hidden, whatever the flags say.
    user = await update(active=False, active_unassigned=True, account_role_unassigned=True)
    assert (user.active, user.active_unassigned) == (False, False)
    assert (user.account_role_name, user.account_role_unassigned) == ("Account Admin", False)

    user = await update(
        active=True, active_unassigned=True, account_role_id=member.id, account_role_unassigned=True
    )
    assert (user.active, user.active_unassigned) == (True, True)
    assert (user.account_role_name, user.account_role_unassigned) == ("Account Member", True)
    events = await audit_events(directory, account.id, user.id)
    assert events[-1].action == "user.reactivated"
    assert details(events[-1])["active_unassigned"] == {"before": False, "after": True}

    # A copy that changes the role assigns it; the state it leaves as it was stays unassigned.
    user = await update(account_role_id=admin.id)
    assert (user.account_role_name, user.account_role_unassigned) == ("Account Admin", False)
    assert (user.active, user.active_unassigned) == (True, True)


async def test_a_role_of_the_wrong_scope_or_account_writes_nothing_on_update(
    directory: Stub,
) -> None:
    """A user's account role is an account-scope role of its account: UpdateUser with a space
    role or another account's role is INVALID_ARGUMENT on user.account_role_id, and the user,
    its version and its audit trail stay as they were (nothing is written, then undone)."""
    account = await new_account(directory)
    other = await new_account(directory)
    space_role = await role_named(directory, account.id, "Space Member")
    foreign_role = await role_named(directory, other.id, "Account Admin")
    user = await new_user(directory, account.id, title="Engineer")

    for role in (space_role, foreign_role):
        changed = pb.User()
        changed.CopyFrom(user)
        changed.title = "Promoted"
        changed.account_role_id = role.id
        code, error = await failure(
            directory.UpdateUser(pb.UpdateUserRequest(user=changed, actor=ADMIN))
        )
        assert (code, error.field) == (grpc.StatusCode.INVALID_ARGUMENT, "user.account_role_id")

    stored = (
        await directory.GetUser(pb.GetUserRequest(account_id=account.id, user_id=user.id))
    ).user
    assert (stored.title, stored.version) == ("Engineer", user.version)
    assert stored.account_role_id == user.account_role_id
    actions = [e.action for e in await audit_events(directory, account.id, user.id)]
    assert actions == ["user.created"]


async def _all_read_before_any_writes(
    directory: Stub, pool: asyncpg.Pool, user: pb.User, titles: Sequence[str], version: int = 0
) -> list[pb.UpdateUserResponse | BaseException]:
    """UpdateUser of ``user`` to each of ``titles`` at once, raced so that every one reads the
    user before any of them writes: a transaction holds the row lock (as a writer between their
    read and their write would) until each update waits for it."""
    key = (uuid.UUID(user.account_id), uuid.UUID(user.id))
    async with pool.acquire() as holder, holder.transaction():
        await holder.execute(
            "SELECT 1 FROM directory.users WHERE account_id = $1 AND id = $2 FOR NO KEY UPDATE",
            *key,
        )
        holder_pid = holder.get_server_pid()
        calls = []
        for title in titles:
            changed = pb.User()
            changed.CopyFrom(user)
            changed.title = title
            request = pb.UpdateUserRequest(user=changed, expected_version=version, actor=ADMIN)
            calls.append(asyncio.ensure_future(directory.UpdateUser(request)))
        async with asyncio.timeout(10):
            # Waiting on the holder, or on the update queued before them at the same row.
            while await pool.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
                " AND pid <> $1 AND cardinality(pg_blocking_pids(pid)) > 0",
                holder_pid,
            ) < len(titles):
                assert not any(call.done() for call in calls), "an update did not wait"
                await asyncio.sleep(0.01)
    return await asyncio.gather(*calls, return_exceptions=True)


async def test_concurrent_updates_are_all_applied_and_each_event_records_what_it_replaced(
    directory: Stub, directory_pool: asyncpg.Pool
) -> None:
    """UpdateUser reads without a lock and writes only the version it read: writers that all
    read the same version lose no update. Each that finds the user changed reads it again, so
    N updates advance the version by exactly N and their N events chain, each "before" being
    the previous "after" (the values it actually replaced), ending at the stored user."""
    account = await new_account(directory)
    user = await new_user(directory, account.id, title="Engineer")
    titles = [f"Title {n}" for n in range(5)]

    results = await _all_read_before_any_writes(directory, directory_pool, user, titles)

    assert all(isinstance(r, pb.UpdateUserResponse) for r in results), results
    stored = (
        await directory.GetUser(pb.GetUserRequest(account_id=account.id, user_id=user.id))
    ).user
    assert stored.version == user.version + len(titles)
    events = (await audit_events(directory, account.id, user.id))[1:]
    assert [e.action for e in events] == ["user.updated"] * len(titles)
    replaced = {details(e)["title"]["before"]: details(e)["title"]["after"] for e in events}
    chain = ["Engineer"]
    while chain[-1] in replaced:
        chain.append(replaced.pop(chain[-1]))
    assert sorted(chain[1:]) == titles
    assert chain[-1] == stored.title


async def test_with_expected_version_a_concurrent_change_is_refused_and_writes_nothing(
    directory: Stub, directory_pool: asyncpg.Pool
) -> None:
    """Two updates naming the version they both read: the first to write wins, the other finds
    the user changed since and is FAILED_PRECONDITION "version_mismatch" (it is the caller's
    precondition, so no retry), leaving the winner's values, version and single event."""
    account = await new_account(directory)
    user = await new_user(directory, account.id, title="Engineer")

    results = await _all_read_before_any_writes(
        directory, directory_pool, user, ["First", "Second"], version=user.version
    )

    won = [r.user for r in results if isinstance(r, pb.UpdateUserResponse)]
    lost = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert (len(won), len(lost)) == (1, 1), results
    assert lost[0].code() == grpc.StatusCode.FAILED_PRECONDITION
    assert from_rpc_error(lost[0]).reason == "version_mismatch"
    stored = (
        await directory.GetUser(pb.GetUserRequest(account_id=account.id, user_id=user.id))
    ).user
    assert (stored.title, stored.version) == (won[0].title, user.version + 1)
    events = (await audit_events(directory, account.id, user.id))[1:]
    assert [details(e)["title"] for e in events] == [{"before": "Engineer", "after": won[0].title}]


async def test_deleting_a_user_frees_its_name_and_keeps_its_audit_trail(directory: Stub) -> None:
    """DELETE removes the row, so a later create of the same userName works (django-scim2#83
    got this wrong); the first user's audit events stay (no foreign key to users)."""
    account = await new_account(directory)
    first = await new_user(directory, account.id, "again@example.com")

    await directory.DeleteUser(
        pb.DeleteUserRequest(account_id=account.id, user_id=first.id, actor=ADMIN)
    )
    second = await new_user(directory, account.id, "Again@Example.com")

    assert second.id != first.id
    trail = [e.action for e in await audit_events(directory, account.id, first.id)]
    assert trail == ["user.created", "user.deleted"]


async def test_deleting_a_user_removes_its_memberships_with_events(directory: Stub) -> None:
    """Deleting a user removes its group and space memberships and its reports' manager
    reference, each change with its audit event; the group's version moves on."""
    account = await new_account(directory)
    manager = await new_user(directory, account.id)
    report = await new_user(
        directory, account.id, enterprise=pb.EnterpriseAttributes(manager_id=manager.id)
    )
    space = await new_space(directory, account.id)
    member_role = await role_named(directory, account.id, "Space Member")
    group = (
        await directory.CreateGroup(
            pb.CreateGroupRequest(
                group=pb.Group(
                    account_id=account.id,
                    display_name="Team",
                    members=[pb.GroupMember(user_id=manager.id)],
                ),
                actor=ADMIN,
            )
        )
    ).group
    await directory.GrantSpaceRole(
        pb.GrantSpaceRoleRequest(
            account_id=account.id,
            user_id=manager.id,
            space_id=space.id,
            role_id=member_role.id,
            actor=ADMIN,
        )
    )

    await directory.DeleteUser(
        pb.DeleteUserRequest(account_id=account.id, user_id=manager.id, actor=ADMIN)
    )

    after = (
        await directory.GetGroup(
            pb.GetGroupRequest(account_id=account.id, group_id=group.id, include_members=True)
        )
    ).group
    assert after.member_count == 0
    assert not after.members
    assert after.version == group.version + 1
    orphan = (
        await directory.GetUser(pb.GetUserRequest(account_id=account.id, user_id=report.id))
    ).user
    assert orphan.enterprise.manager_id == ""
    memberships = await directory.ListSpaceMemberships(
        pb.ListSpaceMembershipsRequest(account_id=account.id)
    )
    assert not memberships.memberships
    actions = {e.action for e in await audit_events(directory, account.id)}
    assert {
        "group.members_changed",
        "space_role.revoked",
        "user.updated",
        "user.deleted",
    } <= actions
    group_events = [e.action for e in await audit_events(directory, account.id, group.id)]
    assert group_events == ["group.created", "group.members_changed"]


async def test_two_users_naming_each_other_as_manager_at_once_do_not_deadlock(
    directory: Stub,
) -> None:
    """An update's UPDATE locks its row FOR NO KEY UPDATE, which the other update's
    foreign-key check on it does not wait for: crossing manager references both succeed."""
    account = await new_account(directory)
    for _ in range(5):
        ada = await new_user(directory, account.id)
        alan = await new_user(directory, account.id)
        ada.enterprise.manager_id = alan.id
        alan.enterprise.manager_id = ada.id

        both = await asyncio.gather(
            directory.UpdateUser(pb.UpdateUserRequest(user=ada, actor=ADMIN)),
            directory.UpdateUser(pb.UpdateUserRequest(user=alan, actor=ADMIN)),
        )

        assert [r.user.enterprise.manager_id for r in both] == [alan.id, ada.id]
