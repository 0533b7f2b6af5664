"""meshkit.strict_json: request bodies read as RFC 8259 JSON in UTF-8, everything else refused
with a sentence that names the problem and never echoes the body."""

from __future__ import annotations

import pytest

from meshkit.strict_json import MAX_DEPTH, MAX_NUMBER_DIGITS, JsonRefused, loads


def test_utf8_json_with_or_without_a_byte_order_mark_is_read() -> None:
    """RFC 8259 §8.1: UTF-8, and a parser MAY ignore a leading byte order mark."""
    assert loads(b'{"userName": "ad\xc3\xa9"}') == {"userName": "adé"}
    assert loads(b'\xef\xbb\xbf{"a": [1, 2.5]}') == {"a": [1, 2.5]}


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ('{"a": "x"}'.encode("utf-16"), "UTF-8"),
        ('{"a": "x"}'.encode("utf-32"), "UTF-8"),
        (b'{"a": "\xe9"}', "offset 7"),
        (b'{"a": ', "line 1 column 7"),
        (b'{"a": NaN}', "NaN"),
        (b'{"a": 1e999999}', "too large"),
        (b'{"a": ' + b"9" * (MAX_NUMBER_DIGITS + 1) + b"}", "digits"),
        (b'{"a": 1, "a": 2}', '"a" appears twice'),
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "nests deeper"),
        (b"[" * 100_000 + b"]" * 100_000, "nests deeper"),
    ],
    ids=[
        "utf-16",
        "utf-32",
        "latin-1",
        "truncated",
        "NaN",
        "1e999999",
        "long number",
        "duplicate member",
        "just too deep",
        "100,000 levels",
    ],
)
def test_a_body_idmesh_does_not_take_is_refused_with_its_reason(raw: bytes, named: str) -> None:
    """RFC 8259 §8.1 (UTF-8 only), §4 (duplicate names), §6 (no NaN); numbers and depth are
    bounded so nothing further on fails with a 500."""
    with pytest.raises(JsonRefused) as refused:
        loads(raw)
    assert named in str(refused.value)


def test_a_refusal_never_quotes_the_body() -> None:
    """What a client sent may be a secret: the sentence names the problem only."""
    with pytest.raises(JsonRefused) as refused:
        loads(b'{"password": "hunter2", "password": "hunter3"}')
    assert "hunter" not in str(refused.value)
