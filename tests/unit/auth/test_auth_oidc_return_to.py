"""The post-login return_to: same-origin relative paths only (RFC 9700 §4.11, no open
redirect), including the encoded and browser-normalised variants attackers use."""

from __future__ import annotations

import pytest

from auth.sso.return_to import ReturnToError, check_return_to


@pytest.mark.parametrize(
    "value",
    [
        "/",
        "/me",
        "/spaces/devops?tab=members",
        "/a/b/../c",
        "/search?q=a%20b",
        "/path#section",
    ],
)
def test_a_relative_path_on_this_site_is_kept_as_sent(value: str) -> None:
    assert check_return_to(value) == value


def test_no_return_to_means_the_default() -> None:
    assert check_return_to("", default="/me") == "/me"


@pytest.mark.parametrize(
    "value",
    [
        "//evil.test",
        "//evil.test/path",
        "/\\evil.test",
        "\\\\evil.test",
        "https://evil.test",
        "http:evil.test",
        "javascript:alert(1)",
        "data:text/html,hi",
        "evil.test",
        "me",
        "/%2Fevil.test",
        "/%2fevil.test",
        "/%5Cevil.test",
        "%2F%2Fevil.test",
        "/%252Fevil.test",
        "/%25252F%25252Fevil.test",
        "/\t/evil.test",
        "/\n/evil.test",
        "/ /evil.test",
        "/path\\..\\evil",
        "/\u3002evil",
        "/x" * 2000,
    ],
)
def test_anything_that_could_leave_the_site_is_refused(value: str) -> None:
    """Scheme-relative (//), backslash variants browsers treat as slashes, absolute URLs and
    schemes, percent-encoded (once, twice, thrice) slashes and backslashes, tabs and newlines
    (dropped by the URL parser), non-ASCII look-alikes and absurd lengths."""
    with pytest.raises(ReturnToError):
        check_return_to(value)
