"""Request field checks and paging of the API token methods (auth/validation.py,
auth/pagination.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from auth import pagination, validation
from meshkit.errors import InvalidArgument

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def test_a_description_of_200_characters_is_accepted_and_201_refused() -> None:
    """Description length ≤ 200."""
    assert validation.validate_description("d" * 200) == "d" * 200
    with pytest.raises(InvalidArgument) as caught:
        validation.validate_description("d" * 201)
    assert caught.value.field == "description"


def test_a_description_with_a_control_character_is_refused() -> None:
    """Descriptions are shown in admin lists and logs: no line breaks or escapes."""
    with pytest.raises(InvalidArgument):
        validation.validate_description("okta\nforged line")


def test_an_expire_time_in_the_past_is_an_invalid_argument_naming_the_field() -> None:
    """expire_time in the past → InvalidArgument(field="expire_time")."""
    with pytest.raises(InvalidArgument) as caught:
        validation.validate_expire_time(NOW - timedelta(seconds=1), NOW)
    assert caught.value.field == "expire_time"


def test_an_unset_or_future_expire_time_is_accepted() -> None:
    """Unset means never expires."""
    assert validation.validate_expire_time(None, NOW) is None
    later = NOW + timedelta(days=90)
    assert validation.validate_expire_time(later, NOW) == later


def test_an_account_id_that_is_not_a_uuid_names_the_field() -> None:
    """Ids are UUIDs; anything else is the caller's error, reported on its field."""
    with pytest.raises(InvalidArgument) as caught:
        validation.parse_uuid("acme", "account_id")
    assert caught.value.field == "account_id"


@pytest.mark.parametrize(("requested", "expected"), [(0, 50), (1, 1), (200, 200), (5000, 200)])
def test_page_size_defaults_to_50_and_is_capped_at_200(requested: int, expected: int) -> None:
    """ListApiTokens page_size: default 50, max 200 (larger values are lowered, AIP-158)."""
    assert pagination.page_size(requested) == expected


def test_a_negative_page_size_is_an_invalid_argument() -> None:
    """AIP-158: a negative page_size is INVALID_ARGUMENT."""
    with pytest.raises(InvalidArgument):
        pagination.page_size(-1)


def test_a_page_token_round_trips_its_cursor() -> None:
    """Keyset pagination on (create_time, id), microseconds kept."""
    account = uuid.uuid4()
    cursor = pagination.Cursor(create_time=NOW.replace(microsecond=123456), id=uuid.uuid4())
    token = pagination.encode_page_token(account, False, cursor)
    assert pagination.decode_page_token(token, account, False) == cursor


def test_a_page_token_of_another_account_or_filter_is_refused() -> None:
    """AIP-158: a page token is bound to the request parameters it was issued for."""
    account = uuid.uuid4()
    cursor = pagination.Cursor(create_time=NOW, id=uuid.uuid4())
    token = pagination.encode_page_token(account, False, cursor)
    with pytest.raises(InvalidArgument):
        pagination.decode_page_token(token, uuid.uuid4(), False)
    with pytest.raises(InvalidArgument):
        pagination.decode_page_token(token, account, True)


@pytest.mark.parametrize("token", ["garbage!", "djF8eA", "====", "é"])
def test_a_malformed_page_token_names_the_field(token: str) -> None:
    """An unreadable page token → InvalidArgument(field="page_token"), never INTERNAL."""
    with pytest.raises(InvalidArgument) as caught:
        pagination.decode_page_token(token, uuid.uuid4(), False)
    assert caught.value.field == "page_token"


def test_an_empty_page_token_means_the_first_page() -> None:
    """No page token: start at the beginning."""
    assert pagination.decode_page_token("", uuid.uuid4(), False) is None
