"""Pagination of list RPCs: keyset tokens, SCIM offsets with totals, stable order."""

from __future__ import annotations

import grpc

from idmesh.directory.v1 import directory_pb2 as pb
from tests.support.directory import Stub, comparison, failure, new_account, new_user


async def _account_with_users(directory: Stub, count: int) -> tuple[str, list[pb.User]]:
    account = await new_account(directory)
    users = [
        await new_user(directory, account.id, f"user{i:02d}@example.com", title=f"T{i % 3}")
        for i in range(count)
    ]
    return account.id, users


async def _walk_tokens(directory: Stub, request: pb.ListUsersRequest) -> list[list[str]]:
    pages = []
    while True:
        response = await directory.ListUsers(request)
        pages.append([u.user_name for u in response.users])
        if not response.page.next_page_token:
            return pages
        request.page.page_token = response.page.next_page_token


async def test_page_tokens_walk_every_user_once_in_creation_order(directory: Stub) -> None:
    """Okta imports page by page and expects a stable order (docs/scim-clients.md §5)."""
    account_id, users = await _account_with_users(directory, 7)

    pages = await _walk_tokens(
        directory, pb.ListUsersRequest(account_id=account_id, page=pb.PageRequest(page_size=3))
    )

    assert [len(p) for p in pages] == [3, 3, 1]
    assert [n for page in pages for n in page] == [u.user_name for u in users]


async def test_page_tokens_follow_order_by_and_direction_with_ties(directory: Stub) -> None:
    """Ties on the order column (three users share each title) are broken by id, so no user is
    skipped or repeated at a page boundary."""
    account_id, users = await _account_with_users(directory, 8)
    page = pb.PageRequest(page_size=2, order_by="title", sort_order=pb.SORT_ORDER_DESCENDING)

    pages = await _walk_tokens(directory, pb.ListUsersRequest(account_id=account_id, page=page))

    names = [n for p in pages for n in p]
    assert sorted(names) == sorted(u.user_name for u in users)
    titles = {u.user_name: u.title for u in users}
    assert [titles[n] for n in names] == sorted((titles[n] for n in names), reverse=True)


async def test_offsets_page_like_scim_start_index_with_a_total(directory: Stub) -> None:
    """SCIM startIndex/count: offset = startIndex - 1; totalResults counts the whole filter."""
    account_id, users = await _account_with_users(directory, 5)
    only_t0_t1 = comparison("title", pb.OPERATOR_LESS, string_value="T2")
    expected = [u.user_name for u in users if u.title < "T2"]

    seen: list[str] = []
    for offset in range(0, len(expected), 2):
        response = await directory.ListUsers(
            pb.ListUsersRequest(
                account_id=account_id,
                filter=only_t0_t1,
                page=pb.PageRequest(page_size=2, offset=offset, include_total=True),
            )
        )
        assert response.page.total_size == len(expected)
        seen.extend(u.user_name for u in response.users)

    assert seen == expected


async def test_the_total_is_set_only_when_asked_for(directory: Stub) -> None:
    """PageResponse.total_size: set only when include_total was asked for (a count costs a
    query)."""
    account_id, _ = await _account_with_users(directory, 2)

    response = await directory.ListUsers(pb.ListUsersRequest(account_id=account_id))

    assert response.page.total_size == 0
    assert len(response.users) == 2


async def test_a_garbage_or_foreign_page_token_is_invalid(directory: Stub) -> None:
    """An opaque token is still input: garbage, or a token of another order or filter, is
    INVALID_ARGUMENT on page.page_token, never a 500."""
    account_id, _ = await _account_with_users(directory, 3)
    first = await directory.ListUsers(
        pb.ListUsersRequest(account_id=account_id, page=pb.PageRequest(page_size=1))
    )
    token = first.page.next_page_token

    for page in (
        pb.PageRequest(page_token="not base64 json!"),
        pb.PageRequest(page_token="eyJ2IjoxfQ"),  # {"v":1}
        pb.PageRequest(page_token=token, order_by="user_name"),
    ):
        code, error = await failure(
            directory.ListUsers(pb.ListUsersRequest(account_id=account_id, page=page))
        )
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert error.field == "page.page_token"


async def test_page_requests_are_validated(directory: Stub) -> None:
    """PageRequest: a token or an offset, not both; order_by from the sortable set; no negative
    sizes."""
    account_id, _ = await _account_with_users(directory, 2)
    first = await directory.ListUsers(
        pb.ListUsersRequest(account_id=account_id, page=pb.PageRequest(page_size=1))
    )

    cases = [
        (pb.PageRequest(page_token=first.page.next_page_token, offset=1), "page"),
        (pb.PageRequest(order_by="password"), "page.order_by"),
        (pb.PageRequest(order_by="enterprise.manager_id"), "page.order_by"),
        (pb.PageRequest(page_size=-1), "page.page_size"),
        (pb.PageRequest(offset=-1), "page.offset"),
    ]
    for page, field in cases:
        code, error = await failure(
            directory.ListUsers(pb.ListUsersRequest(account_id=account_id, page=page))
        )
        assert (code, error.field) == (grpc.StatusCode.INVALID_ARGUMENT, field)


async def test_page_sizes_default_to_100_and_are_capped_at_1000(directory: Stub) -> None:
    """Page sizes default to 100 and are capped at 1000 (docs/scim-clients.md §6)."""
    account = await new_account(directory)

    default = await directory.ListRoles(pb.ListRolesRequest(account_id=account.id))
    huge = await directory.ListRoles(
        pb.ListRolesRequest(account_id=account.id, page=pb.PageRequest(page_size=10**6))
    )

    assert len(default.roles) == len(huge.roles) == 5
    assert not default.page.next_page_token
