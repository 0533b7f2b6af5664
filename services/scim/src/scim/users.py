"""/Users (RFC 7644 §3.3–§3.6): create, read, replace, patch, delete, list and search, on the
directory.

Lifecycle (docs/scim-clients.md §1, §2 rows 10–11, §5 row 7):

- a created user is pending until its first SSO login, and active in SCIM terms (``active=false``
  on create makes it deactivated at once);
- ``active=false`` deactivates, ``active=true`` reactivates; a deactivated user stays readable and
  filterable;
- PATCH ``remove`` of ``active`` or ``roles`` unassigns it (RFC 7644 §3.5.2.2): the user is active
  with the account's default role, and the attribute reads back absent until a client sets it;
- DELETE removes the user (204, then 404); its userName is free again;
- POST of the userName of a *deactivated* user revives that user with the new representation
  (201, same id) instead of answering 409: 409 is only for a live conflict (django-scim2#83 in
  docs/scim-clients.md §7).

PATCH reads the user, applies the operations (patch.py), and writes the result with the version it
read; without If-Match a concurrent change is retried (conflicts.py), with If-Match it is 412.

A user's ``groups`` (RFC 7643 §4.1.2) come with the user's read when the response shows them
(GetUser/ListUsers include_groups): one directory call, never one more per user. A write cannot
change them (readOnly: memberships change through /Groups), so PUT and PATCH render the groups
of the read that preceded the write.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import AlreadyExists, FailedPrecondition
from scim import conflicts, policy, query
from scim.convert import user_from_scim, user_groups_to_scim, user_to_scim
from scim.directory import Directory
from scim.etags import format_etag
from scim.exchange import NO_CONTENT, ScimRequest, ScimResponse, json_response
from scim.patch import apply_patch
from scim.projection import Projection
from scim.schemas import USER_RESOURCE
from scim.values import normalize_resource

Json = Any
# A page of projected resources (named here: inside the classes `list` is a method).
Resources = list[dict[str, Json]]


def _eq(attribute: str, value: str) -> pb.Filter:
    return pb.Filter(
        comparison=pb.Comparison(
            attribute=attribute,
            operator=pb.OPERATOR_EQUAL,
            value=pb.FilterValue(string_value=value),
        )
    )


class Users:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    # -- helpers --------------------------------------------------------------------------------

    async def _prepare(
        self,
        request: ScimRequest,
        resource: dict[str, Json],
        current: pb.User | None,
        *,
        creating: bool = False,
        active_unassigned: bool = False,
        role_unassigned: bool = False,
    ) -> pb.User:
        """The directory user for ``resource``, replacing ``current`` if any: account rules
        checked, role resolved (policy.py). ``creating`` applies the rules of a creation to a
        user that already exists (a revived one). ``active_unassigned`` (``resource`` has no
        ``active``) leaves the user active; ``role_unassigned`` (no ``roles``) gives the
        account's default role, unless ``userType`` names another; both are then recorded as
        unassigned (RFC 7644 §3.5.2.2)."""
        settings = await self.directory.settings(request.account_id)
        before = None
        if current is not None and not creating:
            before = user_to_scim(current, request.base_url)
        policy.check_required(resource, settings, before)
        user = user_from_scim(resource)
        user.account_id = request.account_id
        role_name = policy.requested_role(resource, before)
        if role_name is not None and (current is None or role_name != current.account_role_name):
            roles = await self.directory.account_roles(request.account_id)
            user.account_role_id = policy.resolve_role(role_name, roles).id
        elif role_name is None and role_unassigned:
            roles = await self.directory.account_roles(request.account_id)
            user.account_role_id = policy.default_role(settings, roles).id
            user.account_role_unassigned = True
        user.active_unassigned = active_unassigned and "active" not in resource
        if current is not None:
            user.id = current.id
            # Extensions other than the enterprise one are not SCIM-writable here: keep them.
            user.extensions.CopyFrom(current.extensions)
        return user

    @staticmethod
    def _render(
        request: ScimRequest,
        user: pb.User,
        projection: Projection,
        *,
        groups: Sequence[pb.UserGroup],
        status: int = 200,
    ) -> ScimResponse:
        """The response for ``user`` with ``groups``, read with it when ``projection`` wants
        them (RFC 7643 §4.1.2, returned only on request)."""
        resource = user_to_scim(user, request.base_url)
        if projection.wants("groups"):
            resource["groups"] = user_groups_to_scim(groups, request.base_url)
        location = resource["meta"]["location"] if status == 201 else ""
        return json_response(
            status,
            projection.apply(resource),
            etag=format_etag(user.version),
            location=location,
        )

    async def _expected_version(self, request: ScimRequest, user_id: str) -> int:
        """The expected_version for If-Match (0 without one); several tags are checked here."""
        if request.if_match is None:
            return 0
        version = request.if_match.expected_version()
        if version is not None:
            return version
        current = await self.directory.get_user(request.account_id, user_id)
        request.if_match.check(current.version)
        return current.version

    # -- endpoints ------------------------------------------------------------------------------

    async def create(self, request: ScimRequest) -> ScimResponse:
        """POST /Users (RFC 7644 §3.3): 201 with the user, ETag and Location."""
        resource = normalize_resource(USER_RESOURCE, request.json())
        projection = query.projection_from_query(USER_RESOURCE, request.query)
        user = await self._prepare(request, resource, None)
        status = pb.USER_STATUS_UNSPECIFIED if user.active else pb.USER_STATUS_DEACTIVATED
        try:
            created = await self.directory.create_user(user, status, request.actor)
            groups: Sequence[pb.UserGroup] = ()  # a new user belongs to no group yet
        except AlreadyExists:
            created, groups = await self._revive(
                request, resource, user, groups=projection.wants("groups")
            )
        return self._render(request, created, projection, groups=groups, status=201)

    async def _revive(
        self, request: ScimRequest, resource: dict[str, Json], user: pb.User, *, groups: bool
    ) -> tuple[pb.User, Sequence[pb.UserGroup]]:
        """The deactivated user named ``user.user_name``, revived, and its groups (when
        ``groups``): deactivation left its memberships in place."""
        found = await self.directory.list_users(
            request.account_id,
            _eq("user_name", user.user_name),
            pb.PageRequest(page_size=1),
            groups=groups,
        )
        existing = found.users[0] if found.users else None
        if existing is None or existing.active:
            raise AlreadyExists(
                f"a user with userName '{user.user_name}' already exists in this account",
                field="userName",
                reason="uniqueness",
            )
        revived = await self._prepare(request, resource, existing, creating=True)
        updated = await self.directory.update_user(revived, existing.version, request.actor)
        return updated, existing.groups

    async def get(self, request: ScimRequest, user_id: str) -> ScimResponse:
        """GET /Users/{id} (RFC 7644 §3.4.1); 404 for an unknown id."""
        projection = query.projection_from_query(USER_RESOURCE, request.query)
        user = await self.directory.get_user(
            request.account_id, user_id, groups=projection.wants("groups")
        )
        return self._render(request, user, projection, groups=user.groups)

    async def replace(self, request: ScimRequest, user_id: str) -> ScimResponse:
        """PUT /Users/{id} (RFC 7644 §3.5.1): every writable attribute replaced (Okta's
        profile push, docs/scim-clients.md §5 row 5). ``active`` left out keeps the
        current state rather than reactivating a deactivated user; ``active`` or ``roles`` left
        out stays unassigned when it was."""
        resource = normalize_resource(USER_RESOURCE, request.json())
        projection = query.projection_from_query(USER_RESOURCE, request.query)
        current = await self.directory.get_user(
            request.account_id, user_id, groups=projection.wants("groups")
        )
        expected = 0
        if request.if_match is not None:
            request.if_match.check(current.version)
            expected = current.version
        if "active" not in resource and not current.active_unassigned:
            resource["active"] = current.active
        user = await self._prepare(
            request,
            resource,
            current,
            active_unassigned=current.active_unassigned,
            role_unassigned=current.account_role_unassigned and "roles" not in resource,
        )
        updated = await self.directory.update_user(user, expected, request.actor)
        return self._render(request, updated, projection, groups=current.groups)

    async def patch(self, request: ScimRequest, user_id: str) -> ScimResponse:
        """PATCH /Users/{id} (RFC 7644 §3.5.2): 200 with the user (scim-sanity wants 200).
        Removing ``active`` or ``roles`` unassigns it (§3.5.2.2): the user is active with the
        account's default role, and reads back without the attribute until a client sets it."""
        body = request.json()
        projection = query.projection_from_query(USER_RESOURCE, request.query)
        has_if_match = request.if_match is not None
        for attempt in conflicts.attempts(has_if_match):
            current = await self.directory.get_user(
                request.account_id, user_id, groups=projection.wants("groups")
            )
            if request.if_match is not None:
                request.if_match.check(current.version)
            resource = user_to_scim(current, request.base_url)
            patched = apply_patch(USER_RESOURCE, resource, body).resource
            # Absent after the operations: removed by this PATCH, or unassigned before it.
            user = await self._prepare(
                request,
                patched,
                current,
                active_unassigned="active" not in patched,
                role_unassigned="roles" not in patched,
            )
            if _unchanged(user, current):
                # Entra re-sends active=true and unchanged values every cycle: no write, no
                # version bump, no audit event.
                updated = current
                break
            try:
                updated = await self.directory.update_user(user, current.version, request.actor)
                break
            except FailedPrecondition as error:
                await conflicts.after_conflict(error, attempt, has_if_match)
        return self._render(request, updated, projection, groups=current.groups)

    async def delete(self, request: ScimRequest, user_id: str) -> ScimResponse:
        """DELETE /Users/{id} (RFC 7644 §3.6): 204, then 404."""
        expected = await self._expected_version(request, user_id)
        await self.directory.delete_user(request.account_id, user_id, expected, request.actor)
        return NO_CONTENT

    async def list(self, request: ScimRequest, list_query: query.ListQuery) -> ScimResponse:
        """GET /Users and POST /Users/.search (RFC 7644 §3.4.2, §3.4.3)."""
        total, resources = await self.page(request, list_query)
        return json_response(200, query.list_response(list_query, total, resources))

    async def page(
        self, request: ScimRequest, list_query: query.ListQuery
    ) -> tuple[int, Resources]:
        """The total matching ``list_query`` and its page of projected users."""
        wants_groups = list_query.projection.wants("groups")
        response = await self.directory.list_users(
            request.account_id, list_query.filter, list_query.page(), groups=wants_groups
        )
        users = list(response.users) if list_query.count else []
        resources = []
        for user in users:
            resource = user_to_scim(user, request.base_url)
            if wants_groups:
                resource["groups"] = user_groups_to_scim(user.groups, request.base_url)
            resources.append(list_query.projection.apply(resource))
        return response.page.total_size, resources


_WRITABLE_IGNORED: Final = (
    # Read with the user for the response; never written (readOnly, RFC 7643 §4.1.2).
    "groups",
    "status",
    "account_role_name",
    "create_time",
    "update_time",
    "last_login_time",
    "version",
)
# Sub-messages whose presence alone says nothing: the directory always sends them, SCIM sets them
# (enterprise) or copies them (extensions) either way. Empty, they compare as absent.
_PARTS: Final = ("name", "enterprise", "extensions")


def _unchanged(user: pb.User, current: pb.User) -> bool:
    """Whether writing ``user`` over ``current`` would change nothing."""
    before = pb.User()
    before.CopyFrom(current)
    for field in _WRITABLE_IGNORED:
        before.ClearField(field)
    before.enterprise.ClearField("manager_display_name")
    after = pb.User()
    after.CopyFrom(user)
    if not after.account_role_id:
        after.account_role_id = current.account_role_id
    for message in (before, after):
        for part in _PARTS:
            if not getattr(message, part).ListFields():
                message.ClearField(part)
    return bool(after == before)
