"""Query parameters become the directory's structured Filter and PageRequest: typed values,
never query text; unknown, repeated and malformed parameters are refused by name."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from multidict import MultiDict

from gateway.api.audit import list_audit_events
from gateway.api.query import DEFAULT_PAGE_SIZE, TEXT_CHARS, Kind, Param, Query, filters
from gateway.api.users import USER_FILTERS
from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import InvalidArgument


def _parse(query: Query, *pairs: tuple[str, str]) -> tuple[pb.Filter | None, pb.PageRequest]:
    values = query.parse(MultiDict(pairs))
    return values.filter(), values.page()


def _refused(query: Query, *pairs: tuple[str, str]) -> str:
    with pytest.raises(InvalidArgument) as refusal:
        query.parse(MultiDict(pairs))
    return refusal.value.field


def test_no_parameter_is_no_filter_and_the_default_page() -> None:
    filter_, page = _parse(USER_FILTERS)
    assert filter_ is None
    assert page == pb.PageRequest(page_size=DEFAULT_PAGE_SIZE)


def test_one_filter_parameter_is_one_typed_comparison() -> None:
    """?status=active becomes status eq "active" with the value as data."""
    filter_, _ = _parse(USER_FILTERS, ("status", "active"))
    assert filter_ == pb.Filter(
        comparison=pb.Comparison(
            attribute="status",
            operator=pb.OPERATOR_EQUAL,
            value=pb.FilterValue(string_value="active"),
        )
    )


def test_several_filter_parameters_are_and_ed() -> None:
    filter_, _ = _parse(USER_FILTERS, ("user_name", "a@example.com"), ("email", "b@example.com"))
    assert filter_ is not None
    parts = getattr(filter_, "and").filters
    assert [(p.comparison.attribute, p.comparison.value.string_value) for p in parts] == [
        ("user_name", "a@example.com"),
        ("emails.value", "b@example.com"),
    ]


def test_a_hostile_value_stays_a_string_value() -> None:
    """No string-built SQL: the value is carried verbatim in a FilterValue."""
    hostile = "x' OR '1'='1'; DROP TABLE users; --"
    filter_, _ = _parse(USER_FILTERS, ("user_name", hostile))
    assert filter_ is not None
    assert filter_.comparison.value.string_value == hostile


def test_a_parameter_without_an_attribute_is_left_to_the_endpoint() -> None:
    """group_id is not a users attribute in the directory: no comparison is made for it."""
    values = USER_FILTERS.parse(MultiDict([("group_id", "8F6D2C1E-4B3A-4E5F-9A7B-0C1D2E3F4A5B")]))
    assert values.filter() is None
    assert values.text("group_id") == "8f6d2c1e-4b3a-4e5f-9a7b-0c1d2e3f4a5b"


def test_time_ranges_become_timestamp_comparisons() -> None:
    query = list_audit_events.operation.query
    filter_, page = _parse(
        query, ("since", "2026-01-31T09:00:00Z"), ("until", "2026-02-01T00:00:00+01:00")
    )
    assert filter_ is not None
    since, until = getattr(filter_, "and").filters
    assert since.comparison.operator == pb.OPERATOR_GREATER_OR_EQUAL
    assert since.comparison.value.timestamp_value.ToDatetime(tzinfo=UTC) == datetime(
        2026, 1, 31, 9, tzinfo=UTC
    )
    assert until.comparison.operator == pb.OPERATOR_LESS
    assert until.comparison.value.timestamp_value.ToDatetime(tzinfo=UTC) == datetime(
        2026, 1, 31, 23, tzinfo=UTC
    )
    assert page.page_size == DEFAULT_PAGE_SIZE


def test_page_size_and_token_are_passed_on() -> None:
    _, page = _parse(USER_FILTERS, ("page_size", "25"), ("page_token", "abc_-1"))
    assert (page.page_size, page.page_token) == (25, "abc_-1")


@pytest.mark.parametrize(
    ("pairs", "field"),
    [
        ((("statuss", "active"),), "statuss"),
        ((("status", "enabled"),), "status"),
        ((("status", "active"), ("status", "pending")), "status"),
        ((("group_id", "42"),), "group_id"),
        ((("page_size", "0"),), "page_size"),
        ((("page_size", "1001"),), "page_size"),
        ((("page_size", "-5"),), "page_size"),
        ((("page_size", "1e3"),), "page_size"),
        ((("page_token", "not a token!"),), "page_token"),
        ((("user_name", ""),), "user_name"),
        ((("external_id", "a\x00b"),), "external_id"),
        ((("external_id", "x" * (TEXT_CHARS + 1)),), "external_id"),
    ],
)
def test_a_bad_parameter_is_refused_by_name(pairs: tuple[tuple[str, str], ...], field: str) -> None:
    """400 naming the parameter: a misspelt filter must never list everything."""
    assert _refused(USER_FILTERS, *pairs) == field


@pytest.mark.parametrize("raw", ["2026-01-31", "yesterday", "2026-01-31T09:00:00"])
def test_a_time_must_be_rfc_3339_with_its_zone(raw: str) -> None:
    param = Param("since", "", Kind.TIMESTAMP, attribute="time")
    with pytest.raises(InvalidArgument):
        filters(param).parse(MultiDict([("since", raw)])).filter()


def test_an_endpoint_without_parameters_ignores_the_query_string() -> None:
    """Nothing in it could be misread as a filter (and cache busters or tracking parameters of
    a client's library stay harmless)."""
    values = Query().parse(MultiDict([("anything", "1"), ("anything", "2")]))
    assert values.values == {}
