"""scim.paths: PATCH paths (RFC 7644 §3.5.2) and value filters evaluated on elements."""

from __future__ import annotations

import pytest

from meshkit.errors import InvalidArgument
from scim.filters import parse_filter
from scim.paths import element_matches, eq_assignments, parse_path
from scim.schemas import ENTERPRISE_USER_SCHEMA, GROUP_RESOURCE, USER, USER_RESOURCE, Attribute


def _emails() -> Attribute:
    attribute = USER.attribute("emails")
    assert attribute is not None
    return attribute


EMAILS = _emails()


@pytest.mark.parametrize(
    ("text", "display", "has_filter"),
    [
        ("userName", "userName", False),
        ("name.givenName", "name.givenName", False),
        ('emails[type eq "work"]', "emails", True),
        ('emails[type eq "work"].value', "emails.value", True),
        ('addresses[type eq "work"].streetAddress', "addresses.streetAddress", True),
        (f"{ENTERPRISE_USER_SCHEMA}:manager", f"{ENTERPRISE_USER_SCHEMA}:manager", False),
        (
            f"{ENTERPRISE_USER_SCHEMA}:manager.value",
            f"{ENTERPRISE_USER_SCHEMA}:manager.value",
            False,
        ),
        (ENTERPRISE_USER_SCHEMA, ENTERPRISE_USER_SCHEMA, False),
        ("urn:ietf:params:scim:schemas:core:2.0:User:name.familyName", "name.familyName", False),
        ('  emails[ type eq "work" ].value  ', "emails.value", True),
    ],
)
def test_paths_resolve_to_canonical_attributes(text: str, display: str, has_filter: bool) -> None:
    """PATH = attrPath / valuePath [subAttr], URN-qualified or not (RFC 7644 §3.5.2)."""
    path = parse_path(USER_RESOURCE, text)
    assert path.resolved.display == display
    assert (path.filter is not None) == has_filter


def test_group_member_paths() -> None:
    path = parse_path(GROUP_RESOURCE, 'members[value eq "2819c223"]')
    assert path.resolved.display == "members"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "invalid_path"),
        ("nosuch", "invalid_path"),
        ('name[givenName eq "x"]', "invalid_path"),
        ('emails.value[type eq "x"]', "invalid_path"),
        ('emails[type eq "x"].nosuch', "invalid_path"),
        ('emails[type eq "x"] junk', "invalid_path"),
        ('emails[nosuch eq "x"]', "invalid_filter"),
        ('emails[type eq "x" and (value pr]', "invalid_filter"),
        ("emails[", "invalid_filter"),
    ],
)
def test_bad_paths_are_refused(text: str, reason: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_path(USER_RESOURCE, text)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("filter_text", "matches"),
    [
        ('type eq "work"', True),
        ('type eq "WORK"', True),
        ('type ne "work"', False),
        ('value co "EXAMPLE"', True),
        ('value sw "bjensen@"', True),
        ('value ew ".com"', True),
        ('value gt "a"', True),
        ('value lt "a"', False),
        ('value ge "bjensen@example.com"', True),
        ('value le "bjensen@example.com"', True),
        ("display pr", False),
        ("value pr", True),
        ("primary eq true", True),
        ('primary eq "True"', True),
        ("primary eq false", False),
        ("display eq null", True),
        ("display ne null", False),
        ('display eq "x"', False),
        ('display ne "x"', True),
        ('type eq "work" and not (value co "other")', True),
        ('type eq "home" or value pr', True),
        ("primary gt true", False),
    ],
)
def test_value_filters_evaluate_on_one_element(filter_text: str, matches: bool) -> None:
    """RFC 7644 §3.4.2.2 operators; caseExact=false sub-attributes compare case-insensitively."""
    element = {"value": "bjensen@example.com", "type": "work", "primary": True}
    assert element_matches(EMAILS, element, parse_filter(filter_text)) is matches


def test_dates_compare_as_dates() -> None:
    meta = USER_RESOURCE.common_attribute("meta")
    assert meta is not None
    element = {"created": "2024-01-01T00:00:00Z"}
    assert (
        element_matches(meta, element, parse_filter('created gt "2023-12-31T23:00:00-02:00"'))
        is False
    )
    assert (
        element_matches(meta, element, parse_filter('created lt "2023-12-31T23:00:00-02:00"'))
        is True
    )
    assert element_matches(meta, element, parse_filter('created lt "not a date"')) is False


def test_eq_assignments_build_the_value_a_filter_describes() -> None:
    """add/replace on emails[type eq "work"].value creates the element (scim-clients.md §2)."""
    assert eq_assignments(EMAILS, parse_filter('type eq "work"')) == {"type": "work"}
    assert eq_assignments(EMAILS, parse_filter('type eq "work" and primary eq true')) == {
        "type": "work",
        "primary": True,
    }
    assert eq_assignments(EMAILS, parse_filter('type eq "work" or type eq "home"')) is None
    assert eq_assignments(EMAILS, parse_filter('type co "work"')) is None
    assert eq_assignments(EMAILS, parse_filter('type eq "a" and type eq "b"')) is None
    assert eq_assignments(EMAILS, parse_filter("type eq 1")) is None
