"""The directory, as the scim service uses it: typed calls on the generated stub, peer errors
rebuilt as ServiceErrors (meshkit.errors.from_rpc_error) so they map to SCIM errors unchanged,
and a short per-account cache of provisioning settings and account roles.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

import grpc

from idmesh.directory.v1 import directory_pb2 as pb
from idmesh.directory.v1 import directory_pb2_grpc
from meshkit.errors import from_rpc_error

if TYPE_CHECKING:
    from idmesh.directory.v1.directory_pb2_grpc import DirectoryServiceAsyncStub

T = TypeVar("T")
_CACHE_LIMIT: Final = 10_000
_ROLE_PAGE: Final = 1000


async def call(rpc: Callable[..., Awaitable[T]], request: Any) -> T:
    """One directory call; a failure comes back as the ServiceError the directory raised."""
    try:
        return await rpc(request)
    except grpc.aio.AioRpcError as error:
        raise from_rpc_error(error) from None


class _TtlCache:
    """A small time-bounded map; cleared whole when it grows past its limit."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.entries: dict[str, tuple[float, Any]] = {}

    def get(self, key: str) -> Any | None:
        entry = self.entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key: str, value: Any) -> None:
        if self.ttl <= 0:
            return
        if len(self.entries) >= _CACHE_LIMIT:
            self.entries.clear()
        self.entries[key] = (time.monotonic() + self.ttl, value)


class Directory:
    """The directory calls of the SCIM handlers."""

    def __init__(self, stub: DirectoryServiceAsyncStub, *, account_cache_ttl: float = 5.0) -> None:
        self.stub = stub
        self._settings = _TtlCache(account_cache_ttl)
        self._roles = _TtlCache(account_cache_ttl)

    @classmethod
    def on(cls, channel: grpc.aio.Channel, *, account_cache_ttl: float = 5.0) -> Directory:
        stub: Any = directory_pb2_grpc.DirectoryServiceStub(channel)  # async on an aio channel
        return cls(stub, account_cache_ttl=account_cache_ttl)

    async def settings(self, account_id: str) -> pb.AccountSettings:
        """The account's provisioning settings (cached for the configured TTL)."""
        cached = self._settings.get(account_id)
        if cached is not None:
            assert isinstance(cached, pb.AccountSettings)
            return cached
        response = await call(self.stub.GetAccount, pb.GetAccountRequest(account_id=account_id))
        self._settings.put(account_id, response.account.settings)
        return response.account.settings

    async def account_roles(self, account_id: str) -> list[pb.Role]:
        """The account-scope roles of the account (cached for the configured TTL)."""
        cached = self._roles.get(account_id)
        if cached is not None:
            assert isinstance(cached, list)
            return cached
        scope = pb.Filter(
            comparison=pb.Comparison(
                attribute="scope",
                operator=pb.OPERATOR_EQUAL,
                value=pb.FilterValue(string_value="account"),
            )
        )
        response = await call(
            self.stub.ListRoles,
            pb.ListRolesRequest(
                account_id=account_id, filter=scope, page=pb.PageRequest(page_size=_ROLE_PAGE)
            ),
        )
        roles = list(response.roles)
        self._roles.put(account_id, roles)
        return roles

    async def record_provisioning_events(self, events: Sequence[pb.ProvisioningEvent]) -> None:
        """Appends a batch to the provisioning log (the log's writer calls this)."""
        request = pb.RecordProvisioningEventsRequest(events=events)
        await call(self.stub.RecordProvisioningEvents, request)

    # -- users ----------------------------------------------------------------------------------

    async def create_user(
        self, user: pb.User, status: pb.UserStatus.ValueType, actor: pb.Actor
    ) -> pb.User:
        request = pb.CreateUserRequest(user=user, initial_status=status, actor=actor)
        return (await call(self.stub.CreateUser, request)).user

    async def get_user(self, account_id: str, user_id: str, *, groups: bool = False) -> pb.User:
        """The user; with ``groups``, its groups too (user.groups), in the same call."""
        request = pb.GetUserRequest(account_id=account_id, user_id=user_id, include_groups=groups)
        return (await call(self.stub.GetUser, request)).user

    async def update_user(self, user: pb.User, expected_version: int, actor: pb.Actor) -> pb.User:
        request = pb.UpdateUserRequest(user=user, expected_version=expected_version, actor=actor)
        return (await call(self.stub.UpdateUser, request)).user

    async def delete_user(
        self, account_id: str, user_id: str, expected_version: int, actor: pb.Actor
    ) -> None:
        request = pb.DeleteUserRequest(
            account_id=account_id, user_id=user_id, expected_version=expected_version, actor=actor
        )
        await call(self.stub.DeleteUser, request)

    async def list_users(
        self,
        account_id: str,
        filter_: pb.Filter | None,
        page: pb.PageRequest,
        *,
        groups: bool = False,
    ) -> pb.ListUsersResponse:
        """A page of users; with ``groups``, each one's groups too (user.groups)."""
        request = pb.ListUsersRequest(
            account_id=account_id, filter=filter_, page=page, include_groups=groups
        )
        return await call(self.stub.ListUsers, request)

    # -- groups ---------------------------------------------------------------------------------

    async def create_group(self, group: pb.Group, actor: pb.Actor) -> pb.Group:
        request = pb.CreateGroupRequest(
            group=group, member_source=pb.MEMBERSHIP_SOURCE_SCIM, actor=actor
        )
        return (await call(self.stub.CreateGroup, request)).group

    async def get_group(self, account_id: str, group_id: str, *, members: bool) -> pb.Group:
        request = pb.GetGroupRequest(
            account_id=account_id, group_id=group_id, include_members=members
        )
        return (await call(self.stub.GetGroup, request)).group

    async def update_group(
        self,
        group: pb.Group,
        *,
        members: list[str] | None,
        expected_version: int,
        actor: pb.Actor,
    ) -> pb.Group:
        """Replaces display name and IdP identifier, and the SCIM members when ``members`` is
        not None (members from other sources stay)."""
        request = pb.UpdateGroupRequest(
            group=group,
            replace_members=members is not None,
            member_source=pb.MEMBERSHIP_SOURCE_SCIM,
            expected_version=expected_version,
            actor=actor,
        )
        if members is not None:
            request.group.ClearField("members")
            request.group.members.extend(pb.GroupMember(user_id=m) for m in members)
        return (await call(self.stub.UpdateGroup, request)).group

    async def modify_members(
        self,
        account_id: str,
        group_id: str,
        *,
        add: list[str],
        remove: list[str],
        expected_version: int,
        actor: pb.Actor,
    ) -> pb.Group:
        request = pb.ModifyGroupMembersRequest(
            account_id=account_id,
            group_id=group_id,
            add_user_ids=add,
            remove_user_ids=remove,
            source=pb.MEMBERSHIP_SOURCE_SCIM,
            expected_version=expected_version,
            actor=actor,
        )
        return (await call(self.stub.ModifyGroupMembers, request)).group

    async def delete_group(
        self, account_id: str, group_id: str, expected_version: int, actor: pb.Actor
    ) -> None:
        request = pb.DeleteGroupRequest(
            account_id=account_id,
            group_id=group_id,
            expected_version=expected_version,
            actor=actor,
        )
        await call(self.stub.DeleteGroup, request)

    async def list_groups(
        self,
        account_id: str,
        filter_: pb.Filter | None,
        page: pb.PageRequest,
        *,
        members: bool,
    ) -> pb.ListGroupsResponse:
        request = pb.ListGroupsRequest(
            account_id=account_id, filter=filter_, page=page, include_members=members
        )
        return await call(self.stub.ListGroups, request)
