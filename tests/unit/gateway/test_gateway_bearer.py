"""gateway.auth: parsing Authorization headers (RFC 6750 §2.1) and permission checks."""

from __future__ import annotations

import pytest

from gateway.auth import bearer_secret, has_permission
from gateway.errors import HttpServiceError

SECRET = "idm_0123456789abcdef0123456789abcdef_" + "A" * 43


@pytest.mark.parametrize(
    "header", [f"Bearer {SECRET}", f"bearer {SECRET}", f"BEARER  {SECRET}", f"Bearer {SECRET} "]
)
def test_the_secret_is_read_from_a_bearer_header(header: str) -> None:
    """The scheme is case-insensitive (RFC 9110 §11.1)."""
    assert bearer_secret(header) == SECRET


@pytest.mark.parametrize("header", [None, "", "Basic dXNlcjpwYXNz", "Token abc"])
def test_no_bearer_credentials_is_a_plain_challenge(header: str | None) -> None:
    """RFC 6750 §3.1: without credentials the challenge carries no error code."""
    with pytest.raises(HttpServiceError) as caught:
        bearer_secret(header)
    assert caught.value.headers["WWW-Authenticate"] == 'Bearer realm="idmesh"'
    assert caught.value.reason == "missing_token"


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer ", "Bearer a b", 'Bearer ab"c', "Bearer " + "a" * 4097]
)
def test_a_malformed_token_is_invalid_token(header: str) -> None:
    """RFC 6750 §3.1 invalid_token, refused without asking auth."""
    with pytest.raises(HttpServiceError) as caught:
        bearer_secret(header)
    assert (
        caught.value.headers["WWW-Authenticate"] == 'Bearer realm="idmesh", error="invalid_token"'
    )
    assert SECRET not in caught.value.message


def test_a_permission_is_granted_when_held() -> None:
    """A permission is granted only by itself (or the manage/read rule)."""
    assert has_permission({"users:manage", "groups:manage"}, "groups:manage")
    assert not has_permission({"users:read"}, "users:manage")
    assert not has_permission(set(), "users:read")


def test_manage_implies_read_of_the_same_resource() -> None:
    """A SCIM client that may change users must be able to look them up (Entra GETs first)."""
    assert has_permission({"users:manage"}, "users:read")
    assert not has_permission({"groups:manage"}, "users:read")
    assert not has_permission({"audit:manage"}, "audit:write")
