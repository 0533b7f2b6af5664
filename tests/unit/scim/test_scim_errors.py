"""scim.errors and scim.etags: RFC 7644 §3.12 error bodies, §3.14 versions."""

from __future__ import annotations

import json

import grpc
import pytest

from meshkit.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    ServiceError,
    Unauthenticated,
    Unavailable,
)
from scim.errors import ScimErrorBody, ScimHttpError, to_scim_error
from scim.etags import format_etag, parse_if_match


@pytest.mark.parametrize(
    ("error", "status", "scim_type"),
    [
        (InvalidArgument("bad", reason="invalid_filter"), 400, "invalidFilter"),
        (InvalidArgument("bad", reason="invalid_path"), 400, "invalidPath"),
        (InvalidArgument("bad", reason="no_target"), 400, "noTarget"),
        (InvalidArgument("bad", reason="mutability"), 400, "mutability"),
        (InvalidArgument("bad", reason="invalid_syntax"), 400, "invalidSyntax"),
        (InvalidArgument("bad", reason="too_many"), 400, "tooMany"),
        (InvalidArgument("bad", reason="invalid_version"), 400, "invalidVers"),
        (InvalidArgument("unknown member id"), 400, "invalidValue"),
        (AlreadyExists("taken", reason="uniqueness"), 409, "uniqueness"),
        (FailedPrecondition("changed", reason="version_mismatch"), 412, ""),
        (FailedPrecondition("other"), 400, ""),
        (NotFound("no such user"), 404, ""),
        (Unauthenticated("no token"), 401, ""),
        (PermissionDenied("no"), 403, ""),
        (ResourceExhausted("slow down"), 429, ""),
        (Unavailable("down"), 503, ""),
        (ScimHttpError(405, "read-only"), 405, ""),
        (ScimHttpError(413, "too big", scim_type="tooLarge"), 413, "tooLarge"),
    ],
)
def test_service_errors_map_to_scim_statuses_and_types(
    error: ServiceError, status: int, scim_type: str
) -> None:
    """RFC 7644 §3.12 scimType table; 409 uniqueness for duplicate userName; 412 for ETags."""
    body = to_scim_error(error)
    assert (body.status, body.scim_type) == (status, scim_type)


def test_an_unknown_error_is_500_without_its_message() -> None:
    """No peer message leaks (docs/architecture.md: never a leaked message)."""
    error = ServiceError("stack trace with secrets")
    error.code = grpc.StatusCode.INTERNAL  # type: ignore[misc]
    assert to_scim_error(error) == ScimErrorBody(500, "internal error")


def test_the_error_body_has_the_error_schema_and_a_string_status() -> None:
    """RFC 7644 §3.12; Okta's SPEC test wants status as a string (docs/scim-clients.md §5)."""
    body = json.loads(ScimErrorBody(404, "Resource 2819c223 not found").render())
    assert body == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "404",
        "detail": "Resource 2819c223 not found",
    }
    body = json.loads(ScimErrorBody(400, "bad filter", "invalidFilter").render())
    assert body["scimType"] == "invalidFilter"


def test_etags_are_weak_versions_and_if_match_compares_their_values() -> None:
    """RFC 7644 §3.14: W/"<version>"; weak or strong tags compare by value."""
    assert format_etag(3) == 'W/"3"'
    assert parse_if_match("") is None
    header = parse_if_match('W/"3"')
    assert header is not None
    assert header.expected_version() == 3
    header.check(3)
    with pytest.raises(ScimHttpError) as caught:
        header.check(4)
    assert caught.value.status == 412
    assert parse_if_match('"3"').expected_version() == 3  # type: ignore[union-attr]
    star = parse_if_match("*")
    assert star is not None
    assert star.expected_version() == 0
    star.check(99)
    several = parse_if_match('W/"1", W/"2"')
    assert several is not None
    assert several.expected_version() is None
    assert several.matches(2)
    assert not several.matches(3)
    foreign = parse_if_match('"abc"')
    assert foreign is not None
    assert foreign.expected_version() is None
    assert not foreign.matches(1)


def test_directory_refusals_name_the_scim_attribute() -> None:
    """Entra wants a 400 with an actionable detail (docs/scim-clients.md §2): a directory
    field becomes the attribute the client wrote."""
    error = InvalidArgument("unknown IANA time zone 'Mars/Base'", field="user.timezone")
    assert to_scim_error(error).detail == "timezone: unknown IANA time zone 'Mars/Base'"
    taken = AlreadyExists("already exists", field="group.idp_identifier", reason="uniqueness")
    assert to_scim_error(taken).detail == "externalId: already exists"
