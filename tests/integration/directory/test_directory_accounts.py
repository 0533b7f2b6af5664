"""Accounts: creation with built-in roles, name rules, settings, deletion."""

from __future__ import annotations

import grpc

from idmesh.directory.v1 import directory_pb2 as pb
from tests.support.directory import ADMIN, Stub, failure, new_account, new_user, role_named


async def test_creating_an_account_creates_its_built_in_roles(directory: Stub) -> None:
    """docs/architecture.md "The domain": Account Admin and Account Member, Space Admin, Space
    Developer and Space Member come with every account, built in."""
    account = await new_account(directory)

    roles = (await directory.ListRoles(pb.ListRolesRequest(account_id=account.id))).roles

    by_name = {r.name: r for r in roles}
    assert set(by_name) == {
        "Account Admin",
        "Account Member",
        "Space Admin",
        "Space Developer",
        "Space Member",
    }
    assert all(r.built_in for r in roles)
    assert by_name["Account Admin"].scope == pb.ROLE_SCOPE_ACCOUNT
    assert "users:manage" in by_name["Account Admin"].permissions
    assert "audit:read" in by_name["Account Admin"].permissions
    assert list(by_name["Space Developer"].permissions) == [
        "space:deploy",
        "space:read",
        "space:write",
    ]
    assert list(by_name["Space Member"].permissions) == ["space:read"]
    assert by_name["Space Member"].scope == pb.ROLE_SCOPE_SPACE


async def test_account_creation_and_its_roles_are_audited(directory: Stub) -> None:
    """Audit rule: no change without an audit event, built-in roles included."""
    account = await new_account(directory)

    events = (
        await directory.ListAuditEvents(pb.ListAuditEventsRequest(account_id=account.id))
    ).events

    actions = sorted(e.action for e in events)
    assert actions == ["account.created"] + ["role.created"] * 5
    assert all(e.actor.type == pb.ACTOR_TYPE_ADMIN_API for e in events)


async def test_account_names_are_unique_lower_case_slugs(directory: Stub) -> None:
    """Proto Account.name: a unique, lower-case slug."""
    account = await new_account(directory)

    code, error = await failure(
        directory.CreateAccount(pb.CreateAccountRequest(name=account.name, actor=ADMIN))
    )
    assert code == grpc.StatusCode.ALREADY_EXISTS
    assert error.reason == "uniqueness"

    code, error = await failure(
        directory.CreateAccount(pb.CreateAccountRequest(name="Not A Slug", actor=ADMIN))
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.field == "name"


async def test_an_account_is_found_by_id_and_by_name(directory: Stub) -> None:
    """GetAccountRequest.key: the id or the unique slug."""
    account = await new_account(directory)

    by_id = await directory.GetAccount(pb.GetAccountRequest(account_id=account.id))
    by_name = await directory.GetAccount(pb.GetAccountRequest(name=account.name))

    assert by_id.account == account
    assert by_name.account == account


async def test_the_default_role_must_be_an_account_role_of_the_account(directory: Stub) -> None:
    """AccountSettings.default_account_role_id names an account role; a space role or another
    account's role is INVALID_ARGUMENT on that field."""
    account = await new_account(directory)
    other = await new_account(directory)
    admin = await role_named(directory, account.id, "Account Admin")
    space_member = await role_named(directory, account.id, "Space Member")
    foreign = await role_named(directory, other.id, "Account Admin")

    for role_id in (space_member.id, foreign.id):
        code, error = await failure(
            directory.UpdateAccount(
                pb.UpdateAccountRequest(
                    account_id=account.id,
                    settings=pb.AccountSettings(default_account_role_id=role_id),
                    actor=ADMIN,
                )
            )
        )
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert error.field == "settings.default_account_role_id"

    updated = await directory.UpdateAccount(
        pb.UpdateAccountRequest(
            account_id=account.id,
            display_name="Acme Inc",
            settings=pb.AccountSettings(default_account_role_id=admin.id, require_given_name=True),
            actor=ADMIN,
        )
    )
    assert updated.account.version == account.version + 1
    assert updated.account.settings.default_account_role_id == admin.id
    assert updated.account.settings.require_given_name

    user = await new_user(directory, account.id)
    assert user.account_role_name == "Account Admin"


async def test_deleting_an_account_removes_its_data_and_keeps_its_audit_trail(
    directory: Stub,
) -> None:
    """Audit events are append-only and have no foreign keys: they outlive the account."""
    account = await new_account(directory)
    manager = await new_user(directory, account.id)
    user = await new_user(
        directory, account.id, enterprise=pb.EnterpriseAttributes(manager_id=manager.id)
    )
    await directory.CreateGroup(
        pb.CreateGroupRequest(
            group=pb.Group(
                account_id=account.id,
                display_name="Everyone",
                members=[pb.GroupMember(user_id=user.id)],
            ),
            actor=ADMIN,
        )
    )

    await directory.DeleteAccount(pb.DeleteAccountRequest(account_id=account.id, actor=ADMIN))

    code, _ = await failure(directory.GetAccount(pb.GetAccountRequest(account_id=account.id)))
    assert code == grpc.StatusCode.NOT_FOUND
    code, _ = await failure(
        directory.GetUser(pb.GetUserRequest(account_id=account.id, user_id=user.id))
    )
    assert code == grpc.StatusCode.NOT_FOUND
    events = (
        await directory.ListAuditEvents(pb.ListAuditEventsRequest(account_id=account.id))
    ).events
    assert events[-1].action == "account.deleted"
    assert "user.created" in {e.action for e in events}
