"""ETag and If-Match (RFC 9110 §8.8.3, §13.1.1): the version as a strong entity tag, compared
strongly."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from gateway.api.preconditions import IfMatch, etag, parse_if_match
from meshkit.errors import FailedPrecondition


def _if_match(*values: str) -> IfMatch | None:
    headers = [("If-Match", value) for value in values]
    from multidict import CIMultiDict

    return parse_if_match(make_mocked_request("PATCH", "/", headers=CIMultiDict(headers)))


def test_an_etag_is_the_version_as_a_strong_entity_tag() -> None:
    """RFC 9110 §8.8.3: entity-tag = [ weak ] opaque-tag; ours are strong."""
    assert etag(7) == '"7"'


def test_no_header_is_no_precondition() -> None:
    assert _if_match() is None


def test_a_star_matches_any_current_version() -> None:
    """RFC 9110 §13.1.1: "*" is true if the origin server has a current representation."""
    precondition = _if_match("*")
    assert precondition is not None
    precondition.check(41)
    assert precondition.single() == 0


def test_a_strong_tag_names_one_version() -> None:
    precondition = _if_match('"7"')
    assert precondition is not None
    assert precondition.single() == 7
    precondition.check(7)
    with pytest.raises(FailedPrecondition) as refused:
        precondition.check(8)
    assert refused.value.reason == "version_mismatch"


def test_a_weak_tag_never_matches() -> None:
    """RFC 9110 §13.1.1: If-Match uses the strong comparison function."""
    precondition = _if_match('W/"7"')
    assert precondition is not None
    with pytest.raises(FailedPrecondition):
        precondition.check(7)


def test_a_list_matches_when_one_of_its_tags_does() -> None:
    """RFC 9110 §13.1.1: a list of entity tags, in one header or several."""
    for header in (('"3", "7"',), ('"3"', '"7"')):
        precondition = _if_match(*header)
        assert precondition is not None
        assert precondition.single() is None
        precondition.check(7)
        with pytest.raises(FailedPrecondition):
            precondition.check(5)


@pytest.mark.parametrize("header", ["7", '"abc"', '""', '"-1"', "garbage", '"' + "9" * 30 + '"'])
def test_tags_that_are_not_ours_match_nothing(header: str) -> None:
    precondition = _if_match(header)
    assert precondition is not None
    with pytest.raises(FailedPrecondition):
        precondition.check(7)
