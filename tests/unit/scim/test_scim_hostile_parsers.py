"""Hostile input to the SCIM parsers (issue "Under load, faults and hostile input it keeps
working and loses nothing"): property tests of the filter grammar (RFC 7644 §3.4.2.2), the PATCH
path grammar (§3.5.2) and PATCH application. Whatever the text or the JSON, the answer is a
result or the SCIM error type (InvalidArgument: a 400 with a scimType), never another exception
(a 500), never a RecursionError.

Generated valid filters are rendered to text and parsed back: the parser must give back exactly
the generated tree, attribute paths included. Hypothesis runs derandomised with no example
database, so CI sees the same examples on every run.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from meshkit.errors import InvalidArgument
from meshkit.strict_json import MAX_DEPTH as MAX_BODY_DEPTH
from scim.exchange import parse_json
from scim.filters import (
    MAX_DEPTH,
    MAX_FILTER_LENGTH,
    And,
    Compare,
    Expr,
    Literal,
    Not,
    Or,
    ValuePath,
    compile_filter,
    parse_filter,
)
from scim.patch import apply_patch
from scim.paths import MAX_PATH_LENGTH, parse_path
from scim.schemas import (
    ENTERPRISE_USER_SCHEMA,
    GROUP_RESOURCE,
    USER_RESOURCE,
    Attribute,
    AttrPath,
    ResourceType,
)

# Sized for a loaded 2-core CI machine: the whole file runs in a few seconds.
SETTINGS = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
FILTER_REASONS = ("invalid_filter",)
PATH_REASONS = ("invalid_path", "invalid_filter")
OPERATORS = ("eq", "ne", "co", "sw", "ew", "gt", "lt", "ge", "le")
KEYWORDS = frozenset({"and", "or", "not"})


def _reason(call: Any, *args: Any) -> str:
    """ "ok", or the reason of the InvalidArgument raised; anything else propagates (and fails)."""
    try:
        call(*args)
    except InvalidArgument as error:
        return error.reason or "invalid_argument"
    return "ok"


# ---------------------------------------------------------------------------------------------
# Generated filter trees and their text

NAMES = st.from_regex(r"\A[A-Za-z][A-Za-z0-9_-]{0,7}\Z").filter(lambda n: n.lower() not in KEYWORDS)
PATHS = st.builds(
    AttrPath,
    st.sampled_from([None, None, None, CORE_USER, ENTERPRISE_USER_SCHEMA]),
    NAMES,
    st.none() | NAMES,
)
SUB_PATHS = st.builds(AttrPath, st.none(), NAMES, st.none())
STORABLE_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=12
)
LITERALS: st.SearchStrategy[Literal] = (
    STORABLE_TEXT
    | st.booleans()
    | st.none()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
)


def _compare(paths: st.SearchStrategy[AttrPath]) -> st.SearchStrategy[Compare]:
    return st.one_of(
        st.builds(Compare, paths, st.sampled_from(OPERATORS), LITERALS),
        st.builds(Compare, paths, st.just("pr"), st.none()),
    )


def _logic(leaves: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    def extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
        return st.one_of(
            st.builds(Not, children),
            st.lists(children, min_size=2, max_size=3).map(lambda items: And(tuple(items))),
            st.lists(children, min_size=2, max_size=3).map(lambda items: Or(tuple(items))),
        )

    return st.recursive(leaves, extend, max_leaves=6)


VALUE_FILTERS = _logic(_compare(SUB_PATHS))
VALUE_PATHS = st.builds(ValuePath, st.builds(AttrPath, st.none(), NAMES, st.none()), VALUE_FILTERS)
FILTERS = _logic(_compare(PATHS) | VALUE_PATHS)


def _literal(value: Literal, draw_case: bool) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
        return text.upper() if draw_case else text
    if value is None:
        return "NULL" if draw_case else "null"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=draw_case)
    return repr(value)


def render(expr: Expr, upper: bool = False) -> str:
    """The filter text of ``expr``: And/Or operands in parentheses, so the text parses to this
    very tree (a parenthesised expression is its inner tree, RFC 7644 §3.4.2.2 precedence)."""

    def operand(item: Expr) -> str:
        text = render(item, upper)
        return f"({text})" if isinstance(item, And | Or) else text

    if isinstance(expr, And):
        return f" {'AND' if upper else 'and'} ".join(operand(item) for item in expr.items)
    if isinstance(expr, Or):
        return f" {'OR' if upper else 'or'} ".join(operand(item) for item in expr.items)
    if isinstance(expr, Not):
        return f"{'NOT' if upper else 'not'} ({render(expr.expr, upper)})"
    if isinstance(expr, ValuePath):
        return f"{expr.path}[{render(expr.filter, upper)}]"
    op = expr.op.upper() if upper else expr.op
    if expr.op == "pr":
        return f"{expr.path} {op}"
    return f"{expr.path} {op} {_literal(expr.value, upper)}"


def nesting(expr: Expr) -> int:
    """How deep the text nests '(', 'not (' and '[' (what the parser's MAX_DEPTH counts)."""
    if isinstance(expr, And | Or):
        return max(nesting(item) + isinstance(item, And | Or) for item in expr.items)
    if isinstance(expr, Not | ValuePath):
        return 1 + nesting(expr.expr if isinstance(expr, Not) else expr.filter)
    return 0


# ---------------------------------------------------------------------------------------------
# Filters


@SETTINGS
@given(FILTERS, st.booleans())
def test_a_generated_filter_parses_back_to_the_same_tree(expr: Expr, upper: bool) -> None:
    """RFC 7644 §3.4.2.2: every filter of the grammar parses, operators and keywords in any
    case, and yields exactly the attribute paths, operators and values written."""
    text = render(expr, upper)
    assume(len(text) <= MAX_FILTER_LENGTH)
    if nesting(expr) > MAX_DEPTH:
        assert _reason(parse_filter, text) == "invalid_filter"
        return
    assert parse_filter(text) == expr


@SETTINGS
@given(FILTERS)
def test_a_generated_filter_compiles_or_is_an_invalid_filter(expr: Expr) -> None:
    """Parsed filters on any attribute names translate to the directory's filter or are
    invalidFilter (unknown attribute, wrong value type: RFC 7644 §3.4.2.2), never a 500."""
    text = render(expr)
    assume(len(text) <= MAX_FILTER_LENGTH)
    for resource_type in (USER_RESOURCE, GROUP_RESOURCE):
        assert _reason(compile_filter, text, resource_type) in ("ok", *FILTER_REASONS)


@SETTINGS
@given(st.binary(max_size=120).map(lambda raw: raw.decode("utf-8", "surrogateescape")))
def test_text_from_arbitrary_bytes_is_a_filter_or_an_invalid_filter(text: str) -> None:
    """RFC 7644 §3.4.2.2, §3.12: undecodable bytes (lone surrogates after a lenient decode) and
    control characters are invalidFilter, never an encoding error."""
    for resource_type in (USER_RESOURCE, GROUP_RESOURCE):
        assert _reason(compile_filter, text, resource_type) in ("ok", *FILTER_REASONS)


DEEP = 10_000
DEEP_FILTERS = {
    "parentheses": "(" * DEEP + 'userName eq "a"' + ")" * DEEP,
    "not chains": "not(" * DEEP + 'userName eq "a"' + ")" * DEEP,
    "spaced not chains": "not ( " * DEEP + "active pr" + " )" * DEEP,
    "unclosed parentheses": "(" * DEEP,
    "closing parentheses": ")" * DEEP,
    "value path brackets": "emails[" * DEEP,
    "within the length limit": "(" * 2000 + "x pr" + ")" * 2000,
    "not chain within the length limit": "not(" * 1000,
    "brackets within the length limit": "emails[type eq " * 250,
    "a long flat conjunction": " and ".join(["active pr"] * 400),
    "a long flat disjunction": " or ".join(['userName eq "a"'] * 200),
    "a number of 4,000 digits": "userName eq " + "9" * 4000,
    "a number beyond the double range": "userName gt 1e999999",
    "an unterminated string": 'userName eq "' + "a" * 4000,
    "a megabyte of text": "a" * 1_000_000,
}


@pytest.mark.parametrize("text", DEEP_FILTERS.values(), ids=DEEP_FILTERS.keys())
def test_deep_or_huge_filters_are_an_invalid_filter_never_a_recursion_error(text: str) -> None:
    """RFC 7644 §3.4.2.2 with the parser's limits (MAX_DEPTH, MAX_FILTER_LENGTH): 10,000 levels
    of '(' or 'not(' are refused as invalidFilter, like any other malformed filter."""
    for resource_type in (USER_RESOURCE, GROUP_RESOURCE):
        assert _reason(compile_filter, text, resource_type) in ("ok", "invalid_filter")


def test_a_huge_number_in_a_filter_is_an_invalid_filter_naming_it() -> None:
    """RFC 7644 §3.4.2.2 compValue: a number Python cannot convert is invalidFilter."""
    with pytest.raises(InvalidArgument, match="too large"):
        parse_filter("userName gt 1e999999")


# ---------------------------------------------------------------------------------------------
# PATCH paths


def _multi_valued(resource_type: ResourceType) -> list[Attribute]:
    return [a for a in resource_type.schema.attributes if a.multi_valued and a.is_complex]


@st.composite
def value_path_texts(draw: st.DrawFn) -> tuple[ResourceType, Attribute, Expr, str | None, str]:
    """``emails[type eq "work"].value``-like paths over real multi-valued attributes."""
    resource_type = draw(st.sampled_from([USER_RESOURCE, GROUP_RESOURCE]))
    attribute = draw(st.sampled_from(_multi_valued(resource_type)))
    sub_names = st.sampled_from([sub.name for sub in attribute.sub_attributes])
    leaves = st.builds(
        Compare,
        st.builds(AttrPath, st.none(), sub_names, st.none()),
        st.sampled_from(["eq", "ne", "co", "sw", "pr"]),
        STORABLE_TEXT,
    ).map(lambda c: Compare(c.path, c.op, None) if c.op == "pr" else c)
    expr = draw(_logic(leaves))
    sub = draw(st.none() | sub_names)
    name = draw(st.sampled_from([attribute.name, attribute.name.upper()]))
    text = f"{name}[{render(expr)}]" + (f".{sub}" if sub else "")
    return resource_type, attribute, expr, sub, text


@settings(SETTINGS, max_examples=60)
@given(value_path_texts())
def test_a_generated_value_path_resolves_to_its_attribute_filter_and_sub_attribute(
    generated: tuple[ResourceType, Attribute, Expr, str | None, str],
) -> None:
    """RFC 7644 §3.5.2: PATH = attrPath / valuePath [subAttr], names case-insensitive; the
    value filter shares the §3.4.2.2 grammar."""
    resource_type, attribute, expr, sub, text = generated
    if nesting(expr) + 1 > MAX_DEPTH:
        assert _reason(parse_path, resource_type, text) == "invalid_filter"
        return
    parsed = parse_path(resource_type, text)
    assert parsed.resolved.attribute == attribute
    assert parsed.filter == expr
    assert (parsed.resolved.sub.name if parsed.resolved.sub else None) == sub


DIALECT_PATHS = [
    # (resource type, path as a client sends it, attribute, sub-attribute)
    (USER_RESOURCE, 'emails[type eq "work"].value', "emails", "value"),
    (USER_RESOURCE, 'EMAILS[TYPE EQ "work"].VALUE', "emails", "value"),
    (USER_RESOURCE, 'phoneNumbers[type eq "mobile"].value', "phoneNumbers", "value"),
    (USER_RESOURCE, 'addresses[type eq "work"].streetAddress', "addresses", "streetAddress"),
    (USER_RESOURCE, "name.givenName", "name", "givenName"),
    (USER_RESOURCE, f"{CORE_USER}:userName", "userName", None),
    (USER_RESOURCE, f"{ENTERPRISE_USER_SCHEMA}:manager", "manager", None),
    (USER_RESOURCE, f"{ENTERPRISE_USER_SCHEMA}:manager.value", "manager", "value"),
    (USER_RESOURCE, f"{ENTERPRISE_USER_SCHEMA}:employeeNumber", "employeeNumber", None),
    (USER_RESOURCE, "active", "active", None),
    (GROUP_RESOURCE, 'members[value eq "2819c223-7f76-453a-919d-413861904646"]', "members", None),
    (GROUP_RESOURCE, "members", "members", None),
    (GROUP_RESOURCE, "displayName", "displayName", None),
]


@pytest.mark.parametrize(
    ("resource_type", "text", "attribute", "sub"),
    DIALECT_PATHS,
    ids=[text for _, text, _, _ in DIALECT_PATHS],
)
def test_entra_and_okta_paths_resolve(
    resource_type: ResourceType, text: str, attribute: str, sub: str | None
) -> None:
    """docs/scim-clients.md §3, §4: the paths Entra (both dialects) and Okta send."""
    parsed = parse_path(resource_type, text)
    assert parsed.resolved.attribute is not None
    assert parsed.resolved.attribute.name == attribute
    assert (parsed.resolved.sub.name if parsed.resolved.sub else None) == sub


PATH_ALPHABET = st.sampled_from(
    [
        "emails",
        "members",
        "name",
        ".",
        ".value",
        "[",
        "]",
        "[type eq",
        '"work"',
        "]",
        " ",
        "not",
        "(",
        ")",
        "and",
        "value",
        "type",
        "pr",
        "1e999999",
        "9" * 5000,
        "urn:",
        ENTERPRISE_USER_SCHEMA,
        ":",
        "manager",
        "\x00",
        "\udc80",
        "é",
    ]
)


@SETTINGS
@given(st.text(max_size=80) | st.lists(PATH_ALPHABET, max_size=20).map("".join))
def test_any_text_is_a_patch_path_or_an_invalid_path(text: str) -> None:
    """RFC 7644 §3.5.2: any path text resolves or is 400 invalidPath / invalidFilter."""
    for resource_type in (USER_RESOURCE, GROUP_RESOURCE):
        assert _reason(parse_path, resource_type, text) in ("ok", *PATH_REASONS)


HOSTILE_PATHS = {
    "a number of 5,000 digits": "emails[type eq " + "1" * 5000 + "].value",
    "a number beyond the double range": "emails[type eq 1e999999]",
    "10,000 nested nots": "emails[" + "not(" * DEEP + 'type eq "a"' + ")" * DEEP + "]",
    "10,000 brackets": "emails[" * DEEP,
    "a megabyte attribute name": "a" * 1_000_000,
    "a megabyte after a value filter": 'emails[type eq "work"]' + "." * 1_000_000,
}


@pytest.mark.parametrize("text", HOSTILE_PATHS.values(), ids=HOSTILE_PATHS.keys())
def test_deep_or_huge_patch_paths_are_refused_as_a_400(text: str) -> None:
    """RFC 7644 §3.5.2 / §3.12: refused as invalidPath or invalidFilter (a 5,000-digit number
    used to escape as a ValueError, i.e. a 500)."""
    assert _reason(parse_path, USER_RESOURCE, text) in PATH_REASONS


def test_a_refused_long_path_is_not_echoed_back() -> None:
    """§3.12 detail: the message names the problem, not a megabyte of the client's input."""
    with pytest.raises(InvalidArgument) as refused:
        parse_path(USER_RESOURCE, "a" * (MAX_PATH_LENGTH + 1))
    assert len(str(refused.value)) < 200


# ---------------------------------------------------------------------------------------------
# PATCH application and bodies

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.sampled_from(["True", "False", "", "\x00", "work"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
OPERATION = st.dictionaries(
    st.sampled_from(["op", "path", "value", "OP", "Path", "Value", "schemas", "from"]),
    st.sampled_from(["add", "ADD", "replace", "Remove", "copy", "test", ""])
    | st.lists(PATH_ALPHABET, min_size=1, max_size=8).map("".join)
    | JSON,
    max_size=4,
)
PATCH_BODIES = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {"Operations": st.lists(OPERATION, max_size=4) | JSON},
        optional={"schemas": st.just(["urn:ietf:params:scim:api:messages:2.0:PatchOp"]) | JSON},
    ),
)
USER = {
    "schemas": [CORE_USER],
    "id": "u1",
    "userName": "a@b.c",
    "name": {"givenName": "A"},
    "active": True,
    "emails": [{"value": "a@b.c", "type": "work", "primary": True}],
    ENTERPRISE_USER_SCHEMA: {"manager": {"value": "m1"}},
}
GROUP = {"schemas": [], "id": "g1", "displayName": "G", "members": [{"value": "u1"}]}


@SETTINGS
@given(PATCH_BODIES)
def test_any_patch_body_is_applied_or_is_a_scim_error(body: Any) -> None:
    """RFC 7644 §3.5.2 and §3.12: JSON of any shape as a PATCH body, with op names in any case,
    operations missing members, paths made of grammar fragments, is applied or refused with
    InvalidArgument (invalidSyntax, invalidPath, invalidFilter, invalidValue, noTarget,
    mutability), never another exception."""
    for resource_type, resource, members in (
        (USER_RESOURCE, USER, False),
        (GROUP_RESOURCE, GROUP, True),
    ):
        with contextlib.suppress(InvalidArgument):
            apply_patch(resource_type, resource, body, track_members=members)


# ---------------------------------------------------------------------------------------------
# The JSON body reader


def _nested(depth: int) -> bytes:
    return b'{"userName": "a", "name": ' + b'{"a": ' * depth + b"1" + b"}" * (depth + 1)


HOSTILE_BODIES = {
    "UTF-16 with a byte order mark": ('{"userName": "ada"}'.encode("utf-16"), "UTF-8"),
    "UTF-16 without a byte order mark": ('{"userName": "ada"}'.encode("utf-16-le"), "UTF-8"),
    "UTF-32": ('{"userName": "ada"}'.encode("utf-32"), "UTF-8"),
    "latin-1": ('{"userName": "adé"}'.encode("latin-1"), "UTF-8"),
    "invalid UTF-8": (b'{"userName": "\xc3\x28"}', "UTF-8"),
    "truncated": (b'{"userName": "ada", "name": {"giv', "not valid JSON"),
    "a number beyond the double range": (b'{"userName": 1e999999}', "too large"),
    "a 5,000-digit number": (b'{"userName": ' + b"7" * 5000 + b"}", "digits"),
    "Infinity": (b'{"userName": -Infinity}', "Infinity"),
    "duplicate members": (b'{"userName": "a", "userName": "b"}', "twice"),
    "100,000 nested arrays": (b"[" * 100_000 + b"]" * 100_000, "nests deeper"),
    "nesting just past the limit": (_nested(MAX_BODY_DEPTH), "nests deeper"),
}


@pytest.mark.parametrize(
    ("body", "named"), HOSTILE_BODIES.values(), ids=list(HOSTILE_BODIES.keys())
)
def test_a_hostile_body_is_invalid_syntax_naming_the_problem(body: bytes, named: str) -> None:
    """RFC 8259 §8.1 (JSON between systems MUST be UTF-8), §4 (unique names), §6 (numbers);
    RFC 7644 §3.12 invalidSyntax with a detail naming what is wrong."""
    with pytest.raises(InvalidArgument) as refused:
        parse_json(body)
    assert refused.value.reason == "invalid_syntax"
    assert named in str(refused.value)


def test_a_utf8_byte_order_mark_and_deep_but_legal_nesting_are_read() -> None:
    """RFC 8259 §8.1: a parser MAY ignore a byte order mark; SCIM documents nest a few levels."""
    assert parse_json(b'\xef\xbb\xbf{"userName": "ada"}') == {"userName": "ada"}
    assert parse_json(_nested(MAX_BODY_DEPTH - 2))["userName"] == "a"


@SETTINGS
@given(st.binary(max_size=200) | JSON.map(lambda v: json.dumps(v).encode()))
def test_any_bytes_are_json_or_invalid_syntax(body: bytes) -> None:
    """RFC 7644 §3.12: whatever the bytes, the body is a document or 400 invalidSyntax."""
    assert _reason(parse_json, body) in ("ok", "invalid_syntax")
