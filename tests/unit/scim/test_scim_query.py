"""scim.query: pagination, sorting and projection parameters (RFC 7644 §3.4.2, §3.4.3)."""

from __future__ import annotations

from typing import Any

import pytest

from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import InvalidArgument
from scim.discovery import MAX_RESULTS
from scim.query import from_query, from_search, projection_from_query
from scim.schemas import GROUP_RESOURCE, SEARCH_REQUEST_SCHEMA, USER_RESOURCE


def test_defaults_are_the_first_page_of_max_results_in_creation_order() -> None:
    query = from_query(USER_RESOURCE, [])
    assert (query.filter, query.start_index, query.count, query.order_by) == (
        None,
        1,
        MAX_RESULTS,
        "",
    )
    assert query.page() == pb.PageRequest(
        page_size=MAX_RESULTS, offset=0, sort_order=pb.SORT_ORDER_ASCENDING, include_total=True
    )


def test_oktas_import_pages_map_to_directory_offsets() -> None:
    """Okta: startIndex=1&count=100, then startIndex=101 (docs/scim-clients.md §5 row 4)."""
    query = from_query(USER_RESOURCE, [("startIndex", "101"), ("count", "100")])
    assert (query.page().offset, query.page().page_size) == (100, 100)


def test_out_of_range_values_are_clamped_as_the_rfc_says() -> None:
    """RFC 7644 §3.4.2.4: startIndex < 1 means 1; count < 0 means 0; count above the maximum
    is the maximum."""
    query = from_query(USER_RESOURCE, [("startIndex", "-5"), ("count", "-1")])
    assert (query.start_index, query.count) == (1, 0)
    assert from_query(USER_RESOURCE, [("count", "100000")]).count == MAX_RESULTS


def test_count_zero_asks_the_directory_for_one_row_and_the_total() -> None:
    """count=0 returns totalResults only; page_size 0 would mean the directory's default."""
    query = from_query(USER_RESOURCE, [("count", "0")])
    assert query.count == 0
    assert query.page().page_size == 1
    assert query.page().include_total


@pytest.mark.parametrize("value", ["abc", "1.5", "", " ", "1e3", "0x10", "99999999999999999999"])
def test_non_integer_counts_are_invalid_value(value: str) -> None:
    """Integers only (docs/scim-clients.md §1)."""
    for name in ("count", "startIndex"):
        with pytest.raises(InvalidArgument) as caught:
            from_query(USER_RESOURCE, [(name, value)])
        assert caught.value.reason == "invalid_value"


def test_parameter_names_are_case_insensitive_and_unknown_ones_ignored() -> None:
    """Entra appends ?aadOptscim062020 to the tenant URL (docs/scim-clients.md §3)."""
    query = from_query(
        USER_RESOURCE, [("StartIndex", "3"), ("aadOptscim062020", ""), ("COUNT", "2")]
    )
    assert (query.start_index, query.count) == (3, 2)


def test_the_filter_is_compiled() -> None:
    query = from_query(USER_RESOURCE, [("filter", 'userName eq "x"')])
    assert query.filter is not None
    assert query.filter.comparison.attribute == "user_name"
    assert from_query(USER_RESOURCE, [("filter", "  ")]).filter is None


def test_a_bad_filter_is_invalid_filter() -> None:
    """Okta 2016: `filter=<CAPS username>` (malformed) → 400 (docs/scim-clients.md §5)."""
    with pytest.raises(InvalidArgument) as caught:
        from_query(USER_RESOURCE, [("filter", "BJENSEN@EXAMPLE.COM")])
    assert caught.value.reason == "invalid_filter"


@pytest.mark.parametrize(
    ("sort_by", "order_by"),
    [
        ("userName", "user_name"),
        ("name.familyName", "name.family_name"),
        ("meta.created", "create_time"),
        ("meta.lastModified", "update_time"),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "enterprise.manager_id",
        ),
        ("EXTERNALID", "external_id"),
    ],
)
def test_sort_by_maps_to_the_directory_order(sort_by: str, order_by: str) -> None:
    """RFC 7644 §3.4.2.3."""
    query = from_query(USER_RESOURCE, [("sortBy", sort_by), ("sortOrder", "Descending")])
    assert (query.order_by, query.sort_order) == (order_by, pb.SORT_ORDER_DESCENDING)


@pytest.mark.parametrize(
    "sort_by", ["nosuch", "emails", "emails.value", "name", "profileUrl", "password"]
)
def test_sorting_on_what_the_directory_cannot_sort_is_invalid_value(sort_by: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        from_query(USER_RESOURCE, [("sortBy", sort_by)])
    assert caught.value.reason == "invalid_value"


def test_a_bad_sort_order_is_invalid_value() -> None:
    with pytest.raises(InvalidArgument):
        from_query(USER_RESOURCE, [("sortBy", "userName"), ("sortOrder", "up")])


def test_group_display_name_sorts() -> None:
    assert from_query(GROUP_RESOURCE, [("sortBy", "displayName")]).order_by == "display_name"


def test_a_search_request_body_carries_the_same_parameters() -> None:
    """RFC 7644 §3.4.3 POST /.search: attributes as a list, integers as JSON numbers."""
    body: dict[str, Any] = {
        "schemas": [SEARCH_REQUEST_SCHEMA],
        "attributes": ["displayName", "userName"],
        "filter": 'displayName sw "smith"',
        "startIndex": 1,
        "count": 10,
        "sortBy": "userName",
    }
    query = from_search(USER_RESOURCE, body)
    assert query.count == 10
    assert query.order_by == "user_name"
    assert query.projection.wants("displayName")
    assert not query.projection.wants("emails")


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"schemas": ["urn:other"]},
        {"schemas": [SEARCH_REQUEST_SCHEMA], "count": True},
        {"schemas": [SEARCH_REQUEST_SCHEMA], "count": 1.5},
        {"schemas": [SEARCH_REQUEST_SCHEMA], "filter": 42},
        {"schemas": [SEARCH_REQUEST_SCHEMA], "attributes": [1]},
        {"schemas": [SEARCH_REQUEST_SCHEMA], "unknown": 1},
    ],
)
def test_bad_search_requests_are_400(body: Any) -> None:
    with pytest.raises(InvalidArgument):
        from_search(USER_RESOURCE, body)


def test_single_resource_projection_from_the_query() -> None:
    """Entra: GET /Groups/{id}?excludedAttributes=members (docs/scim-clients.md §2 row 6)."""
    assert not projection_from_query(GROUP_RESOURCE, [("excludedAttributes", "members")]).wants(
        "members"
    )
