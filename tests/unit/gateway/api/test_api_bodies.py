"""Request bodies: JSON Merge Patch (RFC 7396) and validation against the documented schemas,
with errors that name the member and never echo the value."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.api import ROUTES  # noqa: F401  (defines every schema)
from gateway.api.bodies import merge_patch, parse_body
from meshkit.errors import InvalidArgument

# RFC 7396 Appendix A: original, patch, result.
RFC_7396_EXAMPLES: list[tuple[Any, Any, Any]] = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("original", "patch", "result"), RFC_7396_EXAMPLES)
def test_merge_patch_follows_the_rfc_7396_examples(original: Any, patch: Any, result: Any) -> None:
    """RFC 7396 Appendix A, every example."""
    assert merge_patch(original, patch) == result


def test_merge_patch_leaves_the_original_untouched() -> None:
    original = {"name": {"given_name": "Ada"}}
    merge_patch(original, {"name": {"given_name": None}})
    assert original == {"name": {"given_name": "Ada"}}


def _refusal(raw: bytes, schema: str = "UserPatch") -> InvalidArgument:
    with pytest.raises(InvalidArgument) as caught:
        parse_body(raw, schema)
    return caught.value


def test_a_valid_body_is_returned_as_parsed() -> None:
    assert parse_body(b'{"title": "CEO", "nick_name": null}', "UserPatch") == {
        "title": "CEO",
        "nick_name": None,
    }


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"", "body"),
        (b"{", "body"),
        (b"[1]", "body"),
        (b'"text"', "body"),
        (b'{"status": "active"}', "status"),
        (b'{"name": {"nick": "x"}}', "name.nick"),
        (b'{"emails": [{"value": 1}]}', "emails[0].value"),
        (b'{"emails": [{"value": "a", "primary": "yes"}]}', "emails[0].primary"),
        (b'{"account_role_id": "admin"}', "account_role_id"),
        (b'{"user_name": null}', "user_name"),
        (b'{"user_name": "' + b"x" * 300 + b'"}', "user_name"),
        (b"[" * 100_000, "body"),
    ],
)
def test_a_refused_body_names_the_offending_member(raw: bytes, field: str) -> None:
    """RFC 9457 problems carry errors[].field: the member, its index in an array, or "body"."""
    assert _refusal(raw).field == field


def test_a_missing_member_is_named() -> None:
    refusal = _refusal(b'{"scope": "space", "permissions": []}', "RoleCreate")
    assert (refusal.field, refusal.message) == ("name", "is required")


def test_messages_never_echo_the_value_sent() -> None:
    secret = "s3cr3t-value-123"
    for raw in (
        b'{"timezone": 5, "title": "x"}'.replace(b"5", f'["{secret}"]'.encode()),
        f'{{"account_role_id": "{secret}"}}'.encode(),
        f'{{"{secret}": 1}}'.encode(),
    ):
        refusal = _refusal(raw)
        assert secret not in refusal.message, raw


@pytest.mark.parametrize(
    "raw",
    [b'{"title": "a\\u0000b"}', b'{"title": "\\ud800"}', b'{"a\\u0000": 1}'],
)
def test_strings_postgresql_or_protobuf_cannot_carry_are_400(raw: bytes) -> None:
    """A NUL character (PostgreSQL text) or a lone surrogate (protobuf UTF-8) would fail deep in
    the directory as a 500; they are refused up front."""
    assert _refusal(raw).field == "body"
