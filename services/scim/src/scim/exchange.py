"""One SCIM exchange: the request the gateway forwards (already authenticated, path decoded and
normalised, scoped to one account) and the response the gateway relays.

Bodies: ``application/scim+json`` and ``application/json`` are accepted (Okta's SPEC test sends
the latter, docs/scim-clients.md §4), anything else is 415; more than MAX_PAYLOAD_BYTES is
413; invalid JSON is 400 invalidSyntax. Responses are ``application/scim+json`` (set by the
gateway) in UTF-8.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from idmesh.directory.v1 import directory_pb2 as pb
from idmesh.scim.v1 import scim_pb2
from meshkit import strict_json
from meshkit.errors import ServiceError
from scim.discovery import MAX_PAYLOAD_BYTES
from scim.errors import ScimHttpError, invalid_syntax, to_scim_error
from scim.etags import IfMatch, parse_if_match

Json = Any

# An empty type (no header) and aiohttp's stand-in for a missing header are read as JSON, as the
# gateway does: lenient to clients that omit Content-Type.
_JSON_TYPES: Final = frozenset(
    {"application/scim+json", "application/json", "", "application/octet-stream"}
)


def parse_json(body: bytes) -> Json:
    """``body`` as strict JSON (meshkit.strict_json); invalid_syntax naming the problem
    otherwise (RFC 7644 §3.12)."""
    try:
        return strict_json.loads(body)
    except strict_json.JsonRefused as refused:
        raise invalid_syntax(str(refused)) from None


@dataclass(frozen=True)
class ScimRequest:
    account_id: str
    actor: pb.Actor
    method: str
    # The path relative to /scim/v2, split: ("Users", "2819c223").
    segments: tuple[str, ...]
    query: tuple[tuple[str, str], ...]
    if_match: IfMatch | None
    content_type: str
    body: bytes
    base_url: str

    @classmethod
    def from_proto(cls, request: scim_pb2.HandleRequestRequest) -> ScimRequest:
        return cls(
            account_id=request.account_id,
            actor=pb.Actor(
                type=pb.ACTOR_TYPE_SCIM_TOKEN, id=request.token_id, display_name="SCIM token"
            ),
            method=request.method.upper(),
            segments=tuple(s for s in request.path.split("/") if s),
            query=tuple((q.name, q.value) for q in request.query),
            if_match=parse_if_match(request.if_match),
            content_type=request.content_type.split(";", 1)[0].strip().lower(),
            body=request.body,
            base_url=request.base_url.rstrip("/"),
        )

    def has_parameter(self, name: str) -> bool:
        lowered = name.lower()
        return any(key.lower() == lowered for key, _ in self.query)

    def json(self) -> Json:
        """The JSON body: 415 for another media type, 413 when too large, 400 invalidSyntax when
        empty or not JSON (NaN and Infinity included: they are not JSON), see parse_json."""
        if self.content_type not in _JSON_TYPES:
            raise ScimHttpError(
                415,
                f"Content-Type {self.content_type!r} is not supported; send application/scim+json",
            )
        if len(self.body) > MAX_PAYLOAD_BYTES:
            raise ScimHttpError(413, f"the request body is larger than {MAX_PAYLOAD_BYTES} bytes")
        if not self.body.strip():
            raise invalid_syntax("the request body is empty")
        return parse_json(self.body)


@dataclass(frozen=True)
class ScimResponse:
    status: int
    body: bytes = b""
    etag: str = ""
    location: str = ""

    def to_proto(self) -> scim_pb2.HandleRequestResponse:
        return scim_pb2.HandleRequestResponse(
            status=self.status, body=self.body, etag=self.etag, location=self.location
        )


def encode(document: Json) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def json_response(
    status: int, document: Json, *, etag: str = "", location: str = ""
) -> ScimResponse:
    return ScimResponse(status, encode(document), etag, location)


def error_response(error: ServiceError) -> ScimResponse:
    """The RFC 7644 §3.12 error response for ``error``."""
    body = to_scim_error(error)
    return ScimResponse(body.status, body.render())


NO_CONTENT: Final = ScimResponse(204)
