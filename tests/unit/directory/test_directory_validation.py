"""directory.validate and the status rule, without a database."""

from __future__ import annotations

import uuid

import pytest

from directory import validate
from directory.store.users import next_status
from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import InvalidArgument, NotFound


def test_a_malformed_target_id_is_not_found_and_an_empty_one_is_required() -> None:
    """Malformed ids answer NOT_FOUND, not a 500: no row has that id."""
    with pytest.raises(NotFound):
        validate.target_id("nope", "user_id", "user")
    with pytest.raises(InvalidArgument) as raised:
        validate.target_id("", "user_id", "user")
    assert raised.value.field == "user_id"
    assert validate.target_id(str(uuid.UUID(int=7)), "user_id", "user") == uuid.UUID(int=7)


def test_malformed_member_ids_are_named_together() -> None:
    """ModifyGroupMembers: malformed ids are all named in one INVALID_ARGUMENT."""
    with pytest.raises(InvalidArgument) as raised:
        validate.user_ids([str(uuid.uuid4()), "x", "y"], "add_user_ids")

    assert raised.value.field == "add_user_ids"
    assert "'x'" in raised.value.message
    assert "'y'" in raised.value.message


def test_member_ids_are_deduplicated_in_order() -> None:
    """Repeated member ids count once."""
    a, b = uuid.uuid4(), uuid.uuid4()

    assert validate.user_ids([str(a), str(b), str(a)], "f") == [a, b]


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/Argentina/Buenos_Aires", "UTC", ""])
def test_iana_time_zones_are_accepted(zone: str) -> None:
    """docs/architecture.md: a timezone is a valid IANA name (or empty)."""
    assert validate.timezone(zone, "user.timezone") == zone


@pytest.mark.parametrize("zone", ["CEST", "Europe/Atlantis", "+02:00", "europe/berlin"])
def test_other_time_zones_are_refused(zone: str) -> None:
    """Abbreviations, offsets, unknown and mis-cased names are not IANA names."""
    with pytest.raises(InvalidArgument) as raised:
        validate.timezone(zone, "user.timezone")
    assert raised.value.field == "user.timezone"


@pytest.mark.parametrize("name", ["acme", "acme-corp", "a1", "x" * 63])
def test_account_names_are_slugs(name: str) -> None:
    """Account.name: a lower-case slug used in URLs and the CLI."""
    assert validate.account_name(name) == name


@pytest.mark.parametrize("name", ["", "Acme", "-acme", "acme-", "ac me", "x" * 64, "ac_me"])
def test_other_account_names_are_refused(name: str) -> None:
    """Upper case, spaces, underscores, edge hyphens and names over 63 characters are not slugs."""
    with pytest.raises(InvalidArgument):
        validate.account_name(name)


def test_permissions_are_sorted_unique_resource_verbs() -> None:
    """Role permissions are "resource:verb" names, stored sorted and unique."""
    assert validate.permissions(["space:write", "space:read", "space:write"], "p") == [
        "space:read",
        "space:write",
    ]
    with pytest.raises(InvalidArgument):
        validate.permissions(["Space Read"], "p")


def test_membership_sources_for_writes_and_removals() -> None:
    """Unspecified means MANUAL when granting and every source when removing; GROUP roles are
    never stored as memberships."""
    assert validate.source_to_write(pb.MEMBERSHIP_SOURCE_UNSPECIFIED, "source") == "manual"
    assert validate.source_to_write(pb.MEMBERSHIP_SOURCE_SCIM, "source") == "scim"
    assert validate.source_to_remove(pb.MEMBERSHIP_SOURCE_UNSPECIFIED, "source") is None
    with pytest.raises(InvalidArgument):
        validate.source_to_write(pb.MEMBERSHIP_SOURCE_GROUP, "source")


@pytest.mark.parametrize(
    ("current", "active", "signed_in", "expected"),
    [
        ("pending", False, False, "deactivated"),
        ("active", False, True, "deactivated"),
        ("deactivated", True, False, "pending"),
        ("deactivated", True, True, "active"),
        ("pending", True, False, "pending"),
        ("active", True, True, "active"),
        ("deactivated", False, True, "deactivated"),
    ],
)
def test_the_status_rule_of_update_user(
    current: str, active: bool, signed_in: bool, expected: str
) -> None:
    """UpdateUser: active=false deactivates; active=true reactivates as ACTIVE if the user ever
    signed in, else PENDING."""
    assert next_status(current, active, signed_in) == expected
