"""One login's provisioning through directory's ProvisionLogin, shared by OIDC and SAML: the same
identity link, policy, six space/role rules, timezone and group sync whatever the protocol."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Final

import grpc
from google.protobuf import timestamp_pb2

from auth.sso.identity import Identity
from auth.sso.models import POLICY_CREATE, POLICY_DENY, POLICY_LINK, UPDATE_EVERY_LOGIN, Connection
from idmesh.directory.v1 import directory_pb2
from meshkit.errors import from_rpc_error

if TYPE_CHECKING:
    from idmesh.directory.v1.directory_pb2_grpc import DirectoryServiceAsyncStub

PROVISION_DEADLINE_SECONDS: Final = 5.0
_POLICIES: Final = {
    POLICY_CREATE: directory_pb2.LOGIN_PROVISIONING_POLICY_CREATE_USERS,
    POLICY_LINK: directory_pb2.LOGIN_PROVISIONING_POLICY_LINK_EXISTING_USERS,
    POLICY_DENY: directory_pb2.LOGIN_PROVISIONING_POLICY_DENY_UNKNOWN_USERS,
}
# Directory's denials, passed on as the trace's reason.
_DIRECTORY_REASONS: Final = frozenset(
    {"user_deactivated", "user_not_provisioned", "email_domain_not_served", "email_not_verified"}
)


class ProvisioningRefused(Exception):
    """Directory refused or failed; ``reason`` for the trace, ``unavailable`` for a retryable
    failure rather than a refusal."""

    def __init__(self, reason: str, detail: str, *, unavailable: bool = False) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.unavailable = unavailable


async def provision_login(
    directory: DirectoryServiceAsyncStub,
    connection: Connection,
    identity: Identity,
    now: datetime,
    *,
    dry_run: bool = False,
) -> directory_pb2.ProvisionLoginResponse:
    """Directory's ProvisionLogin for this login; with ``dry_run`` it writes nothing and says
    what it would have done."""
    login_time = timestamp_pb2.Timestamp()
    login_time.FromDatetime(now)
    request = directory_pb2.ProvisionLoginRequest(
        account_id=str(connection.account_id),
        connection_id=str(connection.id),
        subject=identity.subject,
        email=identity.email,
        email_trusted=identity.email_verified,
        served_domains=connection.domains,
        given_name=identity.given_name,
        family_name=identity.family_name,
        display_name=identity.display_name,
        timezone=identity.timezone,
        spaces_present=identity.spaces_present,
        space_names=identity.space_names,
        space_roles=identity.space_roles,
        default_space_name=connection.default_space,
        default_space_role=connection.default_space_role,
        sync_groups=identity.sync_groups,
        groups=identity.groups,
        policy=_POLICIES[connection.provisioning_policy],
        update_every_login=connection.profile_update == UPDATE_EVERY_LOGIN,
        login_time=login_time,
        dry_run=dry_run,
        actor=directory_pb2.Actor(
            type=directory_pb2.ACTOR_TYPE_SSO_LOGIN,
            id=str(connection.id),
            display_name=connection.display_name,
        ),
    )
    try:
        return await directory.ProvisionLogin(request, timeout=PROVISION_DEADLINE_SECONDS)
    except grpc.aio.AioRpcError as error:
        reason = from_rpc_error(error).reason
        if error.code() is grpc.StatusCode.PERMISSION_DENIED and reason in _DIRECTORY_REASONS:
            raise ProvisioningRefused(reason, error.details() or reason) from None
        if error.code() is grpc.StatusCode.NOT_FOUND:
            raise ProvisioningRefused("account_not_found", "the account is gone") from None
        raise ProvisioningRefused(
            "directory_unavailable",
            f"the directory failed ({error.code().name})",
            unavailable=True,
        ) from None


def provisioning_notes(response: directory_pb2.ProvisionLoginResponse) -> list[str]:
    """What the login changed, for the trace (names of spaces and groups, no personal data)."""
    notes = []
    if response.created:
        notes.append("user created")
    elif response.activated:
        notes.append("pending user activated")
    if response.profile_applied:
        granted = ", ".join(f"{g.space_name}: {g.role_name}" for g in response.spaces)
        notes.append(f"spaces: {granted or 'none'}")
    if response.ignored_spaces:
        notes.append("unknown spaces ignored: " + ", ".join(response.ignored_spaces))
    if response.unknown_roles:
        notes.append("unknown roles (Space Member given): " + ", ".join(response.unknown_roles))
    if response.timezone_ignored:
        notes.append("timezone ignored: not an IANA name")
    if response.groups_synced:
        notes.append(
            f"groups +{len(response.groups_added)} -{len(response.groups_removed)}"
            + (f", no group for {', '.join(response.groups_unmatched[:20])}"
               if response.groups_unmatched else "")
        )  # fmt: skip
    return notes
