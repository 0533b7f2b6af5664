"""Property tests: whatever JSON a client sends, the protocol core answers a result or a 400
(InvalidArgument), never another exception (which would be a 500)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from meshkit.errors import InvalidArgument
from scim.convert import group_from_scim, user_from_scim, user_to_scim
from scim.patch import apply_patch
from scim.query import from_search
from scim.schemas import ENTERPRISE_USER_SCHEMA, GROUP_RESOURCE, USER_RESOURCE
from scim.values import normalize_resource

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)
NAMES = st.sampled_from(
    [
        "userName",
        "name",
        "name.givenName",
        "emails",
        'emails[type eq "work"]',
        'emails[type eq "work"].value',
        "active",
        "roles",
        "members",
        'members[value eq "u1"]',
        "id",
        "meta",
        "groups",
        "password",
        "title",
        "addresses",
        ENTERPRISE_USER_SCHEMA,
        f"{ENTERPRISE_USER_SCHEMA}:manager",
        f"{ENTERPRISE_USER_SCHEMA}:manager.value",
        "displayName",
        "externalId",
        "x509Certificates",
        "emails[",
        "nosuch",
        "",
    ]
)
VALUES = (
    JSON
    | st.dictionaries(NAMES, JSON, max_size=3)
    | st.lists(
        st.dictionaries(st.sampled_from(["value", "type", "primary", "display", "$ref"]), JSON),
        max_size=3,
    )
)
OPERATIONS = st.lists(
    st.fixed_dictionaries(
        {"op": st.sampled_from(["add", "Replace", "remove", "move", 1])},
        optional={"path": NAMES | st.text(max_size=20), "value": VALUES},
    ),
    min_size=1,
    max_size=4,
)
USER = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "id": "u1",
    "userName": "a@b.c",
    "name": {"givenName": "A"},
    "active": True,
    "emails": [{"value": "a@b.c", "type": "work", "primary": True}],
    ENTERPRISE_USER_SCHEMA: {"manager": {"value": "m1"}},
    "meta": {"resourceType": "User"},
}


def _outcome(call: Any, *args: Any, **kwargs: Any) -> str:
    try:
        call(*args, **kwargs)
    except InvalidArgument as error:
        return error.reason or "invalid_argument"
    return "ok"


@settings(max_examples=400, deadline=None)
@given(OPERATIONS)
def test_patching_a_user_answers_a_user_or_a_400(operations: list[dict[str, Any]]) -> None:
    """RFC 7644 §3.5.2 bodies of any shape; a successful patch still converts to a directory
    user or is refused as invalid (a required attribute removed, ...)."""
    try:
        result = apply_patch(USER_RESOURCE, USER, {"Operations": operations})
    except InvalidArgument:
        return
    assert _outcome(user_from_scim, result.resource) in ("ok", "invalid_value")


@settings(max_examples=300, deadline=None)
@given(OPERATIONS)
def test_patching_a_group_answers_a_group_or_a_400(operations: list[dict[str, Any]]) -> None:
    group = {"schemas": [], "id": "g1", "displayName": "G"}
    try:
        result = apply_patch(GROUP_RESOURCE, group, {"Operations": operations}, track_members=True)
    except InvalidArgument:
        return
    assert _outcome(group_from_scim, result.resource) in ("ok", "invalid_value")


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(NAMES, VALUES, max_size=6) | JSON)
def test_any_body_normalises_or_is_a_400(body: Any) -> None:
    """POST/PUT bodies of any shape (RFC 7644 §3.3, §3.5.1)."""
    for resource_type, convert in (
        (USER_RESOURCE, user_from_scim),
        (GROUP_RESOURCE, group_from_scim),
    ):
        try:
            resource = normalize_resource(resource_type, body)
        except InvalidArgument:
            continue
        assert _outcome(convert, resource) in ("ok", "invalid_value")


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "schemas",
                "filter",
                "count",
                "startIndex",
                "sortBy",
                "sortOrder",
                "attributes",
                "excludedAttributes",
                "x",
            ]
        ),
        JSON | st.text(max_size=30),
    )
)
def test_any_search_request_is_a_query_or_a_400(body: dict[str, Any]) -> None:
    """RFC 7644 §3.4.3 SearchRequest bodies of any shape."""
    _outcome(from_search, USER_RESOURCE, body)


def test_a_converted_user_always_renders() -> None:
    user = user_from_scim(normalize_resource(USER_RESOURCE, USER))
    assert user_to_scim(user, "https://x")["userName"] == "a@b.c"
