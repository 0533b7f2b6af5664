"""The wizard's SCIM step: a token for the IdP (users:manage and groups:manage, shown once, with
its expiry), the values to paste into Okta or Microsoft Entra ID under their own names, and the
provisioning log of that token, live: the IdP's "Test connection" and first pushes appear as
they arrive (the page polls ``/setup/scim/log``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

import grpc
from aiohttp import web
from google.protobuf import timestamp_pb2

from gateway.pages.html import secure
from gateway.setup import idps
from gateway.setup.session import Setup, setup_view
from idmesh.auth.v1 import auth_pb2
from idmesh.directory.v1 import directory_pb2 as pb

PERMISSIONS: Final = ("users:manage", "groups:manage")
TOKEN_LIFETIME: Final = timedelta(days=365)
OUTCOMES: Final = {
    pb.PROVISIONING_OUTCOME_SUCCESS: "success",
    pb.PROVISIONING_OUTCOME_REJECTED: "rejected",
    pb.PROVISIONING_OUTCOME_FAILED: "failed",
}


def _settings(setup: Setup, secret: str) -> list[dict[str, Any]]:
    values = {idps.SCIM_BASE_URL: f"{setup.public_url}/scim/v2",
              idps.SCIM_TOKEN: secret or "(the token below, once created)"}  # fmt: skip
    return [
        {
            "guide": guide,
            "rows": [
                {
                    "id": f"scim-{g}-{i}",
                    "label": p.label,
                    "value": p.value if p.literal else values[p.value],
                    # Choices are picked, not pasted; the token is there once it exists.
                    "copyable": not p.literal and (p.value != idps.SCIM_TOKEN or bool(secret)),
                }
                for i, p in enumerate(guide.settings)
            ],
        }
        for g, guide in enumerate(idps.SCIM_GUIDES)
    ]


async def _token(setup: Setup) -> auth_pb2.ApiToken | None:
    if not setup.link.scim_token_id:
        return None
    try:
        found = await setup.clients.auth.GetApiToken(
            auth_pb2.GetApiTokenRequest(
                account_id=setup.account_id, token_id=setup.link.scim_token_id
            )
        )
    except grpc.aio.AioRpcError as error:
        if error.code() is grpc.StatusCode.NOT_FOUND:
            return None
        raise
    return found.token


async def events(setup: Setup, token_id: str) -> list[dict[str, Any]]:
    """The token's SCIM requests, newest first (the provisioning log)."""
    if not token_id:
        return []
    listed = await setup.clients.directory.ListProvisioningEvents(
        pb.ListProvisioningEventsRequest(
            account_id=setup.account_id,
            filter=pb.Filter(
                comparison=pb.Comparison(
                    attribute="token_id", operator=pb.OPERATOR_EQUAL,
                    value=pb.FilterValue(string_value=token_id),
                )
            ),
            page=pb.PageRequest(page_size=50, order_by="time", sort_order=pb.SORT_ORDER_DESCENDING),
        )
    )  # fmt: skip
    return [
        {
            "time": e.time.ToDatetime(tzinfo=UTC).strftime("%H:%M:%S"),
            "request": " · ".join(
                x for x in (f"{e.method} {e.resource_type}".strip(), e.operation) if x
            ),
            "operation": e.operation,
            "outcome": OUTCOMES.get(e.outcome, "unknown"),
            "status": e.http_status,
            "detail": e.detail,
        }
        for e in listed.events
    ]


async def _page(setup: Setup, *, secret: str = "", token: auth_pb2.ApiToken | None) -> web.Response:
    return setup.page(
        "setup/scim.html", "scim", "Provisioning (SCIM)", secret=secret, token=token,
        base_url=f"{setup.public_url}/scim/v2", settings=_settings(setup, secret),
        events=await events(setup, token.id if token else ""),
    )  # fmt: skip


@setup_view("scim")
async def scim_page(setup: Setup) -> web.StreamResponse:
    return await _page(setup, token=await _token(setup))


@setup_view("scim")
async def create_token(setup: Setup) -> web.StreamResponse:
    """A new SCIM token (a previous one of this link is revoked): its secret on this page only."""
    previous = await _token(setup)
    expire = timestamp_pb2.Timestamp()
    expire.FromDatetime(datetime.now(UTC) + TOKEN_LIFETIME)
    created = await setup.clients.auth.CreateApiToken(
        auth_pb2.CreateApiTokenRequest(
            account_id=setup.account_id, description="SCIM provisioning (setup link)",
            permissions=PERMISSIONS, expire_time=expire,
            created_by=f"setup link {setup.link.id}",
        )
    )  # fmt: skip
    if previous is not None and not previous.HasField("revoke_time"):
        await setup.clients.auth.RevokeApiToken(
            auth_pb2.RevokeApiTokenRequest(account_id=setup.account_id, token_id=previous.id)
        )
    await setup.clients.auth.UpdateSetupLink(
        auth_pb2.UpdateSetupLinkRequest(
            account_id=setup.account_id, link_id=setup.link.id, scim_token_id=created.token.id
        )
    )
    await setup.audit(
        "setup_link.scim_token_created", "api_token", created.token.id,
        permissions=list(PERMISSIONS), replaced=previous.id if previous else "",
    )  # fmt: skip
    return await _page(setup, secret=created.secret, token=created.token)


@setup_view("scim")
async def scim_log(setup: Setup) -> web.StreamResponse:
    """The provisioning log of the link's token, as JSON, for the page's live list."""
    return secure(web.json_response({"events": await events(setup, setup.link.scim_token_id)}))
