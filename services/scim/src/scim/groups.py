"""/Groups (RFC 7644 §3.3–§3.6): create, read, replace, patch, delete, list and search, on the
directory.

- ``externalId`` is the group's IdP identifier (where SCIM groups and a login's groups claim
  meet); members are users only: nested groups are refused with a 400 that says so.
- Members written through SCIM are recorded with source ``scim``: PUT and a PATCH ``replace`` of
  ``members`` set exactly the SCIM members, removals remove SCIM memberships, and memberships
  added by hand or by SSO are left alone (docs/architecture.md: "memberships added by hand are left
  alone").
- PATCH never loads the member list: member operations become one ModifyGroupMembers (ids to add
  and remove, Entra's many-members PATCH included) or, for a replace, one UpdateGroup. It
  answers 200 with the entire group, members included, as RFC 7644 §3.5.2 says a 200 does
  (subject to ``attributes``/``excludedAttributes``): scim-sanity requires 200, scim2-tester
  requires a body to show what was patched, and Entra and Okta accept it. 204, which Entra
  recommends for accounts with very large groups, is the account's choice
  (AccountSettings.scim_group_patch_returns_resource false), and the answer for a group of more
  than WHOLE_GROUP_MAX_MEMBERS members whatever the account chose: the member list would cost
  in proportion to the group (136 ms of CPU to add one member to 10,000, against 2 ms for the
  change itself), and the conformance tools that want 200 use groups of a few members. A
  request that names ``attributes``/``excludedAttributes`` gets 200 with the group so projected
  either way.
- A member id that names no user of the account is left out, not refused: Entra and Okta only
  send ids of users they created, so such an id comes from a probe or from a user deleted in
  the meantime, and refusing the whole write would drop the valid members with it and put the
  IdP's job in error. Nothing dangling is stored, and a client that reads the group back sees
  exactly the members that exist (docs/scim-clients.md §8). An id that names a group is still
  refused: nested groups are not supported, and saying so is actionable.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import FailedPrecondition, InvalidArgument
from scim import conflicts, query
from scim.convert import group_from_scim, group_to_scim
from scim.directory import Directory
from scim.errors import invalid_value
from scim.etags import format_etag
from scim.exchange import NO_CONTENT, ScimRequest, ScimResponse, json_response
from scim.filters import any_of
from scim.patch import apply_patch
from scim.projection import Projection
from scim.schemas import GROUP_RESOURCE
from scim.values import normalize_resource

Json = Any
# A page of projected resources (named here: inside the classes `list` is a method).
Resources = list[dict[str, Json]]
T = TypeVar("T")

# How many refused member ids are checked for being groups, to explain a nested-group attempt.
_NESTED_CHECK_LIMIT: Final = 50
# Member ids looked up at once when some of a write's members name no user.
_LOOKUP_BATCH: Final = 100
# A group PATCH answers 204 above this many members (see the module docstring).
WHOLE_GROUP_MAX_MEMBERS: Final = 1000


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _id_in(ids: list[str]) -> pb.Filter:
    return any_of(
        [
            pb.Filter(
                comparison=pb.Comparison(
                    attribute="id",
                    operator=pb.OPERATOR_EQUAL,
                    value=pb.FilterValue(string_value=i),
                )
            )
            for i in ids
        ]
    )


class Groups:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    # -- helpers --------------------------------------------------------------------------------

    async def _members_written(
        self, request: ScimRequest, ids: list[str], write: Callable[[list[str]], Awaitable[T]]
    ) -> T:
        """Runs ``write(ids)``, a call that writes members. When the directory refuses ids that
        name no user: an id that is a group's becomes the nested-group refusal; otherwise the
        write runs again with only the ids that name users (the module's docstring says why)."""
        try:
            return await write(ids)
        except InvalidArgument as error:
            if error.reason != "unknown_user" or not ids:
                raise
            checked = [i for i in ids if _is_uuid(i)][:_NESTED_CHECK_LIMIT]
            if checked:
                groups = await self.directory.list_groups(
                    request.account_id,
                    _id_in(checked),
                    pb.PageRequest(page_size=len(checked)),
                    members=False,
                )
                if groups.groups:
                    raise invalid_value(
                        "nested groups are not supported; members must be users, and "
                        f"{groups.groups[0].id} is a group",
                        "members",
                    ) from None
            known = await self._users_among(request, ids)
            if len(known) == len(ids):
                raise  # refused for another reason: a user deleted meanwhile, retried by the IdP
            return await write(known)

    def _replace_members(
        self, group: pb.Group, ids: list[str], *, expected: int, request: ScimRequest
    ) -> Awaitable[pb.Group]:
        return self.directory.update_group(
            group, members=ids, expected_version=expected, actor=request.actor
        )

    def _modify_members(
        self, group_id: str, ids: list[str], *, remove: list[str], request: ScimRequest
    ) -> Awaitable[pb.Group]:
        # A delta commutes with concurrent changes: no version precondition needed.
        return self.directory.modify_members(
            request.account_id,
            group_id,
            add=ids,
            remove=remove,
            expected_version=0,
            actor=request.actor,
        )

    async def _users_among(self, request: ScimRequest, ids: list[str]) -> list[str]:
        """The ids among ``ids`` that name users of the account, in their order."""
        candidates = list(dict.fromkeys(i for i in ids if _is_uuid(i)))
        found: set[str] = set()
        for start in range(0, len(candidates), _LOOKUP_BATCH):
            batch = candidates[start : start + _LOOKUP_BATCH]
            response = await self.directory.list_users(
                request.account_id, _id_in(batch), pb.PageRequest(page_size=len(batch))
            )
            found.update(user.id for user in response.users)
        return [i for i in ids if i in found]

    async def _render(
        self,
        request: ScimRequest,
        group: pb.Group,
        projection: Projection,
        status: int = 200,
    ) -> ScimResponse:
        resource = group_to_scim(group, request.base_url, with_members=projection.wants("members"))
        location = resource["meta"]["location"] if status == 201 else ""
        return json_response(
            status, projection.apply(resource), etag=format_etag(group.version), location=location
        )

    async def _reloaded(
        self, request: ScimRequest, group: pb.Group, projection: Projection
    ) -> pb.Group:
        """``group`` with its members when the response shows them (writes return none)."""
        if not projection.wants("members") or group.members:
            return group
        return await self.directory.get_group(request.account_id, group.id, members=True)

    # -- endpoints ------------------------------------------------------------------------------

    async def create(self, request: ScimRequest) -> ScimResponse:
        """POST /Groups (RFC 7644 §3.3): 201 with the group, ETag and Location. Entra's extra
        ADSCIM schema URI is ignored (docs/scim-clients.md §2 row 5)."""
        resource = normalize_resource(GROUP_RESOURCE, request.json())
        group, members = group_from_scim(resource)
        group.account_id = request.account_id

        def create(ids: list[str]) -> Awaitable[pb.Group]:
            del group.members[:]
            group.members.extend(pb.GroupMember(user_id=m) for m in ids)
            return self.directory.create_group(group, request.actor)

        created = await self._members_written(request, members, create)
        projection = query.projection_from_query(GROUP_RESOURCE, request.query)
        if members:
            created = await self._reloaded(request, created, projection)
        return await self._render(request, created, projection, status=201)

    async def get(self, request: ScimRequest, group_id: str) -> ScimResponse:
        """GET /Groups/{id} (RFC 7644 §3.4.1); members only when returned
        (``excludedAttributes=members``, docs/scim-clients.md §2 row 6)."""
        projection = query.projection_from_query(GROUP_RESOURCE, request.query)
        group = await self.directory.get_group(
            request.account_id, group_id, members=projection.wants("members")
        )
        return await self._render(request, group, projection)

    async def replace(self, request: ScimRequest, group_id: str) -> ScimResponse:
        """PUT /Groups/{id} (RFC 7644 §3.5.1): name, externalId and the SCIM members replaced
        (Okta AIW apps push groups this way, docs/scim-clients.md §5 row 10)."""
        resource = normalize_resource(GROUP_RESOURCE, request.json())
        group, members = group_from_scim(resource)
        group.account_id, group.id = request.account_id, group_id
        expected = 0
        if request.if_match is not None:
            current = await self.directory.get_group(request.account_id, group_id, members=False)
            request.if_match.check(current.version)
            expected = current.version
        updated = await self._members_written(
            request,
            members,
            lambda ids: self.directory.update_group(
                group, members=ids, expected_version=expected, actor=request.actor
            ),
        )
        projection = query.projection_from_query(GROUP_RESOURCE, request.query)
        updated = await self._reloaded(request, updated, projection)
        return await self._render(request, updated, projection)

    async def patch(self, request: ScimRequest, group_id: str) -> ScimResponse:
        """PATCH /Groups/{id} (RFC 7644 §3.5.2) with Okta's rename and membership pushes and
        Entra's member additions and removals (docs/scim-clients.md §3–§5)."""
        body = request.json()
        has_if_match = request.if_match is not None
        for attempt in conflicts.attempts(has_if_match):
            current = await self.directory.get_group(request.account_id, group_id, members=False)
            if request.if_match is not None:
                request.if_match.check(current.version)
            resource = group_to_scim(current, request.base_url, with_members=False)
            result = apply_patch(GROUP_RESOURCE, resource, body, track_members=True)
            group, _ = group_from_scim(result.resource)
            group.account_id, group.id = request.account_id, group_id
            renamed = (group.display_name, group.idp_identifier) != (
                current.display_name,
                current.idp_identifier,
            )
            change = result.members
            try:
                updated = current
                if change is not None and change.members is not None:
                    updated = await self._members_written(
                        request,
                        change.members,
                        functools.partial(
                            self._replace_members, group, expected=current.version, request=request
                        ),
                    )
                    break
                if renamed:
                    updated = await self.directory.update_group(
                        group, members=None, expected_version=current.version, actor=request.actor
                    )
                if change is not None and (change.added or change.removed):
                    updated = await self._members_written(
                        request,
                        change.added,
                        functools.partial(
                            self._modify_members, group_id, remove=change.removed, request=request
                        ),
                    )
                break
            except FailedPrecondition as error:
                await conflicts.after_conflict(error, attempt, has_if_match)
        asked = request.has_parameter("attributes") or request.has_parameter("excludedAttributes")
        if not asked:
            settings = await self.directory.settings(request.account_id)
            if (
                not settings.scim_group_patch_returns_resource
                or updated.member_count > WHOLE_GROUP_MAX_MEMBERS
            ):
                return NO_CONTENT
        # RFC 7644 §3.5.2: 200 carries the entire resource, subject to attributes and
        # excludedAttributes (Entra can keep the member list out with excludedAttributes).
        projection = query.projection_from_query(GROUP_RESOURCE, request.query)
        updated = await self._reloaded(request, updated, projection)
        return await self._render(request, updated, projection)

    async def delete(self, request: ScimRequest, group_id: str) -> ScimResponse:
        """DELETE /Groups/{id} (RFC 7644 §3.6): 204, then 404."""
        expected = 0
        if request.if_match is not None:
            version = request.if_match.expected_version()
            if version is None:
                current = await self.directory.get_group(
                    request.account_id, group_id, members=False
                )
                request.if_match.check(current.version)
                version = current.version
            expected = version
        await self.directory.delete_group(request.account_id, group_id, expected, request.actor)
        return NO_CONTENT

    async def list(self, request: ScimRequest, list_query: query.ListQuery) -> ScimResponse:
        """GET /Groups and POST /Groups/.search (RFC 7644 §3.4.2, §3.4.3); Entra matches groups
        by displayName with members excluded (docs/scim-clients.md §2 row 3)."""
        total, resources = await self.page(request, list_query)
        return json_response(200, query.list_response(list_query, total, resources))

    async def page(
        self, request: ScimRequest, list_query: query.ListQuery
    ) -> tuple[int, Resources]:
        """The total matching ``list_query`` and its page of projected groups."""
        projection = list_query.projection
        response = await self.directory.list_groups(
            request.account_id,
            list_query.filter,
            list_query.page(),
            members=projection.wants("members") and list_query.count > 0,
        )
        groups = list(response.groups) if list_query.count else []
        resources = [
            projection.apply(
                group_to_scim(g, request.base_url, with_members=projection.wants("members"))
            )
            for g in groups
        ]
        return response.page.total_size, resources
