"""The setup session: a setup link's one browser, and what every wizard page shares.

``GET /setup/<secret>`` opens the link in auth (OpenSetupLink) and binds it to this browser with
an HttpOnly cookie (``idmesh_setup``, path /setup, SameSite=Lax so that it comes back with the
IdP's redirect after a test sign-in). Every other wizard page reads the link back from that
cookie (ValidateSetupSession) and acts only in the link's account, with the link as the audit
actor. A used, expired or revoked link — or no link at all — gets a page that says which, and
nothing else. Forms are POSTs from our own origin carrying a token derived from the session.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import grpc
from aiohttp import web

from gateway import setup_audit
from gateway.clients import Clients
from gateway.forms import Form, read_form
from gateway.pages.templates import render
from gateway.sso.cookies import secure as secure_cookies
from gateway.sso.origin import require_same_origin
from gateway.state import CLIENTS, CONFIG
from idmesh.auth.v1 import auth_pb2
from idmesh.directory.v1 import directory_pb2 as pb
from meshkit.errors import PermissionDenied, from_rpc_error

SETUP_COOKIE: Final = "idmesh_setup"
SETUP_COOKIE_PATH: Final = "/setup"
CSRF_FIELD: Final = "csrf_token"
CSRF_HEADER: Final = "X-CSRF-Token"
_SESSION_VALUE: Final = re.compile(r"^idss_[A-Za-z0-9_-]{43}$")
NO_SESSION: Final = "setup_session_unknown"
OUT_OF_SCOPE: Final = "setup_link_scope"
SCOPES: Final = ("sso", "scim", "domains")

# Why a link opens nothing: (heading, sentence, HTTP status).
ENDED: Final[Mapping[str, tuple[str, str, int]]] = {
    "setup_link_used": (
        "This setup link has already been used",
        "A setup link works in one browser only, and this one was opened in another browser "
        "or its setup is finished.",
        410,
    ),
    "setup_link_expired": (
        "This setup link has expired",
        "Setup links work for a limited time, and this one's time is up.",
        410,
    ),
    "setup_link_revoked": (
        "This setup link was revoked",
        "The person who sent it withdrew it.",
        410,
    ),
    "setup_link_unknown": (
        "This setup link is not valid",
        "Check that the whole link was copied.",
        404,
    ),
    OUT_OF_SCOPE: (
        "This setup link does not include this step",
        "The person who sent it chose what it may set up.",
        403,
    ),
    NO_SESSION: (
        "Open your setup link first",
        "These pages belong to a setup that starts with the link you were sent.",
        403,
    ),
}


def ended_page(request: web.Request, reason: str) -> web.Response:
    heading, sentence, status = ENDED.get(reason, ENDED["setup_link_unknown"])
    # The cookie stays: it opens nothing now, and keeps this browser told why.
    return render(request, "setup/ended.html", {"title": heading, "sentence": sentence},
                  status=status)  # fmt: skip


def csrf_token(session_secret: str) -> str:
    return hashlib.sha256(f"setup-csrf:{session_secret}".encode()).hexdigest()


def session_secret(request: web.Request) -> str:
    value = request.cookies.get(SETUP_COOKIE, "")
    return value if _SESSION_VALUE.match(value) else ""


def set_session_cookie(response: web.StreamResponse, request: web.Request, value: str) -> None:
    response.set_cookie(
        SETUP_COOKIE,
        value,
        path=SETUP_COOKIE_PATH,
        httponly=True,
        secure=secure_cookies(request.app[CONFIG]),
        samesite="Lax",
    )


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    href: str


@dataclass(frozen=True)
class Setup:
    """One request of an open setup session: its link, and the account it may act in."""

    request: web.Request
    link: auth_pb2.SetupLink
    csrf_token: str
    form: Form | None

    @property
    def clients(self) -> Clients:
        return self.request.app[CLIENTS]

    @property
    def account_id(self) -> str:
        return self.link.account_id

    @property
    def public_url(self) -> str:
        return str(self.request.app[CONFIG].public_url)

    @property
    def actor(self) -> pb.Actor:
        return setup_audit.link_actor(self.link.id)

    def text(self, name: str) -> str:
        value = self.form.get(name, "") if self.form is not None else ""
        return value.strip() if isinstance(value, str) else ""

    async def audit(self, action: str, target_type: str, target_id: str, **details: Any) -> None:
        """An event in the account's audit log, done by this link."""
        await setup_audit.record(
            self.clients.directory, self.account_id, self.actor, action, target_type,
            target_id, details,
        )  # fmt: skip

    def steps(self) -> list[Step]:
        steps = []
        if self.link.domains:
            steps.append(Step("domains", "Email domains", "/setup/domains"))
        if self.link.sso:
            steps.append(Step("sso", "Identity provider", "/setup/sso"))
            steps.append(Step("test", "Test sign-in", "/setup/test"))
        if self.link.scim:
            steps.append(Step("scim", "Provisioning (SCIM)", "/setup/scim"))
        steps.append(Step("finish", "Finish", "/setup/finish"))
        return steps

    def next_step(self, key: str) -> Step:
        steps = self.steps()
        keys = [step.key for step in steps]
        return steps[min(keys.index(key) + 1, len(steps) - 1)] if key in keys else steps[0]

    def page(
        self, template: str, step: str, title: str, status: int = 200, **context: Any
    ) -> web.Response:
        """A wizard page: the steps beside it, this one current."""
        base = {
            "title": title,
            "steps": self.steps(),
            "current": step,
            "next": self.next_step(step),
            "csrf_token": self.csrf_token,
            "link": self.link,
            "note": "",
            "error": "",
        }
        return render(self.request, template, {**base, **context}, status=status)


SetupHandler = Callable[[Setup], Awaitable[web.StreamResponse]]


def setup_view(
    scope: str = "",
) -> Callable[[SetupHandler], Callable[[web.Request], Awaitable[web.StreamResponse]]]:
    """A wizard page behind the setup session: no session, or a link that ended, is its page;
    a step the link was not made for (``scope``: sso, scim or domains) is refused; a POST must
    come from our origin with the session's form token."""
    if scope and scope not in SCOPES:
        raise ValueError(f"unknown setup scope {scope!r}")

    def decorate(handler: SetupHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def view(request: web.Request) -> web.StreamResponse:
            return await _guarded(request, handler, scope)

        view.__name__ = handler.__name__
        return view

    return decorate


async def _guarded(request: web.Request, handler: SetupHandler, scope: str) -> web.StreamResponse:
    secret = session_secret(request)
    if not secret:
        return ended_page(request, NO_SESSION)
    try:
        validated = await request.app[CLIENTS].auth.ValidateSetupSession(
            auth_pb2.ValidateSetupSessionRequest(session_secret=secret)
        )
    except grpc.aio.AioRpcError as error:
        if error.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.NOT_FOUND):
            return ended_page(request, NO_SESSION)
        if error.code() is grpc.StatusCode.FAILED_PRECONDITION:
            return ended_page(request, from_rpc_error(error).reason)
        raise
    if scope and not getattr(validated.link, scope):
        return ended_page(request, OUT_OF_SCOPE)
    token = csrf_token(secret)
    form = None
    if request.method == "POST":
        require_same_origin(request)
        form = await read_form(request)
        sent = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER, "")
        if not isinstance(sent, str) or not hmac.compare_digest(sent, token):
            raise PermissionDenied("the form's security token is missing or wrong",
                                   reason="csrf")  # fmt: skip
    return await handler(Setup(request, validated.link, token, form))


def refusal(error: grpc.aio.AioRpcError) -> str | None:
    """A service's refusal as a sentence for the page, or None when it is no refusal."""
    if error.code() in (
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.NOT_FOUND,
    ):
        return error.details() or "refused"
    return None
