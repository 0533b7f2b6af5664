"""How an admin API operation is declared, documented, authorised and called.

A resource module writes each operation as a handler decorated with ``@endpoint(...)``: its
summary, query parameters, request and response schemas, whether it answers an ETag and honours
If-Match. The route table (``gateway.api.ROUTES``) pairs each endpoint with its method, path and
the one permission it requires. ``bind`` turns a route into the aiohttp handler that, in this
order, authenticates the bearer token and checks the permission (401/403 before anything about
the request is looked at), parses the query and the body against their declarations (400), and
calls the endpoint with a ``Call``: the caller's account, its audit actor and the directory.

Tenant isolation is structural: a handler gets the account only from ``call.account_id`` (the
token's account); ids from the URL or the body are looked up inside that account, so another
account's ids are 404 exactly like unknown ones.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import grpc
from aiohttp import web

from gateway.api.bodies import JSON_MEDIA_TYPES, MERGE_PATCH_MEDIA_TYPE, read_body
from gateway.api.query import NO_QUERY, Query, QueryValues
from gateway.auth import Principal, authenticate, has_permission
from gateway.clients import Clients
from gateway.state import CLIENTS
from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import PermissionDenied, ServiceError, from_rpc_error

if TYPE_CHECKING:
    from idmesh.directory.v1.directory_pb2_grpc import DirectoryServiceAsyncStub

Handler = Callable[["Call"], Awaitable[web.StreamResponse]]
Schema = dict[str, Any]

ACTOR_DISPLAY_NAME = "admin API"


@dataclass(frozen=True)
class Operation:
    """What the OpenAPI document says about an endpoint, and what ``bind`` enforces."""

    summary: str
    description: str = ""
    query: Query = NO_QUERY
    body: str | None = None
    """The component schema of the request body, validated before the handler runs."""
    example: Mapping[str, Any] | None = None
    """A valid request body (documented, and sent by the route-table tests)."""
    body_media_types: tuple[str, ...] = JSON_MEDIA_TYPES
    response: str | None = None
    """The component schema of the success response; None for 204 No Content."""
    status: int = 200
    etag: bool = False
    """The success response carries the resource's ETag (its version)."""
    if_match: bool = False
    """The operation honours If-Match (RFC 9110 §13.1.1)."""
    path_params: Mapping[str, Schema] = field(default_factory=dict)
    """Schemas of path parameters that are not UUIDs."""
    conflict: bool = False
    """The operation may answer 409 without a body (a state it checks does not hold yet)."""
    idempotent_create: bool = False
    """A create (201) that answers 200 with the existing resource when it is already there."""


@dataclass(frozen=True)
class Endpoint:
    handler: Handler
    operation: Operation

    @property
    def name(self) -> str:
        """The OpenAPI operationId."""
        return self.handler.__name__

    @property
    def tag(self) -> str:
        """The OpenAPI tag: the resource module's name."""
        return self.handler.__module__.rpartition(".")[2]


def endpoint(
    summary: str,
    *,
    description: str = "",
    query: Query = NO_QUERY,
    body: str | None = None,
    example: Mapping[str, Any] | None = None,
    merge_patch: bool = False,
    response: str | None = None,
    status: int = 200,
    etag: bool = False,
    if_match: bool = False,
    path_params: Mapping[str, Schema] | None = None,
    conflict: bool = False,
    idempotent_create: bool = False,
) -> Callable[[Handler], Endpoint]:
    """Declares an endpoint; ``merge_patch`` also accepts ``application/merge-patch+json``
    bodies (RFC 7396)."""
    if body is not None and example is None:
        raise ValueError(f"the {summary!r} endpoint needs an example body")
    operation = Operation(
        summary=summary,
        description=description,
        query=query,
        body=body,
        example=example,
        body_media_types=(
            (*JSON_MEDIA_TYPES, MERGE_PATCH_MEDIA_TYPE) if merge_patch else JSON_MEDIA_TYPES
        ),
        response=response,
        status=status,
        etag=etag,
        if_match=if_match,
        path_params=dict(path_params or {}),
        conflict=conflict,
        idempotent_create=idempotent_create,
    )
    return lambda handler: Endpoint(handler, operation)


@dataclass(frozen=True)
class Route:
    """One row of the route table: ``permission`` None means any valid token of the account."""

    method: str
    path: str
    """Relative to /api/v1, e.g. ``/users/{user_id}``."""
    permission: str | None
    endpoint: Endpoint


@dataclass(frozen=True)
class Call:
    """One authorised call of an endpoint, with its parsed query and validated body."""

    request: web.Request
    principal: Principal
    clients: Clients
    query: QueryValues
    body: dict[str, Any]

    @property
    def account_id(self) -> str:
        """The token's account: the only account a handler ever names to the directory."""
        return self.principal.account_id

    @property
    def directory(self) -> DirectoryServiceAsyncStub:
        return self.clients.directory

    @property
    def actor(self) -> pb.Actor:
        """The audit actor of changes made through the API: the token that made them."""
        return pb.Actor(
            type=pb.ACTOR_TYPE_ADMIN_API,
            id=self.principal.token_id,
            display_name=ACTOR_DISPLAY_NAME,
        )

    def path(self, name: str) -> str:
        """A path parameter."""
        return self.request.match_info[name]


def bind(route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler of ``route``: authenticate and authorise, parse, call."""
    operation = route.endpoint.operation

    async def handle(request: web.Request) -> web.StreamResponse:
        clients = request.config_dict[CLIENTS]
        principal = await authenticate(request, clients, None)
        if route.permission is not None and not has_permission(
            principal.permissions, route.permission
        ):
            raise PermissionDenied(_lacking(route.permission), reason="insufficient_scope")
        query = operation.query.parse(request.query)
        body: dict[str, Any] = {}
        if operation.body is not None:
            body = await read_body(request, operation.body, operation.body_media_types)
        call = Call(request, principal, clients, query, body)
        try:
            return await route.endpoint.handler(call)
        except grpc.aio.AioRpcError as error:
            raise _with_public_field(error) from None

    handle.__name__ = route.endpoint.name
    return handle


def _lacking(permission: str) -> str:
    resource, _, action = permission.rpartition(":")
    if action == "read":
        # Either permission will do: name both, so the operator can pick.
        return f"The token lacks the permission {permission!r} ({resource}:manage includes it)."
    return f"The token lacks the permission {permission!r}."


# The directory names request fields after its messages ("user.user_name", "page.page_token");
# the API's fields are the JSON members and query parameters.
_FIELD_RENAMES = {
    "page.page_token": "page_token",
    "page.page_size": "page_size",
    "page": "page_token",
    "add_user_ids": "user_ids",
    "remove_user_ids": "user_id",
    "group.members": "member_ids",
}
_FIELD_PREFIXES = ("user.", "space.", "role.", "group.")


def public_field(name: str) -> str:
    """The API's name of a directory request field."""
    if name in _FIELD_RENAMES:
        return _FIELD_RENAMES[name]
    for prefix in _FIELD_PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def _with_public_field(error: grpc.aio.AioRpcError) -> BaseException:
    """``error`` as the ServiceError the directory raised, its field renamed; errors without a
    field (and transport failures) propagate unchanged to the error middleware."""
    rebuilt = from_rpc_error(error)
    if not rebuilt.field or type(rebuilt) is ServiceError:
        return error
    rebuilt.field = public_field(rebuilt.field)
    return rebuilt
