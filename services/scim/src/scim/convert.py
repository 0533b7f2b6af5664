"""SCIM resources ↔ directory messages.

``*_to_scim`` builds the canonical resource a client sees (RFC 7643 §4.1, §4.2, §4.3) from a
directory message: empty strings are left out (proto3 has no absent string, and SCIM's absent is
the directory's empty), ``primary`` is always given, ``meta`` carries the resource type, the
creation and modification times, the location under the request's base URL and the version as a
weak ETag (RFC 7644 §3.14). ``password`` is never produced.

``*_from_scim`` builds the directory message from a canonical resource (values.normalize_resource
for POST/PUT bodies, patch.apply_patch for PATCH), checking the attributes the schema requires.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Final

from google.protobuf.timestamp_pb2 import Timestamp

from idmesh.directory.v1 import directory_pb2 as pb
from scim.errors import invalid_value
from scim.etags import format_etag
from scim.schemas import ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA

Json = Any

# (SCIM attribute, directory User field) for the simple string attributes.
_USER_STRINGS: Final = (
    ("userName", "user_name"),
    ("displayName", "display_name"),
    ("nickName", "nick_name"),
    ("profileUrl", "profile_url"),
    ("title", "title"),
    ("userType", "user_type"),
    ("preferredLanguage", "preferred_language"),
    ("locale", "locale"),
    ("timezone", "timezone"),
)
_NAME: Final = (
    ("formatted", "formatted"),
    ("familyName", "family_name"),
    ("givenName", "given_name"),
    ("middleName", "middle_name"),
    ("honorificPrefix", "honorific_prefix"),
    ("honorificSuffix", "honorific_suffix"),
)
# (SCIM attribute, directory User field) for the multi-valued {value, type, primary, display}.
_USER_MULTI: Final = (
    ("emails", "emails"),
    ("phoneNumbers", "phone_numbers"),
    ("ims", "ims"),
    ("photos", "photos"),
    ("entitlements", "entitlements"),
    ("x509Certificates", "x509_certificates"),
)
_ADDRESS: Final = (
    ("formatted", "formatted"),
    ("streetAddress", "street_address"),
    ("locality", "locality"),
    ("region", "region"),
    ("postalCode", "postal_code"),
    ("country", "country"),
    ("type", "type"),
)
_ENTERPRISE: Final = (
    ("employeeNumber", "employee_number"),
    ("costCenter", "cost_center"),
    ("organization", "organization"),
    ("division", "division"),
    ("department", "department"),
)


def format_time(timestamp: Timestamp) -> str | None:
    """An RFC 3339 UTC date-time with milliseconds (RFC 7643 §2.3.5), or None when unset."""
    if not timestamp.seconds and not timestamp.nanos:
        return None
    moment = datetime.fromtimestamp(timestamp.seconds, UTC).replace(
        microsecond=timestamp.nanos // 1000
    )
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _meta(
    resource_type: str, created: Timestamp, modified: Timestamp, location: str, version: int
) -> dict[str, Json]:
    meta: dict[str, Json] = {"resourceType": resource_type}
    created_text = format_time(created)
    if created_text:
        meta["created"] = created_text
    modified_text = format_time(modified) or created_text
    if modified_text:
        meta["lastModified"] = modified_text
    meta["location"] = location
    if version:
        meta["version"] = format_etag(version)
    return meta


def user_location(base_url: str, user_id: str) -> str:
    return f"{base_url.rstrip('/')}/Users/{user_id}"


def group_location(base_url: str, group_id: str) -> str:
    return f"{base_url.rstrip('/')}/Groups/{group_id}"


def _multi_value(item: pb.MultiValue) -> dict[str, Json]:
    out: dict[str, Json] = {}
    if item.value:
        out["value"] = item.value
    if item.display:
        out["display"] = item.display
    if item.type:
        out["type"] = item.type
    # Always present: a client that sent primary=false compares it with what it reads back.
    out["primary"] = item.primary
    return out


def _address(item: pb.Address) -> dict[str, Json]:
    out: dict[str, Json] = {}
    for scim_name, field in _ADDRESS:
        value = getattr(item, field)
        if value:
            out[scim_name] = value
    out["primary"] = item.primary
    return out


def user_to_scim(user: pb.User, base_url: str) -> dict[str, Json]:
    """The SCIM User for a directory user: core attributes, the enterprise extension when it has
    a value, ``roles`` as the account role, ``meta`` (RFC 7643 §3.1, §4.1, §4.3). ``active`` and
    ``roles`` are left out while unassigned (a client removed them and set nothing since)."""
    out: dict[str, Json] = {"schemas": [USER_SCHEMA], "id": user.id}
    if user.external_id:
        out["externalId"] = user.external_id
    out["userName"] = user.user_name
    name = {scim: getattr(user.name, field) for scim, field in _NAME if getattr(user.name, field)}
    if name:
        out["name"] = name
    for scim_name, field in _USER_STRINGS[1:]:
        value = getattr(user, field)
        if value:
            out[scim_name] = value
    # Pending (provisioned, never signed in) users are active: Okta loops on "reactivating" a
    # user returned as active=false (docs/scim-clients.md §5, field reports). Absent only after
    # a client removed it (RFC 7644 §3.5.2.2): the user is then active by default.
    if not user.active_unassigned:
        out["active"] = user.active
    for scim_name, field in _USER_MULTI[:4]:
        values = getattr(user, field)
        if values:
            out[scim_name] = [_multi_value(v) for v in values]
    if user.addresses:
        out["addresses"] = [_address(a) for a in user.addresses]
    if user.entitlements:
        out["entitlements"] = [_multi_value(v) for v in user.entitlements]
    if user.account_role_name and not user.account_role_unassigned:
        out["roles"] = [{"value": user.account_role_name}]
    if user.x509_certificates:
        out["x509Certificates"] = [_multi_value(v) for v in user.x509_certificates]
    enterprise = user.enterprise
    extension: dict[str, Json] = {
        scim: getattr(enterprise, field)
        for scim, field in _ENTERPRISE
        if getattr(enterprise, field)
    }
    if enterprise.manager_id:
        manager: dict[str, Json] = {
            "value": enterprise.manager_id,
            "$ref": user_location(base_url, enterprise.manager_id),
        }
        if enterprise.manager_display_name:
            manager["displayName"] = enterprise.manager_display_name
        extension["manager"] = manager
    if extension:
        out["schemas"] = [USER_SCHEMA, ENTERPRISE_USER_SCHEMA]
        out[ENTERPRISE_USER_SCHEMA] = extension
    out["meta"] = _meta(
        "User",
        user.create_time,
        user.update_time,
        user_location(base_url, user.id),
        user.version,
    )
    return out


def user_groups_to_scim(groups: Iterable[pb.UserGroup], base_url: str) -> list[dict[str, Json]]:
    """The User's ``groups`` (RFC 7643 §4.1.2, readOnly): the directory's direct memberships."""
    return [
        {
            "value": group.id,
            "$ref": group_location(base_url, group.id),
            "display": group.display_name,
            "type": "direct",
        }
        for group in groups
    ]


def _to_multi_value(item: dict[str, Json]) -> pb.MultiValue:
    return pb.MultiValue(
        value=item.get("value", ""),
        type=item.get("type", ""),
        primary=bool(item.get("primary", False)),
        display=item.get("display", ""),
    )


def _to_address(item: dict[str, Json]) -> pb.Address:
    address = pb.Address(primary=bool(item.get("primary", False)))
    for scim_name, field in _ADDRESS:
        value = item.get(scim_name)
        if value:
            setattr(address, field, value)
    return address


def user_from_scim(resource: dict[str, Json]) -> pb.User:
    """The directory user for a canonical SCIM User; id, account, role and times are left for
    the caller. ``active`` defaults to true when absent. Raises 400 invalidValue without
    ``userName`` (RFC 7643 §4.1.1: required)."""
    user_name = resource.get("userName")
    if not user_name:
        raise invalid_value("'userName' is required", "userName")
    user = pb.User(user_name=user_name, external_id=resource.get("externalId") or "")
    for scim_name, field in _USER_STRINGS[1:]:
        value = resource.get(scim_name)
        if value:
            setattr(user, field, value)
    name = resource.get("name")
    if name:
        for scim_name, field in _NAME:
            value = name.get(scim_name)
            if value:
                setattr(user.name, field, value)
    active = resource.get("active")
    user.active = True if active is None else bool(active)
    for scim_name, field in _USER_MULTI:
        values = resource.get(scim_name)
        if values:
            getattr(user, field).extend(_to_multi_value(v) for v in values)
    addresses = resource.get("addresses")
    if addresses:
        user.addresses.extend(_to_address(a) for a in addresses)
    extension = resource.get(ENTERPRISE_USER_SCHEMA)
    if extension:
        for scim_name, field in _ENTERPRISE:
            value = extension.get(scim_name)
            if value:
                setattr(user.enterprise, field, value)
        manager = extension.get("manager")
        if manager and manager.get("value"):
            user.enterprise.manager_id = manager["value"]
    return user


def group_to_scim(group: pb.Group, base_url: str, *, with_members: bool = True) -> dict[str, Json]:
    """The SCIM Group for a directory group (RFC 7643 §4.2); ``externalId`` is the group's IdP
    identifier. ``members`` is produced only when ``with_members`` and the directory sent them."""
    out: dict[str, Json] = {"schemas": [GROUP_SCHEMA], "id": group.id}
    if group.idp_identifier:
        out["externalId"] = group.idp_identifier
    out["displayName"] = group.display_name
    if with_members and group.members:
        out["members"] = [
            {
                "value": member.user_id,
                "$ref": user_location(base_url, member.user_id),
                "type": "User",
            }
            for member in group.members
        ]
    out["meta"] = _meta(
        "Group",
        group.create_time,
        group.update_time,
        group_location(base_url, group.id),
        group.version,
    )
    return out


def group_from_scim(resource: dict[str, Json]) -> tuple[pb.Group, list[str]]:
    """The directory group for a canonical SCIM Group, and its member user ids. Raises 400
    invalidValue without ``displayName`` (RFC 7643 §4.2: required) or with a member that is not a
    user (nested groups are not supported)."""
    display_name = resource.get("displayName")
    if not display_name:
        raise invalid_value("'displayName' is required", "displayName")
    group = pb.Group(display_name=display_name, idp_identifier=resource.get("externalId") or "")
    member_ids: list[str] = []
    for member in resource.get("members") or ():
        member_type = member.get("type")
        if member_type is not None and member_type.lower() != "user":
            raise invalid_value(
                f"nested groups are not supported; members must be users (got type "
                f"'{member_type}')",
                "members",
            )
        member_id = member.get("value")
        if not member_id:
            raise invalid_value("every member needs a value (a user id)", "members")
        member_ids.append(member_id)
    return group, list(dict.fromkeys(member_ids))
