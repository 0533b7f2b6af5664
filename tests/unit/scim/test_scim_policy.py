"""scim.policy: account provisioning rules (required attributes, the account role)."""

from __future__ import annotations

import pytest

from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import InvalidArgument
from scim.policy import (
    check_required,
    default_role,
    missing_required,
    requested_role,
    resolve_role,
)

STRICT = pb.AccountSettings(
    require_given_name=True, require_family_name=True, require_email_user_name=True
)
ROLES = [
    pb.Role(id="r1", name="Account Admin", scope=pb.ROLE_SCOPE_ACCOUNT),
    pb.Role(id="r2", name="Account Member", scope=pb.ROLE_SCOPE_ACCOUNT),
    pb.Role(id="r3", name="Space Developer", scope=pb.ROLE_SCOPE_SPACE),
]


def test_nothing_is_required_beyond_user_name_by_default() -> None:
    assert missing_required({"userName": "jdoe"}, pb.AccountSettings()) == []


def test_an_account_can_require_names_and_an_email_user_name() -> None:
    """Seed 003 ("First Name, Last / Family Name, Email ... must be specified"); Torii ("userName
    must be a valid email address")."""
    assert missing_required({"userName": "jdoe"}, STRICT) == [
        "name.givenName",
        "name.familyName",
        "userName as an email address",
    ]
    ok = {"userName": "j.doe@example.com", "name": {"givenName": "J", "familyName": "Doe"}}
    check_required(ok, STRICT)


def test_what_is_missing_is_named_in_one_400() -> None:
    with pytest.raises(InvalidArgument) as caught:
        check_required({"userName": "a@b.co", "name": {"givenName": "A"}}, STRICT)
    assert caught.value.reason == "invalid_value"
    assert "name.familyName" in caught.value.message
    assert "name.givenName" not in caught.value.message


@pytest.mark.parametrize(
    "user_name", ["jdoe", "j doe@x.com", "jdoe@localhost", "@x.com", "a@b@c.com"]
)
def test_user_names_that_are_not_email_shaped_are_refused(user_name: str) -> None:
    assert missing_required(
        {"userName": user_name}, pb.AccountSettings(require_email_user_name=True)
    ) == ["userName as an email address"]


def test_the_role_is_named_by_roles_then_user_type() -> None:
    """Torii: userType is the role; Entra sends roles (seed 003: role values on the profile)."""
    assert requested_role({}) is None
    assert requested_role({"roles": []}) is None
    assert requested_role({"userType": "Account Admin"}) == "Account Admin"
    assert (
        requested_role({"roles": [{"value": "Account Admin"}], "userType": "x"}) == "Account Admin"
    )
    assert requested_role({"roles": [{"value": "A"}, {"value": "B"}]}) == "B"
    assert requested_role({"roles": [{"value": "A", "primary": True}, {"value": "B"}]}) == "A"


def test_roles_resolve_by_exact_name_among_account_roles() -> None:
    assert resolve_role("Account Admin", ROLES).id == "r1"
    with pytest.raises(InvalidArgument) as caught:
        resolve_role("account admin", ROLES)
    assert "valid roles: Account Admin, Account Member" in caught.value.message
    with pytest.raises(InvalidArgument):
        resolve_role("Space Developer", ROLES)


def test_an_update_changes_the_role_only_when_roles_or_user_type_change() -> None:
    """Updates keep the role unless the client changes it; Okta's PUT never sends roles and must
    not demote an administrator."""
    before = {"roles": [{"value": "Account Admin"}], "userType": "Employee"}
    assert requested_role(dict(before), before) is None
    assert requested_role({"userType": "Employee"}, before) is None
    assert requested_role({**before, "roles": [{"value": "Account Member"}]}, before) == (
        "Account Member"
    )
    assert requested_role({**before, "userType": "Account Member"}, before) == "Account Member"
    assert requested_role({"roles": [{"value": "Account Admin"}, {"value": "X"}]}, before) == "X"


def test_an_update_is_refused_only_for_what_it_takes_away() -> None:
    """A user provisioned before a rule was switched on can still be updated (deactivated)."""
    legacy = {"userName": "jdoe"}
    check_required({**legacy, "active": False}, STRICT, before=legacy)
    named = {"userName": "j@x.co", "name": {"givenName": "J", "familyName": "D"}}
    with pytest.raises(InvalidArgument, match=r"name\.familyName"):
        check_required({**named, "name": {"givenName": "J"}}, STRICT, before=named)


def test_the_default_role_is_the_one_the_account_names_else_account_member() -> None:
    """Removing `roles` gives the account's default role, as `roles: []` does on creation."""
    assert default_role(pb.AccountSettings(), ROLES).id == "r2"
    assert default_role(pb.AccountSettings(default_account_role_id="r1"), ROLES).id == "r1"
