"""idmesh.directory.v1.DirectoryService: validate, store, convert.

Each method checks its request (validate.py), calls one store method and converts the rows it
returns. Errors are ServiceErrors raised below; meshkit.call_guard maps them to status codes,
so there is no exception handling here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal, Protocol
from uuid import UUID

import grpc
from google.protobuf import json_format

from directory import access, convert, validate
from directory.domains.dns import DnsChecker
from directory.domains.servicer import DomainVerification
from directory.login_servicer import LoginProvisioning
from directory.models import (
    STATUS_PENDING,
    GroupDraft,
    MemberChange,
    RoleDraft,
    SpaceDraft,
    SpaceRoleAssignment,
    UserDraft,
)
from directory.store import Stores
from idmesh.directory.v1 import directory_pb2 as pb
from idmesh.directory.v1 import directory_pb2_grpc
from meshkit.errors import InvalidArgument, NotFound

Context = grpc.aio.ServicerContext[Any, Any]
_ACTION = re.compile(r"^[a-z_]{1,40}(\.[a-z_]{1,40}){1,3}$")


class _Filtered(Protocol):
    """A list request, with its optional filter."""

    @property
    def filter(self) -> pb.Filter: ...

    def HasField(self, field_name: Literal["filter"]) -> bool: ...


def _filter(request: _Filtered) -> pb.Filter | None:
    return request.filter if request.HasField("filter") else None


def _user_draft(user: pb.User) -> UserDraft:
    validate.required(user.user_name, "user.user_name")
    validate.timezone(user.timezone, "user.timezone")
    return convert.user_draft(
        user,
        manager_id=validate.reference_id(user.enterprise.manager_id, "user.enterprise.manager_id"),
        account_role_id=validate.reference_id(user.account_role_id, "user.account_role_id"),
    )


def _space_draft(space: pb.Space) -> SpaceDraft:
    return SpaceDraft(
        name=validate.required(space.name, "space.name"), description=space.description
    )


def _group_draft(group: pb.Group) -> GroupDraft:
    return GroupDraft(
        display_name=validate.required(group.display_name, "group.display_name"),
        idp_identifier=group.idp_identifier,
    )


class DirectoryServicer(
    LoginProvisioning, DomainVerification, directory_pb2_grpc.DirectoryServiceServicer
):
    def __init__(self, stores: Stores, dns: DnsChecker | None = None) -> None:
        self.stores = stores
        self.dns = dns or DnsChecker()

    # -- accounts ------------------------------------------------------------------------------

    async def CreateAccount(
        self, request: pb.CreateAccountRequest, context: Context
    ) -> pb.CreateAccountResponse:
        """Creates the account with its built-in roles (Account Admin, Account Member, Space
        Admin, Space Developer, Space Member)."""
        name = validate.account_name(request.name)
        if request.settings.default_account_role_id:
            raise InvalidArgument(
                "no role exists before the account: name the default role with UpdateAccount",
                field="settings.default_account_role_id",
            )
        settings = convert.account_settings(request.settings, None)
        row = await self.stores.accounts.create(
            name, request.display_name, settings, convert.actor(request.actor)
        )
        return pb.CreateAccountResponse(account=convert.account(row))

    async def GetAccount(
        self, request: pb.GetAccountRequest, context: Context
    ) -> pb.GetAccountResponse:
        key = request.WhichOneof("key")
        if key == "account_id":
            row = await self.stores.accounts.get(validate.account_id(request.account_id))
        elif key == "name":
            row = await self.stores.accounts.get_by_name(request.name)
        else:
            raise InvalidArgument("account_id or name is required", field="key")
        return pb.GetAccountResponse(account=convert.account(row))

    async def UpdateAccount(
        self, request: pb.UpdateAccountRequest, context: Context
    ) -> pb.UpdateAccountResponse:
        default_role = validate.reference_id(
            request.settings.default_account_role_id, "settings.default_account_role_id"
        )
        row = await self.stores.accounts.update(
            validate.account_id(request.account_id),
            request.display_name,
            convert.account_settings(request.settings, default_role),
            validate.expected_version(request.expected_version),
            convert.actor(request.actor),
        )
        return pb.UpdateAccountResponse(account=convert.account(row))

    async def DeleteAccount(
        self, request: pb.DeleteAccountRequest, context: Context
    ) -> pb.DeleteAccountResponse:
        """Deletes the account and everything in it; its audit trail stays."""
        await self.stores.accounts.delete(
            validate.account_id(request.account_id),
            validate.expected_version(request.expected_version),
            convert.actor(request.actor),
        )
        return pb.DeleteAccountResponse()

    async def ListAccounts(
        self, request: pb.ListAccountsRequest, context: Context
    ) -> pb.ListAccountsResponse:
        page = await self.stores.accounts.list(request.page)
        return pb.ListAccountsResponse(
            accounts=[convert.account(r) for r in page.rows], page=convert.page_response(page)
        )

    # -- users ---------------------------------------------------------------------------------

    async def CreateUser(
        self, request: pb.CreateUserRequest, context: Context
    ) -> pb.CreateUserResponse:
        """Creates a user, PENDING unless initial_status says otherwise; user.active is not read
        (proto3 cannot tell it from unset): SCIM's active=false on create is DEACTIVATED."""
        account_id = validate.account_id(request.user.account_id, "user.account_id")
        draft = _user_draft(request.user)
        status = convert.STATUSES.get(request.initial_status, STATUS_PENDING)
        row = await self.stores.users.create(
            account_id, draft, status, convert.actor(request.actor)
        )
        return pb.CreateUserResponse(user=convert.user(row))

    async def GetUser(self, request: pb.GetUserRequest, context: Context) -> pb.GetUserResponse:
        row = await self.stores.users.get(
            validate.account_id(request.account_id),
            validate.target_id(request.user_id, "user_id", "user"),
            with_groups=request.include_groups,
        )
        return pb.GetUserResponse(user=convert.user(row))

    async def UpdateUser(
        self, request: pb.UpdateUserRequest, context: Context
    ) -> pb.UpdateUserResponse:
        """Replaces every writable attribute; an empty account_role_id keeps the current role.
        active=false deactivates; active=true reactivates (ACTIVE if the user ever signed in,
        else PENDING). active_unassigned and account_role_unassigned: see the User message."""
        user = request.user
        account_id = validate.account_id(user.account_id, "user.account_id")
        user_id = validate.target_id(user.id, "user.id", "user")
        draft = _user_draft(user)
        if draft.manager_id == user_id:
            raise InvalidArgument(
                "a user cannot be their own manager", field="user.enterprise.manager_id"
            )
        row = await self.stores.users.update(
            account_id,
            user_id,
            draft,
            user.active,
            validate.expected_version(request.expected_version),
            convert.actor(request.actor),
            active_unassigned=user.active_unassigned,
            account_role_unassigned=user.account_role_unassigned,
        )
        return pb.UpdateUserResponse(user=convert.user(row))

    async def DeleteUser(
        self, request: pb.DeleteUserRequest, context: Context
    ) -> pb.DeleteUserResponse:
        """Deletes the user and its memberships, links and manager references (each with an
        audit event); the user_name is free again, the audit trail stays."""
        await self.stores.users.delete(
            validate.account_id(request.account_id),
            validate.target_id(request.user_id, "user_id", "user"),
            validate.expected_version(request.expected_version),
            convert.actor(request.actor),
        )
        return pb.DeleteUserResponse()

    async def ListUsers(
        self, request: pb.ListUsersRequest, context: Context
    ) -> pb.ListUsersResponse:
        page = await self.stores.users.list(
            validate.account_id(request.account_id),
            _filter(request),
            request.page,
            with_groups=request.include_groups,
        )
        return pb.ListUsersResponse(
            users=[convert.user(r) for r in page.rows], page=convert.page_response(page)
        )

    # -- identity links ------------------------------------------------------------------------

    async def LinkIdentity(
        self, request: pb.LinkIdentityRequest, context: Context
    ) -> pb.LinkIdentityResponse:
        """Links (connection, subject) to the user; idempotent for the same user, ALREADY_EXISTS
        for another. A link.last_login_time records a sign-in: the user's last login time is set
        and a PENDING user becomes ACTIVE."""
        link = request.link
        last_login = (
            link.last_login_time.ToDatetime(tzinfo=UTC)
            if link.HasField("last_login_time")
            else None
        )
        row = await self.stores.users.link_identity(
            validate.account_id(link.account_id, "link.account_id"),
            validate.target_id(link.user_id, "link.user_id", "user"),
            validate.required(link.connection_id, "link.connection_id"),
            validate.required(link.subject, "link.subject"),
            last_login,
            convert.actor(request.actor),
        )
        return pb.LinkIdentityResponse(link=convert.identity_link(row))

    async def UnlinkIdentity(
        self, request: pb.UnlinkIdentityRequest, context: Context
    ) -> pb.UnlinkIdentityResponse:
        await self.stores.users.unlink_identity(
            validate.account_id(request.account_id),
            validate.required(request.connection_id, "connection_id"),
            validate.required(request.subject, "subject"),
            convert.actor(request.actor),
        )
        return pb.UnlinkIdentityResponse()

    async def FindUserByIdentity(
        self, request: pb.FindUserByIdentityRequest, context: Context
    ) -> pb.FindUserByIdentityResponse:
        row = await self.stores.users.find_by_identity(
            validate.account_id(request.account_id),
            validate.required(request.connection_id, "connection_id"),
            validate.required(request.subject, "subject"),
        )
        return pb.FindUserByIdentityResponse(user=convert.user(row))

    async def ListIdentityLinks(
        self, request: pb.ListIdentityLinksRequest, context: Context
    ) -> pb.ListIdentityLinksResponse:
        page = await self.stores.users.list_identity_links(
            validate.account_id(request.account_id),
            validate.reference_id(request.user_id, "user_id"),
            request.page,
        )
        return pb.ListIdentityLinksResponse(
            links=[convert.identity_link(r) for r in page.rows], page=convert.page_response(page)
        )

    # -- spaces --------------------------------------------------------------------------------

    async def CreateSpace(
        self, request: pb.CreateSpaceRequest, context: Context
    ) -> pb.CreateSpaceResponse:
        row = await self.stores.spaces.create(
            validate.account_id(request.space.account_id, "space.account_id"),
            _space_draft(request.space),
            convert.actor(request.actor),
        )
        return pb.CreateSpaceResponse(space=convert.space(row))

    async def GetSpace(self, request: pb.GetSpaceRequest, context: Context) -> pb.GetSpaceResponse:
        """By id, or by name compared case-insensitively."""
        account_id = validate.account_id(request.account_id)
        key = request.WhichOneof("key")
        if key == "space_id":
            space_id = validate.target_id(request.space_id, "space_id", "space")
            row = await self.stores.spaces.get(account_id, space_id)
        elif key == "name":
            row = await self.stores.spaces.get_by_name(account_id, request.name)
        else:
            raise InvalidArgument("space_id or name is required", field="key")
        return pb.GetSpaceResponse(space=convert.space(row))

    async def UpdateSpace(
        self, request: pb.UpdateSpaceRequest, context: Context
    ) -> pb.UpdateSpaceResponse:
        space = request.space
        row = await self.stores.spaces.update(
            validate.account_id(space.account_id, "space.account_id"),
            validate.target_id(space.id, "space.id", "space"),
            _space_draft(space),
            validate.expected_version(request.expected_version),
            convert.actor(request.actor),
        )
        return pb.UpdateSpaceResponse(space=convert.space(row))

    async def DeleteSpace(
        self, request: pb.DeleteSpaceRequest, context: Context
    ) -> pb.DeleteSpaceResponse:
        """Deletes the space, its memberships and the group grants on it (each audited)."""
        await self.stores.spaces.delete(
            validate.account_id(request.account_id),
            validate.target_id(request.space_id, "space_id", "space"),
            validate.expected_version(request.expected_version),
            convert.actor(request.actor),
        )
        return pb.DeleteSpaceResponse()

    async def ListSpaces(
        self, request: pb.ListSpacesRequest, context: Context
    ) -> pb.ListSpacesResponse:
        page = await self.stores.spaces.list(
            validate.account_id(request.account_id), _filter(request), request.page
        )
        return pb.ListSpacesResponse(
            spaces=[convert.space(r) for r in page.rows], page=convert.page_response(page)
        )

    # -- roles ---------------------------------------------------------------------------------

    async def CreateRole(
        self, request: pb.CreateRoleRequest, context: Context
    ) -> pb.CreateRoleResponse:
        role = request.role
        draft = RoleDraft(
            name=validate.required(role.name, "role.name"),
            scope=validate.role_scope(role.scope, "role.scope", required=True),
            permissions=validate.permissions(role.permissions, "role.permissions"),
            description=role.description,
        )
        row = await self.stores.roles.create(
            validate.account_id(role.account_id, "role.account_id"),
            draft,
            convert.actor(request.actor),
        )
        return pb.CreateRoleResponse(role=convert.role(row))

    async def GetRole(self, request: pb.GetRoleRequest, context: Context) -> pb.GetRoleResponse:
        row = await self.stores.roles.get(
            validate.account_id(request.account_id),
            validate.target_id(request.role_id, "role_id", "role"),
        )
        return pb.GetRoleResponse(role=convert.role(row))

    async def UpdateRole(
        self, request: pb.UpdateRoleRequest, context: Context
    ) -> pb.UpdateRoleResponse:
        """Replaces name, permissions and description; the scope cannot change, and a built-in
        role only takes a new description (FAILED_PRECONDITION "built_in")."""
        role = request.role
        draft = RoleDraft(
            name=validate.required(role.name, "role.name"),
            scope=validate.role_scope(role.scope, "role.scope", required=False),
            permissions=validate.permissions(role.permissions, "role.permissions"),
            description=role.description,
        )
        row = await self.stores.roles.update(
            validate.account_id(role.account_id, "role.account_id"),
            validate.target_id(role.id, "role.id", "role"),
            draft,
            validate.expected_version(request.expected_version),
            convert.actor(request.actor),
        )
        return pb.UpdateRoleResponse(role=convert.role(row))

    async def DeleteRole(
        self, request: pb.DeleteRoleRequest, context: Context
    ) -> pb.DeleteRoleResponse:
        """Deletes a custom role nothing uses; FAILED_PRECONDITION "in_use" or "built_in"."""
        await self.stores.roles.delete(
            validate.account_id(request.account_id),
            validate.target_id(request.role_id, "role_id", "role"),
            validate.expected_version(request.expected_version),
            convert.actor(request.actor),
        )
        return pb.DeleteRoleResponse()

    async def ListRoles(
        self, request: pb.ListRolesRequest, context: Context
    ) -> pb.ListRolesResponse:
        page = await self.stores.roles.list(
            validate.account_id(request.account_id), _filter(request), request.page
        )
        return pb.ListRolesResponse(
            roles=[convert.role(r) for r in page.rows], page=convert.page_response(page)
        )

    # -- space memberships ---------------------------------------------------------------------

    async def GrantSpaceRole(
        self, request: pb.GrantSpaceRoleRequest, context: Context
    ) -> pb.GrantSpaceRoleResponse:
        """Source unspecified means MANUAL; GROUP is refused (SetGroupSpaceRoles grants those)."""
        row = await self.stores.spaces.grant(
            validate.account_id(request.account_id),
            validate.target_id(request.user_id, "user_id", "user"),
            validate.target_id(request.space_id, "space_id", "space"),
            validate.target_id(request.role_id, "role_id", "role"),
            validate.source_to_write(request.source, "source"),
            convert.actor(request.actor),
        )
        return pb.GrantSpaceRoleResponse(membership=convert.membership(row))

    async def RevokeSpaceRole(
        self, request: pb.RevokeSpaceRoleRequest, context: Context
    ) -> pb.RevokeSpaceRoleResponse:
        """Source unspecified revokes the user's role in the space from every source."""
        await self.stores.spaces.revoke(
            validate.account_id(request.account_id),
            validate.target_id(request.user_id, "user_id", "user"),
            validate.target_id(request.space_id, "space_id", "space"),
            validate.source_to_remove(request.source, "source"),
            convert.actor(request.actor),
        )
        return pb.RevokeSpaceRoleResponse()

    async def ListSpaceMemberships(
        self, request: pb.ListSpaceMembershipsRequest, context: Context
    ) -> pb.ListSpaceMembershipsResponse:
        page = await self.stores.spaces.list_memberships(
            validate.account_id(request.account_id), _filter(request), request.page
        )
        return pb.ListSpaceMembershipsResponse(
            memberships=[convert.membership(r) for r in page.rows],
            page=convert.page_response(page),
        )

    # -- groups --------------------------------------------------------------------------------

    async def CreateGroup(
        self, request: pb.CreateGroupRequest, context: Context
    ) -> pb.CreateGroupResponse:
        group = request.group
        row = await self.stores.groups.create(
            validate.account_id(group.account_id, "group.account_id"),
            _group_draft(group),
            validate.user_ids((m.user_id for m in group.members), "group.members"),
            validate.source_to_write(request.member_source, "member_source"),
            convert.actor(request.actor),
        )
        return pb.CreateGroupResponse(group=convert.group(row))

    async def GetGroup(self, request: pb.GetGroupRequest, context: Context) -> pb.GetGroupResponse:
        account_id = validate.account_id(request.account_id)
        group_id = validate.target_id(request.group_id, "group_id", "group")
        row = await self.stores.groups.get(account_id, group_id)
        members = []
        if request.include_members:
            members = (await self.stores.groups.members_of(account_id, [group_id]))[group_id]
        return pb.GetGroupResponse(group=convert.group(row, members))

    async def UpdateGroup(
        self, request: pb.UpdateGroupRequest, context: Context
    ) -> pb.UpdateGroupResponse:
        """With replace_members, group.members becomes the member list of member_source
        (unspecified: MANUAL); members of other sources stay."""
        group = request.group
        members = None
        if request.replace_members:
            members = validate.user_ids((m.user_id for m in group.members), "group.members")
        row = await self.stores.groups.update(
            validate.account_id(group.account_id, "group.account_id"),
            validate.target_id(group.id, "group.id", "group"),
            _group_draft(group),
            members,
            validate.source_to_write(request.member_source, "member_source"),
            validate.expected_version(request.expected_version),
            convert.actor(request.actor),
        )
        return pb.UpdateGroupResponse(group=convert.group(row))

    async def DeleteGroup(
        self, request: pb.DeleteGroupRequest, context: Context
    ) -> pb.DeleteGroupResponse:
        await self.stores.groups.delete(
            validate.account_id(request.account_id),
            validate.target_id(request.group_id, "group_id", "group"),
            validate.expected_version(request.expected_version),
            convert.actor(request.actor),
        )
        return pb.DeleteGroupResponse()

    async def ListGroups(
        self, request: pb.ListGroupsRequest, context: Context
    ) -> pb.ListGroupsResponse:
        account_id = validate.account_id(request.account_id)
        page = await self.stores.groups.list(account_id, _filter(request), request.page)
        members = {}
        if request.include_members and page.rows:
            ids = [r["id"] for r in page.rows]
            members = await self.stores.groups.members_of(account_id, ids)
        return pb.ListGroupsResponse(
            groups=[convert.group(r, members.get(r["id"], ())) for r in page.rows],
            page=convert.page_response(page),
        )

    async def ModifyGroupMembers(
        self, request: pb.ModifyGroupMembersRequest, context: Context
    ) -> pb.ModifyGroupMembersResponse:
        """Removals, then additions, in one transaction. Additions are recorded under source
        (unspecified: MANUAL); removals match source (unspecified: every source)."""
        change = MemberChange(
            add=validate.user_ids(request.add_user_ids, "add_user_ids"),
            remove=validate.user_ids(request.remove_user_ids, "remove_user_ids"),
            add_source=validate.source_to_write(request.source, "source"),
            remove_source=validate.source_to_remove(request.source, "source"),
        )
        row = await self.stores.groups.modify_members(
            validate.account_id(request.account_id),
            validate.target_id(request.group_id, "group_id", "group"),
            change,
            validate.expected_version(request.expected_version),
            convert.actor(request.actor),
        )
        return pb.ModifyGroupMembersResponse(group=convert.group(row))

    async def ListGroupMembers(
        self, request: pb.ListGroupMembersRequest, context: Context
    ) -> pb.ListGroupMembersResponse:
        page = await self.stores.groups.list_members(
            validate.account_id(request.account_id),
            validate.target_id(request.group_id, "group_id", "group"),
            request.page,
        )
        return pb.ListGroupMembersResponse(
            members=[convert.group_member(r) for r in page.rows],
            page=convert.page_response(page),
        )

    async def SetGroupSpaceRoles(
        self, request: pb.SetGroupSpaceRolesRequest, context: Context
    ) -> pb.SetGroupSpaceRolesResponse:
        """Makes space_roles (one role per space) the exact grants of the group."""
        assignments: dict[UUID, SpaceRoleAssignment] = {}
        for value in request.space_roles:
            space_id = validate.reference_id(value.space_id, "space_roles")
            role_id = validate.reference_id(value.role_id, "space_roles")
            if space_id is None or role_id is None:
                raise InvalidArgument(
                    "each space role needs a space_id and a role_id", field="space_roles"
                )
            if space_id in assignments:
                raise InvalidArgument(
                    f"space {space_id} is named twice: a group grants one role per space",
                    field="space_roles",
                )
            assignments[space_id] = SpaceRoleAssignment(space_id=space_id, role_id=role_id)
        row = await self.stores.groups.set_space_roles(
            validate.account_id(request.account_id),
            validate.target_id(request.group_id, "group_id", "group"),
            list(assignments.values()),
            validate.expected_version(request.expected_version),
            convert.actor(request.actor),
        )
        return pb.SetGroupSpaceRolesResponse(group=convert.group(row))

    # -- audit ---------------------------------------------------------------------------------

    async def ListAuditEvents(
        self, request: pb.ListAuditEventsRequest, context: Context
    ) -> pb.ListAuditEventsResponse:
        page = await self.stores.audit.list(
            validate.account_id(request.account_id), _filter(request), request.page
        )
        return pb.ListAuditEventsResponse(
            events=[convert.audit_event(r) for r in page.rows], page=convert.page_response(page)
        )

    async def RecordAuditEvent(
        self, request: pb.RecordAuditEventRequest, context: Context
    ) -> pb.RecordAuditEventResponse:
        """Appends an event another service did (auth: setup links and what they configured)."""
        account_id = validate.account_id(request.account_id)
        if not _ACTION.match(request.action):
            raise InvalidArgument("a dotted lower-case action, e.g. setup_link.opened",
                                  field="action")  # fmt: skip
        if request.actor.type == pb.ACTOR_TYPE_UNSPECIFIED:
            raise InvalidArgument("the actor's type is required", field="actor.type")
        recorded = await self.stores.audit.record(
            account_id,
            convert.actor(request.actor),
            request.action,
            validate.required(request.target_type, "target_type"),
            request.target_id,
            json_format.MessageToDict(request.details),
        )
        if not recorded:
            raise NotFound("account not found", field="account_id")
        return pb.RecordAuditEventResponse()

    # -- provisioning log ----------------------------------------------------------------------

    async def RecordProvisioningEvents(
        self, request: pb.RecordProvisioningEventsRequest, context: Context
    ) -> pb.RecordProvisioningEventsResponse:
        """Appends a batch of SCIM provisioning events (of any accounts): the scim service's
        write path, never an admin's."""
        drafts = validate.provisioning_events(request.events, datetime.now(UTC))
        return pb.RecordProvisioningEventsResponse(
            recorded=await self.stores.provisioning.record(drafts)
        )

    async def ListProvisioningEvents(
        self, request: pb.ListProvisioningEventsRequest, context: Context
    ) -> pb.ListProvisioningEventsResponse:
        page = await self.stores.provisioning.list(
            validate.account_id(request.account_id), _filter(request), request.page
        )
        return pb.ListProvisioningEventsResponse(
            events=[convert.provisioning_event(r) for r in page.rows],
            page=convert.page_response(page),
        )

    # -- access --------------------------------------------------------------------------------

    async def GetUserAccess(
        self, request: pb.GetUserAccessRequest, context: Context
    ) -> pb.GetUserAccessResponse:
        """The user, its account role, every space it holds a role in (each grant with its
        source, group grants with the group) with the union of permissions, and its groups."""
        rows = await self.stores.access.user_access(
            validate.account_id(request.account_id),
            validate.target_id(request.user_id, "user_id", "user"),
        )
        return access.user_access(rows)

    async def CheckAccess(
        self, request: pb.CheckAccessRequest, context: Context
    ) -> pb.CheckAccessResponse:
        """Whether the user holds ``permission`` in the space (any direct or group role), or
        at account level when space_id is empty; a deactivated user holds nothing."""
        permission = validate.required(request.permission, "permission")
        space_id = (
            validate.target_id(request.space_id, "space_id", "space") if request.space_id else None
        )
        rows = await self.stores.access.check_rows(
            validate.account_id(request.account_id),
            validate.target_id(request.user_id, "user_id", "user"),
            space_id,
        )
        allowed, reason = access.decide(rows, permission, in_space=space_id is not None)
        return pb.CheckAccessResponse(allowed=allowed, reason=reason)
