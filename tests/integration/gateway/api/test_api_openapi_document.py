"""The OpenAPI 3.1 document at GET /api/v1/openapi.json is true: served without a token, valid,
and in exact agreement with what the gateway routes."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate

from gateway.api import PREFIX, ROUTES
from tests.integration.gateway.api.stack import Stack

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@pytest.fixture(scope="module")
async def document(stack: Stack) -> dict[str, Any]:
    response = await stack.client.get(f"{PREFIX}/openapi.json")
    assert response.status == 200
    assert response.content_type == "application/json"
    body: dict[str, Any] = await response.json()
    return body


def _documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in HTTP_METHODS
    }


def test_the_served_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    """OpenAPI 3.1.0 (openapi-spec-validator), JSON Schema 2020-12 schemas, no auth needed."""
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_every_routed_operation_is_documented_and_nothing_else(
    stack: Stack, document: dict[str, Any]
) -> None:
    """Brief: every registered /api/v1 route appears with its methods, and every documented
    path is routed (read from the running application's router, not from the table)."""
    app = stack.client.app
    assert app is not None
    routed = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.resource.canonical.startswith(PREFIX + "/")
    }
    assert routed == _documented(document)


def test_every_operation_names_its_permission_and_its_problems(document: dict[str, Any]) -> None:
    """Each operation documents the permission of the route table, 401 with the Bearer
    challenge, 403 when a permission is required, and RFC 9457 bodies for failures."""
    for route in ROUTES:
        operation = document["paths"][PREFIX + route.path][route.method.lower()]
        label = f"{route.method} {route.path}"
        assert operation["x-idmesh-permission"] == route.permission, label
        assert operation["operationId"] == route.endpoint.name
        responses = operation["responses"]
        assert "401" in responses, label
        assert ("403" in responses) is (route.permission is not None), label
        assert "default" in responses, label
    problem = document["components"]["responses"]["NotFound"]["content"]
    assert list(problem) == ["application/problem+json"]


def test_operation_ids_are_unique(document: dict[str, Any]) -> None:
    ids = [
        operation["operationId"]
        for operations in document["paths"].values()
        for operation in operations.values()
    ]
    assert len(ids) == len(set(ids))


async def test_the_document_needs_no_token_while_everything_else_does(stack: Stack) -> None:
    """The description is public; the API is not (RFC 6750 §3)."""
    assert (await stack.client.get(f"{PREFIX}/openapi.json")).status == 200
    assert (await stack.client.get(f"{PREFIX}/users")).status == 401
