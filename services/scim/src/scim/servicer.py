"""idmesh.scim.v1.ScimService: routes each forwarded SCIM request to its handler.

The gateway has authenticated the request, decoded and normalised its path and scoped it to one
account. Routing (paths relative to /scim/v2, resource types and ids as RFC 7644 §3.2 names them):

    /ServiceProviderConfig, /ResourceTypes[/{id}], /Schemas[/{id}]   GET (others 405)
    /Users, /Groups                                                   GET (list), POST (create)
    /Users/.search, /Groups/.search, /.search                         POST (RFC 7644 §3.4.3)
    /Users/{id}, /Groups/{id}                                         GET, PUT, PATCH, DELETE
    /Bulk, /Me                                                        501 (not supported)
    anything else                                                     404

A SCIM error is a *response* (RFC 7644 §3.12 body, status, scimType) that the gateway relays, not
an RPC failure: this is the one place ServiceErrors become SCIM error responses. Unexpected
exceptions still propagate to meshkit's interceptor (INTERNAL "internal error", trace id logged).

Every exchange, whatever its outcome, is recorded in the provisioning log (provisioning_log.py)
after it is answered, without waiting for the log to be written.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Final

import grpc

from idmesh.directory.v1 import directory_pb2 as pb
from idmesh.scim.v1 import scim_pb2, scim_pb2_grpc
from meshkit.errors import ServiceError
from scim import discovery, query, schemas
from scim.directory import Directory
from scim.errors import ScimHttpError
from scim.exchange import ScimRequest, ScimResponse, error_response
from scim.groups import Groups
from scim.provisioning_log import ProvisioningLog, event_for
from scim.search import search_all
from scim.users import Users

logger = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext[Any, Any]

_READS: Final = frozenset({"GET", "HEAD"})
_DISCOVERY: Final = {
    "serviceproviderconfig": "ServiceProviderConfig",
    "resourcetypes": "ResourceTypes",
    "schemas": "Schemas",
}
_UNSUPPORTED: Final = {
    "bulk": "bulk operations are not supported (see /ServiceProviderConfig)",
    "me": "/Me is not supported: a SCIM token is not a user",
}


def _not_allowed(method: str, path: str, allowed: str) -> ScimHttpError:
    return ScimHttpError(405, f"{method} is not allowed on {path}; allowed: {allowed}")


def _not_found(path: str) -> ScimHttpError:
    return ScimHttpError(404, f"no SCIM endpoint at {path}")


class ScimServicer(scim_pb2_grpc.ScimServiceServicer):
    def __init__(self, directory: Directory, *, log: ProvisioningLog | None = None) -> None:
        self.directory = directory
        self.users = Users(directory)
        self.groups = Groups(directory)
        self.log = log

    async def HandleRequest(
        self, request: scim_pb2.HandleRequestRequest, context: Context
    ) -> scim_pb2.HandleRequestResponse:
        started_at, started = time.time(), time.perf_counter()
        scim_request = ScimRequest.from_proto(request)
        response: ScimResponse | None = None
        error: ServiceError | None = None
        try:
            try:
                response = await self.route(scim_request)
            except ServiceError as caught:
                error = caught
                response = error_response(caught)
            return response.to_proto()
        except asyncio.CancelledError:
            # The gateway gave up (its deadline, or its client went away): the caller got a 504
            # or nothing, never an answer from here.
            response = ScimResponse(504)
            error = ScimHttpError(504, "cancelled before an answer")
            raise
        finally:
            if self.log is not None:
                self._record(scim_request, response, error, request.token_id, started_at, started)

    def _record(
        self,
        request: ScimRequest,
        response: ScimResponse | None,
        error: ServiceError | None,
        token_id: str,
        started_at: float,
        started: float,
    ) -> None:
        assert self.log is not None
        try:
            event = event_for(
                request,
                response,
                error,
                token_id=token_id,
                started_at=started_at,
                duration_seconds=time.perf_counter() - started,
            )
        except Exception:  # the log must never turn an answer into a failure
            logger.exception("provisioning log: could not describe a SCIM exchange")
            return
        self.log.record(event)

    async def route(self, request: ScimRequest) -> ScimResponse:
        segments = request.segments
        path = "/" + "/".join(segments)
        if not segments:
            raise _not_found(path)
        head = segments[0].lower()
        if head in _DISCOVERY:
            return await self.discovery(request, _DISCOVERY[head], segments[1:], path)
        if head in _UNSUPPORTED and len(segments) == 1:
            raise ScimHttpError(501, _UNSUPPORTED[head])
        if head == ".search" and len(segments) == 1:
            if request.method != "POST":
                raise _not_allowed(request.method, path, "POST")
            return await search_all(
                request,
                [(schemas.USER_RESOURCE, self.users), (schemas.GROUP_RESOURCE, self.groups)],
            )
        if head == "users":
            return await self.resource(request, self.users, schemas.USER_RESOURCE, segments, path)
        if head == "groups":
            return await self.resource(request, self.groups, schemas.GROUP_RESOURCE, segments, path)
        raise _not_found(path)

    async def resource(
        self,
        request: ScimRequest,
        handler: Users | Groups,
        resource_type: schemas.ResourceType,
        segments: tuple[str, ...],
        path: str,
    ) -> ScimResponse:
        method = request.method
        if len(segments) == 1:
            if method in _READS:
                return await handler.list(request, query.from_query(resource_type, request.query))
            if method == "POST":
                return await handler.create(request)
            raise _not_allowed(method, path, "GET, POST")
        if len(segments) != 2:
            raise _not_found(path)
        resource_id = segments[1]
        if resource_id == ".search":
            if method != "POST":
                raise _not_allowed(method, path, "POST")
            return await handler.list(request, query.from_search(resource_type, request.json()))
        if method in _READS:
            return await handler.get(request, resource_id)
        if method == "PUT":
            return await handler.replace(request, resource_id)
        if method == "PATCH":
            return await handler.patch(request, resource_id)
        if method == "DELETE":
            return await handler.delete(request, resource_id)
        raise _not_allowed(method, path, "GET, PUT, PATCH, DELETE")

    async def discovery(
        self, request: ScimRequest, endpoint: str, rest: tuple[str, ...], path: str
    ) -> ScimResponse:
        """RFC 7644 §4: read-only (405 otherwise), and a filter is 403 so that no client
        believes its conditions were applied. /Schemas lists the account's role names as the
        canonicalValues of ``roles.value`` and ``userType``."""
        if request.method not in _READS:
            raise _not_allowed(request.method, path, "GET")
        if request.has_parameter("filter"):
            raise ScimHttpError(403, f"/{endpoint} does not support filtering (RFC 7644 §4)")
        body: bytes | None
        if endpoint == "ServiceProviderConfig":
            if rest:
                raise _not_found(path)
            body = discovery.rendered(request.base_url, "spc")
        elif len(rest) > 1:
            raise _not_found(path)
        elif endpoint == "Schemas":
            schema = schemas.schema_by_id(rest[0]) if rest else None
            roles: tuple[str, ...] = ()
            if not rest or schema is schemas.USER:
                roles = await self._role_names(request.account_id)
            if rest:
                body = (
                    discovery.rendered(request.base_url, "schema", schema.id, roles)
                    if schema
                    else None
                )
            else:
                body = discovery.rendered(request.base_url, "schemas", "", roles)
        else:
            if rest:
                found = next(
                    (r for r in schemas.RESOURCE_TYPES if r.id.lower() == rest[0].lower()), None
                )
                body = (
                    discovery.rendered(request.base_url, "resource_type", found.id)
                    if found
                    else None
                )
            else:
                body = discovery.rendered(request.base_url, "resource_types")
        if body is None:
            raise ScimHttpError(404, f"no {endpoint} resource '{rest[0]}'")
        return ScimResponse(200, body)

    async def _role_names(self, account_id: str) -> tuple[str, ...]:
        roles = await self.directory.account_roles(account_id)
        return tuple(sorted(role.name for role in roles if role.scope == pb.ROLE_SCOPE_ACCOUNT))
