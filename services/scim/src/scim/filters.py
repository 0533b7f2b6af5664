"""SCIM filters (RFC 7644 §3.4.2.2): a hand-written tokenizer and recursive-descent parser into an
AST, and the translation of that AST into the directory's structured ``Filter``.

Grammar (RFC 7644 §3.4.2.2, ABNF), with the precedence of §3.4.2.2 (not > and > or)::

    FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")" / "(" FILTER ")"
    valuePath = attrPath "[" valFilter "]"
    valFilter = attrExp / logExp / *1"not" "(" valFilter ")"
    attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
    compValue = false / null / true / number / string
    attrPath  = [URI ":"] ATTRNAME *1subAttr

plus ``valuePath "." subAttr compareOp compValue``, which the RFC grammar lacks but Entra ID sends
as a matching attribute (``emails[type eq "work"].value eq "x"``, docs/scim-clients.md §2):
it means "one element matches the bracketed filter and the comparison".

Operators, ``and``/``or``/``not`` and attribute names are case-insensitive (RFC 7644 §3.4.2.2,
RFC 7643 §2.1). Every failure is ``InvalidArgument(reason="invalid_filter")`` (400
``invalidFilter``) saying what is wrong and where: never a silent empty or full result.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, TypeAlias

from google.protobuf.timestamp_pb2 import Timestamp

from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import InvalidArgument
from scim import schemas
from scim.errors import INVALID_FILTER
from scim.schemas import Attribute, AttrPath, ResourceType

MAX_FILTER_LENGTH: Final = 4096
MAX_DEPTH: Final = 32

COMPARE_OPERATORS: Final = frozenset({"eq", "ne", "co", "sw", "ew", "gt", "lt", "ge", "le"})
_KEYWORDS: Final = frozenset({"and", "or", "not"})

Literal: TypeAlias = str | bool | int | float | None


# ---------------------------------------------------------------------------------------------
# AST


@dataclass(frozen=True, slots=True)
class Compare:
    """``path op value``; ``op`` is lower case; for "pr" the value is None."""

    path: AttrPath
    op: str
    value: Literal


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Not:
    expr: Expr


@dataclass(frozen=True, slots=True)
class ValuePath:
    """``path[filter]``: one element of ``path`` matches ``filter``, whose attribute paths name
    sub-attributes of ``path``."""

    path: AttrPath
    filter: Expr


Expr: TypeAlias = Compare | And | Or | Not | ValuePath


def invalid_filter(message: str) -> InvalidArgument:
    return InvalidArgument(message, field="filter", reason=INVALID_FILTER)


# ---------------------------------------------------------------------------------------------
# Tokens

# A JSON string (RFC 8259 §7): no raw control characters, escapes checked by json.loads.
_STRING = re.compile(r'"(?:[^"\\\x00-\x1f]|\\.)*"', re.DOTALL)
# A JSON number (RFC 8259 §6).
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
# A bare word: an attribute path, an operator, a keyword or a literal; stops at structure.
_WORD = re.compile(r'[^\s()\[\]"]+')
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "(", ")", "[", "]", "string", "word", "subattr", "end"
    text: str
    position: int  # 0-based offset in the filter
    value: Literal = None


def _decode_string(raw: str, position: int) -> str:
    try:
        value = json.loads(raw)
    except ValueError:
        raise invalid_filter(f"invalid escape in the string at position {position + 1}") from None
    assert isinstance(value, str)
    problem = text_problem(value)
    if problem:
        raise invalid_filter(f"the string at position {position + 1} {problem}")
    return value


def text_problem(value: str) -> str | None:
    """Why the directory could not store or compare ``value`` (NUL, unpaired surrogates), or
    None. PostgreSQL text holds neither, and protobuf strings must be valid UTF-8."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired surrogate"
    return None


def tokenize(text: str, start: int = 0) -> list[Token]:
    """Splits ``text[start:]`` into tokens (positions are offsets in ``text``); raises
    invalid_filter on an unterminated or malformed string."""
    tokens: list[Token] = []
    i = start
    n = len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            match = _SPACE.match(text, i)
            assert match is not None
            i = match.end()
            continue
        if char in "()[":
            tokens.append(Token(char, char, i))
            i += 1
            continue
        if char == "]":
            tokens.append(Token("]", "]", i))
            i += 1
            # Entra's `emails[type eq "work"].value`: a sub-attribute right after the bracket.
            if i < n and text[i] == ".":
                match = _WORD.match(text, i + 1)
                if match is None:
                    raise invalid_filter(
                        f"expected a sub-attribute name after ']' at position {i + 1}"
                    )
                tokens.append(Token("subattr", match.group(), i + 1))
                i = match.end()
            continue
        if char == '"':
            match = _STRING.match(text, i)
            if match is None:
                raise invalid_filter(f"unterminated or invalid string starting at position {i + 1}")
            raw = match.group()
            tokens.append(Token("string", raw, i, _decode_string(raw, i)))
            i = match.end()
            continue
        match = _WORD.match(text, i)
        assert match is not None
        tokens.append(Token("word", match.group(), i))
        i = match.end()
    tokens.append(Token("end", "", n))
    return tokens


# ---------------------------------------------------------------------------------------------
# Parser


class _Parser:
    def __init__(self, text: str, start: int = 0) -> None:
        self.text = text
        self.tokens = tokenize(text, start)
        self.index = 0
        self.depth = 0

    def peek(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def fail(self, message: str, token: Token) -> InvalidArgument:
        found = "the end of the filter" if token.kind == "end" else repr(token.text)
        return invalid_filter(f"{message} at position {token.position + 1}, found {found}")

    def expect(self, kind: str, message: str) -> Token:
        token = self.peek()
        if token.kind != kind:
            raise self.fail(message, token)
        return self.advance()

    def enter(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise invalid_filter(
                f"the filter nests deeper than {MAX_DEPTH} levels at position {token.position + 1}"
            )

    def is_word(self, token: Token, *words: str) -> bool:
        return token.kind == "word" and token.text.lower() in words

    def parse(self) -> Expr:
        if self.peek().kind == "end":
            raise invalid_filter("the filter is empty")
        expr = self.parse_or(in_value_path=False)
        token = self.peek()
        if token.kind != "end":
            if token.kind == ")":
                raise self.fail("unbalanced ')'", token)
            raise self.fail("expected 'and', 'or' or the end of the filter", token)
        return expr

    def parse_or(self, *, in_value_path: bool) -> Expr:
        items = [self.parse_and(in_value_path=in_value_path)]
        while self.is_word(self.peek(), "or"):
            self.advance()
            items.append(self.parse_and(in_value_path=in_value_path))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self, *, in_value_path: bool) -> Expr:
        items = [self.parse_unary(in_value_path=in_value_path)]
        while self.is_word(self.peek(), "and"):
            self.advance()
            items.append(self.parse_unary(in_value_path=in_value_path))
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_unary(self, *, in_value_path: bool) -> Expr:
        token = self.peek()
        if self.is_word(token, "not"):
            self.advance()
            opening = self.expect("(", "expected '(' after 'not'")
            self.enter(opening)
            inner = self.parse_or(in_value_path=in_value_path)
            self.expect(")", "expected ')' to close 'not ('")
            self.depth -= 1
            return Not(inner)
        if token.kind == "(":
            self.advance()
            self.enter(token)
            inner = self.parse_or(in_value_path=in_value_path)
            self.expect(")", "expected ')'")
            self.depth -= 1
            return inner
        if token.kind == "word" and token.text.lower() not in _KEYWORDS:
            return self.parse_attribute_expression(in_value_path=in_value_path)
        raise self.fail("expected an attribute name, 'not' or '('", token)

    def parse_path(self, token: Token) -> AttrPath:
        path = schemas.split_path(token.text)
        if path is None:
            raise self.fail("expected an attribute name", token)
        return path

    def parse_attribute_expression(self, *, in_value_path: bool) -> Expr:
        token = self.advance()
        path = self.parse_path(token)
        if self.peek().kind == "[":
            opening = self.advance()
            if in_value_path:
                raise invalid_filter(
                    f"value paths cannot be nested (position {opening.position + 1})"
                )
            if path.sub is not None:
                raise invalid_filter(
                    f"'{path}' names a sub-attribute; a value path filters a multi-valued "
                    f'attribute such as emails[type eq "work"] (position {opening.position + 1})'
                )
            self.enter(opening)
            if self.peek().kind == "]":
                raise self.fail("expected a filter inside '[ ]'", self.peek())
            inner = self.parse_or(in_value_path=True)
            self.expect("]", "expected ']' to close the value path")
            self.depth -= 1
            if self.peek().kind == "subattr":
                sub_token = self.advance()
                if not schemas.split_path(sub_token.text) or "." in sub_token.text:
                    raise self.fail("expected a sub-attribute name", sub_token)
                sub_path = AttrPath(None, sub_token.text)
                comparison = self.parse_comparison(sub_path, sub_token)
                return ValuePath(path, And((inner, comparison)))
            return ValuePath(path, inner)
        if in_value_path and (path.uri is not None or path.sub is not None):
            raise invalid_filter(
                f"'{token.text}' inside '[ ]' must be a sub-attribute name such as type or value "
                f"(position {token.position + 1})"
            )
        return self.parse_comparison(path, token)

    def parse_comparison(self, path: AttrPath, path_token: Token) -> Compare:
        operator = self.peek()
        if operator.kind != "word":
            raise self.fail(f"expected an operator after '{path_token.text}'", operator)
        op = operator.text.lower()
        if op == "pr":
            self.advance()
            return Compare(path, "pr", None)
        if op not in COMPARE_OPERATORS:
            raise self.fail(
                f"unknown operator after '{path_token.text}' (expected eq, ne, co, sw, ew, gt, "
                "ge, lt, le or pr)",
                operator,
            )
        self.advance()
        return Compare(path, op, self.parse_value(op))

    def parse_value(self, op: str) -> Literal:
        token = self.advance()
        if token.kind == "string":
            return token.value
        if token.kind == "word":
            lowered = token.text.lower()
            if lowered == "true":
                return True
            if lowered == "false":
                return False
            if lowered == "null":
                return None
            if _NUMBER.fullmatch(token.text):
                return _number(token)
        raise self.fail(
            f"expected a value after '{op}' (a quoted string, a number, true, false or null)",
            token,
        )


def _number(token: Token) -> int | float:
    """A JSON number literal. One with more digits than Python converts (4300, the default
    sys.get_int_max_str_digits()) or beyond the double range is invalidFilter, not a ValueError
    (a 500): PATCH value paths reach the parser without the filter length limit."""
    try:
        if any(c in token.text for c in ".eE"):
            value = float(token.text)
            if value in (float("inf"), float("-inf")):
                raise ValueError(token.text)
            return value
        return int(token.text)
    except ValueError:
        raise invalid_filter(f"the number at position {token.position + 1} is too large") from None


def parse_filter(text: str) -> Expr:
    """Parses a SCIM filter (RFC 7644 §3.4.2.2) into its AST.

    Raises InvalidArgument(reason="invalid_filter") on anything else, including filters longer
    than MAX_FILTER_LENGTH characters or nested deeper than MAX_DEPTH."""
    if len(text) > MAX_FILTER_LENGTH:
        raise invalid_filter(f"the filter is longer than {MAX_FILTER_LENGTH} characters")
    return _Parser(text).parse()


def parse_value_filter(text: str, start: int) -> tuple[Expr, int]:
    """Parses the filter of a PATCH value path, ``text[start:]`` up to its closing ']'.

    Returns the AST and the offset just after the ']'. Used by paths.py so PATCH paths and
    filters share one grammar."""
    parser = _Parser(text, start)
    parser.depth = 1
    if parser.peek().kind == "]":
        raise parser.fail("expected a filter inside '[ ]'", parser.peek())
    inner = parser.parse_or(in_value_path=True)
    closing = parser.expect("]", "expected ']' to close the value path")
    return inner, closing.position + 1


# ---------------------------------------------------------------------------------------------
# Translation to the directory's Filter

_OPERATORS: Final = {
    "eq": pb.OPERATOR_EQUAL,
    "ne": pb.OPERATOR_NOT_EQUAL,
    "co": pb.OPERATOR_CONTAINS,
    "sw": pb.OPERATOR_STARTS_WITH,
    "ew": pb.OPERATOR_ENDS_WITH,
    "pr": pb.OPERATOR_PRESENT,
    "gt": pb.OPERATOR_GREATER,
    "ge": pb.OPERATOR_GREATER_OR_EQUAL,
    "lt": pb.OPERATOR_LESS,
    "le": pb.OPERATOR_LESS_OR_EQUAL,
}
_SUBSTRING: Final = frozenset({"co", "sw", "ew"})


def parse_datetime(text: str) -> datetime | None:
    """An RFC 3339 / xsd:dateTime (RFC 7643 §2.3.5) as an aware datetime, or None."""
    if len(text) < 10 or not text[:4].isdigit():
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def all_of(filters: list[pb.Filter]) -> pb.Filter:
    """Filter(and=...); ``and`` is a Python keyword, hence getattr."""
    combined = pb.Filter()
    getattr(combined, "and").filters.extend(filters)
    return combined


def any_of(filters: list[pb.Filter]) -> pb.Filter:
    """Filter(or=...)."""
    combined = pb.Filter()
    getattr(combined, "or").filters.extend(filters)
    return combined


def negate(inner: pb.Filter) -> pb.Filter:
    """Filter(not=...)."""
    negated = pb.Filter()
    getattr(negated, "not").CopyFrom(inner)
    return negated


class _Translator:
    def __init__(self, resource_type: ResourceType) -> None:
        self.resource_type = resource_type

    def translate(self, expr: Expr, scope: Attribute | None, relative: bool) -> pb.Filter:
        if isinstance(expr, And):
            return all_of([self.translate(e, scope, relative) for e in expr.items])
        if isinstance(expr, Or):
            return any_of([self.translate(e, scope, relative) for e in expr.items])
        if isinstance(expr, Not):
            return negate(self.translate(expr.expr, scope, relative))
        if isinstance(expr, ValuePath):
            return self.value_path(expr)
        return self.compare(expr, scope, relative)

    def value_path(self, expr: ValuePath) -> pb.Filter:
        resolved = schemas.resolve(self.resource_type, expr.path)
        if resolved is None or resolved.attribute is None:
            raise invalid_filter(f"unknown attribute '{expr.path}'")
        attribute = resolved.attribute
        if not attribute.is_complex:
            raise invalid_filter(
                f"'{attribute.name}' has no sub-attributes, so '{expr.path}[...]' cannot filter it"
            )
        if not attribute.multi_valued:
            # A single complex value: conditions on its sub-attributes combine exactly as written.
            return self.translate(expr.filter, attribute, relative=False)
        if attribute.directory in self.resource_type.value_path_capable:
            assert attribute.directory is not None
            inner = self.translate(expr.filter, attribute, relative=True)
            return pb.Filter(
                value_path=pb.ValuePathFilter(attribute=attribute.directory, filter=inner)
            )
        # The directory matches conditions on this attribute value by value (any element), which
        # equals "one element matches" only for one condition or conditions joined by "or".
        translated = self.translate(expr.filter, attribute, relative=False)
        if not _is_disjunction(expr.filter):
            raise invalid_filter(
                f"'{attribute.name}[...]' supports one condition or conditions joined by 'or'"
            )
        return translated

    def compare(self, expr: Compare, scope: Attribute | None, relative: bool) -> pb.Filter:
        path = expr.path
        if scope is not None:
            sub = scope.sub(path.name) if path.uri is None and path.sub is None else None
            if sub is None:
                raise invalid_filter(f"'{scope.name}' has no sub-attribute '{path}'")
            parent, target = scope, sub
        else:
            resolved = schemas.resolve(self.resource_type, path)
            if resolved is None or resolved.attribute is None:
                raise invalid_filter(f"unknown attribute '{path}'")
            parent, target = resolved.attribute, resolved.target or resolved.attribute
            if target is parent and parent.is_complex:
                if parent.sub("value") is not None:
                    # A complex attribute with a value compares by it (RFC 7644 §3.4.2.2 for
                    # multi-valued ones); Entra's reference checks send `members eq "<uid>"` and
                    # `manager eq "<id>"` (docs/scim-clients.md §2 row 7).
                    value_sub = parent.sub("value")
                    assert value_sub is not None
                    target = value_sub
                elif expr.op == "pr":
                    return self.complex_present(parent)
                else:
                    raise invalid_filter(
                        f"'{parent.name}' is complex; compare one of its sub-attributes, "
                        f"e.g. {parent.name}.{parent.sub_attributes[0].name}"
                    )
        display = f"{parent.name}.{target.name}" if target is not parent else target.name
        directory = target.directory
        if directory is None or directory not in self.resource_type.filterable:
            raise invalid_filter(f"'{display}' cannot be used in a filter")
        if relative:
            assert parent.directory is not None
            directory = directory.removeprefix(parent.directory + ".")
        comparison = pb.Comparison(attribute=directory, operator=_OPERATORS[expr.op])
        if expr.op != "pr":
            comparison.value.CopyFrom(_filter_value(target, display, expr.op, expr.value))
        return pb.Filter(comparison=comparison)

    def complex_present(self, attribute: Attribute) -> pb.Filter:
        names = [
            sub.directory
            for sub in attribute.sub_attributes
            if sub.directory is not None and sub.directory in self.resource_type.filterable
        ]
        if not names:
            raise invalid_filter(f"'{attribute.name}' cannot be used in a filter")
        present = [
            pb.Filter(comparison=pb.Comparison(attribute=name, operator=pb.OPERATOR_PRESENT))
            for name in names
        ]
        return present[0] if len(present) == 1 else any_of(present)


def _is_disjunction(expr: Expr) -> bool:
    if isinstance(expr, Compare):
        return True
    if isinstance(expr, Or):
        return all(_is_disjunction(item) for item in expr.items)
    return False


def _filter_value(attribute: Attribute, display: str, op: str, value: Literal) -> pb.FilterValue:
    kind = attribute.type
    if value is None:
        if op not in ("eq", "ne"):
            raise invalid_filter(f"'{op} null' is not a comparison; use 'eq null' or 'ne null'")
        return pb.FilterValue(null_value=True)
    if kind == schemas.BOOLEAN:
        if op not in ("eq", "ne"):
            # RFC 7644 §3.4.2.2: gt/ge/lt/le on a boolean is invalidFilter; co/sw/ew mean nothing.
            raise invalid_filter(f"'{display}' is a boolean; only eq, ne and pr apply")
        if isinstance(value, str) and value.lower() in ("true", "false"):
            # Leniency matching the PATCH dialect: "True"/"False" strings for booleans.
            value = value.lower() == "true"
        if not isinstance(value, bool):
            raise invalid_filter(f"'{display}' is a boolean; compare it with true or false")
        return pb.FilterValue(bool_value=value)
    if kind == schemas.DATETIME:
        if op in _SUBSTRING:
            raise invalid_filter(f"'{display}' is a date; co, sw and ew do not apply")
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if parsed is None:
            raise invalid_filter(
                f"'{display}' is a date; compare it with a quoted RFC 3339 date-time such as "
                '"2024-01-31T12:00:00Z"'
            )
        timestamp = Timestamp()
        timestamp.FromDatetime(parsed)
        return pb.FilterValue(timestamp_value=timestamp)
    if kind in (schemas.INTEGER, schemas.DECIMAL):  # pragma: no cover - no such attribute yet
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise invalid_filter(f"'{display}' is a number; compare it with a number")
        if op in _SUBSTRING:
            raise invalid_filter(f"'{display}' is a number; co, sw and ew do not apply")
        if isinstance(value, int):
            return pb.FilterValue(int_value=value)
        return pb.FilterValue(double_value=value)
    if not isinstance(value, str):
        raise invalid_filter(f"'{display}' is a string; compare it with a quoted string")
    return pb.FilterValue(string_value=value)


def to_directory_filter(expr: Expr, resource_type: ResourceType) -> pb.Filter:
    """Translates a parsed filter into the directory's Filter, with directory attribute names
    (userName → user_name, emails[type eq "work"] → ValuePathFilter("emails", …),
    members[value eq "x"] → members.user_id, meta.created → create_time, …).

    Raises invalid_filter for unknown attributes, attributes the directory cannot filter on,
    and values or operators that do not fit the attribute's type (RFC 7644 §3.4.2.2)."""
    return _Translator(resource_type).translate(expr, None, relative=False)


def compile_filter(text: str, resource_type: ResourceType) -> pb.Filter:
    """parse_filter then to_directory_filter."""
    return to_directory_filter(parse_filter(text), resource_type)
