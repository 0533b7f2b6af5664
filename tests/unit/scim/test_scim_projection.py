"""scim.projection: attributes / excludedAttributes with the returned rules (RFC 7644 §3.4.2.5,
RFC 7643 §7)."""

from __future__ import annotations

from typing import Any

from scim.projection import Projection, split_names
from scim.schemas import (
    ENTERPRISE_USER_SCHEMA,
    GROUP_RESOURCE,
    GROUP_SCHEMA,
    USER_RESOURCE,
    USER_SCHEMA,
)

ENTERPRISE = ENTERPRISE_USER_SCHEMA


def user() -> dict[str, Any]:
    return {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "id": "u1",
        "externalId": "x1",
        "userName": "bjensen@example.com",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "active": True,
        "emails": [
            {"value": "a@x.org", "type": "work", "primary": True},
            {"value": "b@x.org", "type": "home"},
        ],
        ENTERPRISE: {"employeeNumber": "7", "manager": {"value": "m1", "displayName": "John"}},
        "meta": {"resourceType": "User", "version": 'W/"1"'},
    }


def group() -> dict[str, Any]:
    return {
        "schemas": [GROUP_SCHEMA],
        "id": "g1",
        "displayName": "G",
        "members": [{"value": "u1", "display": "Babs"}],
        "meta": {"resourceType": "Group"},
    }


def test_without_parameters_the_resource_is_returned_as_is() -> None:
    resource = user()
    assert Projection.parse(USER_RESOURCE).apply(resource) is resource


def test_attributes_returns_only_those_plus_id_and_schemas() -> None:
    """RFC 7644 §3.4.2.5: returned=always (id) is always there."""
    projected = Projection.parse(USER_RESOURCE, ["userName", "name.givenName"]).apply(user())
    assert projected == {
        "schemas": [USER_SCHEMA],
        "id": "u1",
        "userName": "bjensen@example.com",
        "name": {"givenName": "Barbara"},
    }


def test_attributes_may_name_sub_attributes_of_multi_valued_attributes() -> None:
    projected = Projection.parse(USER_RESOURCE, ["emails.value"]).apply(user())
    assert projected["emails"] == [{"value": "a@x.org"}, {"value": "b@x.org"}]


def test_attributes_may_be_urn_qualified_or_name_a_whole_extension() -> None:
    projected = Projection.parse(USER_RESOURCE, [f"{ENTERPRISE}:manager"]).apply(user())
    assert projected == {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "id": "u1",
        ENTERPRISE: {"manager": {"value": "m1", "displayName": "John"}},
    }
    projected = Projection.parse(USER_RESOURCE, [ENTERPRISE, f"{USER_SCHEMA}:userName"]).apply(
        user()
    )
    assert projected[ENTERPRISE] == user()[ENTERPRISE]
    assert projected["userName"] == "bjensen@example.com"


def test_excluded_attributes_removes_them_from_the_default_set() -> None:
    """RFC 7644 §3.4.2.5, and Entra's `excludedAttributes=members` (scim-clients.md §2 row 3)."""
    projected = Projection.parse(GROUP_RESOURCE, None, ["members"]).apply(group())
    assert "members" not in projected
    assert projected["displayName"] == "G"


def test_id_cannot_be_excluded() -> None:
    """returned=always attributes ignore excludedAttributes (RFC 7644 §3.4.2.5)."""
    assert Projection.parse(USER_RESOURCE, None, ["id"]).apply(user())["id"] == "u1"


def test_excluding_sub_attributes_and_a_whole_extension() -> None:
    projected = Projection.parse(USER_RESOURCE, None, ["name.familyName", ENTERPRISE]).apply(user())
    assert projected["name"] == {"givenName": "Barbara"}
    assert ENTERPRISE not in projected
    assert projected["schemas"] == [USER_SCHEMA]


def test_attributes_wins_over_excluded_attributes() -> None:
    projected = Projection.parse(USER_RESOURCE, ["userName"], ["userName"]).apply(user())
    assert projected["userName"] == "bjensen@example.com"


def test_unknown_names_are_ignored() -> None:
    """Asking for what does not exist returns nothing of it (module docstring)."""
    assert Projection.parse(USER_RESOURCE, ["nosuch"]).apply(user()) == {
        "schemas": [USER_SCHEMA],
        "id": "u1",
    }
    assert Projection.parse(USER_RESOURCE, None, ["nosuch"]).apply(user()) == user()


def test_names_are_case_insensitive() -> None:
    assert (
        Projection.parse(USER_RESOURCE, ["USERNAME"]).apply(user())["userName"]
        == "bjensen@example.com"
    )


def test_wants_tells_the_servicer_what_to_load() -> None:
    """Group members are loaded only when returned; User groups only when asked for."""
    assert Projection.parse(GROUP_RESOURCE).wants("members")
    assert not Projection.parse(GROUP_RESOURCE, None, ["members"]).wants("members")
    assert not Projection.parse(GROUP_RESOURCE, ["displayName"]).wants("members")
    assert Projection.parse(GROUP_RESOURCE, ["members.value"]).wants("members")
    assert not Projection.parse(USER_RESOURCE).wants("groups")
    assert Projection.parse(USER_RESOURCE, ["groups"]).wants("groups")
    assert Projection.parse(USER_RESOURCE, None, ["emails"]).wants("groups") is False
    assert Projection.parse(USER_RESOURCE, None, ["name.givenName"]).wants("name")
    assert Projection.parse(USER_RESOURCE, None, ["meta"]).wants("id")
    assert not Projection.parse(USER_RESOURCE, None, [ENTERPRISE]).wants("manager", ENTERPRISE)


def test_split_names_reads_a_comma_separated_parameter() -> None:
    assert split_names(" userName, name.givenName ,,") == ["userName", "name.givenName"]
    assert split_names(None) == []
