"""AuthService's setup link methods: create, list, get, revoke, open, validate, update.

A link's secret reads ``idsl_`` and 43 url-safe characters (256 random bits); a setup session's
``idss_`` and the same. Only their SHA-256 is stored, so a leak of the table opens nothing. A
link is the only credential of the IT admin who opens it, and it names one account: everything
the wizard does, it does in that account (the gateway takes the account from the link only).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final

import grpc

from auth.convert import optional_datetime, timestamp
from auth.setup.store import SetupLink, SetupLinkStore
from auth.validation import parse_uuid, validate_created_by
from idmesh.auth.v1 import auth_pb2
from meshkit.errors import FailedPrecondition, InvalidArgument, NotFound, Unauthenticated

logger = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext[Any, Any]
LINK_PREFIX: Final = "idsl_"
SESSION_PREFIX: Final = "idss_"
MAX_LIFETIME: Final = timedelta(days=30)
SCOPES: Final = ("sso", "scim", "domains")


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def _ended(link: SetupLink) -> FailedPrecondition | None:
    """Why ``link`` no longer opens anything, or None while it is live."""
    if link.revoke_time is not None:
        return FailedPrecondition("this setup link was revoked", reason="setup_link_revoked")
    if link.finish_time is not None:
        return FailedPrecondition("this setup link was already used", reason="setup_link_used")
    if link.expired:
        return FailedPrecondition("this setup link has expired", reason="setup_link_expired")
    return None


def _message(link: SetupLink) -> auth_pb2.SetupLink:
    message = auth_pb2.SetupLink(
        id=str(link.id),
        account_id=str(link.account_id),
        sso="sso" in link.scopes,
        scim="scim" in link.scopes,
        domains="domains" in link.scopes,
        create_time=timestamp(link.create_time),
        expire_time=timestamp(link.expire_time),
        created_by=link.created_by,
        connection_id=str(link.connection_id) if link.connection_id else "",
        scim_token_id=str(link.scim_token_id) if link.scim_token_id else "",
    )
    for name in ("open_time", "revoke_time", "finish_time"):
        value = getattr(link, name)
        if value is not None:
            getattr(message, name).CopyFrom(timestamp(value))
    return message


class SetupLinkMethods:
    """The setup link RPCs of AuthService; ``setup_links`` and ``_clock`` are set by the
    servicer's constructor."""

    setup_links: SetupLinkStore
    _clock: Callable[[], datetime]

    async def CreateSetupLink(
        self, request: auth_pb2.CreateSetupLinkRequest, context: Context
    ) -> auth_pb2.CreateSetupLinkResponse:
        account_id = parse_uuid(request.account_id, "account_id")
        scopes = tuple(s for s in SCOPES if getattr(request, s))
        if not scopes:
            raise InvalidArgument("a link configures sso, scim or domains", field="sso")
        if "sso" in scopes and "domains" not in scopes:
            scopes = (*scopes, "domains")  # single sign-on starts with verified domains
        expire_time = optional_datetime(request, "expire_time")
        now = self._clock()
        if expire_time is None or expire_time <= now:
            raise InvalidArgument("a setup link needs a future expiry", field="expire_time")
        if expire_time > now + MAX_LIFETIME:
            raise InvalidArgument("a setup link lives at most 30 days", field="expire_time")
        secret = LINK_PREFIX + secrets.token_urlsafe(32)
        link = await self.setup_links.insert(
            uuid.uuid4(), account_id, scopes, _hash(secret), expire_time,
            validate_created_by(request.created_by),
        )  # fmt: skip
        logger.info("setup link %s created for account %s", link.id, account_id)
        return auth_pb2.CreateSetupLinkResponse(link=_message(link), secret=secret)

    async def ListSetupLinks(
        self, request: auth_pb2.ListSetupLinksRequest, context: Context
    ) -> auth_pb2.ListSetupLinksResponse:
        account_id = parse_uuid(request.account_id, "account_id")
        links = await self.setup_links.list(account_id, include_inactive=request.include_inactive)
        return auth_pb2.ListSetupLinksResponse(links=[_message(link) for link in links])

    async def GetSetupLink(
        self, request: auth_pb2.GetSetupLinkRequest, context: Context
    ) -> auth_pb2.GetSetupLinkResponse:
        link = await self.setup_links.get(
            parse_uuid(request.account_id, "account_id"), parse_uuid(request.link_id, "link_id")
        )
        if link is None:
            raise NotFound("no such setup link", field="link_id")
        return auth_pb2.GetSetupLinkResponse(link=_message(link))

    async def RevokeSetupLink(
        self, request: auth_pb2.RevokeSetupLinkRequest, context: Context
    ) -> auth_pb2.RevokeSetupLinkResponse:
        account_id = parse_uuid(request.account_id, "account_id")
        link = await self.setup_links.revoke(account_id, parse_uuid(request.link_id, "link_id"))
        if link is None:
            raise NotFound("no such setup link", field="link_id")
        logger.info("setup link %s of account %s revoked", link.id, account_id)
        return auth_pb2.RevokeSetupLinkResponse(link=_message(link))

    async def OpenSetupLink(
        self, request: auth_pb2.OpenSetupLinkRequest, context: Context
    ) -> auth_pb2.OpenSetupLinkResponse:
        link = None
        if request.secret.startswith(LINK_PREFIX):
            link = await self.setup_links.by_secret(_hash(request.secret))
        if link is None:
            raise NotFound("no such setup link", reason="setup_link_unknown")
        ended = _ended(link)
        if ended is not None:
            raise ended
        if link.session_hash is not None:
            # Opened before: only by this browser again (its setup session), never another.
            if request.session_secret and hmac.compare_digest(
                _hash(request.session_secret), link.session_hash
            ):
                return auth_pb2.OpenSetupLinkResponse(
                    link=_message(link), session_secret=request.session_secret
                )
            raise FailedPrecondition("this setup link was already used", reason="setup_link_used")
        session_secret = SESSION_PREFIX + secrets.token_urlsafe(32)
        opened = await self.setup_links.open(link.id, _hash(session_secret))
        if opened is None:
            raise FailedPrecondition("this setup link was already used", reason="setup_link_used")
        logger.info("setup link %s of account %s opened", link.id, link.account_id)
        return auth_pb2.OpenSetupLinkResponse(link=_message(opened), session_secret=session_secret)

    async def ValidateSetupSession(
        self, request: auth_pb2.ValidateSetupSessionRequest, context: Context
    ) -> auth_pb2.ValidateSetupSessionResponse:
        link = None
        if request.session_secret.startswith(SESSION_PREFIX):
            link = await self.setup_links.by_session(_hash(request.session_secret))
        if link is None:
            raise Unauthenticated("no setup session", reason="setup_session_unknown")
        ended = _ended(link)
        if ended is not None:
            raise ended
        return auth_pb2.ValidateSetupSessionResponse(link=_message(link))

    async def UpdateSetupLink(
        self, request: auth_pb2.UpdateSetupLinkRequest, context: Context
    ) -> auth_pb2.UpdateSetupLinkResponse:
        account_id = parse_uuid(request.account_id, "account_id")
        link_id = parse_uuid(request.link_id, "link_id")
        connection_id = (
            parse_uuid(request.connection_id, "connection_id") if request.connection_id else None
        )
        token_id = (
            parse_uuid(request.scim_token_id, "scim_token_id") if request.scim_token_id else None
        )
        link = await self.setup_links.update(
            account_id, link_id, connection_id=connection_id, scim_token_id=token_id,
            finish=request.finish,
        )  # fmt: skip
        if link is None:
            raise NotFound("no such setup link", field="link_id")
        return auth_pb2.UpdateSetupLinkResponse(link=_message(link))
