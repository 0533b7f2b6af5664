"""Permission names of API tokens, defined once in auth/permissions.py."""

from __future__ import annotations

import pytest

from auth.permissions import KNOWN_PERMISSIONS, validate_permissions
from meshkit.errors import InvalidArgument


def test_the_known_permissions_are_exactly_the_documented_set() -> None:
    """The brief's list: users, groups, spaces, roles, connections with read and manage, grants
        (space roles, without managing the spaces), tokens (API tokens and OAuth clients), audit;
    the change feed (events) and its webhook endpoints (issue 15)."""
    assert {
        "users:read",
        "users:manage",
        "groups:read",
        "groups:manage",
        "spaces:read",
        "spaces:manage",
        "roles:read",
        "roles:manage",
        "grants:manage",
        "connections:read",
        "connections:manage",
        "tokens:manage",
        "audit:read",
        "events:read",
        "webhooks:read",
        "webhooks:manage",
    } == KNOWN_PERMISSIONS


def test_known_permissions_are_kept_distinct_and_sorted() -> None:
    """The stored form is canonical: duplicates dropped, names sorted."""
    names = ["users:manage", "groups:manage", "users:manage"]
    assert validate_permissions(names) == ("groups:manage", "users:manage")


def test_an_unknown_permission_is_an_invalid_argument_naming_the_field() -> None:
    """An unknown permission → InvalidArgument(field="permissions")."""
    with pytest.raises(InvalidArgument) as caught:
        validate_permissions(["users:manage", "users:delete"])
    assert caught.value.field == "permissions"
    assert "users:delete" in caught.value.message


def test_permission_names_are_case_sensitive() -> None:
    """ "Users:Manage" is not "users:manage": one spelling, compared exactly."""
    with pytest.raises(InvalidArgument):
        validate_permissions(["Users:Manage"])


def test_no_permissions_is_an_invalid_argument() -> None:
    """Empty permissions → InvalidArgument: a token that may do nothing is a mistake."""
    with pytest.raises(InvalidArgument) as caught:
        validate_permissions([])
    assert caught.value.field == "permissions"
