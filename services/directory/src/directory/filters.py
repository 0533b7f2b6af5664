"""Structured filters (idmesh.directory.v1.Filter) translated into parameterised SQL.

Each list RPC has a ``Catalogue``: the attribute names its filter may use, each mapped to the SQL
expression it reads (over the table aliases of store.py's queries) and to its kind, which decides
the accepted operators and value types. Values never enter the SQL text: every one becomes a
``$n`` parameter. Anything outside the catalogue (attribute, operator, value type) is rejected
with INVALID_ARGUMENT ``field="filter"``, ``reason="invalid_filter"``, never silently matched to
nothing (the Keycloak failure in docs/scim-clients.md §7).

String attributes that SCIM marks caseExact=false (RFC 7643 §2.2, e.g. userName, displayName,
emails.value) are compared lower-cased on both sides, in SQL so that the expression indexes of the
migrations apply; ids, externalId and IdP identifiers compare exactly.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any
from uuid import UUID

from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import InvalidArgument

# Bounds that keep a hostile filter from becoming a hostile query plan.
MAX_DEPTH = 16
MAX_COMPARISONS = 100


class Kind(enum.Enum):
    TEXT = "text"  # compared as stored (caseExact=true)
    TEXT_CI = "text_ci"  # compared lower-cased (caseExact=false)
    UUID = "uuid"
    BOOL = "bool"
    TIMESTAMP = "timestamp"


# The SQL type each kind's parameters are cast to, so PostgreSQL never has to guess.
CASTS = {
    Kind.TEXT: "text",
    Kind.TEXT_CI: "text",
    Kind.UUID: "uuid",
    Kind.BOOL: "boolean",
    Kind.TIMESTAMP: "timestamptz",
}


@dataclass(frozen=True)
class Attribute:
    sql: str
    kind: Kind
    # Nullable expressions cannot order a keyset page (NULL compares to nothing).
    nullable: bool = False

    @property
    def sortable(self) -> bool:
        return not self.nullable

    def comparable(self) -> str:
        """The expression compared and sorted on: lower-cased when case-insensitive."""
        return f"lower({self.sql})" if self.kind is Kind.TEXT_CI else self.sql


@dataclass(frozen=True)
class Collection:
    """A multi-valued attribute: ``source`` yields one row per element, ``correlation`` ties it to
    the outer row, ``elements`` names the sub-attributes a value path may use."""

    source: str
    elements: Mapping[str, Attribute]
    # The sub-attribute meant by the bare name, as in Entra's `members eq "<id>"`.
    default_element: str
    correlation: str = "TRUE"
    # A GIN-indexed expression of the lower-cased JSON array: a value path made only of
    # equalities becomes one containment test on it.
    containment: str | None = None


@dataclass(frozen=True)
class Catalogue:
    attributes: Mapping[str, Attribute]
    # Attribute names forming a unique key: the tie-break of every order, so pages are stable.
    key: tuple[str, ...]
    default_order: str = "create_time"
    collections: Mapping[str, Collection] = field(default_factory=dict)


class Params:
    """The positional parameters of one statement; ``add`` returns a value's placeholder."""

    def __init__(self, *initial: object) -> None:
        self.values: list[object] = list(initial)

    def add(self, value: object, sql_type: str) -> str:
        self.values.append(value)
        return f"${len(self.values)}::{sql_type}"


def invalid_filter(message: str) -> InvalidArgument:
    return InvalidArgument(message, field="filter", reason="invalid_filter")


def compile_filter(filter_: pb.Filter, catalogue: Catalogue, params: Params) -> str:
    """A boolean SQL expression equivalent to ``filter_`` whose values are added to ``params``."""
    return _Compiler(catalogue, params).node(filter_, depth=0, collection=None)


def escape_like(value: str) -> str:
    """``value`` with LIKE's wildcards and escape character made literal (backslash escape)."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_OPERATORS = {
    pb.OPERATOR_EQUAL: "=",
    pb.OPERATOR_NOT_EQUAL: "IS DISTINCT FROM",
    pb.OPERATOR_GREATER: ">",
    pb.OPERATOR_GREATER_OR_EQUAL: ">=",
    pb.OPERATOR_LESS: "<",
    pb.OPERATOR_LESS_OR_EQUAL: "<=",
}
_ORDERING = {
    pb.OPERATOR_GREATER,
    pb.OPERATOR_GREATER_OR_EQUAL,
    pb.OPERATOR_LESS,
    pb.OPERATOR_LESS_OR_EQUAL,
}
_LIKE = {pb.OPERATOR_CONTAINS, pb.OPERATOR_STARTS_WITH, pb.OPERATOR_ENDS_WITH}
_TEXT_KINDS = {Kind.TEXT, Kind.TEXT_CI}
# The FilterValue field each kind accepts.
_VALUE_FIELDS = {
    Kind.TEXT: "string_value",
    Kind.TEXT_CI: "string_value",
    Kind.UUID: "string_value",
    Kind.BOOL: "bool_value",
    Kind.TIMESTAMP: "timestamp_value",
}


class _Compiler:
    def __init__(self, catalogue: Catalogue, params: Params) -> None:
        self.catalogue = catalogue
        self.params = params
        self.comparisons = 0

    def node(self, filter_: pb.Filter, depth: int, collection: Collection | None) -> str:
        if depth > MAX_DEPTH:
            raise invalid_filter(f"filter nests deeper than {MAX_DEPTH} levels")
        kind = filter_.WhichOneof("kind")
        if kind == "comparison":
            return self.comparison(filter_.comparison, depth, collection)
        if kind in ("and", "or"):
            parts: list[pb.Filter] = list(getattr(filter_, kind).filters)
            if not parts:
                raise invalid_filter(f"an empty '{kind}' list")
            joiner = f" {kind.upper()} "
            return "(" + joiner.join(self.node(p, depth + 1, collection) for p in parts) + ")"
        if kind == "not":
            # COALESCE: NOT of an unknown (NULL) comparison must match, as SCIM's `not` does.
            inner = self.node(getattr(filter_, "not"), depth + 1, collection)
            return f"NOT COALESCE({inner}, FALSE)"
        if kind == "value_path":
            if collection is not None:
                raise invalid_filter("value paths do not nest")
            path = filter_.value_path
            target = self.catalogue.collections.get(path.attribute)
            if target is None:
                raise invalid_filter(f"'{path.attribute}' is not a multi-valued attribute here")
            if not path.HasField("filter"):
                raise invalid_filter(f"the value path on '{path.attribute}' has no condition")
            return self.value_path(target, path.filter, depth)
        raise invalid_filter("an empty filter")

    def comparison(
        self, comparison: pb.Comparison, depth: int, collection: Collection | None
    ) -> str:
        name = comparison.attribute
        value = comparison.value if comparison.HasField("value") else None
        if collection is not None:
            element = collection.elements.get(name)
            if element is None:
                raise invalid_filter(f"unknown sub-attribute '{name}'")
            return self.compare(name, element, comparison.operator, value)
        attribute = self.catalogue.attributes.get(name)
        if attribute is not None:
            return self.compare(name, attribute, comparison.operator, value)
        # `emails.value op x` and `emails op x` mean: some element of emails matches.
        base, _, element_name = name.partition(".")
        target = self.catalogue.collections.get(base)
        if target is None:
            raise invalid_filter(f"unknown attribute '{name}'")
        if not element_name:
            if comparison.operator == pb.OPERATOR_PRESENT:
                return f"EXISTS (SELECT 1 FROM {target.source} WHERE {target.correlation})"  # noqa: S608
            element_name = target.default_element
        condition = pb.Comparison(attribute=element_name, operator=comparison.operator, value=value)
        return self.value_path(target, pb.Filter(comparison=condition), depth)

    def value_path(self, collection: Collection, condition: pb.Filter, depth: int) -> str:
        if collection.containment is not None:
            pairs = _equalities(condition, collection)
            if pairs is not None:
                self.count(len(pairs))
                members = ", ".join(
                    f"'{name}', {self.operand_sql(attribute, value)}"
                    for name, attribute, value in pairs
                )
                return (
                    f"{collection.containment} @> jsonb_build_array(jsonb_build_object({members}))"
                )
        inner = self.node(condition, depth + 1, collection)
        source, correlation = collection.source, collection.correlation
        return f"EXISTS (SELECT 1 FROM {source} WHERE {correlation} AND {inner})"  # noqa: S608

    def count(self, comparisons: int) -> None:
        self.comparisons += comparisons
        if self.comparisons > MAX_COMPARISONS:
            raise invalid_filter(f"more than {MAX_COMPARISONS} comparisons")

    def operand_sql(self, attribute: Attribute, value: pb.FilterValue) -> str:
        operand = _operand(attribute, value)
        placeholder = self.params.add(operand, CASTS[attribute.kind])
        return f"lower({placeholder})" if attribute.kind is Kind.TEXT_CI else placeholder

    def compare(
        self,
        name: str,
        attribute: Attribute,
        operator: pb.Operator.ValueType,
        value: pb.FilterValue | None,
    ) -> str:
        self.count(1)
        if operator == pb.OPERATOR_PRESENT:
            return _present(attribute)
        if operator not in _OPERATORS and operator not in _LIKE:
            raise invalid_filter(f"unknown operator {operator} on '{name}'")
        if value is None or value.WhichOneof("kind") is None:
            raise invalid_filter(f"the comparison on '{name}' has no value")
        if value.WhichOneof("kind") == "null_value":
            # SCIM's `eq null` / `ne null`: absent / present.
            if operator == pb.OPERATOR_EQUAL:
                return f"NOT {_present(attribute)}"
            if operator == pb.OPERATOR_NOT_EQUAL:
                return _present(attribute)
            raise invalid_filter(f"null compares only with eq and ne on '{name}'")
        if operator in _LIKE:
            if attribute.kind not in _TEXT_KINDS:
                raise invalid_filter(f"co, sw and ew apply to strings; '{name}' is not one")
            text = _operand(attribute, value)
            assert isinstance(text, str)
            escaped = escape_like(text)
            pattern = {
                pb.OPERATOR_CONTAINS: f"%{escaped}%",
                pb.OPERATOR_STARTS_WITH: f"{escaped}%",
                pb.OPERATOR_ENDS_WITH: f"%{escaped}",
            }[operator]
            placeholder = self.params.add(pattern, CASTS[attribute.kind])
            if attribute.kind is Kind.TEXT_CI:
                placeholder = f"lower({placeholder})"
            return f"{attribute.comparable()} LIKE {placeholder}"
        if operator in _ORDERING and attribute.kind in (Kind.BOOL, Kind.UUID):
            raise invalid_filter(f"'{name}' cannot be compared with gt, ge, lt or le")
        if attribute.kind is Kind.UUID and _operand(attribute, value) is None:
            # No row has a malformed id: `id eq "junk"` matches nothing, `ne` everything.
            return "FALSE" if operator == pb.OPERATOR_EQUAL else "TRUE"
        placeholder = self.operand_sql(attribute, value)
        return f"{attribute.comparable()} {_OPERATORS[operator]} {placeholder}"


def _present(attribute: Attribute) -> str:
    """SCIM `pr`: the attribute has a non-null, non-empty value (RFC 7644 §3.4.2.2)."""
    if attribute.kind in _TEXT_KINDS:
        if attribute.nullable:
            return f"({attribute.sql} IS NOT NULL AND {attribute.sql} <> '')"
        return f"({attribute.sql} <> '')"
    return f"({attribute.sql} IS NOT NULL)" if attribute.nullable else "TRUE"


def _operand(attribute: Attribute, value: pb.FilterValue) -> object:
    """The Python value of ``value`` for ``attribute``; None for a malformed UUID."""
    expected = _VALUE_FIELDS[attribute.kind]
    given = value.WhichOneof("kind")
    if given != expected:
        raise invalid_filter(f"expected a {expected}, got a {given}")
    if attribute.kind is Kind.UUID:
        try:
            return UUID(value.string_value)
        except ValueError:
            return None
    if attribute.kind is Kind.TIMESTAMP:
        return value.timestamp_value.ToDatetime(tzinfo=UTC)
    result: Any = getattr(value, expected)
    return result


def _equalities(
    condition: pb.Filter, collection: Collection
) -> list[tuple[str, Attribute, pb.FilterValue]] | None:
    """The (name, attribute, value) equalities ``condition`` is a conjunction of, when it is one
    that a containment test answers exactly (case-insensitive strings and booleans, each name
    once); otherwise None."""
    kind = condition.WhichOneof("kind")
    if kind == "and":
        pairs: list[tuple[str, Attribute, pb.FilterValue]] = []
        for part in getattr(condition, "and").filters:
            part_pairs = _equalities(part, collection)
            if part_pairs is None:
                return None
            pairs.extend(part_pairs)
        names = [name for name, _, _ in pairs]
        return pairs if pairs and len(set(names)) == len(names) else None
    if kind != "comparison":
        return None
    comparison = condition.comparison
    attribute = collection.elements.get(comparison.attribute)
    if attribute is None or comparison.operator != pb.OPERATOR_EQUAL:
        return None
    if (attribute.kind, comparison.value.WhichOneof("kind")) not in (
        (Kind.TEXT_CI, "string_value"),
        (Kind.BOOL, "bool_value"),
    ):
        return None
    return [(comparison.attribute, attribute, comparison.value)]


# ---------------------------------------------------------------------------------------------
# Catalogues. The aliases (u, g, s, r, m, ev, ac, l) are those of the queries in store/.


def _ci(sql: str) -> Attribute:
    return Attribute(sql, Kind.TEXT_CI)


def _json_elements(alias: str, keys: Mapping[str, Kind]) -> dict[str, Attribute]:
    """Sub-attributes of a JSON array element; every stored element has every key, but a
    hand-written row might not, so they are nullable."""
    elements = {}
    for key, kind in keys.items():
        text = f"{alias}->>'{key}'"
        sql = f"({text})::boolean" if kind is Kind.BOOL else text
        elements[key] = Attribute(sql, kind, nullable=True)
    return elements


_MULTI_VALUE_KEYS = {
    "value": Kind.TEXT_CI,
    "type": Kind.TEXT_CI,
    "primary": Kind.BOOL,
    "display": Kind.TEXT_CI,
}
_ADDRESS_KEYS = {
    "formatted": Kind.TEXT_CI,
    "street_address": Kind.TEXT_CI,
    "locality": Kind.TEXT_CI,
    "region": Kind.TEXT_CI,
    "postal_code": Kind.TEXT_CI,
    "country": Kind.TEXT_CI,
    "type": Kind.TEXT_CI,
    "primary": Kind.BOOL,
}


def _user_collection(column: str, keys: Mapping[str, Kind], default: str) -> Collection:
    return Collection(
        source=f"jsonb_array_elements(u.{column}) AS e",
        elements=_json_elements("e", keys),
        default_element=default,
        # Must stay the expression of the users_emails_idx migration for emails.
        containment=f"(lower(u.{column}::text)::jsonb)",
    )


USERS = Catalogue(
    attributes={
        "id": Attribute("u.id", Kind.UUID),
        "user_name": _ci("u.user_name"),
        "external_id": Attribute("u.external_id", Kind.TEXT),
        "display_name": _ci("u.display_name"),
        "nick_name": _ci("u.nick_name"),
        "profile_url": _ci("u.profile_url"),
        "title": _ci("u.title"),
        "user_type": _ci("u.user_type"),
        "locale": _ci("u.locale"),
        "preferred_language": _ci("u.preferred_language"),
        "timezone": _ci("u.timezone"),
        # Only deactivation ends `active`: a pending (never signed in) user is active, or Okta
        # loops on "reactivating remote User" (docs/scim-clients.md §5).
        "active": Attribute("(u.status <> 'deactivated')", Kind.BOOL),
        "status": _ci("u.status"),
        "name.formatted": _ci("u.name_formatted"),
        "name.family_name": _ci("u.name_family_name"),
        "name.given_name": _ci("u.name_given_name"),
        "name.middle_name": _ci("u.name_middle_name"),
        "name.honorific_prefix": _ci("u.name_honorific_prefix"),
        "name.honorific_suffix": _ci("u.name_honorific_suffix"),
        "enterprise.employee_number": _ci("u.employee_number"),
        "enterprise.cost_center": _ci("u.cost_center"),
        "enterprise.organization": _ci("u.organization"),
        "enterprise.division": _ci("u.division"),
        "enterprise.department": _ci("u.department"),
        "enterprise.manager_id": Attribute("u.manager_id", Kind.UUID, nullable=True),
        "enterprise.manager_display_name": _ci("u.manager_display_name"),
        "account_role_id": Attribute("u.account_role_id", Kind.UUID),
        "create_time": Attribute("u.create_time", Kind.TIMESTAMP),
        "update_time": Attribute("u.update_time", Kind.TIMESTAMP),
        "last_login_time": Attribute("u.last_login_time", Kind.TIMESTAMP, nullable=True),
    },
    collections={
        "emails": _user_collection("emails", _MULTI_VALUE_KEYS, "value"),
        "phone_numbers": _user_collection("phone_numbers", _MULTI_VALUE_KEYS, "value"),
        "ims": _user_collection("ims", _MULTI_VALUE_KEYS, "value"),
        "photos": _user_collection("photos", _MULTI_VALUE_KEYS, "value"),
        "entitlements": _user_collection("entitlements", _MULTI_VALUE_KEYS, "value"),
        "x509_certificates": _user_collection("x509_certificates", _MULTI_VALUE_KEYS, "value"),
        "addresses": _user_collection("addresses", _ADDRESS_KEYS, "formatted"),
    },
    key=("id",),
)

GROUPS = Catalogue(
    attributes={
        "id": Attribute("g.id", Kind.UUID),
        "display_name": _ci("g.display_name"),
        "idp_identifier": Attribute("g.idp_identifier", Kind.TEXT),
        "create_time": Attribute("g.create_time", Kind.TIMESTAMP),
        "update_time": Attribute("g.update_time", Kind.TIMESTAMP),
    },
    collections={
        # `members.user_id eq x`: the groups containing a user (Entra's reference check sends
        # `members[value eq "<uid>"]`, which the SCIM layer names this way).
        "members": Collection(
            source="directory.group_members AS gm",
            correlation="gm.account_id = g.account_id AND gm.group_id = g.id",
            elements={
                "user_id": Attribute("gm.user_id", Kind.UUID),
                "source": _ci("gm.source"),
            },
            default_element="user_id",
        ),
    },
    key=("id",),
)

SPACES = Catalogue(
    attributes={
        "id": Attribute("s.id", Kind.UUID),
        "name": _ci("s.name"),
        "create_time": Attribute("s.create_time", Kind.TIMESTAMP),
        "update_time": Attribute("s.update_time", Kind.TIMESTAMP),
    },
    key=("id",),
)

ROLES = Catalogue(
    attributes={
        "id": Attribute("r.id", Kind.UUID),
        "name": _ci("r.name"),
        "scope": _ci("r.scope"),
        "built_in": Attribute("r.built_in", Kind.BOOL),
        "create_time": Attribute("r.create_time", Kind.TIMESTAMP),
        "update_time": Attribute("r.update_time", Kind.TIMESTAMP),
    },
    key=("id",),
)

SPACE_MEMBERSHIPS = Catalogue(
    attributes={
        "user_id": Attribute("m.user_id", Kind.UUID),
        "space_id": Attribute("m.space_id", Kind.UUID),
        "role_id": Attribute("m.role_id", Kind.UUID),
        "source": _ci("m.source"),
        "create_time": Attribute("m.create_time", Kind.TIMESTAMP),
    },
    key=("user_id", "space_id", "source"),
)

GROUP_MEMBERS = Catalogue(
    attributes={
        "user_id": Attribute("m.user_id", Kind.UUID),
        "source": _ci("m.source"),
        "create_time": Attribute("m.create_time", Kind.TIMESTAMP),
        "user_name": _ci("u.user_name"),
        "display_name": _ci("u.display_name"),
    },
    key=("user_id", "source"),
)

IDENTITY_LINKS = Catalogue(
    attributes={
        "user_id": Attribute("l.user_id", Kind.UUID),
        "connection_id": Attribute("l.connection_id", Kind.TEXT),
        "subject": Attribute("l.subject", Kind.TEXT),
        "create_time": Attribute("l.create_time", Kind.TIMESTAMP),
    },
    key=("connection_id", "subject"),
)

AUDIT_EVENTS = Catalogue(
    attributes={
        "id": Attribute("ev.id", Kind.UUID),
        "actor.type": _ci("ev.actor_type"),
        "actor.id": Attribute("ev.actor_id", Kind.TEXT),
        "action": Attribute("ev.action", Kind.TEXT),
        "target_type": Attribute("ev.target_type", Kind.TEXT),
        "target_id": Attribute("ev.target_id", Kind.TEXT),
        "time": Attribute("ev.time", Kind.TIMESTAMP),
    },
    key=("id",),
    default_order="time",
)

ACCOUNTS = Catalogue(
    attributes={
        "id": Attribute("ac.id", Kind.UUID),
        "name": Attribute("ac.name", Kind.TEXT),
        "display_name": _ci("ac.display_name"),
        "create_time": Attribute("ac.create_time", Kind.TIMESTAMP),
        "update_time": Attribute("ac.update_time", Kind.TIMESTAMP),
    },
    key=("id",),
)

PROVISIONING_EVENTS = Catalogue(
    attributes={
        "id": Attribute("pe.id", Kind.UUID),
        "time": Attribute("pe.time", Kind.TIMESTAMP),
        "token_id": Attribute("pe.token_id", Kind.TEXT),
        "method": _ci("pe.method"),
        "operation": _ci("pe.operation"),
        "resource_type": _ci("pe.resource_type"),
        "resource_id": Attribute("pe.resource_id", Kind.TEXT),
        "outcome": _ci("pe.outcome"),
    },
    key=("id",),
    default_order="time",
)

DOMAINS = Catalogue(
    attributes={
        "id": Attribute("d.id", Kind.UUID),
        "domain": Attribute("d.domain", Kind.TEXT),
        "status": Attribute("d.status", Kind.TEXT),
        "create_time": Attribute("d.create_time", Kind.TIMESTAMP),
        "verify_time": Attribute("d.verify_time", Kind.TIMESTAMP, nullable=True),
    },
    key=("id",),
)
