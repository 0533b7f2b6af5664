"""The OpenAPI 3.1 document of ``/api/v1``, built from the route table and the endpoints'
declarations, served at ``GET /api/v1/openapi.json`` without authentication.

Nothing in it is written twice: paths and methods come from the routes that are registered,
parameters from the endpoints' query declarations, request and response bodies from the
schemas the gateway validates against, the permission of each operation from the route table.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from aiohttp import web

from gateway.api.routing import Route
from gateway.api.schemas import ID, PROBLEM, Schema, components, ref

DOCUMENT_PATH: Final = "/openapi.json"
TITLE: Final = "idmesh admin and governance API"
API_VERSION: Final = "1.0.0"
_PATH_PARAM = re.compile(r"\{([^{}]+)\}")
_PROBLEM_CONTENT = {"application/problem+json": {"schema": PROBLEM}}

_DESCRIPTION = """\
Administer an idmesh account and govern its access: users, spaces, roles, grants, groups and
the audit log.

* **Authentication**: `Authorization: Bearer <API token>`. A token acts in its own account only:
  ids of another account answer 404, as unknown ones do.
* **Permissions**: each operation names the one it requires (`x-idmesh-permission`);
  `<resource>:manage` includes `<resource>:read`.
* **Errors**: RFC 9457 problem details (`application/problem+json`).
* **Lists**: `page_size` and `page_token`; a page's `next_page_token` is null on the last page.
* **Concurrency**: resources carry an `ETag` (their `version`); send it back in `If-Match` to
  change or delete only what you read (RFC 9110 §13.1.1); a mismatch is 412.
* **Custom methods**: state changes that are not a plain update are `POST <resource>:<verb>`
  (e.g. `/users/{user_id}:deactivate`, `/access:check`).
"""

_RESPONSES: Final[dict[str, Schema]] = {
    "BadRequest": {
        "description": "The query, the path or the body is invalid; `errors` names the field.",
        "content": _PROBLEM_CONTENT,
    },
    "Unauthorized": {
        "description": "No bearer token, or an invalid, expired or revoked one (RFC 6750).",
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}, "required": True}},
        "content": _PROBLEM_CONTENT,
    },
    "Forbidden": {
        "description": "The token lacks the operation's permission.",
        "content": _PROBLEM_CONTENT,
    },
    "NotFound": {
        "description": "No such resource in the token's account.",
        "content": _PROBLEM_CONTENT,
    },
    "Conflict": {
        "description": "A name or identifier that must be unique is taken, or the state the"
        " operation needs does not hold (e.g. the domain's TXT record is not published yet).",
        "content": _PROBLEM_CONTENT,
    },
    "PreconditionFailed": {
        "description": "If-Match does not match the current ETag.",
        "content": _PROBLEM_CONTENT,
    },
    "UnsupportedMediaType": {
        "description": "The body is not JSON.",
        "content": _PROBLEM_CONTENT,
    },
    "Error": {
        "description": "Any other failure, e.g. 503 when a service is unavailable.",
        "content": _PROBLEM_CONTENT,
    },
}
_IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": 'The ETag read, e.g. "7": the change applies only to that version (412 '
    "otherwise). Without it, the change applies to the current version.",
    "schema": {"type": "string"},
}
_ETAG_HEADER = {
    "description": "The resource's version as a strong entity tag.",
    "required": True,
    "schema": {"type": "string", "pattern": '^"[0-9]+"$'},
}
_LOCATION_HEADER = {
    "description": "The created resource.",
    "required": True,
    "schema": {"type": "string"},
}


def _permission_text(permission: str | None) -> str:
    if permission is None:
        return "Any valid token of the account."
    resource, _, action = permission.rpartition(":")
    if action == "read":
        return f"Requires the permission `{permission}` (or `{resource}:manage`)."
    return f"Requires the permission `{permission}`."


def _response_ref(name: str) -> Schema:
    return {"$ref": f"#/components/responses/{name}"}


def _operation(route: Route) -> Schema:
    endpoint = route.endpoint
    op = endpoint.operation
    path_names = _PATH_PARAM.findall(route.path)
    parameters: list[Schema] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": op.path_params.get(name, ID),
        }
        for name in path_names
    ]
    parameters.extend(
        {
            "name": param.name,
            "in": "query",
            "required": False,
            "description": param.description,
            "schema": param.schema(),
        }
        for param in op.query.all_params
    )
    if op.if_match:
        parameters.append(_IF_MATCH)
    success: Schema = {"description": op.summary + "."}
    if op.response is not None:
        success["content"] = {"application/json": {"schema": ref(op.response)}}
    headers: Schema = {}
    if op.etag:
        headers["ETag"] = _ETAG_HEADER
    if op.status == 201:
        headers["Location"] = _LOCATION_HEADER
    if headers:
        success["headers"] = headers
    responses: Schema = {str(op.status): success}
    if op.idempotent_create and op.response is not None:
        responses["200"] = {
            "description": "It was already there: the existing resource.",
            "content": {"application/json": {"schema": ref(op.response)}},
            "headers": {"Location": _LOCATION_HEADER},
        }
    if parameters or op.body is not None:
        responses["400"] = _response_ref("BadRequest")
    responses["401"] = _response_ref("Unauthorized")
    if route.permission is not None:
        responses["403"] = _response_ref("Forbidden")
    if path_names or op.body is not None:
        responses["404"] = _response_ref("NotFound")
    if (op.body is not None and route.method in ("POST", "PATCH")) or op.conflict:
        responses["409"] = _response_ref("Conflict")
    if op.if_match:
        responses["412"] = _response_ref("PreconditionFailed")
    if op.body is not None:
        responses["415"] = _response_ref("UnsupportedMediaType")
    responses["default"] = _response_ref("Error")
    document: Schema = {
        "operationId": endpoint.name,
        "tags": [endpoint.tag],
        "summary": op.summary,
        "description": " ".join(filter(None, (op.description, _permission_text(route.permission)))),
        "x-idmesh-permission": route.permission,
        "parameters": parameters,
        "responses": responses,
    }
    if op.body is not None:
        document["requestBody"] = {
            "required": True,
            "content": {
                media_type: {"schema": ref(op.body), "example": op.example}
                for media_type in op.body_media_types
            },
        }
    return document


def _tag(route: Route) -> Schema:
    module = sys.modules[route.endpoint.handler.__module__]
    summary = (module.__doc__ or "").strip().split("\n\n")[0]
    return {"name": route.endpoint.tag, "description": " ".join(summary.split())}


def _document_operation() -> Schema:
    return {
        "operationId": "get_openapi_document",
        "tags": ["openapi"],
        "summary": "This document",
        "description": "The OpenAPI 3.1 document of /api/v1. No authentication.",
        "security": [],
        "responses": {
            "200": {
                "description": "The document.",
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            "default": _response_ref("Error"),
        },
    }


def build_document(routes: Sequence[Route], prefix: str) -> Schema:
    """The OpenAPI 3.1 document of ``routes`` mounted under ``prefix``."""
    paths: dict[str, Schema] = {}
    tags: dict[str, Schema] = {}
    for route in routes:
        operations = paths.setdefault(prefix + route.path, {})
        method = route.method.lower()
        if method in operations:
            raise ValueError(f"{route.method} {route.path} is routed twice")
        operations[method] = _operation(route)
        tags.setdefault(route.endpoint.tag, _tag(route))
    paths[prefix + DOCUMENT_PATH] = {"get": _document_operation()}
    tags["openapi"] = {"name": "openapi", "description": "The API's own description."}
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {"title": TITLE, "version": API_VERSION, "description": _DESCRIPTION},
        "tags": list(tags.values()),
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": dict(components()),
            "responses": _RESPONSES,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An idmesh API token (`idmesh token create`).",
                }
            },
        },
    }


def document_handler(
    routes: Sequence[Route], prefix: str
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The handler serving the document (built once, on first request)."""
    cached: list[bytes] = []

    async def get_openapi_document(request: web.Request) -> web.Response:
        if not cached:
            cached.append(json.dumps(build_document(routes, prefix), indent=1).encode())
        return web.Response(body=cached[0], content_type="application/json")

    return get_openapi_document
