"""A SCIM user's life through the real processes (docs/scim-clients.md §1, §2 rows 10–11,
§7): pending until its first SSO login and found by userName meanwhile; DELETE is 204 then 404;
the userName is free again; the audit trail outlives the user."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from idmesh.directory.v1 import directory_pb2 as pb
from tests.e2e.scim.gateway_client import GatewayScim
from tests.e2e.tenants import Tenant
from tests.integration.scim.replays import entra_user

pytestmark = pytest.mark.e2e


def _eq(attribute: str, value: str) -> pb.Filter:
    return pb.Filter(
        comparison=pb.Comparison(
            attribute=attribute,
            operator=pb.OPERATOR_EQUAL,
            value=pb.FilterValue(string_value=value),
        )
    )


async def _audit_actions(directory: Any, account_id: str, target_id: str) -> list[str]:
    request = pb.ListAuditEventsRequest(account_id=account_id, filter=_eq("target_id", target_id))
    return [e.action for e in (await directory.ListAuditEvents(request)).events]


async def test_a_scim_created_user_is_pending_and_found_by_user_name_until_sso_lands(
    entra: GatewayScim, tenant: Tenant, directory: Any
) -> None:
    """docs/architecture.md: status `pending` = provisioned, never signed in. SCIM shows it active
    (Okta loops on "reactivating" an active=false invitee, §5 field reports). The sign-in that
    comes later finds it by userName, an email compared case-insensitively."""
    body = entra_user()
    created = await entra.request("POST", "/Users", body)
    assert (created.status, created.body["active"]) == (201, True)

    stored = (
        await directory.GetUser(
            pb.GetUserRequest(account_id=tenant.account_id, user_id=created.body["id"])
        )
    ).user
    assert stored.status == pb.USER_STATUS_PENDING
    assert not stored.HasField("last_login_time")
    found = await directory.ListUsers(
        pb.ListUsersRequest(
            account_id=tenant.account_id, filter=_eq("user_name", body["userName"].upper())
        )
    )
    assert [(u.id, u.status) for u in found.users] == [(created.body["id"], pb.USER_STATUS_PENDING)]
    pending = await directory.ListUsers(
        pb.ListUsersRequest(account_id=tenant.account_id, filter=_eq("status", "pending"))
    )
    assert created.body["id"] in [u.id for u in pending.users]


async def test_delete_is_204_then_404_the_user_name_is_free_again_and_the_audit_trail_stays(
    entra: GatewayScim, tenant: Tenant, directory: Any
) -> None:
    """§2 row 11 (Entra's hard delete) and §7 (django-scim2#83: re-creating a deleted userName
    must work); docs/architecture.md: audit events are append-only."""
    body = entra_user(f"again.{uuid.uuid4().hex[:8]}@example.com")
    first = (await entra.request("POST", "/Users", body)).body["id"]

    deleted = await entra.request("DELETE", f"/Users/{first}")
    assert (deleted.status, deleted.body) == (204, None)
    gone = await entra.request("GET", f"/Users/{first}")
    assert (gone.status, gone.body["status"]) == (404, "404")
    again = await entra.request("DELETE", f"/Users/{first}")
    assert again.status == 404
    listed = await entra.request(
        "GET", "/Users", query={"filter": f'userName eq "{body["userName"]}"'}
    )
    assert listed.body["totalResults"] == 0

    recreated = await entra.request("POST", "/Users", body)
    assert recreated.status == 201, recreated.body
    assert recreated.body["id"] != first
    assert await _audit_actions(directory, tenant.account_id, first) == [
        "user.created",
        "user.deleted",
    ]
    assert await _audit_actions(directory, tenant.account_id, recreated.body["id"]) == [
        "user.created"
    ]
