"""One SCIM exchange: the request the gateway forwards (already authenticated, path decoded and
normalised, scoped to one account) and the response the gateway relays.

Bodies: ``application/scim+json`` and ``application/json`` are accepted (Okta's SPEC test sends
the latter, reference/scim-clients.md §4), anything else is 415; more than MAX_PAYLOAD_BYTES is
413; invalid JSON is 400 invalidSyntax. Responses are ``application/scim+json`` (set by the
gateway) in UTF-8.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from idmesh.directory.v1 import directory_pb2 as pb
from idmesh.scim.v1 import scim_pb2
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


# SCIM resources nest a handful of levels (a PATCH value of an extension's complex attribute is
# the deepest, about 7); anything deeper is hostile and refused before a recursive walk sees it.
MAX_BODY_DEPTH: Final = 32
# Python's int() refuses more digits than this (sys.get_int_max_str_digits()); no SCIM value is a
# number anywhere near it.
MAX_NUMBER_DIGITS: Final = 4300


class BodyProblem(ValueError):
    """A body that is JSON by the letter but refused: its message is the client's detail."""


def _reject_constant(name: str) -> Json:
    raise BodyProblem(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise BodyProblem("a number is too large to represent")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise BodyProblem(f"a number has more than {MAX_NUMBER_DIGITS} digits")
    return int(text)


def _unique_members(pairs: list[tuple[str, Json]]) -> dict[str, Json]:
    """RFC 8259 §4: names SHOULD be unique, and receivers disagree on which duplicate wins; a
    SCIM body that names an attribute twice is ambiguous, so it is refused."""
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                shown = f'"{name}"' if len(name) <= 64 and name.isprintable() else "a member"
                raise BodyProblem(f"{shown} appears twice in one object")
            seen.add(name)
    return document


def _too_deep(document: Json) -> bool:
    pending = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_BODY_DEPTH:
            return True
        if isinstance(value, dict):
            pending.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)
    return False


def parse_json(body: bytes) -> Json:
    """``body`` as JSON text (RFC 8259) in UTF-8 (§8.1: "MUST be encoded using UTF-8"; a leading
    byte order mark is ignored, as §8.1 allows); raises invalid_syntax with a detail naming the
    problem: not UTF-8, malformed (with the position), NaN/Infinity, a number out of range, a
    duplicate member, nesting deeper than MAX_BODY_DEPTH."""
    if b"\x00" in body:
        # No JSON text contains a NUL byte; UTF-16 and UTF-32 texts are full of them.
        raise invalid_syntax("the request body is not UTF-8 JSON (RFC 8259 §8.1): it has NUL bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise invalid_syntax(
            f"the request body is not UTF-8 (RFC 8259 §8.1): invalid byte at offset {error.start}"
        ) from None
    try:
        document = json.loads(
            text.removeprefix("\ufeff"),
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            parse_int=_bounded_int,
            object_pairs_hook=_unique_members,
        )
    except BodyProblem as problem:
        raise invalid_syntax(f"the request body is refused: {problem}") from None
    except json.JSONDecodeError as error:
        raise invalid_syntax(
            f"the request body is not valid JSON: {error.msg} at line {error.lineno} column "
            f"{error.colno}"
        ) from None
    except (ValueError, RecursionError):
        raise invalid_syntax(
            f"the request body is not valid JSON or nests deeper than {MAX_BODY_DEPTH} levels"
        ) from None
    if _too_deep(document):
        raise invalid_syntax(f"the request body nests deeper than {MAX_BODY_DEPTH} levels")
    return document


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
