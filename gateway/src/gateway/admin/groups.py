"""Groups: a paged, searchable list with a create form, and each group's page: name and IdP
identifier (the conflicting group named), the space roles it grants, and its members (paged;
manual members added and removed here, IdP-sourced ones shown as such). The directory's group
RPCs, as ``/api/v1/groups``."""

from __future__ import annotations

import asyncio
import re
from typing import Final

import grpc
from aiohttp import web

from gateway.admin.common import SOURCES, form_error, not_found_for_bad_ids
from gateway.admin.guard import Admin, check_csrf, require
from gateway.admin.layout import PAGE_SIZE, page_links, page_token, query_values, render_admin
from gateway.api.query import eq
from gateway.auth import has_permission
from gateway.forms import Form, read_form
from gateway.pages.html import redirect
from gateway.state import CLIENTS
from idmesh.directory.v1 import directory_pb2 as pb

_FIELDS: Final = {
    "group.display_name": "display_name",
    "display_name": "display_name",
    "group.idp_identifier": "idp_identifier",
    "idp_identifier": "idp_identifier",
}
# An IdP's group id: an Entra object id, an Okta group id or name; never blanks at the ends or
# control characters (a pasted value with a line break would never match a claim).
_IDENTIFIER: Final = re.compile(r"[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]{0,254}[^\s\x00-\x1f\x7f])?")
NOTES: Final = {
    "created": "The group was created.",
    "saved": "Saved.",
    "member_added": "The member was added.",
    "member_removed": "The member was removed.",
    "roles_saved": "The group's space roles were saved.",
}


def _contains(text: str) -> pb.Filter:
    return pb.Filter(
        comparison=pb.Comparison(
            attribute="display_name",
            operator=pb.OPERATOR_CONTAINS,
            value=pb.FilterValue(string_value=text),
        )
    )


async def groups(request: web.Request, admin: Admin) -> web.StreamResponse:
    require(admin, "groups:read")
    return await _groups_page(request, admin)


async def _groups_page(
    request: web.Request,
    admin: Admin,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    chosen = query_values(request, ("q",))
    listed = await request.app[CLIENTS].directory.ListGroups(
        pb.ListGroupsRequest(
            account_id=admin.account_id,
            filter=_contains(chosen["q"]) if chosen["q"] else None,
            page=pb.PageRequest(
                page_size=PAGE_SIZE, page_token=page_token(request), order_by="display_name"
            ),
        )
    )
    rows = [
        {
            "id": g.id,
            "name": g.display_name,
            "idp_identifier": g.idp_identifier,
            "members": g.member_count,
            "roles": len(g.space_roles),
        }
        for g in listed.groups
    ]
    errors = errors or {}
    return render_admin(
        request,
        admin,
        "groups.html",
        nav="groups",
        title="Groups",
        lead="Groups give their members space roles. IdP groups meet these by their identifier.",
        rows=rows,
        filters=chosen,
        filtered=bool(chosen["q"]),
        page=page_links(request, listed.page.next_page_token, len(rows), "groups"),
        values=values or {},
        errors=errors,
        error="The group was not created: see the form." if errors else "",
        can_manage=has_permission(admin.permissions, "groups:manage"),
        status=status,
    )


def _identifier_error(value: str) -> str:
    if value and _IDENTIFIER.fullmatch(value) is None:
        return "Paste the identifier alone: no spaces at the ends, no line breaks, at most 256."
    return ""


async def _conflict(request: web.Request, admin: Admin, identifier: str, own_id: str) -> str:
    """The message naming the group that already has ``identifier``."""
    found = await request.app[CLIENTS].directory.ListGroups(
        pb.ListGroupsRequest(
            account_id=admin.account_id,
            filter=eq("idp_identifier", identifier),
            page=pb.PageRequest(page_size=2),
        )
    )
    others = [g.display_name for g in found.groups if g.id != own_id]
    if others:
        return f"Another group already has this identifier: {others[0]}."
    return "Another group already has this identifier."


async def create_group(request: web.Request, admin: Admin) -> web.StreamResponse:
    form = await read_form(request)
    check_csrf(request, admin, form)
    require(admin, "groups:manage")
    values = {k: str(form.get(k, "")).strip() for k in ("display_name", "idp_identifier")}
    errors = {}
    if not values["display_name"]:
        errors["display_name"] = "Enter the group's name."
    if message := _identifier_error(values["idp_identifier"]):
        errors["idp_identifier"] = message
    if errors:
        return await _groups_page(request, admin, values=values, errors=errors, status=400)
    try:
        created = await request.app[CLIENTS].directory.CreateGroup(
            pb.CreateGroupRequest(
                group=pb.Group(
                    account_id=admin.account_id,
                    display_name=values["display_name"],
                    idp_identifier=values["idp_identifier"],
                ),
                actor=admin.actor(),
            )
        )
    except grpc.aio.AioRpcError as error:
        status, errors = form_error(error, _FIELDS)
        if error.code() is grpc.StatusCode.ALREADY_EXISTS and values["idp_identifier"]:
            errors = {
                "idp_identifier": await _conflict(request, admin, values["idp_identifier"], "")
            }
        return await _groups_page(request, admin, values=values, errors=errors, status=status)
    return redirect(f"/admin/groups/{created.group.id}?note=created")


async def _group(request: web.Request, admin: Admin) -> pb.Group:
    try:
        found = await request.app[CLIENTS].directory.GetGroup(
            pb.GetGroupRequest(account_id=admin.account_id, group_id=request.match_info["group"])
        )
    except grpc.aio.AioRpcError as error:
        raise not_found_for_bad_ids(error) from None
    return found.group


async def group(request: web.Request, admin: Admin) -> web.StreamResponse:
    require(admin, "groups:read")
    found = await _group(request, admin)
    note = NOTES.get(request.query.get("note", ""), "")
    return await _group_page(request, admin, found, note=note)


async def _group_page(
    request: web.Request,
    admin: Admin,
    found: pb.Group,
    *,
    note: str = "",
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    directory = request.app[CLIENTS].directory
    members, spaces, roles = await asyncio.gather(
        directory.ListGroupMembers(
            pb.ListGroupMembersRequest(
                account_id=admin.account_id,
                group_id=found.id,
                page=pb.PageRequest(page_size=PAGE_SIZE, page_token=page_token(request)),
            )
        ),
        directory.ListSpaces(
            pb.ListSpacesRequest(account_id=admin.account_id, page=pb.PageRequest(page_size=200))
        ),
        directory.ListRoles(
            pb.ListRolesRequest(
                account_id=admin.account_id,
                filter=eq("scope", "space"),
                page=pb.PageRequest(page_size=200),
            )
        ),
    )
    errors = errors or {}
    shown = {"display_name": found.display_name, "idp_identifier": found.idp_identifier}
    shown.update(values or {})
    return render_admin(
        request,
        admin,
        "group.html",
        nav="groups",
        title=found.display_name,
        crumbs=(("/admin/groups", "Groups"),),
        note=note,
        error="Not saved: see the form." if errors else "",
        errors=errors,
        group=found,
        values=shown,
        members=[
            {
                "id": m.user_id,
                "user_name": m.user_name,
                "name": m.display_name,
                "source": SOURCES.get(m.source, "—"),
                "manual": m.source == pb.MEMBERSHIP_SOURCE_MANUAL,
            }
            for m in members.members
        ],
        page=page_links(request, members.page.next_page_token, len(members.members), "members"),
        space_options=[(s.id, s.name) for s in spaces.spaces],
        role_options=[(r.id, r.name) for r in roles.roles],
        can_manage=has_permission(admin.permissions, "groups:manage"),
        status=status,
    )


def _version(form: Form, current: pb.Group) -> int:
    try:
        return int(str(form.get("version", "")))
    except ValueError:
        return current.version


async def save_group(request: web.Request, admin: Admin) -> web.StreamResponse:
    """Renames the group and sets its IdP identifier (Torque guide, "Mapping Torque user groups
    to IdP groups"), with the version the form was rendered at (a concurrent change is not
    lost). A form without a name keeps the name."""
    form = await read_form(request)
    check_csrf(request, admin, form)
    require(admin, "groups:manage")
    current = await _group(request, admin)
    values = {
        "display_name": str(form.get("display_name", current.display_name)).strip(),
        "idp_identifier": str(form.get("idp_identifier", "")).strip(),
    }
    errors = {}
    if not values["display_name"]:
        errors["display_name"] = "Enter the group's name."
    if message := _identifier_error(values["idp_identifier"]):
        errors["idp_identifier"] = message
    if errors:
        return await _group_page(request, admin, current, values=values, errors=errors, status=400)
    try:
        await request.app[CLIENTS].directory.UpdateGroup(
            pb.UpdateGroupRequest(
                group=pb.Group(
                    account_id=admin.account_id,
                    id=current.id,
                    display_name=values["display_name"],
                    idp_identifier=values["idp_identifier"],
                ),
                expected_version=_version(form, current),
                actor=admin.actor(),
            )
        )
    except grpc.aio.AioRpcError as error:
        status, errors = form_error(error, _FIELDS)
        if error.code() is grpc.StatusCode.ALREADY_EXISTS:
            message = await _conflict(request, admin, values["idp_identifier"], current.id)
            errors = {"idp_identifier": message}
        elif error.code() in (grpc.StatusCode.ABORTED, grpc.StatusCode.FAILED_PRECONDITION):
            errors = {"": "The group changed meanwhile; check and save again."}
        return await _group_page(
            request, admin, current, values=values, errors=errors, status=status
        )
    return redirect(f"/admin/groups/{current.id}?note=saved")


async def add_member(request: web.Request, admin: Admin) -> web.StreamResponse:
    """Adds a user, named by userName, as a manual member."""
    form = await read_form(request)
    check_csrf(request, admin, form)
    require(admin, "groups:manage")
    current = await _group(request, admin)
    wanted = str(form.get("user_name", "")).strip()[:256]
    found = await request.app[CLIENTS].directory.ListUsers(
        pb.ListUsersRequest(
            account_id=admin.account_id,
            filter=eq("user_name", wanted),
            page=pb.PageRequest(page_size=1),
        )
    )
    if not wanted or not found.users:
        message = "Enter a user's userName." if not wanted else f"No user is called {wanted}."
        return await _group_page(
            request,
            admin,
            current,
            values={"user_name": wanted},
            errors={"user_name": message},
            status=400,
        )
    await _modify(request, admin, current.id, add=[found.users[0].id])
    return redirect(f"/admin/groups/{current.id}?note=member_added")


async def remove_member(request: web.Request, admin: Admin) -> web.StreamResponse:
    """Removes a manual membership (an IdP-sourced one is the IdP's to change)."""
    form = await read_form(request)
    check_csrf(request, admin, form)
    require(admin, "groups:manage")
    current = await _group(request, admin)
    user_id = str(form.get("user_id", ""))[:64]
    try:
        await _modify(request, admin, current.id, remove=[user_id])
    except grpc.aio.AioRpcError as error:
        raise not_found_for_bad_ids(error) from None
    return redirect(f"/admin/groups/{current.id}?note=member_removed")


async def _modify(
    request: web.Request,
    admin: Admin,
    group_id: str,
    *,
    add: list[str] | None = None,
    remove: list[str] | None = None,
) -> None:
    await request.app[CLIENTS].directory.ModifyGroupMembers(
        pb.ModifyGroupMembersRequest(
            account_id=admin.account_id,
            group_id=group_id,
            add_user_ids=add or [],
            remove_user_ids=remove or [],
            source=pb.MEMBERSHIP_SOURCE_MANUAL,
            actor=admin.actor(),
        )
    )


async def set_space_roles(request: web.Request, admin: Admin) -> web.StreamResponse:
    """Adds one space role to the group's, or removes one (``remove`` = "space_id/role_id")."""
    form = await read_form(request)
    check_csrf(request, admin, form)
    require(admin, "groups:manage")
    current = await _group(request, admin)
    held = [(r.space_id, r.role_id) for r in current.space_roles]
    removing = str(form.get("remove", ""))
    if removing:
        held = [pair for pair in held if "/".join(pair) != removing]
    else:
        pair = (str(form.get("space_id", "")), str(form.get("role_id", "")))
        if not all(pair):
            return await _group_page(
                request,
                admin,
                current,
                errors={"space_id": "Choose a space and a role."},
                status=400,
            )
        if pair not in held:
            held.append(pair)
    try:
        await request.app[CLIENTS].directory.SetGroupSpaceRoles(
            pb.SetGroupSpaceRolesRequest(
                account_id=admin.account_id,
                group_id=current.id,
                space_roles=[pb.GroupSpaceRole(space_id=s, role_id=r) for s, r in held],
                expected_version=current.version,
                actor=admin.actor(),
            )
        )
    except grpc.aio.AioRpcError as error:
        status, errors = form_error(error, {"space_roles": "space_id"})
        return await _group_page(request, admin, current, errors=errors, status=status)
    return redirect(f"/admin/groups/{current.id}?note=roles_saved")
