"""The route table's contract, checked without I/O: one permission per route, a documented
operation per route, and the directory's field names translated to the API's."""

from __future__ import annotations

import pytest

from gateway.api import ROUTES
from gateway.api.routing import public_field
from gateway.api.schemas import components, validator


@pytest.mark.parametrize(
    ("directory_field", "api_field"),
    [
        ("user.user_name", "user_name"),
        ("user.enterprise.manager_id", "enterprise.manager_id"),
        ("space.name", "name"),
        ("role.permissions", "permissions"),
        ("group.idp_identifier", "idp_identifier"),
        ("group.members", "member_ids"),
        ("page.page_token", "page_token"),
        ("add_user_ids", "user_ids"),
        ("role_id", "role_id"),
    ],
)
def test_directory_fields_are_reported_by_their_api_names(
    directory_field: str, api_field: str
) -> None:
    """RFC 9457 errors[].field names what the client sent, not the directory's message."""
    assert public_field(directory_field) == api_field


def test_every_route_is_one_method_on_one_path() -> None:
    pairs = [(route.method, route.path) for route in ROUTES]
    assert len(pairs) == len(set(pairs))


def test_every_request_example_satisfies_its_schema() -> None:
    """The documented examples are valid requests (the route-table tests send them)."""
    for route in ROUTES:
        operation = route.endpoint.operation
        if operation.body is not None:
            errors = list(validator(operation.body).iter_errors(operation.example))
            assert not errors, f"{route.method} {route.path}: {errors[0].message}"


def test_every_schema_an_operation_names_is_defined() -> None:
    defined = components()
    for route in ROUTES:
        operation = route.endpoint.operation
        for name in (operation.body, operation.response):
            assert name is None or name in defined, f"{route.method} {route.path}: {name}"


def test_custom_methods_use_one_style() -> None:
    """State changes that are not CRUD are POST <resource>:<verb> (AIP-136), nothing else."""
    for route in ROUTES:
        last = route.path.rsplit("/", 1)[-1]
        if ":" in last:
            assert route.method == "POST", route.path
