"""PATCH (RFC 7644 §3.5.2) applied to a canonical resource, with the dialects of real clients.

``apply_patch`` takes the resource as the client sees it (values.py's canonical form) and the
request body, and returns the new resource. It never mutates its input. Semantics:

- **add** (§3.5.2.1): a missing attribute is set; a simple one is replaced; a complex one has its
  sub-attributes merged; a multi-valued one gets the new values appended (a value equal to an
  existing one by ``value`` and ``type`` is merged into it instead of duplicated).
- **replace** (§3.5.2.3): a simple attribute is set; a complex one has the given sub-attributes
  replaced and the others left unchanged (the RFC's words); a multi-valued one without a filter is
  replaced as a whole; with a filter every matching element is replaced (``.sub`` on a filter:
  that sub-attribute of every match).
- **remove** (§3.5.2.2): the attribute, the sub-attribute or the elements matched by a filter are
  removed; removing a required attribute is 400 ``mutability``; remove without a path is 400
  ``noTarget``. A filter that matches nothing removes nothing (retries of a remove must not fail).
- Filtered add/replace that match nothing create the element when the filter is ``eq``
  comparisons joined by ``and`` (``emails[type eq "work"].value``), else 400 ``noTarget``.
- Setting ``primary: true`` on one element clears it on the others (RFC 7643 §2.4).
- ``add``/``replace`` without a path take an object whose keys are each applied as a path.

Client dialects accepted (docs/scim-clients.md §3, §4):

- ``op`` in any case (Entra's "Replace"); unknown extra URIs in ``schemas`` ignored;
- "True"/"False" strings for booleans, bare-string manager (values.py);
- dotted and URN-qualified keys in no-path values (Entra with ``aadOptscim062020``), expanded as
  paths, never stored as literal keys;
- ``remove`` on a multi-valued path *with a value* removes only the listed values (Entra's default
  member removal; a strict reading would remove every member);
- read-only ``id`` (Okta's group rename) and ``meta`` are ignored when they leave the resource
  as it is; a different ``id`` is 400 ``mutability``;
- ``null`` as a replace value clears the attribute; ``null`` as an add value adds nothing.

Group members are usually not loaded (groups can be large): with ``track_members`` the operations
on ``members`` are folded, in order, into a ``MembershipChange`` (ids to add and remove, or the
exact new list) that the servicer turns into one ModifyGroupMembers or UpdateGroup call.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Final

from scim import schemas
from scim.errors import (
    invalid_syntax,
    invalid_value,
    mutability,
    no_target,
)
from scim.filters import Compare, Expr, Or, invalid_filter
from scim.paths import PatchPath, element_matches, eq_assignments, parse_path
from scim.schemas import Attribute, Resolved, ResourceType
from scim.values import get_value, normalize, normalize_element, normalize_scalar, set_value

Json = Any

MAX_OPERATIONS: Final = 1000
_OPS: Final = frozenset({"add", "replace", "remove"})


@dataclass
class MembershipChange:
    """What a PATCH does to a group's members, in order.

    ``replace`` is the exact new member list when an operation replaced or cleared the members;
    otherwise ``add`` and ``remove`` are the ids to add and remove (disjoint; the last operation
    on an id wins, so Okta's remove + add of one member in one PATCH ends with the member)."""

    replace: dict[str, None] | None = None
    add: dict[str, None] = field(default_factory=dict)
    remove: dict[str, None] = field(default_factory=dict)

    def add_member(self, user_id: str) -> None:
        if self.replace is not None:
            self.replace[user_id] = None
        else:
            self.remove.pop(user_id, None)
            self.add[user_id] = None

    def remove_member(self, user_id: str) -> None:
        if self.replace is not None:
            self.replace.pop(user_id, None)
        else:
            self.add.pop(user_id, None)
            self.remove[user_id] = None

    def set_members(self, user_ids: list[str]) -> None:
        self.replace = dict.fromkeys(user_ids)
        self.add.clear()
        self.remove.clear()

    @property
    def added(self) -> list[str]:
        return list(self.add)

    @property
    def removed(self) -> list[str]:
        return list(self.remove)

    @property
    def members(self) -> list[str] | None:
        """The exact member list, or None when the change is a delta."""
        return None if self.replace is None else list(self.replace)


@dataclass(frozen=True)
class PatchResult:
    resource: dict[str, Json]
    # None unless track_members was set and an operation touched members.
    members: MembershipChange | None


def apply_patch(
    resource_type: ResourceType,
    resource: dict[str, Json],
    body: Json,
    *,
    track_members: bool = False,
) -> PatchResult:
    """Applies a PatchOp request (RFC 7644 §3.5.2) to ``resource``; see the module docstring.

    All operations apply in order and atomically: any failure raises before a result exists."""
    operations = _operations(body)
    patcher = _Patcher(resource_type, copy.deepcopy(resource), track_members)
    for index, operation in enumerate(operations):
        patcher.apply(index, operation)
    return PatchResult(patcher.resource, patcher.members)


def _operations(body: Json) -> list[Json]:
    if not isinstance(body, dict):
        raise invalid_syntax("the PATCH body must be a JSON object")
    operations: Json = None
    for key, value in body.items():
        lowered = key.lower()
        if lowered == "schemas":
            # RFC 7644 §3.5.2 names PatchOp; extra URIs are ignored, and a client that omits
            # the list entirely is served rather than refused.
            if value is not None and not (
                isinstance(value, list) and all(isinstance(v, str) for v in value)
            ):
                raise invalid_syntax("'schemas' must be a list of URIs", "schemas")
        elif lowered == "operations":
            operations = value
    if not isinstance(operations, list) or not operations:
        raise invalid_syntax("'Operations' must be a non-empty list", "Operations")
    if len(operations) > MAX_OPERATIONS:
        raise invalid_syntax(f"a PATCH may carry at most {MAX_OPERATIONS} operations", "Operations")
    return operations


class _Patcher:
    def __init__(self, resource_type: ResourceType, resource: dict[str, Json], track: bool) -> None:
        self.resource_type = resource_type
        self.resource = resource
        self.track = track
        self.members: MembershipChange | None = None

    # -- dispatch -------------------------------------------------------------------------------

    def apply(self, index: int, operation: Json) -> None:
        where = f"Operations[{index}]"
        if not isinstance(operation, dict):
            raise invalid_syntax(f"{where} must be an object", where)
        op: Json = None
        path: Json = None
        value: Json = None
        has_value = False
        for key, item in operation.items():
            lowered = key.lower()
            if lowered == "op":
                op = item
            elif lowered == "path":
                path = item
            elif lowered == "value":
                value, has_value = item, True
        # Entra capitalises op ("Replace"); Microsoft asks servers not to be case-sensitive.
        if not isinstance(op, str) or op.lower() not in _OPS:
            raise invalid_syntax(f"{where}.op must be add, replace or remove", f"{where}.op")
        op = op.lower()
        if path is not None and not isinstance(path, str):
            raise invalid_syntax(f"{where}.path must be a string", f"{where}.path")
        if path is None or not path.strip():
            if op == "remove":
                raise no_target(f"{where}: remove needs a path (RFC 7644 §3.5.2.2)")
            if not has_value or not isinstance(value, dict):
                raise invalid_syntax(
                    f"{where}: {op} without a path needs an object of attributes as its value",
                    f"{where}.value",
                )
            self.apply_object(op, value, where)
            return
        if op != "remove" and not has_value:
            raise invalid_syntax(f"{where}: {op} needs a value", f"{where}.value")
        self.apply_path(op, parse_path(self.resource_type, path), value, where)

    def apply_object(self, op: str, value: dict[str, Json], where: str) -> None:
        """add/replace without a path: every key is a path of its own (dotted and URN keys
        included, as Entra sends them with aadOptscim062020)."""
        for key, item in value.items():
            if key.lower() == "schemas":
                continue
            resolved = schemas.resolve_text(self.resource_type, key)
            if resolved is None:
                if item is None:
                    continue
                raise invalid_syntax(f"{where}: unknown attribute '{key}' (see /Schemas)", key)
            self.apply_path(op, PatchPath(key, resolved), item, where)

    def apply_path(self, op: str, path: PatchPath, value: Json, where: str) -> None:
        resolved = path.resolved
        attribute = resolved.attribute
        if attribute is None:
            self.apply_extension(op, resolved, value, where)
            return
        if attribute.name == "meta" and resolved.container is None:
            return  # read-only and echoed back by clients: never an error, never a change
        if attribute.name == "password" and resolved.container is None:
            # Write-only and never stored (docs/scim-clients.md §4): checked, then dropped.
            normalize(attribute, value, "password")
            return
        if self.track and attribute.name == "members" and resolved.container is None:
            self.apply_members(op, path, value, where)
            return
        target = resolved.sub or attribute
        if attribute.read_only or target.read_only:
            self.check_unchanged(op, path, value, where)
            return
        if op == "remove":
            self.remove(path, value, where)
        else:
            self.add_or_replace(op, path, value, where)

    def apply_extension(self, op: str, resolved: Resolved, value: Json, where: str) -> None:
        """A path (or no-path key) naming a whole extension, e.g. the enterprise URN."""
        if op == "remove":
            set_value(self.resource, resolved, None)
            return
        if value is None:
            if op == "replace":
                set_value(self.resource, resolved, None)
            return
        if not isinstance(value, dict):
            raise invalid_syntax(f"{where}: '{resolved.schema.id}' takes an object", where)
        for key, item in value.items():
            if key.lower() == "schemas":
                continue  # scim2-models and others repeat the URN inside the extension
            name, _, sub = key.partition(".")
            found = schemas.resolve(
                self.resource_type, schemas.AttrPath(resolved.schema.id, name, sub or None)
            )
            if found is None:
                if item is None:
                    continue
                raise invalid_syntax(
                    f"{where}: '{resolved.schema.id}' has no attribute '{key}' (see /Schemas)", key
                )
            self.apply_path(op, PatchPath(key, found), item, where)

    def check_unchanged(self, op: str, path: PatchPath, value: Json, where: str) -> None:
        """Read-only attributes may be sent only as they are: Okta's group rename carries the
        group's own ``id`` (docs/scim-clients.md §4)."""
        current = get_value(self.resource, path.resolved)
        if op != "remove" and path.filter is None and _same(current, value):
            return
        raise mutability(f"{where}: '{path.resolved.display}' is read-only", path.resolved.display)

    # -- remove ---------------------------------------------------------------------------------

    def remove(self, path: PatchPath, value: Json, where: str) -> None:
        resolved = path.resolved
        attribute = resolved.attribute
        assert attribute is not None
        if path.filter is None and resolved.sub is None:
            if attribute.required:
                raise mutability(
                    f"{where}: '{resolved.display}' is required and cannot be removed",
                    resolved.display,
                )
            if attribute.multi_valued and value is not None:
                # Entra's default member removal: remove only the listed values.
                self.remove_listed(resolved, value, where)
                return
            set_value(self.resource, resolved, None)
            return
        if path.filter is None:
            assert resolved.sub is not None
            if attribute.multi_valued:
                elements = self.elements(resolved)
                for element in elements:
                    element.pop(resolved.sub.name, None)
                self.store(resolved, [e for e in elements if e])
            elif resolved.sub.required:
                # A manager without its value means no manager.
                set_value(self.resource, _whole(resolved), None)
            else:
                set_value(self.resource, resolved, None)
            return
        elements = self.elements(resolved)
        if resolved.sub is None:
            kept = [e for e in elements if not element_matches(attribute, e, path.filter)]
        else:
            kept = []
            for element in elements:
                if element_matches(attribute, element, path.filter):
                    element.pop(resolved.sub.name, None)
                if element:
                    kept.append(element)
        self.store(resolved, kept)

    def remove_listed(self, resolved: Resolved, value: Json, where: str) -> None:
        assert resolved.attribute is not None
        attribute = resolved.attribute
        listed = normalize(attribute, value, resolved.display) or []
        elements = self.elements(resolved)
        kept = [e for e in elements if not any(_same_element(attribute, e, x) for x in listed)]
        self.store(resolved, kept)

    # -- add / replace --------------------------------------------------------------------------

    def add_or_replace(self, op: str, path: PatchPath, value: Json, where: str) -> None:
        resolved = path.resolved
        attribute = resolved.attribute
        assert attribute is not None
        sub = resolved.sub
        if sub is not None:
            new = normalize_scalar(sub, value, resolved.display)
        elif path.filter is not None:
            new = normalize_element(attribute, value, resolved.display)
        else:
            new = normalize(attribute, value, resolved.display)
        if new is None:
            if op == "add":
                return  # nothing to add
            if sub is None and attribute.required and path.filter is None:
                raise invalid_value(
                    f"{where}: '{resolved.display}' is required and cannot be cleared",
                    resolved.display,
                )
            self.remove(path, None, where)
            return
        if path.filter is not None:
            self.set_filtered(op, path, new, where)
        elif attribute.multi_valued:
            if sub is not None:
                elements = self.elements(resolved)
                if not elements:
                    raise no_target(
                        f"{where}: '{attribute.name}' has no values to set {sub.name} on"
                    )
                for element in elements:
                    element[sub.name] = new
                self.store(resolved, elements, touched=elements if sub.name == "primary" else ())
            elif op == "replace":
                self.store(resolved, new, touched=new)
            else:
                self.append(resolved, new)
        elif attribute.is_complex and sub is None:
            current = get_value(self.resource, resolved)
            merged = {**current, **new} if isinstance(current, dict) else new
            set_value(self.resource, resolved, merged)
        else:
            set_value(self.resource, resolved, new)

    def set_filtered(self, op: str, path: PatchPath, new: Json, where: str) -> None:
        resolved = path.resolved
        attribute = resolved.attribute
        assert attribute is not None
        assert path.filter is not None
        sub = resolved.sub
        elements = self.elements(resolved)
        matched = [e for e in elements if element_matches(attribute, e, path.filter)]
        if not matched:
            created = eq_assignments(attribute, path.filter)
            if created is None:
                raise no_target(f"{where}: no value of '{attribute.name}' matches '{path.text}'")
            element = {**created, sub.name: new} if sub is not None else {**created, **new}
            elements.append(element)
            self.store(resolved, elements, touched=[element])
            return
        for element in matched:
            if sub is not None:
                element[sub.name] = new
            elif op == "replace":
                # The element is replaced; the filter's own eq values are kept so that it stays
                # selectable by the same path (replace addresses[type eq "work"] with no type).
                element.clear()
                element.update({**(eq_assignments(attribute, path.filter) or {}), **new})
            else:
                element.update(new)
        touched = matched if sub is None or sub.name == "primary" else ()
        self.store(resolved, elements, touched=touched)

    def append(self, resolved: Resolved, new: list[Json]) -> None:
        assert resolved.attribute is not None
        attribute = resolved.attribute
        elements = self.elements(resolved)
        touched = []
        for item in new:
            existing = next((e for e in elements if _same_element(attribute, e, item)), None)
            if existing is None:
                elements.append(item)
                touched.append(item)
            elif isinstance(existing, dict) and isinstance(item, dict):
                existing.update(item)
                touched.append(existing)
        self.store(resolved, elements, touched=touched)

    # -- members (groups) -----------------------------------------------------------------------

    def apply_members(self, op: str, path: PatchPath, value: Json, where: str) -> None:
        assert path.resolved.attribute is not None
        attribute = path.resolved.attribute
        change = self.members = self.members or MembershipChange()
        if path.resolved.sub is not None:
            raise mutability(
                f"{where}: members are added and removed by value; their sub-attributes cannot "
                "be changed",
                "members",
            )
        if path.filter is not None:
            if op != "remove":
                raise mutability(
                    f"{where}: members are added with add and a list of values, not changed "
                    "through a filter",
                    "members",
                )
            for user_id in _member_ids_from_filter(path.filter):
                change.remove_member(user_id)
            return
        ids = _member_ids(attribute, value, where)
        if op == "add":
            for user_id in ids:
                change.add_member(user_id)
        elif op == "replace":
            change.set_members(ids)
        elif value is None:
            change.set_members([])
        else:
            # Entra's default dialect: remove with a value removes only the listed members.
            for user_id in ids:
                change.remove_member(user_id)

    # -- helpers --------------------------------------------------------------------------------

    def elements(self, resolved: Resolved) -> list[Json]:
        whole = _whole(resolved)
        current = get_value(self.resource, whole)
        return list(current) if isinstance(current, list) else []

    def store(self, resolved: Resolved, elements: list[Json], touched: Any = ()) -> None:
        """Stores the elements of a multi-valued attribute; the last touched element with
        ``primary: true`` stays primary and every other loses it (RFC 7643 §2.4)."""
        primaries = [e for e in touched if isinstance(e, dict) and e.get("primary") is True]
        if primaries:
            keep = primaries[-1]
            for element in elements:
                if element is not keep and isinstance(element, dict):
                    element.pop("primary", None)
        set_value(self.resource, _whole(resolved), elements or None)


def _whole(resolved: Resolved) -> Resolved:
    return Resolved(resolved.schema, resolved.attribute, None, resolved.container)


_EMPTY: Final[tuple[Json, ...]] = (None, "", [], {})


def _same(current: Json, value: Json) -> bool:
    """Equality where every spelling of "nothing" is equal (Okta sends ``groups: []``)."""
    if current in _EMPTY and value in _EMPTY:
        return True
    return bool(current == value)


def _same_element(attribute: Attribute, element: Json, other: Json) -> bool:
    """Whether ``other`` names the same value as ``element``: by ``value`` (and ``type`` when
    both have one) for complex values with a value, by equality otherwise."""
    if not (isinstance(element, dict) and isinstance(other, dict)):
        return bool(element == other)
    value_sub = attribute.sub("value")
    if value_sub is None or "value" not in other:
        return bool(element == other)
    left, right = element.get("value"), other.get("value")
    if isinstance(left, str) and isinstance(right, str) and not value_sub.case_exact:
        left, right = left.casefold(), right.casefold()
    if left != right:
        return False
    if "type" in element and "type" in other:
        return bool(str(element["type"]).lower() == str(other["type"]).lower())
    return True


def _member_ids(attribute: Attribute, value: Json, where: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    ids: list[str] = []
    for item in items:
        if item is None:
            continue
        element = normalize_element(attribute, item, "members") or {}
        member_type = element.get("type")
        if member_type is not None and member_type.lower() != "user":
            # Nested groups are not provisioned (Entra does not send them either).
            raise invalid_value(
                f"{where}: nested groups are not supported; members must be users "
                f"(got type '{member_type}')",
                "members",
            )
        member_id = element.get("value")
        if not member_id:
            raise invalid_value(f"{where}: every member needs a value (a user id)", "members")
        ids.append(member_id)
    return ids


def _member_ids_from_filter(expr: Expr) -> list[str]:
    """The ids of ``members[value eq "a" or value eq "b"]``: members are selected by id only,
    since the group's member list is not loaded to evaluate anything else."""
    items = expr.items if isinstance(expr, Or) else (expr,)
    ids: list[str] = []
    for item in items:
        if not (
            isinstance(item, Compare)
            and item.op == "eq"
            and item.path.name.lower() == "value"
            and isinstance(item.value, str)
        ):
            raise invalid_filter(
                'members are selected by id: members[value eq "<user id>"], optionally joined by or'
            )
        ids.append(item.value)
    return ids
