"""DirectoryService.ProvisionLogin: the sign-in path shared by every SSO protocol.

A mixin of DirectoryServicer (which holds ``stores``): validate the request, run the one
transaction of store/logins.py, convert its result.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import grpc

from directory import convert, validate
from directory.store.logins import POLICY_CREATE, POLICY_DENY, POLICY_LINK, LoginClaims
from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import InvalidArgument

if TYPE_CHECKING:
    from directory.store import Stores

Context = grpc.aio.ServicerContext[Any, Any]

_POLICIES: Final = {
    pb.LOGIN_PROVISIONING_POLICY_UNSPECIFIED: POLICY_CREATE,
    pb.LOGIN_PROVISIONING_POLICY_CREATE_USERS: POLICY_CREATE,
    pb.LOGIN_PROVISIONING_POLICY_LINK_EXISTING_USERS: POLICY_LINK,
    pb.LOGIN_PROVISIONING_POLICY_DENY_UNKNOWN_USERS: POLICY_DENY,
}
_MAX_ITEMS: Final = 2000


def _names(values: Any, field: str) -> tuple[str, ...]:
    items = tuple(values)
    if len(items) > _MAX_ITEMS:
        raise InvalidArgument(f"at most {_MAX_ITEMS} items", field=field)
    return items


def login_claims(request: pb.ProvisionLoginRequest) -> LoginClaims:
    """The validated request as the store takes it."""
    policy = _POLICIES.get(request.policy)
    if policy is None:
        raise InvalidArgument("unknown policy", field="policy")
    return LoginClaims(
        account_id=validate.account_id(request.account_id),
        connection_id=validate.required(request.connection_id, "connection_id"),
        subject=validate.required(request.subject, "subject"),
        email=request.email.strip(),
        email_trusted=request.email_trusted,
        served_domains=frozenset(
            d.strip().lower() for d in _names(request.served_domains, "served_domains")
        ),
        given_name=request.given_name,
        family_name=request.family_name,
        display_name=request.display_name,
        timezone=request.timezone.strip(),
        spaces_present=request.spaces_present,
        space_names=_names(request.space_names, "space_names"),
        space_roles=_names(request.space_roles, "space_roles"),
        default_space_name=request.default_space_name,
        default_space_role=request.default_space_role,
        sync_groups=request.sync_groups,
        groups=tuple(dict.fromkeys(_names(request.groups, "groups"))),
        policy=policy,
        update_every_login=request.update_every_login,
        login_time=request.login_time.ToDatetime(tzinfo=UTC)
        if request.HasField("login_time")
        else datetime.now(UTC),
    )


class LoginProvisioning:
    stores: Stores

    async def ProvisionLogin(
        self, request: pb.ProvisionLoginRequest, context: Context
    ) -> pb.ProvisionLoginResponse:
        """Finds, links or creates the user of a validated sign-in and applies profile, spaces
        and groups in one transaction; PERMISSION_DENIED (reason user_deactivated,
        user_not_provisioned or email_not_verified) when the user may not sign in."""
        claims = login_claims(request)
        result = await self.stores.logins.provision(
            claims, convert.actor(request.actor), dry_run=request.dry_run
        )
        return pb.ProvisionLoginResponse(
            user=convert.user(result.user) if result.user is not None else None,
            created=result.created,
            linked=result.linked,
            activated=result.activated,
            first_login=result.first_login,
            profile_applied=result.profile_applied,
            spaces=[
                pb.LoginSpaceGrant(
                    space_id=str(grant.space.id),
                    space_name=grant.space.name,
                    role_id=str(grant.role.id),
                    role_name=grant.role.name,
                )
                for grant in result.spaces
            ],
            ignored_spaces=result.ignored_spaces,
            unknown_roles=result.unknown_roles,
            timezone_ignored=result.timezone_ignored,
            groups_synced=result.groups_synced,
            groups_added=result.groups_added,
            groups_removed=result.groups_removed,
            groups_unmatched=result.groups_unmatched,
            dry_run=request.dry_run,
        )
