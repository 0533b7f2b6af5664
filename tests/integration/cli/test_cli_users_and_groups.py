"""idmesh user / group against the real directory servicer (production wiring, session
PostgreSQL): listing and deactivating users, creating groups and mapping them to IdP groups,
as the CLI actor."""

from __future__ import annotations

import getpass
import json
import uuid
from collections.abc import Awaitable, Callable

import pytest

from idmesh.directory.v1 import directory_pb2 as pb
from tests.support.directory import Stub

Idmesh = Callable[..., Awaitable[tuple[int, str, str]]]
ENTRA_OBJECT_ID = "5d2f6c3a-9b1e-4f7a-8c2d-3e4f5a6b7c8d"
SYSTEM = pb.Actor(type=pb.ACTOR_TYPE_SYSTEM, id="tests", display_name="tests")


@pytest.fixture
async def account(directory: Stub) -> pb.Account:
    response = await directory.CreateAccount(
        pb.CreateAccountRequest(name=f"cli-{uuid.uuid4().hex[:8]}", actor=SYSTEM)
    )
    return response.account


async def _user(
    directory: Stub,
    account: pb.Account,
    user_name: str,
    status: pb.UserStatus.ValueType = pb.USER_STATUS_UNSPECIFIED,
) -> pb.User:
    response = await directory.CreateUser(
        pb.CreateUserRequest(
            user=pb.User(account_id=account.id, user_name=user_name, display_name="Ada L"),
            initial_status=status,
            actor=SYSTEM,
        )
    )
    return response.user


async def test_users_are_listed_with_their_status(
    idmesh: Idmesh, directory: Stub, account: pb.Account
) -> None:
    """Brief: `idmesh user list --account A [--status active] [--json]`."""
    await _user(directory, account, "ada@example.com", pb.USER_STATUS_ACTIVE)
    await _user(directory, account, "bob@example.com")
    code, out, err = await idmesh("user", "list", "--account", account.name)
    assert (code, err) == (0, "")
    header, *rows = out.splitlines()
    assert header.split() == ["USER", "NAME", "DISPLAY", "NAME", "STATUS", "LAST", "LOGIN", "ID"]
    assert [(row.split()[0], row.split()[3]) for row in rows] == [
        ("ada@example.com", "active"),
        ("bob@example.com", "pending"),
    ]
    code, out, _ = await idmesh("user", "list", "--account", account.name, "--status", "active")
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["ada@example.com"]
    code, out, _ = await idmesh(
        "users", "list", "--account", account.name, "--status", "pending", "--json"
    )
    assert [user["user_name"] for user in json.loads(out)] == ["bob@example.com"]
    code, out, err = await idmesh(
        "user", "list", "--account", account.name, "--status", "deactivated"
    )
    assert (code, out) == (0, "")
    assert "no users with status deactivated" in err


async def test_a_user_is_deactivated_and_reactivated_by_user_name_or_id(
    idmesh: Idmesh, directory: Stub, account: pb.Account
) -> None:
    """Brief: `idmesh user deactivate/reactivate`; the user is named by userName (any case) or
    id; the change is audited as the CLI operator; repeating it changes nothing."""
    ada = await _user(directory, account, "ada@example.com", pb.USER_STATUS_ACTIVE)
    code, out, _ = await idmesh("user", "deactivate", "--account", account.name, "ADA@example.com")
    assert code == 0
    assert out == "User 'ada@example.com' deactivated (status deactivated).\n"
    code, out, _ = await idmesh("user", "deactivate", "--account", account.name, ada.id)
    assert out == "User 'ada@example.com' is already deactivated.\n"
    code, out, _ = await idmesh("user", "reactivate", "--account", account.name, ada.id, "--json")
    assert code == 0
    # Never signed in: back to pending (the directory's rule for reactivation).
    assert json.loads(out)["status"] == "pending"
    events = await directory.ListAuditEvents(pb.ListAuditEventsRequest(account_id=account.id))
    changes = [e for e in events.events if e.target_id == ada.id and e.action != "user.created"]
    assert [e.actor.type for e in changes] == [pb.ACTOR_TYPE_CLI, pb.ACTOR_TYPE_CLI]
    assert {e.actor.id for e in changes} == {getpass.getuser()}


async def test_an_unknown_user_is_one_clear_line(idmesh: Idmesh, account: pb.Account) -> None:
    """Exit 1 and one stderr line naming the user and the account."""
    for reference in ("nobody@example.com", str(uuid.uuid4())):
        code, out, err = await idmesh("user", "deactivate", "--account", account.name, reference)
        assert (code, out) == (1, "")
        assert err == f"error: user {reference!r} not found in account {account.name!r}\n"


async def test_an_unknown_status_is_a_usage_error(idmesh: Idmesh, account: pb.Account) -> None:
    code, _, err = await idmesh("user", "list", "--account", account.name, "--status", "enabled")
    assert code == 2
    assert "invalid choice" in err


async def test_a_group_is_created_with_its_idp_identifier_and_listed(
    idmesh: Idmesh, directory: Stub, account: pb.Account
) -> None:
    """Brief: `idmesh group create --account A NAME [--idp-id GUID]`, `idmesh group list`."""
    code, out, _ = await idmesh(
        "group", "create", "--account", account.name, "Engineering", "--idp-id", ENTRA_OBJECT_ID
    )
    assert code == 0
    assert out.startswith(f"Created group 'Engineering' (IdP identifier {ENTRA_OBJECT_ID}, id ")
    code, out, _ = await idmesh("group", "create", "--account", account.name, "Sales", "--json")
    sales = json.loads(out)
    assert sales["idp_identifier"] == ""
    code, out, _ = await idmesh("group", "list", "--account", account.name)
    header, *rows = out.splitlines()
    assert header.split() == ["NAME", "IDP", "IDENTIFIER", "MEMBERS", "ID"]
    assert [row.split()[:3] for row in rows] == [
        ["Engineering", ENTRA_OBJECT_ID, "0"],
        ["Sales", "-", "0"],
    ]
    code, out, _ = await idmesh("groups", "list", "--account", account.name, "--json")
    assert [g["display_name"] for g in json.loads(out)] == ["Engineering", "Sales"]


async def test_set_idp_id_maps_and_clears_a_group_by_name_or_id(
    idmesh: Idmesh, directory: Stub, account: pb.Account
) -> None:
    """Brief: `idmesh group set-idp-id --account A GROUP IDP_ID` (Torque guide: the field must
    hold the IdP's group id); "" unmaps the group."""
    code, out, _ = await idmesh("group", "create", "--account", account.name, "Eng", "--json")
    group = json.loads(out)
    code, out, _ = await idmesh(
        "group", "set-idp-id", "--account", account.name, "eng", ENTRA_OBJECT_ID
    )
    assert code == 0
    assert out == (f"Updated group 'Eng' (IdP identifier {ENTRA_OBJECT_ID}, id {group['id']}).\n")
    stored = await directory.GetGroup(
        pb.GetGroupRequest(account_id=account.id, group_id=group["id"])
    )
    assert stored.group.idp_identifier == ENTRA_OBJECT_ID
    code, out, _ = await idmesh("group", "set-idp-id", "--account", account.name, group["id"], "")
    assert out == f"Updated group 'Eng' (no IdP identifier, id {group['id']}).\n"


async def test_ambiguous_or_conflicting_groups_fail_with_a_reason(
    idmesh: Idmesh, account: pb.Account
) -> None:
    """Display names need not be unique: a shared one is refused with the ids to choose from;
    an IdP identifier another group holds is the directory's uniqueness error."""
    await idmesh("group", "create", "--account", account.name, "Ops", "--idp-id", "g-1")
    await idmesh("group", "create", "--account", account.name, "Ops")
    code, out, err = await idmesh("group", "set-idp-id", "--account", account.name, "Ops", "g-2")
    assert (code, out) == (1, "")
    assert err.startswith("error: several groups are named 'Ops'; name one by its id: ")
    code, out, _ = await idmesh("group", "create", "--account", account.name, "Other", "--json")
    other = json.loads(out)["id"]
    code, _, err = await idmesh("group", "set-idp-id", "--account", account.name, other, "g-1")
    assert code == 1
    assert (
        err
        == "error: group.idp_identifier: a group with this idp_identifier exists in the account\n"
    )
    code, _, err = await idmesh("group", "set-idp-id", "--account", account.name, "Nope", "x")
    assert err == f"error: group 'Nope' not found in account {account.name!r}\n"
