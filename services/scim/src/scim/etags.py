"""Versions as ETags (RFC 7644 §3.14) and If-Match preconditions.

A resource's ETag is the directory's version as a weak entity tag, ``W/"<version>"``; SCIM's own
examples use weak tags with If-Match, so tags compare by their opaque value, weak or not.
"""

from __future__ import annotations

from dataclasses import dataclass

from scim.errors import precondition_failed


def format_etag(version: int) -> str:
    return f'W/"{version}"'


@dataclass(frozen=True, slots=True)
class IfMatch:
    """A parsed If-Match header: ``any`` for "*", else the versions it names (tags that are not
    ours name no version and so match nothing)."""

    any: bool
    versions: frozenset[int]

    def expected_version(self) -> int | None:
        """The directory's expected_version: the one version named, 0 for "*" (no precondition
        beyond existence), None when the header names several versions or none of ours, and the
        caller must check ``matches`` against the current version itself."""
        if self.any:
            return 0
        if len(self.versions) == 1:
            return next(iter(self.versions))
        return None

    def matches(self, version: int) -> bool:
        return self.any or version in self.versions

    def check(self, version: int) -> None:
        """412 unless the current ``version`` satisfies the header."""
        if not self.matches(version):
            raise precondition_failed(
                f"If-Match does not match the current version {format_etag(version)}"
            )


def parse_if_match(header: str) -> IfMatch | None:
    """The If-Match header (RFC 9110 §13.1.1), or None when absent or blank."""
    header = header.strip()
    if not header:
        return None
    if header == "*":
        return IfMatch(True, frozenset())
    versions: set[int] = set()
    for raw in header.split(","):
        tag = raw.strip()
        if tag[:2] in ("W/", "w/"):
            tag = tag[2:]
        if len(tag) >= 2 and tag[0] == '"' and tag[-1] == '"':
            tag = tag[1:-1]
        if tag.isascii() and tag.isdigit() and len(tag) < 19:
            versions.add(int(tag))
    return IfMatch(False, frozenset(versions))
