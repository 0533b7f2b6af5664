"""scim.filters: the RFC 7644 §3.4.2.2 grammar, translated to the directory's structured Filter."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given, settings
from hypothesis import strategies as st

from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import InvalidArgument
from scim.filters import (
    MAX_DEPTH,
    MAX_FILTER_LENGTH,
    And,
    Compare,
    Not,
    Or,
    ValuePath,
    all_of,
    any_of,
    compile_filter,
    negate,
    parse_filter,
)
from scim.schemas import GROUP_RESOURCE, USER_RESOURCE, AttrPath, ResourceType

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def cmp(attribute: str, operator: int, value: object = None) -> pb.Filter:
    comparison = pb.Comparison(attribute=attribute, operator=operator)  # type: ignore[arg-type]
    if isinstance(value, bool):
        comparison.value.bool_value = value
    elif isinstance(value, str):
        comparison.value.string_value = value
    elif isinstance(value, datetime):
        timestamp = Timestamp()
        timestamp.FromDatetime(value)
        comparison.value.timestamp_value.CopyFrom(timestamp)
    elif value == "null":
        comparison.value.null_value = True
    return pb.Filter(comparison=comparison)


def null(attribute: str, operator: int) -> pb.Filter:
    comparison = pb.Comparison(attribute=attribute, operator=operator)  # type: ignore[arg-type]
    comparison.value.null_value = True
    return pb.Filter(comparison=comparison)


def value_path(attribute: str, inner: pb.Filter) -> pb.Filter:
    return pb.Filter(value_path=pb.ValuePathFilter(attribute=attribute, filter=inner))


EQ, NE, CO, SW, EW, PR = (
    pb.OPERATOR_EQUAL,
    pb.OPERATOR_NOT_EQUAL,
    pb.OPERATOR_CONTAINS,
    pb.OPERATOR_STARTS_WITH,
    pb.OPERATOR_ENDS_WITH,
    pb.OPERATOR_PRESENT,
)
GT, GE, LT, LE = (
    pb.OPERATOR_GREATER,
    pb.OPERATOR_GREATER_OR_EQUAL,
    pb.OPERATOR_LESS,
    pb.OPERATOR_LESS_OR_EQUAL,
)
MAY_13 = datetime(2011, 5, 13, 4, 42, 34, tzinfo=UTC)

# Every filter of RFC 7644 §3.4.2.2's example list that our schema supports, plus the matching
# filters Entra and Okta send (docs/scim-clients.md §2, §5), with the expected translation.
USER_FILTERS = [
    ('userName eq "bjensen"', cmp("user_name", EQ, "bjensen")),
    ('name.familyName co "O\'Malley"', cmp("name.family_name", CO, "O'Malley")),
    ('userName sw "J"', cmp("user_name", SW, "J")),
    ('userName ew "@example.com"', cmp("user_name", EW, "@example.com")),
    (
        'urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"',
        cmp("user_name", SW, "J"),
    ),
    ("title pr", cmp("title", PR)),
    ('meta.lastModified gt "2011-05-13T04:42:34Z"', cmp("update_time", GT, MAY_13)),
    ('meta.lastModified ge "2011-05-13T04:42:34Z"', cmp("update_time", GE, MAY_13)),
    ('meta.lastModified lt "2011-05-13T04:42:34Z"', cmp("update_time", LT, MAY_13)),
    ('meta.lastModified le "2011-05-13T04:42:34Z"', cmp("update_time", LE, MAY_13)),
    ('meta.created eq "2011-05-13T06:42:34+02:00"', cmp("create_time", EQ, MAY_13)),
    (
        'title pr and userType eq "Employee"',
        all_of([cmp("title", PR), cmp("user_type", EQ, "Employee")]),
    ),
    (
        'title pr or userType eq "Intern"',
        any_of([cmp("title", PR), cmp("user_type", EQ, "Intern")]),
    ),
    (
        'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
        all_of(
            [
                cmp("user_type", EQ, "Employee"),
                any_of(
                    [cmp("emails.value", CO, "example.com"), cmp("emails.value", CO, "example.org")]
                ),
            ]
        ),
    ),
    (
        'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
        all_of(
            [
                cmp("user_type", NE, "Employee"),
                negate(
                    any_of(
                        [
                            cmp("emails.value", CO, "example.com"),
                            cmp("emails.value", CO, "example.org"),
                        ]
                    )
                ),
            ]
        ),
    ),
    (
        'userType eq "Employee" and (emails.type eq "work")',
        all_of([cmp("user_type", EQ, "Employee"), cmp("emails.type", EQ, "work")]),
    ),
    (
        'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
        all_of(
            [
                cmp("user_type", EQ, "Employee"),
                value_path(
                    "emails", all_of([cmp("type", EQ, "work"), cmp("value", CO, "@example.com")])
                ),
            ]
        ),
    ),
    (
        'emails[type eq "work" and value co "@example.com"] or '
        'ims[type eq "xmpp" and value co "@foo.com"]',
        None,  # ims is not filterable: see the invalid table
    ),
    # Entra's matching attributes and reference checks.
    (
        'externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"',
        cmp("external_id", EQ, "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"),
    ),
    (
        'emails[type eq "work"].value eq "bjensen@example.com"',
        value_path(
            "emails", all_of([cmp("type", EQ, "work"), cmp("value", EQ, "bjensen@example.com")])
        ),
    ),
    (
        f'id eq "u1" and {ENTERPRISE}:manager eq "m1"',
        all_of([cmp("id", EQ, "u1"), cmp("enterprise.manager_id", EQ, "m1")]),
    ),
    (f'{ENTERPRISE}:manager.value eq "m1"', cmp("enterprise.manager_id", EQ, "m1")),
    (f'{ENTERPRISE}:employeeNumber eq "701984"', cmp("enterprise.employee_number", EQ, "701984")),
    ('employeeNumber eq "701984"', cmp("enterprise.employee_number", EQ, "701984")),
    (f'{ENTERPRISE}:department sw "Tour"', cmp("enterprise.department", SW, "Tour")),
    ("active eq true", cmp("active", EQ, True)),
    ("active eq false", cmp("active", EQ, False)),
    ("active ne True", cmp("active", NE, True)),
    ('active eq "false"', cmp("active", EQ, False)),
    ('name.givenName eq "Barbara"', cmp("name.given_name", EQ, "Barbara")),
    (
        "name pr",
        any_of(
            [cmp("name.formatted", PR), cmp("name.family_name", PR), cmp("name.given_name", PR)]
        ),
    ),
    ('phoneNumbers.value eq "+1 555"', cmp("phone_numbers.value", EQ, "+1 555")),
    ('phoneNumbers[value eq "+1 555"]', cmp("phone_numbers.value", EQ, "+1 555")),
    ('emails[value eq "a@x.com"]', value_path("emails", cmp("value", EQ, "a@x.com"))),
    ("emails pr", cmp("emails.value", PR)),
    ("externalId eq null", null("external_id", EQ)),
    ("externalId ne null", null("external_id", NE)),
    (
        'id eq "2819c223-7f76-453a-919d-413861904646"',
        cmp("id", EQ, "2819c223-7f76-453a-919d-413861904646"),
    ),
    # Case-insensitive names, operators and keywords (RFC 7643 §2.1, RFC 7644 §3.4.2.2).
    ('USERNAME EQ "x"', cmp("user_name", EQ, "x")),
    ('UserName Eq "x" AND Title PR', all_of([cmp("user_name", EQ, "x"), cmp("title", PR)])),
    ("NOT (title pr)", negate(cmp("title", PR))),
    ("not(title pr)", negate(cmp("title", PR))),
    ('Emails[Type EQ "work"]', value_path("emails", cmp("type", EQ, "work"))),
    # Precedence: and binds tighter than or.
    (
        'title pr or userType eq "a" and locale eq "b"',
        any_of([cmp("title", PR), all_of([cmp("user_type", EQ, "a"), cmp("locale", EQ, "b")])]),
    ),
    (
        '(title pr or userType eq "a") and locale eq "b"',
        all_of([any_of([cmp("title", PR), cmp("user_type", EQ, "a")]), cmp("locale", EQ, "b")]),
    ),
    ("((((title pr))))", cmp("title", PR)),
    # JSON string escapes.
    (r'userName eq "a\"b\\c\u00e9"', cmp("user_name", EQ, 'a"b\\cé')),
    ('userName eq "  spaced  "', cmp("user_name", EQ, "  spaced  ")),
    ('displayName eq "Barbara (Babs) [J]"', cmp("display_name", EQ, "Barbara (Babs) [J]")),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [(t, e) for t, e in USER_FILTERS if e is not None],
    ids=lambda v: str(v)[:60],
)
def test_user_filters_translate_to_the_directory_filter(text: str, expected: pb.Filter) -> None:
    """RFC 7644 §3.4.2.2: every operator, grouping, value path, sub-attribute and URN-qualified
    name maps to directory attribute names (issue: filters run as SQL on indexes)."""
    assert compile_filter(text, USER_RESOURCE) == expected


GROUP_FILTERS = [
    ('displayName eq "Engineering"', cmp("display_name", EQ, "Engineering")),
    ('externalId eq "a1b2"', cmp("idp_identifier", EQ, "a1b2")),
    ('members[value eq "u1"]', cmp("members.user_id", EQ, "u1")),
    ('members eq "u1"', cmp("members.user_id", EQ, "u1")),
    ('members.value eq "u1"', cmp("members.user_id", EQ, "u1")),
    (
        'id eq "g1" and members[value eq "u1"]',
        all_of([cmp("id", EQ, "g1"), cmp("members.user_id", EQ, "u1")]),
    ),
    (
        'members[value eq "u1" or value eq "u2"]',
        any_of([cmp("members.user_id", EQ, "u1"), cmp("members.user_id", EQ, "u2")]),
    ),
    (
        'urn:ietf:params:scim:schemas:core:2.0:Group:displayName co "eng"',
        cmp("display_name", CO, "eng"),
    ),
]


@pytest.mark.parametrize(("text", "expected"), GROUP_FILTERS, ids=lambda v: str(v)[:60])
def test_group_filters_translate_to_the_directory_filter(text: str, expected: pb.Filter) -> None:
    """Entra's group matching and reference checks (docs/scim-clients.md §2 rows 3 and 7):
    displayName, externalId as the IdP identifier, and membership by user id."""
    assert compile_filter(text, GROUP_RESOURCE) == expected


def test_the_parser_builds_a_faithful_ast() -> None:
    """The AST keeps the client's structure: and/or lists, not, value paths (RFC 7644 §3.4.2.2)."""
    ast = parse_filter('a eq "1" or not (b pr) and c[d gt 2]')
    assert ast == Or(
        (
            Compare(AttrPath(None, "a"), "eq", "1"),
            And(
                (
                    Not(Compare(AttrPath(None, "b"), "pr", None)),
                    ValuePath(AttrPath(None, "c"), Compare(AttrPath(None, "d"), "gt", 2)),
                )
            ),
        )
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("x eq 42", 42),
        ("x eq -1.5", -1.5),
        ("x eq 1e3", 1000.0),
        ("x eq null", None),
        ("x eq TRUE", True),
    ],
)
def test_literals_follow_json(text: str, value: object) -> None:
    """compValue = false / null / true / number / string (RFC 7644 §3.4.2.2, JSON spellings)."""
    ast = parse_filter(text)
    assert isinstance(ast, Compare)
    assert ast.value == value


INVALID_FILTERS = [
    ("", "empty"),
    ("   ", "empty"),
    ('nosuch eq "x"', "unknown attribute 'nosuch'"),
    ('name.nosuch eq "x"', "unknown attribute 'name.nosuch'"),
    ('urn:example:unknown:User:userName eq "x"', "unknown attribute"),
    ('userName equals "x"', "unknown operator"),
    ('userName "x"', "expected an operator"),
    ("userName eq", "expected a value"),
    ("userName eq bjensen", "expected a value"),
    ('userName eq "unterminated', "unterminated"),
    ('userName eq "bad \\q escape"', "invalid escape"),
    ('userName eq "x" garbage', "expected 'and', 'or' or the end"),
    ('userName eq "x" and', "expected an attribute name"),
    ('userName eq "x" or or title pr', "expected an attribute name"),
    ('(userName eq "x"', "expected ')'"),
    ('userName eq "x")', "unbalanced ')'"),
    ("not title pr", "expected '(' after 'not'"),
    ('emails[type eq "work"', "expected ']'"),
    ("emails[]", "expected a filter inside"),
    ('emails[type eq "work"].', "expected a sub-attribute"),
    ('emails[type eq "work"].value', "expected an operator"),
    ('emails[emails[type eq "x"]]', "cannot be nested"),
    ('emails[urn:x:y:type eq "x"]', "must be a sub-attribute name"),
    ('emails[nosuch eq "x"]', "no sub-attribute 'nosuch'"),
    ('name.givenName[value eq "x"]', "names a sub-attribute"),
    ('userName[value eq "x"]', "has no sub-attributes"),
    ('name eq "x"', "is complex"),
    ('ims[type eq "xmpp"]', "cannot be used in a filter"),
    ("emails.primary eq true", "cannot be used in a filter"),
    ('phoneNumbers[type eq "mobile"].value eq "1"', "cannot be used in a filter"),
    ('profileUrl eq "x"', "cannot be used in a filter"),
    ('password eq "x"', "cannot be used in a filter"),
    ('groups.value eq "g1"', "cannot be used in a filter"),
    ('roles.value eq "Admin"', "cannot be used in a filter"),
    ("userName eq 42", "is a string"),
    ("userName eq true", "is a string"),
    ("active gt true", "only eq, ne and pr apply"),
    ('active eq "yes"', "compare it with true or false"),
    ('meta.created co "2011"', "co, sw and ew do not apply"),
    ('meta.created gt "yesterday"', "RFC 3339"),
    ("meta.created gt 42", "RFC 3339"),
    ("userName gt null", "not a comparison"),
    ('userName eq "a\\u0000b"', "NUL"),
    ('userName eq "\\ud800"', "unpaired surrogate"),
    ('userName eq "x" and (', "expected an attribute name"),
    ('1userName eq "x"', "expected an attribute name"),
    ('user$Name eq "x"', "expected an attribute name"),
    ('userName.a.b eq "x"', "expected an attribute name"),
    ('and eq "x"', "expected an attribute name"),
]


@pytest.mark.parametrize(("text", "message"), INVALID_FILTERS, ids=lambda v: str(v)[:50])
def test_invalid_filters_are_invalid_filter_errors_saying_what_is_wrong(
    text: str, message: str
) -> None:
    """RFC 7644 §3.4.2.2/§3.12: an unparseable filter, an unsupported one or one naming an unknown
    attribute is 400 invalidFilter, never a silent 0 or every row (docs/scim-clients.md §7)."""
    with pytest.raises(InvalidArgument) as caught:
        compile_filter(text, USER_RESOURCE)
    assert caught.value.reason == "invalid_filter"
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('members[value eq "a" and value eq "b"]', "joined by 'or'"),
        ('members[not (value eq "a")]', "joined by 'or'"),
        ('members[display eq "Babs"]', "cannot be used in a filter"),
        ('userName eq "x"', "unknown attribute 'userName'"),
        ('meta.created gt "2011-05-13T04:42:34Z"', "cannot be used in a filter"),
        (f'{ENTERPRISE}:employeeNumber eq "1"', "unknown attribute"),
    ],
)
def test_group_filters_outside_what_the_directory_answers_are_refused(
    text: str, message: str
) -> None:
    """A member condition the directory cannot evaluate element by element is refused rather
    than answered wrongly (issue: never silently all rows or none)."""
    with pytest.raises(InvalidArgument) as caught:
        compile_filter(text, GROUP_RESOURCE)
    assert caught.value.reason == "invalid_filter"
    assert message in caught.value.message


def test_error_messages_point_at_the_position() -> None:
    """The detail says where the filter goes wrong (issue: 'what is wrong and where')."""
    with pytest.raises(InvalidArgument) as caught:
        parse_filter('userName eq "x" garbage')
    assert "position 17" in caught.value.message


def test_an_overlong_filter_is_refused() -> None:
    """Pathological input is bounded: at most MAX_FILTER_LENGTH characters."""
    text = " or ".join(f'userName eq "{i}"' for i in range(400))
    assert len(text) > MAX_FILTER_LENGTH
    with pytest.raises(InvalidArgument, match="longer than"):
        parse_filter(text)


def test_deep_nesting_is_an_invalid_filter_not_a_recursion_error() -> None:
    """Pathological nesting is bounded at MAX_DEPTH, well below Python's recursion limit."""
    parse_filter("(" * MAX_DEPTH + "title pr" + ")" * MAX_DEPTH)
    with pytest.raises(InvalidArgument, match="nests deeper"):
        parse_filter("(" * (MAX_DEPTH + 1) + "title pr" + ")" * (MAX_DEPTH + 1))
    with pytest.raises(InvalidArgument, match="nests deeper"):
        parse_filter("not (" * 300 + "title pr" + ")" * 300)
    with pytest.raises(InvalidArgument):
        parse_filter("(" * 4000)


def test_long_flat_conjunctions_are_fine() -> None:
    """Long and/or chains are loops, not recursion: only nesting counts towards the depth."""
    text = " and ".join(["title pr"] * 300)
    ast = parse_filter(text)
    assert isinstance(ast, And)
    assert len(ast.items) == 300


def _outcome(text: str, resource_type: ResourceType) -> str:
    """ "ok" when the filter compiles to a serialisable Filter, else the error's reason; any other
    exception propagates and fails the property."""
    try:
        compile_filter(text, resource_type).SerializeToString()
    except InvalidArgument as error:
        return error.reason
    return "ok"


FILTER_ALPHABET = st.sampled_from(
    [
        "userName",
        "emails",
        "name",
        ".",
        "givenName",
        "value",
        "type",
        "[",
        "]",
        "(",
        ")",
        '"',
        "\\",
        " ",
        "eq",
        "co",
        "pr",
        "gt",
        "and",
        "or",
        "not",
        "true",
        "null",
        "1",
        "-",
        "e",
        ":",
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "meta.created",
        "x",
        "\x00",
        "é",
        '"a"',
        "\\u00",
        "manager",
    ]
)


@settings(max_examples=1000, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_raises_anything_but_invalid_argument(text: str) -> None:
    """Property: whatever the client sends, the parser answers a Filter or invalidFilter."""
    for resource_type in (USER_RESOURCE, GROUP_RESOURCE):
        assert _outcome(text, resource_type) in ("ok", "invalid_filter")


@settings(max_examples=1500, deadline=None)
@given(st.lists(FILTER_ALPHABET, max_size=40).map(" ".join))
def test_filter_like_text_never_raises_anything_but_invalid_argument(text: str) -> None:
    """Property, on text made of filter tokens so that the parser gets deep into the grammar."""
    for resource_type in (USER_RESOURCE, GROUP_RESOURCE):
        assert _outcome(text, resource_type) in ("ok", "invalid_filter")


@settings(max_examples=500, deadline=None)
@given(st.text(min_size=0, max_size=60))
def test_any_quoted_string_round_trips_as_a_literal(value: str) -> None:
    """Property: a JSON-encoded string compares against exactly that string (JSON escapes)."""
    import json

    text = f"userName eq {json.dumps(value)}"
    unstorable = "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if unstorable:
        with pytest.raises(InvalidArgument, match=r"NUL|surrogate"):
            compile_filter(text, USER_RESOURCE)
    else:
        assert compile_filter(text, USER_RESOURCE) == cmp("user_name", EQ, value)
