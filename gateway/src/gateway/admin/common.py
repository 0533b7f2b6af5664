"""What every console page shares: the session check around a handler, the words for statuses,
outcomes and sources, and turning a service's refusal into an error next to a form field."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

import grpc
from aiohttp import web

from gateway.admin.guard import Admin, SignInRequired, current_admin, to_sign_in
from idmesh.auth.v1 import auth_pb2
from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import NotFound, from_rpc_error

AdminHandler = Callable[[web.Request, Admin], Awaitable[web.StreamResponse]]

USER_STATUSES: Final = {
    pb.USER_STATUS_PENDING: "pending",
    pb.USER_STATUS_ACTIVE: "active",
    pb.USER_STATUS_DEACTIVATED: "deactivated",
}
STATUS_BADGES: Final = {"active": "ok", "pending": "warn", "deactivated": "bad"}
LOGIN_OUTCOMES: Final = {
    auth_pb2.LOGIN_OUTCOME_SUCCESS: "success",
    auth_pb2.LOGIN_OUTCOME_FAILURE: "failure",
    auth_pb2.LOGIN_OUTCOME_RESTARTED: "restarted",
}
PROVISIONING_OUTCOMES: Final = {
    pb.PROVISIONING_OUTCOME_SUCCESS: "success",
    pb.PROVISIONING_OUTCOME_REJECTED: "rejected",
    pb.PROVISIONING_OUTCOME_FAILED: "failed",
}
OUTCOME_BADGES: Final = {
    "success": "ok",
    "failure": "bad",
    "failed": "bad",
    "rejected": "warn",
    "restarted": "neutral",
}
SOURCES: Final = {
    pb.MEMBERSHIP_SOURCE_SSO: "SSO",
    pb.MEMBERSHIP_SOURCE_SCIM: "SCIM",
    pb.MEMBERSHIP_SOURCE_MANUAL: "manual",
    pb.MEMBERSHIP_SOURCE_GROUP: "group",
}
# The refusals a form shows next to its fields (anything else is the error page).
FORM_ERRORS: Final = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ABORTED: 409,
}


def admin_view(handler: AdminHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """``handler`` behind the session check: no live session redirects to the sign-in."""

    async def view(request: web.Request) -> web.StreamResponse:
        try:
            admin = await current_admin(request)
        except SignInRequired:
            return to_sign_in(request)
        return await handler(request, admin)

    return view


def form_error(error: grpc.aio.AioRpcError, fields: dict[str, str]) -> tuple[int, dict[str, str]]:
    """The status and the message by form field of a refusal the form shows; the service's
    field name is mapped through ``fields`` ("" when it names none: the form's alert)."""
    status = FORM_ERRORS.get(error.code())
    if status is None:
        raise error
    refused = from_rpc_error(error)
    field = fields.get(refused.field, "") if refused.field else ""
    message = refused.message or "The request was refused."
    return status, {field: message[:1].upper() + message[1:]}


def not_found_for_bad_ids(error: grpc.aio.AioRpcError) -> BaseException:
    """A malformed id in the URL is a page that does not exist (404), like another account's."""
    if error.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND):
        return NotFound("no such item")
    return error


def user_source(user: pb.User) -> str:
    """Where a user came from: SCIM (it has an externalId), a sign-in, or an admin."""
    if user.external_id:
        return "SCIM"
    if user.last_login_time.seconds:
        return "sign-in"
    return "admin"


def user_name(user: pb.User) -> str:
    return user.display_name or " ".join(
        p for p in (user.name.given_name, user.name.family_name) if p
    )
