"""``attributes`` and ``excludedAttributes`` (RFC 7644 §3.4.2.5, §3.9) with the ``returned``
characteristics of RFC 7643 §7:

- ``always`` (``id``) is returned whatever is asked, and ``schemas`` with it;
- ``never`` (``password``) is never returned (convert.py never produces it);
- ``default`` is returned unless excluded, or unless ``attributes`` names other attributes;
- ``request`` (User ``groups``) is returned only when ``attributes`` names it.

Names are attribute paths in any case, URN-qualified or not, and may name a sub-attribute
(``name.givenName``, ``emails.value``) or a whole extension by its URN. Names that match no
attribute are ignored: asking for what does not exist returns nothing of it, whereas an unknown
attribute in a *filter* is an error because it would change which resources match.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scim import schemas
from scim.schemas import ALWAYS, REQUEST, ResourceType

Json = Any

# (container, attribute name): container is None for core and common attributes, else the
# extension URN; the value is the selected sub-attribute names, or None for the whole attribute.
_Key = tuple[str | None, str]


def split_names(text: str | None) -> list[str]:
    """A comma-separated parameter value as a list of names (RFC 7644 §3.4.2.5)."""
    if not text:
        return []
    return [name.strip() for name in text.split(",") if name.strip()]


@dataclass(frozen=True)
class Projection:
    """What of a resource to return; build with ``Projection.parse``."""

    resource_type: ResourceType
    include: dict[_Key, frozenset[str] | None] | None
    include_extensions: frozenset[str]
    exclude: dict[_Key, frozenset[str] | None]

    @classmethod
    def parse(
        cls,
        resource_type: ResourceType,
        attributes: list[str] | None = None,
        excluded: list[str] | None = None,
    ) -> Projection:
        """From the parameter values; ``attributes`` wins when a client sends both."""
        include: dict[_Key, frozenset[str] | None] | None = None
        extensions: set[str] = set()
        exclude: dict[_Key, frozenset[str] | None] = {}
        if attributes:
            include = {}
            for name in attributes:
                resolved = schemas.resolve_text(resource_type, name)
                if resolved is None:
                    continue
                if resolved.attribute is None:
                    extensions.add(resolved.schema.id)
                    continue
                _select(include, resolved)
        elif excluded:
            for name in excluded:
                resolved = schemas.resolve_text(resource_type, name)
                if resolved is None:
                    continue
                if resolved.attribute is None:
                    extensions.add(resolved.schema.id)
                    continue
                if resolved.attribute.returned == ALWAYS:
                    continue
                _select(exclude, resolved)
        return cls(resource_type, include, frozenset(extensions), exclude)

    def wants(self, name: str, container: str | None = None) -> bool:
        """Whether the top-level attribute ``name`` (canonical spelling) is returned: tells the
        servicer whether to load group members or a user's groups at all."""
        resolved = schemas.resolve(self.resource_type, schemas.AttrPath(container, name))
        if resolved is None or resolved.attribute is None:
            return False
        attribute = resolved.attribute
        key = (resolved.container, attribute.name)
        if attribute.returned == ALWAYS:
            return True
        if self.include is not None:
            return key in self.include or (
                resolved.container is not None and resolved.container in self.include_extensions
            )
        if attribute.returned == REQUEST:
            return False
        if resolved.container is not None and resolved.container in self.include_extensions:
            return False  # the whole extension is excluded
        return self.exclude.get(key, ()) is not None

    def apply(self, resource: dict[str, Json]) -> dict[str, Json]:
        """The projected copy of a canonical resource (``resource`` is not modified)."""
        if self.include is None and not self.exclude and not self.include_extensions:
            return resource
        out: dict[str, Json] = {}
        for key, value in resource.items():
            if key == "schemas":
                out[key] = value
                continue
            extension = self.resource_type.extension(key)
            if extension is not None:
                projected = self._apply_extension(extension.id, value)
                if projected:
                    out[key] = projected
                continue
            projected = self._project(None, key, value)
            if projected is not None:
                out[key] = projected
        core = self.resource_type.schema.id
        out["schemas"] = [core, *(e.id for e in self.resource_type.extensions if e.id in out)]
        return out

    def _apply_extension(self, urn: str, value: Json) -> Json:
        if not isinstance(value, dict):
            return None
        if self.include is not None and urn in self.include_extensions:
            return value
        if self.include is None and urn in self.include_extensions:
            return None
        out = {}
        for name, item in value.items():
            projected = self._project(urn, name, item)
            if projected is not None:
                out[name] = projected
        return out or None

    def _project(self, container: str | None, name: str, value: Json) -> Json:
        resolved = schemas.resolve(self.resource_type, schemas.AttrPath(container, name))
        attribute = resolved.attribute if resolved is not None else None
        if attribute is not None and attribute.returned == ALWAYS:
            return value
        key = (container, name)
        if self.include is not None:
            if key not in self.include:
                return None
            return _only(value, self.include[key])
        if key not in self.exclude:
            return value
        subs = self.exclude[key]
        return None if subs is None else _without(value, subs)


def _select(selection: dict[_Key, frozenset[str] | None], resolved: schemas.Resolved) -> None:
    assert resolved.attribute is not None
    key = (resolved.container, resolved.attribute.name)
    if resolved.sub is None:
        selection[key] = None
        return
    if key in selection and selection[key] is None:
        return  # the whole attribute is already selected
    selection[key] = (selection.get(key) or frozenset()) | {resolved.sub.name}


def _only(value: Json, subs: frozenset[str] | None) -> Json:
    if subs is None:
        return value
    if isinstance(value, list):
        kept = [_only(item, subs) for item in value]
        kept = [item for item in kept if item]
        return kept or None
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k in subs} or None
    return None


def _without(value: Json, subs: frozenset[str]) -> Json:
    if isinstance(value, list):
        kept = [_without(item, subs) for item in value]
        kept = [item for item in kept if item]
        return kept or None
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k not in subs} or None
    return value
