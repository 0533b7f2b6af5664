"""The six rules of space and role assignment from IdP attributes (docs/architecture.md, from the
Torque SSO guide "Associating a user to multiple spaces"), table-driven, and the timezone rule."""

from __future__ import annotations

import uuid

import pytest

from directory.login_rules import Named, assign_spaces, default_assignment, valid_timezone


def _named(*names: str) -> dict[str, Named]:
    return {name.lower(): Named(uuid.uuid5(uuid.NAMESPACE_DNS, name), name) for name in names}


SPACES = _named("Trial", "DevOps", "QA", "Prod")
ROLES = _named("Space Member", "Space Developer", "Space Admin", "Auditor")
MEMBER = ROLES["space member"]

# (rule, space_name claim, space_role claim, expected {space: role}, ignored, unknown roles)
CASES = [
    ("pairs by position", "Trial,DevOps", "Space Member,Space Developer",
     {"Trial": "Space Member", "DevOps": "Space Developer"}, [], []),
    ("1: several spaces, one role: the role everywhere", "Trial,DevOps,QA", "Space Admin",
     {"Trial": "Space Admin", "DevOps": "Space Admin", "QA": "Space Admin"}, [], []),
    ("2: a space listed twice: the first valid role wins", "DevOps,Trial,DevOps",
     "Space Developer,Space Member,Space Admin",
     {"DevOps": "Space Developer", "Trial": "Space Member"}, [], []),
    ("2: the first VALID one: an unknown first role is skipped", "DevOps,Trial,DevOps",
     "Wizard,Space Member,Space Admin",
     {"DevOps": "Space Admin", "Trial": "Space Member"}, [], ["Wizard"]),
    ("2+3: listed twice with no valid role: Space Member", "DevOps,DevOps", "Wizard,Sorcerer",
     {"DevOps": "Space Member"}, [], ["Wizard", "Sorcerer"]),
    ("2+4: listed twice, the second beyond the roles", "DevOps,Trial,DevOps",
     "Wizard,Space Admin", {"DevOps": "Space Member", "Trial": "Space Admin"}, [], ["Wizard"]),
    ("3: an unknown role name: Space Member", "Trial,DevOps", "Space Admin,Wizard",
     {"Trial": "Space Admin", "DevOps": "Space Member"}, [], ["Wizard"]),
    ("3 with one space: an unknown role gives Space Member", "Trial", "Wizard",
     {"Trial": "Space Member"}, [], ["Wizard"]),
    ("1+3: one unknown role for several spaces: Space Member everywhere", "Trial,DevOps",
     "Wizard", {"Trial": "Space Member", "DevOps": "Space Member"}, [], ["Wizard"]),
    ("4: more spaces than roles: the extra get Space Member", "Trial,DevOps,QA",
     "Space Admin,Space Developer",
     {"Trial": "Space Admin", "DevOps": "Space Developer", "QA": "Space Member"}, [], []),
    ("4: no role at all: Space Member", "Trial,DevOps", "",
     {"Trial": "Space Member", "DevOps": "Space Member"}, [], []),
    ("5: more roles than spaces: the extra are ignored", "Trial",
     "Space Developer,Space Admin,Wizard", {"Trial": "Space Developer"}, [], []),
    ("5: extra roles are ignored even when unknown", "Trial,DevOps",
     "Space Admin,Space Member,Wizard", {"Trial": "Space Admin", "DevOps": "Space Member"},
     [], []),
    ("6: an unknown space and its role are ignored", "Nowhere,DevOps",
     "Space Admin,Space Developer", {"DevOps": "Space Developer"}, ["Nowhere"], []),
    ("6: an unknown space in the middle keeps the pairing after it", "Trial,Nowhere,QA",
     "Space Admin,Space Developer,Auditor", {"Trial": "Space Admin", "QA": "Auditor"},
     ["Nowhere"], []),
    ("6: only unknown spaces: nothing", "Nowhere,Elsewhere", "Space Admin", {},
     ["Nowhere", "Elsewhere"], []),
    ("names match whatever the case and spacing", " trial , DEVOPS ",
     "space admin, Space developer", {"Trial": "Space Admin", "DevOps": "Space Developer"},
     [], []),
    ("an empty role item is no role: Space Member", "Trial,DevOps,QA",
     "Space Admin,,Space Developer",
     {"Trial": "Space Admin", "DevOps": "Space Member", "QA": "Space Developer"}, [], []),
    ("a custom space role is as valid as a built-in one", "Prod", "auditor",
     {"Prod": "Auditor"}, [], []),
]  # fmt: skip


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",")] if value else []


@pytest.mark.parametrize(
    ("rule", "spaces", "roles", "expected", "ignored", "unknown"),
    CASES,
    ids=[case[0] for case in CASES],
)
def test_each_rule_of_the_torque_guide_gives_exactly_these_space_roles(
    rule: str,
    spaces: str,
    roles: str,
    expected: dict[str, str],
    ignored: list[str],
    unknown: list[str],
) -> None:
    """The Torque guide's six "Points to consider", one row each (and their combinations)."""
    result = assign_spaces(_split(spaces), _split(roles), SPACES, ROLES, MEMBER)
    assert {g.space.name: g.role.name for g in result.grants} == expected
    assert list(result.ignored_spaces) == ignored
    assert list(result.unknown_roles) == unknown


def test_grants_keep_the_order_the_spaces_were_first_listed() -> None:
    result = assign_spaces(["QA", "Trial", "QA"], ["Space Admin"], SPACES, ROLES, MEMBER)
    assert [g.space.name for g in result.grants] == ["QA", "Trial"]


def test_the_connections_default_space_applies_with_its_role_or_space_member() -> None:
    """Seed 001: a new user lands in a default space with a pre-configured role."""
    chosen = default_assignment("Trial", "Space Developer", SPACES, ROLES, MEMBER)
    assert [(g.space.name, g.role.name) for g in chosen.grants] == [("Trial", "Space Developer")]
    fallback = default_assignment("Trial", "", SPACES, ROLES, MEMBER)
    assert [(g.space.name, g.role.name) for g in fallback.grants] == [("Trial", "Space Member")]
    assert default_assignment("", "", SPACES, ROLES, MEMBER).grants == ()
    assert default_assignment("Gone", "", SPACES, ROLES, MEMBER).ignored_spaces == ("Gone",)


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("Europe/Berlin", True),
        ("America/Argentina/Buenos_Aires", True),
        ("UTC", True),
        ("Asia/Kolkata", True),
        ("europe/berlin", False),
        ("Mars/Olympus_Mons", False),
        ("GMT+2", False),
        ("", False),
        ("../../etc/passwd", False),
    ],
)
def test_a_timezone_applies_only_when_it_is_a_valid_iana_name(name: str, valid: bool) -> None:
    """The Torque guide: "(Optional) timezone: the user's timezone in IANA format"."""
    assert valid_timezone(name) is valid
