"""``/api/v1/setup-links``: links an account admin sends a customer's IT admin.

A link opens the self-serve setup wizard (``/setup/<secret>``) of this account for one person,
once, until it expires (7 days unless told otherwise, at most 30) or is revoked. It may
configure single sign-on (``sso``, which includes the email domains it needs), SCIM
provisioning (``scim``) or only the domains. Its URL is in the creation response only. A link
that may set up SCIM issues a SCIM token, so creating one also takes ``tokens:manage``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

from aiohttp import web

from gateway import setup_audit
from gateway.api import schemas
from gateway.api.routing import Call, endpoint
from gateway.api.schemas import array, obj, string
from gateway.api.values import json_response, no_content, timestamp
from gateway.auth import has_permission
from gateway.state import CONFIG
from idmesh.auth.v1 import auth_pb2
from meshkit.errors import InvalidArgument, PermissionDenied

DEFAULT_LIFETIME: Final = timedelta(days=7)
SETUP_PATH: Final = "/setup/"

_LINK_PROPERTIES: Final[dict[str, schemas.Schema]] = {
    "id": schemas.ID,
    "sso": {"type": "boolean"},
    "scim": {"type": "boolean"},
    "domains": {"type": "boolean"},
    "status": {
        "type": "string",
        "enum": ["active", "opened", "finished", "expired", "revoked"],
        "description": "opened: a browser is using it; no other browser can.",
    },
    "create_time": schemas.TIMESTAMP,
    "expire_time": schemas.TIMESTAMP,
    "open_time": schemas.NULLABLE_TIMESTAMP,
    "finish_time": schemas.NULLABLE_TIMESTAMP,
    "revoke_time": schemas.NULLABLE_TIMESTAMP,
    "created_by": string(200),
    "connection_id": {**schemas.ID, "type": ["string", "null"]},
}
_REQUIRED: Final = tuple(_LINK_PROPERTIES)
_LINK = schemas.define("SetupLink", obj(_LINK_PROPERTIES, required=_REQUIRED))
schemas.define("SetupLinkList", obj({"items": array(_LINK)}, required=("items",)))
schemas.define(
    "SetupLinkCreated",
    obj(
        {
            **_LINK_PROPERTIES,
            "url": {
                "type": "string",
                "format": "uri",
                "description": "The link to send: shown this once, stored only as a hash.",
            },
        },
        required=(*_REQUIRED, "url"),
    ),
)
schemas.define(
    "SetupLinkCreate",
    obj(
        {
            "sso": {"type": "boolean", "description": "Single sign-on (and its domains)."},
            "scim": {"type": "boolean", "description": "SCIM provisioning (issues a token)."},
            "domains": {"type": "boolean", "description": "Email domains only."},
            "expire_time": {
                **schemas.TIMESTAMP,
                "description": "Default: 7 days from now; at most 30 days.",
            },
        },
        additionalProperties=False,
    ),
)


def link_status(link: auth_pb2.SetupLink, now: datetime | None = None) -> str:
    if link.HasField("revoke_time"):
        return "revoked"
    if link.HasField("finish_time"):
        return "finished"
    if link.expire_time.ToDatetime(tzinfo=UTC) <= (now or datetime.now(UTC)):
        return "expired"
    return "opened" if link.HasField("open_time") else "active"


def link_json(link: auth_pb2.SetupLink) -> dict[str, Any]:
    return {
        "id": link.id,
        "sso": link.sso,
        "scim": link.scim,
        "domains": link.domains,
        "status": link_status(link),
        "create_time": timestamp(link.create_time),
        "expire_time": timestamp(link.expire_time),
        "open_time": timestamp(link.open_time),
        "finish_time": timestamp(link.finish_time),
        "revoke_time": timestamp(link.revoke_time),
        "created_by": link.created_by,
        "connection_id": link.connection_id or None,
    }


@endpoint("List setup links", description="Newest first, revoked and used ones included.",
          response="SetupLinkList")  # fmt: skip
async def list_setup_links(call: Call) -> web.Response:
    response = await call.clients.auth.ListSetupLinks(
        auth_pb2.ListSetupLinksRequest(account_id=call.account_id, include_inactive=True)
    )
    return json_response({"items": [link_json(link) for link in response.links]})


@endpoint(
    "Create a setup link",
    description="For a customer's IT admin: the link opens the setup wizard of this account, "
    "once, for one browser. Its URL is in this response only. SCIM needs tokens:manage too.",
    body="SetupLinkCreate",
    example={"sso": True, "scim": True},
    response="SetupLinkCreated",
    status=201,
)
async def create_setup_link(call: Call) -> web.Response:
    body = call.body
    sso, scim, domains = (bool(body.get(k)) for k in ("sso", "scim", "domains"))
    if not (sso or scim or domains):
        raise InvalidArgument("name what the link may set up: sso, scim or domains", field="sso")
    if scim and not has_permission(call.principal.permissions, "tokens:manage"):
        raise PermissionDenied(
            "A link that sets up SCIM issues a token: the caller needs 'tokens:manage'.",
            reason="insufficient_scope",
        )
    request = auth_pb2.CreateSetupLinkRequest(
        account_id=call.account_id, sso=sso, scim=scim, domains=domains,
        created_by=f"admin API ({call.principal.token_id})",
    )  # fmt: skip
    expire_time = body.get("expire_time")
    if expire_time:
        try:
            request.expire_time.FromJsonString(expire_time)
        except ValueError:
            raise InvalidArgument("must be an RFC 3339 time", field="expire_time") from None
    else:
        request.expire_time.FromDatetime(datetime.now(UTC) + DEFAULT_LIFETIME)
    response = await call.clients.auth.CreateSetupLink(request)
    link = response.link
    await setup_audit.record(
        call.directory, call.account_id, call.actor, "setup_link.created", "setup_link",
        link.id, {"sso": link.sso, "scim": link.scim, "domains": link.domains,
                  "expire_time": timestamp(link.expire_time)},
    )  # fmt: skip
    url = call.request.config_dict[CONFIG].public_url + SETUP_PATH + response.secret
    return json_response(
        {**link_json(link), "url": url}, status=201, location=f"/api/v1/setup-links/{link.id}"
    )


@endpoint("Get a setup link", response="SetupLink")
async def get_setup_link(call: Call) -> web.Response:
    response = await call.clients.auth.GetSetupLink(
        auth_pb2.GetSetupLinkRequest(account_id=call.account_id, link_id=call.path("link_id"))
    )
    return json_response(link_json(response.link))


@endpoint(
    "Revoke a setup link",
    description="At once: the link opens nothing more, and a wizard already open on it stops.",
    status=204,
)
async def revoke_setup_link(call: Call) -> web.Response:
    response = await call.clients.auth.RevokeSetupLink(
        auth_pb2.RevokeSetupLinkRequest(account_id=call.account_id, link_id=call.path("link_id"))
    )
    await setup_audit.record(
        call.directory, call.account_id, call.actor, "setup_link.revoked", "setup_link",
        response.link.id,
    )  # fmt: skip
    return no_content()
