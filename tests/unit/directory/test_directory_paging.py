"""directory.paging: page windows, keyset SQL and page tokens, without a database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from directory import filters, paging
from directory.filters import Params
from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import InvalidArgument

DIGEST = paging.filter_digest(None)


def test_defaults_are_creation_order_and_100_rows() -> None:
    """PageRequest: empty order_by means creation order; page_size 0 means 100."""
    window = paging.window(pb.PageRequest(), filters.USERS, DIGEST)

    assert (window.order, window.descending, window.size, window.after) == (
        "create_time",
        False,
        100,
        None,
    )


def test_page_sizes_are_capped_at_1000() -> None:
    """Page sizes above 1000 are cut to 1000, not refused (SCIM lets a server return fewer)."""
    assert paging.window(pb.PageRequest(page_size=5000), filters.USERS, DIGEST).size == 1000


def test_every_order_ends_with_the_unique_key() -> None:
    """Stable order: ties on the order column are broken by id."""
    window = paging.window(pb.PageRequest(order_by="user_name"), filters.USERS, DIGEST)

    sql = paging.page_sql(window, filters.USERS, Params("account"))

    assert sql.order_by == "lower(u.user_name) ASC, u.id ASC"
    assert sql.limit == "LIMIT $2::bigint"


def test_a_token_continues_after_the_last_row_in_the_same_order() -> None:
    """Keyset pagination: the token holds the last row's sort value and id."""
    window = paging.window(
        pb.PageRequest(page_size=2, sort_order=pb.SORT_ORDER_DESCENDING), filters.USERS, DIGEST
    )
    last_id = uuid.uuid4()
    moment = datetime(2026, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
    rows = [
        {paging.SORT_COLUMN: moment, "id": uuid.uuid4()},
        {paging.SORT_COLUMN: moment, "id": last_id},
        {paging.SORT_COLUMN: moment, "id": uuid.uuid4()},
    ]

    page = paging.finish(rows, window, filters.USERS, total=0)  # type: ignore[arg-type]
    resumed = paging.window(
        pb.PageRequest(page_token=page.next_page_token, sort_order=pb.SORT_ORDER_DESCENDING),
        filters.USERS,
        DIGEST,
    )
    params = Params("account")
    sql = paging.page_sql(resumed, filters.USERS, params)

    assert len(page.rows) == 2
    assert resumed.after == (moment, last_id)
    assert sql.condition == "(u.create_time, u.id) < ($2::timestamptz, $3::uuid)"
    assert params.values[1:3] == [moment, last_id]


def test_the_last_page_has_no_token() -> None:
    """An empty next_page_token marks the last page."""
    window = paging.window(pb.PageRequest(page_size=2), filters.USERS, DIGEST)

    page = paging.finish([{paging.SORT_COLUMN: 1, "id": 2}], window, filters.USERS, 0)  # type: ignore[list-item]

    assert page.next_page_token == ""


@pytest.mark.parametrize(
    "token",
    [
        "%%%",
        "bm90IGpzb24",  # "not json"
        "WzFd",  # [1]
        "eyJ2IjoxfQ",  # {"v":1}
    ],
)
def test_garbage_tokens_are_invalid_arguments(token: str) -> None:
    """A token is input like any other: garbage is INVALID_ARGUMENT on page.page_token."""
    with pytest.raises(InvalidArgument) as raised:
        paging.window(pb.PageRequest(page_token=token), filters.USERS, DIGEST)

    assert raised.value.field == "page.page_token"


def test_a_token_is_bound_to_its_filter() -> None:
    """A token issued for one filter cannot page another."""
    window = paging.window(pb.PageRequest(page_size=1), filters.USERS, DIGEST)
    rows = [{paging.SORT_COLUMN: datetime.now(UTC), "id": uuid.uuid4()}] * 2
    token = paging.finish(rows, window, filters.USERS, 0).next_page_token  # type: ignore[arg-type]
    other = paging.filter_digest(pb.Filter(comparison=pb.Comparison(attribute="title")))

    with pytest.raises(InvalidArgument):
        paging.window(pb.PageRequest(page_token=token), filters.USERS, other)


def _rows(count: int) -> list[dict[str, int]]:
    return [{paging.SORT_COLUMN: n, "id": n} for n in range(count)]


@pytest.mark.parametrize(
    ("offset", "fetched", "total"),
    [(0, 0, 0), (0, 1, 1), (20, 3, 23), (0, 5, None), (40, 0, None)],
    ids=["no match", "one match", "last offset page", "full page", "empty page past the end"],
)
def test_a_page_that_is_not_full_proves_the_total(
    offset: int, fetched: int, total: int | None
) -> None:
    """SCIM totalResults without a count(*) when the page itself ends the result; a full page
    (the page size plus the look-ahead row) or an empty page past the end proves nothing."""
    window = paging.window(
        pb.PageRequest(page_size=4, offset=offset, include_total=True), filters.USERS, DIGEST
    )

    assert paging.proven_total(_rows(fetched), window) == total  # type: ignore[arg-type]
