"""directory.filters: structured filters to parameterised SQL, without a database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from google.protobuf import timestamp_pb2

from directory import filters
from directory.filters import Params, compile_filter, escape_like
from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import InvalidArgument
from tests.support.directory import all_of, any_of, comparison, eq, negate

ACCOUNT = uuid.uuid4()


def _sql(
    filter_: pb.Filter, catalogue: filters.Catalogue = filters.USERS
) -> tuple[str, list[object]]:
    params = Params(ACCOUNT)
    sql = compile_filter(filter_, catalogue, params)
    return sql, params.values[1:]


def _rejected(filter_: pb.Filter, catalogue: filters.Catalogue = filters.USERS) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as raised:
        _sql(filter_, catalogue)
    assert (raised.value.field, raised.value.reason) == ("filter", "invalid_filter")
    return raised.value


def test_case_insensitive_attributes_compare_lower_cased_on_both_sides() -> None:
    """RFC 7643 §4.1.1 userName caseExact=false: lower() on both sides, which is also the
    expression of the users_user_name_key index."""
    sql, values = _sql(eq("user_name", "Ada@Example.com"))

    assert sql == "lower(u.user_name) = lower($2::text)"
    assert values == ["Ada@Example.com"]


def test_case_exact_attributes_compare_as_stored() -> None:
    """RFC 7643 §3.1: externalId is caseExact."""
    sql, values = _sql(eq("external_id", "00uAbC"))

    assert sql == "u.external_id = $2::text"
    assert values == ["00uAbC"]


def test_values_never_enter_the_sql_text() -> None:
    """Every value is a $n parameter: no SQL injection through a filter."""
    hostile = "x'; DROP TABLE directory.users; --"

    sql, values = _sql(eq("display_name", hostile))

    assert "DROP" not in sql
    assert values == [hostile]


def test_like_wildcards_in_values_are_escaped() -> None:
    """`co "50%_off"` looks for those characters, not for wildcards."""
    sql, values = _sql(comparison("title", pb.OPERATOR_CONTAINS, string_value="50%_off\\"))

    assert sql == "lower(u.title) LIKE lower($2::text)"
    assert values == ["%50\\%\\_off\\\\%"]
    assert escape_like("a_b%c\\") == "a\\_b\\%c\\\\"


def test_starts_with_and_ends_with_anchor_their_pattern() -> None:
    """RFC 7644 §3.4.2.2: sw anchors at the start, ew at the end."""
    _, starts = _sql(comparison("user_name", pb.OPERATOR_STARTS_WITH, string_value="ada"))
    _, ends = _sql(comparison("user_name", pb.OPERATOR_ENDS_WITH, string_value="@acme.com"))

    assert starts == ["ada%"]
    assert ends == ["%@acme.com"]


def test_present_means_not_null_and_not_empty() -> None:
    """RFC 7644 §3.4.2.2 `pr`."""
    assert _sql(comparison("title", pb.OPERATOR_PRESENT))[0] == "(u.title <> '')"
    manager = _sql(comparison("enterprise.manager_id", pb.OPERATOR_PRESENT))[0]
    assert manager == "(u.manager_id IS NOT NULL)"


def test_and_or_not_nest_with_parentheses() -> None:
    """Nesting is kept by parentheses; `not` of an unknown (NULL) comparison matches."""
    filter_ = all_of(
        any_of(eq("name.given_name", "Ada"), eq("name.family_name", "Hopper")),
        negate(eq("title", "Intern")),
    )

    sql, values = _sql(filter_)

    assert sql == (
        "((lower(u.name_given_name) = lower($2::text) OR"
        " lower(u.name_family_name) = lower($3::text)) AND"
        " NOT COALESCE(lower(u.title) = lower($4::text), FALSE))"
    )
    assert values == ["Ada", "Hopper", "Intern"]


def test_an_equality_value_path_becomes_one_indexed_containment_test() -> None:
    """emails[type eq "work"].value eq x (Entra's matching filter) uses the GIN expression of
    the users_emails_idx migration."""
    filter_ = pb.Filter(
        value_path=pb.ValuePathFilter(
            attribute="emails",
            filter=all_of(eq("type", "work"), eq("value", "Ada@Example.com")),
        )
    )

    sql, values = _sql(filter_)

    assert sql == (
        "(lower(u.emails::text)::jsonb) @> jsonb_build_array(jsonb_build_object("
        "'type', lower($2::text), 'value', lower($3::text)))"
    )
    assert values == ["work", "Ada@Example.com"]


def test_a_sub_attribute_shorthand_is_a_value_path() -> None:
    """`emails.value eq x` means some element's value is x."""
    dotted = _sql(eq("emails.value", "a@b.c"))
    path = _sql(
        pb.Filter(value_path=pb.ValuePathFilter(attribute="emails", filter=eq("value", "a@b.c")))
    )

    assert dotted == path


def test_other_value_paths_are_an_exists_over_the_elements() -> None:
    """A value path that is not only equalities is an EXISTS over the array's elements."""
    filter_ = pb.Filter(
        value_path=pb.ValuePathFilter(
            attribute="emails",
            filter=comparison("value", pb.OPERATOR_ENDS_WITH, string_value="@acme.com"),
        )
    )

    sql, values = _sql(filter_)

    assert sql == (
        "EXISTS (SELECT 1 FROM jsonb_array_elements(u.emails) AS e WHERE TRUE AND"
        " lower(e->>'value') LIKE lower($2::text))"
    )
    assert values == ["%@acme.com"]


def test_groups_filter_on_their_members() -> None:
    """`members[value eq "<uid>"]` (Entra's reference check, named members.user_id here)."""
    user_id = uuid.uuid4()

    sql, values = _sql(eq("members.user_id", str(user_id)), filters.GROUPS)

    assert sql == (
        "EXISTS (SELECT 1 FROM directory.group_members AS gm WHERE gm.account_id = g.account_id"
        " AND gm.group_id = g.id AND gm.user_id = $2::uuid)"
    )
    assert values == [user_id]


def test_a_malformed_id_matches_nothing_instead_of_failing() -> None:
    """Entra's test connection filters on a random GUID; a non-GUID id simply matches no row."""
    assert _sql(eq("id", "not-a-guid")) == ("FALSE", [])
    assert _sql(comparison("id", pb.OPERATOR_NOT_EQUAL, string_value="x")) == ("TRUE", [])


def test_timestamps_and_booleans_take_their_own_value_types() -> None:
    """Each attribute kind takes its FilterValue type, cast in SQL."""
    moment = timestamp_pb2.Timestamp(seconds=1_700_000_000)

    sql, values = _sql(comparison("create_time", pb.OPERATOR_GREATER, timestamp_value=moment))
    active, flags = _sql(comparison("active", pb.OPERATOR_EQUAL, bool_value=False))

    assert sql == "u.create_time > $2::timestamptz"
    assert values == [datetime.fromtimestamp(1_700_000_000, UTC)]
    assert active == "(u.status <> 'deactivated') = $2::boolean"
    assert flags == [False]


def test_null_means_absent() -> None:
    """SCIM's `eq null` is "not present"."""
    sql, _ = _sql(comparison("title", pb.OPERATOR_EQUAL, null_value=True))

    assert sql == "NOT (u.title <> '')"


@pytest.mark.parametrize(
    "bad",
    [
        eq("password", "x"),
        eq("name.nickname", "x"),
        comparison("user_name", pb.OPERATOR_UNSPECIFIED, string_value="x"),
        comparison("user_name", 42, string_value="x"),
        comparison("user_name", pb.OPERATOR_EQUAL),
        comparison("user_name", pb.OPERATOR_EQUAL, bool_value=True),
        comparison("active", pb.OPERATOR_CONTAINS, bool_value=True),
        comparison("id", pb.OPERATOR_GREATER, string_value=str(uuid.uuid4())),
        comparison("create_time", pb.OPERATOR_EQUAL, string_value="2024-01-01"),
        comparison("user_name", pb.OPERATOR_GREATER, null_value=True),
        all_of(),
        pb.Filter(),
        pb.Filter(value_path=pb.ValuePathFilter(attribute="title", filter=eq("value", "x"))),
        pb.Filter(value_path=pb.ValuePathFilter(attribute="emails")),
        pb.Filter(
            value_path=pb.ValuePathFilter(
                attribute="emails",
                filter=pb.Filter(
                    value_path=pb.ValuePathFilter(attribute="emails", filter=eq("value", "x"))
                ),
            )
        ),
    ],
    ids=lambda f: str(f).replace("\n", " ")[:60],
)
def test_anything_outside_the_catalogue_is_invalid(bad: pb.Filter) -> None:
    """An unknown attribute, operator or value type is INVALID_ARGUMENT "invalid_filter",
    never a silently empty result (docs/scim-clients.md §7, Keycloak)."""
    _rejected(bad)


def test_the_members_of_another_catalogue_are_unknown() -> None:
    """Each list has its own catalogue: a group attribute is unknown on users and the reverse."""
    _rejected(eq("members.user_id", str(uuid.uuid4())), filters.USERS)
    _rejected(eq("user_name", "x"), filters.GROUPS)


def test_hostile_sizes_are_refused() -> None:
    """A filter deeper than MAX_DEPTH or wider than MAX_COMPARISONS is refused before any SQL
    runs."""
    deep = eq("title", "x")
    for _ in range(filters.MAX_DEPTH + 1):
        deep = negate(deep)
    wide = any_of(*(eq("title", str(i)) for i in range(filters.MAX_COMPARISONS + 1)))

    assert "deeper" in _rejected(deep).message
    assert "comparisons" in _rejected(wide).message
