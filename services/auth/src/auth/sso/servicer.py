"""AuthService's SSO methods: connections, logins over both connectors, sessions, login traces.

A mixin of auth.servicer.AuthServiceServicer: request fields in, the SSO components (built by
``Sso.build``) do the work, messages out. Errors are meshkit ServiceErrors.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import asyncpg
import grpc

from auth.convert import optional_datetime
from auth.sso import convert, paging
from auth.sso import domains as sso_domains
from auth.sso.claims import email_domain
from auth.sso.connection_store import ConnectionStore, secret_associated_data
from auth.sso.connections import connection_change, connection_draft
from auth.sso.http import IdpHttp
from auth.sso.login_connections import LoginConnections
from auth.sso.login_store import (
    SessionStore,
    TraceFilter,
    TraceStore,
    TransactionStore,
    start_cursor,
)
from auth.sso.logout import LogoutPipeline
from auth.sso.models import (
    OUTCOME_FAILURE,
    OUTCOME_PARTIAL,
    OUTCOME_RESTARTED,
    OUTCOME_SUCCESS,
    PROTOCOL_OIDC,
    PROTOCOL_SAML,
    Connection,
)
from auth.sso.oidc.connector import CallbackParams, OidcConnector
from auth.sso.oidc.discovery import DiscoveryCache, DiscoveryError
from auth.sso.oidc.jwks import JwksCache
from auth.sso.pending import PendingLogins
from auth.sso.pipeline import DryRunLogin, FinishedLogin, LoginPipeline, RestartLogin
from auth.sso.saml import connections as saml_connections
from auth.sso.saml.connector import SamlConnector, SamlPost, sp_key_associated_data
from auth.sso.saml.logout import BINDING_POST, BINDING_REDIRECT, LogoutMessage
from auth.sso.saml.metadata_refresh import fetch_metadata, refresh_all
from auth.sso.saml.replay import PostgresReplayCache
from auth.sso.sessions import SessionManager, SessionOrigin
from auth.sso.traces import TraceRecorder
from auth.validation import parse_uuid
from idmesh.auth.v1 import auth_pb2
from idmesh.directory.v1 import directory_pb2, directory_pb2_grpc
from meshkit.channels import connect
from meshkit.errors import FailedPrecondition, InvalidArgument, NotFound
from meshkit.secretbox import SecretBox

if TYPE_CHECKING:
    from idmesh.directory.v1.directory_pb2_grpc import DirectoryServiceAsyncStub

logger = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext[Any, Any]
DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 200
JANITOR_SECONDS: Final = 300.0


@dataclass(frozen=True)
class SsoSettings:
    """The SSO part of the auth configuration (auth.config)."""

    secretbox: SecretBox | None = None
    directory_addr: str = "127.0.0.1:50051"
    session_ttl: timedelta = timedelta(hours=8)
    session_idle_ttl: timedelta = timedelta(hours=1)
    transaction_ttl: timedelta = timedelta(minutes=10)
    jwks_min_refetch_seconds: float = 60.0
    idp_timeout_seconds: float = 5.0
    # IdP metadata URLs of SAML connections are re-read this often.
    saml_metadata_refresh_seconds: float = 6 * 3600.0


def _signed_in(finished: FinishedLogin) -> dict[str, Any]:
    """The fields every protocol's Finish…LoginResponse carries for a signed-in browser."""
    return {
        "session_secret": finished.opened.secret,
        "session": convert.session(finished.opened.session),
        "return_to": finished.return_to,
        "trace_id": finished.trace_id,
    }


def _tested(finished: DryRunLogin) -> dict[str, Any]:
    """The fields of a test sign-in's Finish…LoginResponse: no session."""
    return {"test": True, "return_to": finished.return_to, "trace_id": finished.trace_id}


def _new_id(requested: str) -> uuid.UUID:
    """A new connection's id: the one the request names (the setup wizard's), else a new one."""
    return parse_uuid(requested, "connection_id") if requested else uuid.uuid4()


_TRACE_OUTCOMES: Final = (OUTCOME_SUCCESS, OUTCOME_FAILURE, OUTCOME_RESTARTED, OUTCOME_PARTIAL)


def _trace_filter(request: auth_pb2.ListLoginTracesRequest) -> TraceFilter:
    """The optional filters of ListLoginTraces, each checked (INVALID_ARGUMENT naming it)."""
    if request.outcome and request.outcome not in _TRACE_OUTCOMES:
        raise InvalidArgument(
            f"outcome must be one of {', '.join(_TRACE_OUTCOMES)}", field="outcome"
        )
    return TraceFilter(
        outcome=request.outcome or None,
        user_id=parse_uuid(request.user_id, "user_id") if request.user_id else None,
        trace_id=parse_uuid(request.id, "id") if request.id else None,
        not_before=optional_datetime(request, "not_before"),
    )


def _page_size(requested: int) -> int:
    if requested < 0:
        raise InvalidArgument("must not be negative", field="page_size")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


class Sso:
    """Every SSO component, built once per process on the pool."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: SsoSettings,
        *,
        directory: DirectoryServiceAsyncStub | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        # The channel to directory this process opened (also the change feed's, see
        # auth.connection_events); None when the caller handed in a directory stub.
        self.directory_channel: grpc.aio.Channel | None = None
        if directory is None:
            self.directory_channel = connect(settings.directory_addr)
            directory = directory_pb2_grpc.DirectoryServiceStub(self.directory_channel)
        self.directory = directory
        self.connections = ConnectionStore(pool)
        self.transactions = TransactionStore(pool)
        self.session_store = SessionStore(pool)
        self.trace_store = TraceStore(pool)
        self.http = IdpHttp(timeout=settings.idp_timeout_seconds)
        self.discovery = DiscoveryCache(self.http)
        self.jwks = JwksCache(self.http, min_refetch_seconds=settings.jwks_min_refetch_seconds)
        self.sessions = SessionManager(
            self.session_store,
            directory,
            ttl=settings.session_ttl,
            idle_ttl=settings.session_idle_ttl,
            clock=clock,
            secretbox=settings.secretbox,
        )
        self.login_connections = LoginConnections(self.connections)
        pending = PendingLogins(self.transactions, settings.transaction_ttl, clock)
        self.pipeline = LoginPipeline(
            pending=pending,
            sessions=self.sessions,
            traces=TraceRecorder(self.trace_store),
            directory=directory,
            clock=clock,
        )
        self.replay = PostgresReplayCache(pool)
        self.oidc = OidcConnector(
            pending=pending,
            http=self.http,
            discovery=self.discovery,
            jwks=self.jwks,
            secretbox=settings.secretbox,
            replay=self.replay,
        )
        self.saml = SamlConnector(
            pending=pending, replay=self.replay, secretbox=settings.secretbox, clock=clock
        )
        self.logout = LogoutPipeline(
            sessions=self.sessions,
            store=self.session_store,
            traces=TraceRecorder(self.trace_store),
            connections=self.login_connections,
            connectors={PROTOCOL_OIDC: self.oidc, PROTOCOL_SAML: self.saml},
        )
        self._janitor: asyncio.Task[None] | None = None
        self._refresher: asyncio.Task[None] | None = None

    def start_janitor(self) -> None:
        """Deletes expired login transactions, sessions and old traces every few minutes, and
        refreshes SAML IdP metadata URLs."""
        self._janitor = asyncio.create_task(self._sweep_forever())
        self._refresher = asyncio.create_task(self._refresh_forever())

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.saml_metadata_refresh_seconds)
            try:
                await refresh_all(self.connections, self.http)
            except Exception as error:  # the next round tries again
                logger.warning("SAML metadata refresh failed: %s", type(error).__name__)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(JANITOR_SECONDS)
            started = time.perf_counter()
            try:
                removed = (
                    await self.transactions.purge()
                    + await self.session_store.purge()
                    + await self.trace_store.purge()
                    + await self.replay.purge()
                )
            except Exception as error:  # the next sweep tries again
                logger.warning("SSO sweep failed: %s", type(error).__name__)
                continue
            if removed:
                logger.info(
                    "SSO sweep removed %d expired rows in %.0f ms",
                    removed,
                    (time.perf_counter() - started) * 1000,
                )

    async def close(self) -> None:
        for task in (self._janitor, self._refresher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.http.close()
        if self.directory_channel is not None:
            await self.directory_channel.close()


class SsoMethods:
    """The SSO RPCs of AuthService; ``sso`` is set by the servicer's constructor."""

    sso: Sso

    # -- connections ---------------------------------------------------------------------------

    async def CreateConnection(
        self, request: auth_pb2.CreateConnectionRequest, context: Context
    ) -> auth_pb2.CreateConnectionResponse:
        account_id = parse_uuid(request.connection.account_id, "connection.account_id")
        draft = connection_draft(request.connection, account_id, _new_id(request.connection_id))
        box = self.sso.settings.secretbox
        if box is None:
            raise FailedPrecondition(
                "client secrets cannot be stored: IDMESH_ENCRYPTION_KEY is not configured",
                reason="encryption_key_missing",
            )
        if not request.skip_discovery_check:
            try:
                await self.sso.discovery.get(draft.oidc.discovery_url, draft.oidc.issuer)
            except DiscoveryError as error:
                self.sso.discovery.forget(draft.oidc.discovery_url, draft.oidc.issuer)
                raise FailedPrecondition(
                    f"discovery check failed: {error}", field="connection.oidc.issuer",
                    reason=error.reason,
                ) from None  # fmt: skip
        await self._claim_domains(account_id, draft.domains, draft.created_by)
        sealed = box.seal(draft.oidc.client_secret, secret_associated_data(draft.id, account_id))
        created = await self.sso.connections.insert(draft, sealed, enabled=not request.disabled)
        logger.info("connection %s (%s) created for account %s", created.id, created.name,
                    account_id)  # fmt: skip
        return auth_pb2.CreateConnectionResponse(connection=convert.connection(created))

    async def GetConnection(
        self, request: auth_pb2.GetConnectionRequest, context: Context
    ) -> auth_pb2.GetConnectionResponse:
        account_id = parse_uuid(request.account_id, "account_id")
        key = request.WhichOneof("key")
        if key == "connection_id":
            found = await self.sso.connections.get(
                account_id, parse_uuid(request.connection_id, "connection_id")
            )
        elif key == "name":
            found = await self.sso.connections.get_by_name(account_id, request.name)
        else:
            raise InvalidArgument("connection_id or name is required", field="key")
        return auth_pb2.GetConnectionResponse(connection=convert.connection(found))

    async def ListConnections(
        self, request: auth_pb2.ListConnectionsRequest, context: Context
    ) -> auth_pb2.ListConnectionsResponse:
        account_id = parse_uuid(request.account_id, "account_id")
        limit = _page_size(request.page_size)
        scope = f"connections|{account_id}"
        after = paging.decode(request.page_token, scope)
        page = await self.sso.connections.list_page(account_id, limit=limit + 1, after=after)
        token = ""
        if len(page) > limit:
            page = page[:limit]
            token = paging.encode(scope, paging.Cursor(page[-1].create_time, page[-1].id))
        return auth_pb2.ListConnectionsResponse(
            connections=[convert.connection(c) for c in page], next_page_token=token
        )

    async def DeleteConnection(
        self, request: auth_pb2.DeleteConnectionRequest, context: Context
    ) -> auth_pb2.DeleteConnectionResponse:
        account_id = parse_uuid(request.account_id, "account_id")
        connection_id = parse_uuid(request.connection_id, "connection_id")
        await self.sso.connections.delete(account_id, connection_id)
        self.sso.login_connections.forget(connection_id)
        logger.info("connection %s of account %s deleted", connection_id, account_id)
        return auth_pb2.DeleteConnectionResponse()

    async def UpdateConnection(
        self, request: auth_pb2.UpdateConnectionRequest, context: Context
    ) -> auth_pb2.UpdateConnectionResponse:
        account_id = parse_uuid(request.account_id, "account_id")
        connection_id = parse_uuid(request.connection_id, "connection_id")
        change = connection_change(request)
        await self._claim_domains(account_id, change.domains, "admin")
        updated = await self.sso.connections.update(account_id, connection_id, change)
        self.sso.login_connections.forget(connection_id)
        logger.info("connection %s of account %s updated", connection_id, account_id)
        return auth_pb2.UpdateConnectionResponse(connection=convert.connection(updated))

    async def _claim_domains(
        self, account_id: uuid.UUID, domains: tuple[str, ...], created_by: str
    ) -> None:
        """A connection serves only domains its account has claimed (and, to route or link,
        verified): each is claimed in directory first, idempotently."""
        actor = directory_pb2.Actor(
            type=directory_pb2.ACTOR_TYPE_SYSTEM, id="auth", display_name=created_by or "auth"
        )
        await sso_domains.claim(
            self.sso.directory, account_id, domains, field="connection.domains", actor=actor
        )

    async def DiscoverConnection(
        self, request: auth_pb2.DiscoverConnectionRequest, context: Context
    ) -> auth_pb2.DiscoverConnectionResponse:
        """Home-realm discovery: the account that has VERIFIED the email's domain, then its
        connection serving that domain. A domain no account has verified routes nowhere: an
        unverified claim never sends anyone's users to an attacker's IdP."""
        domain = email_domain(request.email.strip())
        owner = await sso_domains.verified_owner(self.sso.directory, domain) if domain else None
        found = await self.sso.connections.by_domain(owner, domain) if owner else None
        if found is None or not found.enabled:
            raise NotFound("no connection serves this email domain", reason="no_connection")
        return auth_pb2.DiscoverConnectionResponse(option=convert.login_option(found))

    async def ListLoginOptions(
        self, request: auth_pb2.ListLoginOptionsRequest, context: Context
    ) -> auth_pb2.ListLoginOptionsResponse:
        account_id = parse_uuid(request.account_id, "account_id")
        found = await self.sso.connections.enabled(account_id)
        return auth_pb2.ListLoginOptionsResponse(options=convert.login_options(found))

    # -- the login -----------------------------------------------------------------------------

    async def _login_connection(
        self, connection_id: str, protocol: str, test_account_id: str
    ) -> Connection:
        """The connection a login starts on: an enabled one, or for a test sign-in any
        connection of ``test_account_id`` (NOT_FOUND for another account's)."""
        if not test_account_id:
            return await self.sso.login_connections.get(connection_id, protocol)
        connection = await self.sso.login_connections.get(
            connection_id, protocol, disabled_too=True
        )
        if str(connection.account_id) != test_account_id:
            raise NotFound("connection not found", field="connection_id")
        return connection

    async def StartOidcLogin(
        self, request: auth_pb2.StartOidcLoginRequest, context: Context
    ) -> auth_pb2.StartOidcLoginResponse:
        connection = await self._login_connection(
            request.connection_id, PROTOCOL_OIDC, request.test_account_id
        )
        started = await self.sso.pipeline.start(
            connection,
            self.sso.oidc,
            return_to=request.return_to,
            browser_binding=request.browser_binding,
            redirect_uri=request.redirect_uri,
            login_hint=request.login_hint,
            test=bool(request.test_account_id),
        )
        response = auth_pb2.StartOidcLoginResponse(
            authorization_url=started.redirect_url, browser_binding=started.browser_binding
        )
        response.expire_time.FromDatetime(started.expire_time)
        return response

    async def FinishOidcLogin(
        self, request: auth_pb2.FinishOidcLoginRequest, context: Context
    ) -> auth_pb2.FinishOidcLoginResponse:
        connection = await self.sso.login_connections.get(
            request.connection_id, PROTOCOL_OIDC, disabled_too=True
        )
        finished = await self.sso.pipeline.finish(
            connection,
            self.sso.oidc,
            CallbackParams(
                redirect_uri=request.redirect_uri,
                state=request.state,
                code=request.code,
                iss=request.iss,
                error=request.error,
                browser_binding=request.browser_binding,
            ),
            SessionOrigin(request.client_ip, request.user_agent),
        )
        assert not isinstance(finished, RestartLogin)  # only SAML restarts
        if isinstance(finished, DryRunLogin):
            return auth_pb2.FinishOidcLoginResponse(**_tested(finished))
        return auth_pb2.FinishOidcLoginResponse(**_signed_in(finished))

    # -- SAML --------------------------------------------------------------------------------

    async def CreateSamlConnection(
        self, request: auth_pb2.CreateSamlConnectionRequest, context: Context
    ) -> auth_pb2.CreateSamlConnectionResponse:
        account_id = parse_uuid(request.connection.account_id, "connection.account_id")
        box = self.sso.settings.secretbox
        if box is None:
            raise FailedPrecondition(
                "SP keys cannot be stored: IDMESH_ENCRYPTION_KEY is not configured",
                reason="encryption_key_missing",
            )
        message = request.connection
        if message.saml.metadata_url and not message.saml.metadata_xml:
            message = auth_pb2.Connection()
            message.CopyFrom(request.connection)
            message.saml.metadata_xml = await fetch_metadata(
                self.sso.http, message.saml.metadata_url
            )
        connection_id = _new_id(request.connection_id)
        keys = await asyncio.to_thread(
            saml_connections.generate_sp_key_pair, f"idmesh SP {connection_id}"
        )
        draft = await asyncio.to_thread(
            saml_connections.saml_connection_draft,
            message, account_id, connection_id, request.public_url, keys,
        )  # fmt: skip
        if request.disabled:
            draft = dataclasses.replace(draft, enabled=False)
        await self._claim_domains(account_id, draft.domains, draft.created_by)
        sealed = box.seal(keys.private_key_pem, sp_key_associated_data(connection_id, account_id))
        created = await self.sso.connections.insert_saml(draft, sealed)
        logger.info("SAML connection %s (%s) created for account %s", created.id, created.name,
                    account_id)  # fmt: skip
        return auth_pb2.CreateSamlConnectionResponse(connection=convert.connection(created))

    async def GetSamlMetadata(
        self, request: auth_pb2.GetSamlMetadataRequest, context: Context
    ) -> auth_pb2.GetSamlMetadataResponse:
        # A connection being set up (not enabled yet) publishes its metadata for the IdP.
        connection = await self.sso.login_connections.get(
            request.connection_id, PROTOCOL_SAML, disabled_too=True
        )
        assert connection.saml is not None
        xml = await asyncio.to_thread(saml_connections.sp_metadata, connection.saml)
        return auth_pb2.GetSamlMetadataResponse(metadata_xml=xml)

    async def StartSamlLogin(
        self, request: auth_pb2.StartSamlLoginRequest, context: Context
    ) -> auth_pb2.StartSamlLoginResponse:
        connection = await self._login_connection(
            request.connection_id, PROTOCOL_SAML, request.test_account_id
        )
        started = await self.sso.pipeline.start(
            connection,
            self.sso.saml,
            return_to=request.return_to,
            browser_binding=request.browser_binding,
            test=bool(request.test_account_id),
        )
        response = auth_pb2.StartSamlLoginResponse(
            redirect_url=started.redirect_url, browser_binding=started.browser_binding
        )
        response.expire_time.FromDatetime(started.expire_time)
        return response

    async def FinishSamlLogin(
        self, request: auth_pb2.FinishSamlLoginRequest, context: Context
    ) -> auth_pb2.FinishSamlLoginResponse:
        connection = await self.sso.login_connections.get(
            request.connection_id, PROTOCOL_SAML, disabled_too=True
        )
        finished = await self.sso.pipeline.finish(
            connection,
            self.sso.saml,
            SamlPost(
                saml_response=request.saml_response,
                relay_state=request.relay_state,
                browser_binding=request.browser_binding,
            ),
            SessionOrigin(request.client_ip, request.user_agent),
        )
        if isinstance(finished, RestartLogin):
            return auth_pb2.FinishSamlLoginResponse(
                restart=True, return_to=finished.return_to, trace_id=finished.trace_id
            )
        if isinstance(finished, DryRunLogin):
            return auth_pb2.FinishSamlLoginResponse(**_tested(finished))
        return auth_pb2.FinishSamlLoginResponse(**_signed_in(finished))

    # -- sessions ------------------------------------------------------------------------------

    async def ValidateSession(
        self, request: auth_pb2.ValidateSessionRequest, context: Context
    ) -> auth_pb2.ValidateSessionResponse:
        session = await self.sso.sessions.validate(request.session_secret)
        return auth_pb2.ValidateSessionResponse(
            session=convert.session(session, self.sso.settings.session_idle_ttl)
        )

    async def EndSession(
        self, request: auth_pb2.EndSessionRequest, context: Context
    ) -> auth_pb2.EndSessionResponse:
        signed_out = await self.sso.logout.sign_out(
            request.session_secret,
            public_url=request.public_url,
            browser_binding=request.browser_binding,
        )
        redirect = signed_out.redirect
        return auth_pb2.EndSessionResponse(
            logout_url=redirect.url if redirect else "",
            browser_binding=redirect.browser_binding if redirect else "",
            trace_id=signed_out.trace_id,
        )

    async def ListUserSessions(
        self, request: auth_pb2.ListUserSessionsRequest, context: Context
    ) -> auth_pb2.ListUserSessionsResponse:
        account_id = parse_uuid(request.account_id, "account_id")
        user_id = parse_uuid(request.user_id, "user_id")
        found = await self.sso.session_store.list_user(
            account_id, user_id, _page_size(request.page_size)
        )
        idle = self.sso.settings.session_idle_ttl
        return auth_pb2.ListUserSessionsResponse(sessions=[convert.session(s, idle) for s in found])

    async def RevokeSession(
        self, request: auth_pb2.RevokeSessionRequest, context: Context
    ) -> auth_pb2.RevokeSessionResponse:
        account_id = parse_uuid(request.account_id, "account_id")
        session_id = parse_uuid(request.session_id, "session_id")
        revoked = await self.sso.session_store.revoke_in_account(account_id, session_id, "admin")
        if revoked is None:
            raise NotFound("session not found", field="session_id")
        logger.info("session %s of account %s ended by an admin", session_id, account_id)
        return auth_pb2.RevokeSessionResponse(revoked=revoked)

    async def RevokeUserSessions(
        self, request: auth_pb2.RevokeUserSessionsRequest, context: Context
    ) -> auth_pb2.RevokeUserSessionsResponse:
        account_id = parse_uuid(request.account_id, "account_id")
        user_id = parse_uuid(request.user_id, "user_id")
        revoked = await self.sso.session_store.revoke_user(account_id, user_id, "admin")
        logger.info("%d sessions of a user of account %s ended by an admin", revoked, account_id)
        return auth_pb2.RevokeUserSessionsResponse(revoked=revoked)

    # -- logout from the IdP -------------------------------------------------------------------

    async def BackchannelLogout(
        self, request: auth_pb2.BackchannelLogoutRequest, context: Context
    ) -> auth_pb2.BackchannelLogoutResponse:
        done = await self.sso.logout.from_idp(
            request.connection_id, PROTOCOL_OIDC, request.logout_token
        )
        return auth_pb2.BackchannelLogoutResponse(ended_sessions=done.ended, trace_id=done.trace_id)

    async def SamlLogout(
        self, request: auth_pb2.SamlLogoutRequest, context: Context
    ) -> auth_pb2.SamlLogoutResponse:
        if request.binding not in (BINDING_REDIRECT, BINDING_POST):
            raise InvalidArgument("binding is redirect or post", field="binding")
        message = LogoutMessage(
            binding=request.binding,
            raw_query=request.raw_query,
            saml_request=request.saml_request,
            saml_response=request.saml_response,
            relay_state=request.relay_state,
            browser_binding=request.browser_binding,
        )
        done = await self.sso.logout.from_idp(request.connection_id, PROTOCOL_SAML, message)
        return auth_pb2.SamlLogoutResponse(
            redirect_url=done.answer_url,
            ended_sessions=done.ended,
            partial=done.partial,
            signed_out=bool(done.return_to),
            trace_id=done.trace_id,
        )

    # -- login traces --------------------------------------------------------------------------

    async def ListLoginTraces(
        self, request: auth_pb2.ListLoginTracesRequest, context: Context
    ) -> auth_pb2.ListLoginTracesResponse:
        """Newest first; with ``after``, the traces recorded since then, oldest first (tail)."""
        account_id = parse_uuid(request.account_id, "account_id")
        connection_id = (
            parse_uuid(request.connection_id, "connection_id") if request.connection_id else None
        )
        limit = _page_size(request.page_size)
        after = optional_datetime(request, "after")
        where = _trace_filter(request)
        scope = (
            f"traces|{account_id}|{connection_id}|{after.isoformat() if after else ''}|"
            f"{where.values()}"
        )
        cursor = paging.decode(request.page_token, scope)
        store = self.sso.trace_store
        if after is not None:
            page = await store.since(
                account_id,
                connection_id,
                limit=limit + 1,
                after=cursor or start_cursor(after),
                where=where,
            )
        else:
            page = await store.newest(
                account_id, connection_id, limit=limit + 1, before=cursor, where=where
            )
        token = ""
        if len(page) > limit:
            page = page[:limit]
            token = paging.encode(scope, paging.Cursor(page[-1].time, page[-1].id))
        return auth_pb2.ListLoginTracesResponse(
            traces=[convert.login_trace(t) for t in page], next_page_token=token
        )
