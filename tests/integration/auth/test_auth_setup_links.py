"""Setup links in the real auth service over real PostgreSQL: one person (the first browser to
open a link is the only one it ever admits), expiring, revocable, finished once, stored only as
hashes, and scoped to one account."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import asyncpg
import grpc
import pytest
from google.protobuf import timestamp_pb2

from idmesh.auth.v1 import auth_pb2
from meshkit.errors import from_rpc_error

if TYPE_CHECKING:
    from idmesh.auth.v1.auth_pb2_grpc import AuthServiceAsyncStub as Stub


def _in(delta: timedelta) -> timestamp_pb2.Timestamp:
    value = timestamp_pb2.Timestamp()
    value.FromDatetime(datetime.now(UTC) + delta)
    return value


async def _create(
    stub: Stub, account_id: str, *, sso: bool = True, scim: bool = False
) -> auth_pb2.CreateSetupLinkResponse:
    return await stub.CreateSetupLink(
        auth_pb2.CreateSetupLinkRequest(
            account_id=account_id, expire_time=_in(timedelta(days=7)), created_by="tests",
            sso=sso, scim=scim,
        )
    )  # fmt: skip


async def _refused(call: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call  # type: ignore[misc]
    return raised.value.code(), from_rpc_error(raised.value).reason


async def test_a_link_opens_once_for_one_browser_and_never_for_a_second(auth_stub: Stub) -> None:
    """The link is the IT admin's only credential: the first browser gets a setup session; the
    same browser may open it again (a reload), any other browser is refused as used."""
    account = str(uuid.uuid4())
    created = await _create(auth_stub, account, sso=True, scim=True)
    assert created.secret.startswith("idsl_")
    assert created.link.domains, "single sign-on includes the domains it needs"
    opened = await auth_stub.OpenSetupLink(auth_pb2.OpenSetupLinkRequest(secret=created.secret))
    assert opened.session_secret.startswith("idss_")
    assert opened.link.HasField("open_time")
    again = await auth_stub.OpenSetupLink(
        auth_pb2.OpenSetupLinkRequest(secret=created.secret, session_secret=opened.session_secret)
    )
    assert again.link.id == created.link.id
    assert await _refused(
        auth_stub.OpenSetupLink(auth_pb2.OpenSetupLinkRequest(secret=created.secret))
    ) == (grpc.StatusCode.FAILED_PRECONDITION, "setup_link_used")
    session = await auth_stub.ValidateSetupSession(
        auth_pb2.ValidateSetupSessionRequest(session_secret=opened.session_secret)
    )
    assert session.link.account_id == account


async def test_revoked_expired_and_finished_links_open_nothing_and_end_open_sessions(
    auth_stub: Stub, auth_pool: asyncpg.Pool
) -> None:
    account = str(uuid.uuid4())
    cases = {}
    for reason in ("setup_link_revoked", "setup_link_expired", "setup_link_used"):
        created = await _create(auth_stub, account)
        opened = await auth_stub.OpenSetupLink(auth_pb2.OpenSetupLinkRequest(secret=created.secret))
        cases[reason] = (created, opened.session_secret)
    revoked, _ = cases["setup_link_revoked"]
    await auth_stub.RevokeSetupLink(
        auth_pb2.RevokeSetupLinkRequest(account_id=account, link_id=revoked.link.id)
    )
    expired, _ = cases["setup_link_expired"]
    await auth_pool.execute(
        "UPDATE auth.setup_links SET expire_time = now() - interval '1 second' WHERE id = $1",
        uuid.UUID(expired.link.id),
    )
    finished, _ = cases["setup_link_used"]
    await auth_stub.UpdateSetupLink(
        auth_pb2.UpdateSetupLinkRequest(account_id=account, link_id=finished.link.id, finish=True)
    )
    for reason, (created, session_secret) in cases.items():
        assert await _refused(
            auth_stub.ValidateSetupSession(
                auth_pb2.ValidateSetupSessionRequest(session_secret=session_secret)
            )
        ) == (grpc.StatusCode.FAILED_PRECONDITION, reason)
        assert await _refused(
            auth_stub.OpenSetupLink(
                auth_pb2.OpenSetupLinkRequest(secret=created.secret, session_secret=session_secret)
            )
        ) == (grpc.StatusCode.FAILED_PRECONDITION, reason)


async def test_unknown_links_and_sessions_are_refused_alike(auth_stub: Stub) -> None:
    for secret in ("", "idsl_" + "A" * 43, "nonsense"):
        assert await _refused(
            auth_stub.OpenSetupLink(auth_pb2.OpenSetupLinkRequest(secret=secret))
        ) == (grpc.StatusCode.NOT_FOUND, "setup_link_unknown")
        assert (
            await _refused(
                auth_stub.ValidateSetupSession(
                    auth_pb2.ValidateSetupSessionRequest(session_secret=secret)
                )
            )
        )[0] == grpc.StatusCode.UNAUTHENTICATED


async def test_only_hashes_of_the_link_and_the_session_are_stored(
    auth_stub: Stub, auth_pool: asyncpg.Pool
) -> None:
    created = await _create(auth_stub, str(uuid.uuid4()))
    opened = await auth_stub.OpenSetupLink(auth_pb2.OpenSetupLinkRequest(secret=created.secret))
    row = await auth_pool.fetchrow(
        "SELECT secret_hash, session_hash, row_to_json(l)::text AS everything"
        " FROM auth.setup_links l WHERE id = $1",
        uuid.UUID(created.link.id),
    )
    assert row is not None
    assert bytes(row["secret_hash"]) == hashlib.sha256(created.secret.encode()).digest()
    assert bytes(row["session_hash"]) == hashlib.sha256(opened.session_secret.encode()).digest()
    assert created.secret not in row["everything"]
    assert opened.session_secret not in row["everything"]


async def test_another_accounts_link_is_not_found_and_untouched(auth_stub: Stub) -> None:
    """Tenant isolation: get, revoke and update name the account; another's link is 404."""
    owner, stranger = str(uuid.uuid4()), str(uuid.uuid4())
    created = await _create(auth_stub, owner)
    for call in (
        auth_stub.GetSetupLink(
            auth_pb2.GetSetupLinkRequest(account_id=stranger, link_id=created.link.id)
        ),
        auth_stub.RevokeSetupLink(
            auth_pb2.RevokeSetupLinkRequest(account_id=stranger, link_id=created.link.id)
        ),
        auth_stub.UpdateSetupLink(
            auth_pb2.UpdateSetupLinkRequest(
                account_id=stranger, link_id=created.link.id, finish=True
            )
        ),
    ):
        assert (await _refused(call))[0] == grpc.StatusCode.NOT_FOUND
    listed = await auth_stub.ListSetupLinks(
        auth_pb2.ListSetupLinksRequest(account_id=stranger, include_inactive=True)
    )
    assert list(listed.links) == []
    still = await auth_stub.GetSetupLink(
        auth_pb2.GetSetupLinkRequest(account_id=owner, link_id=created.link.id)
    )
    assert not still.link.HasField("revoke_time")
    assert not still.link.HasField("finish_time")


async def test_a_link_must_expire_within_thirty_days_and_configure_something(
    auth_stub: Stub,
) -> None:
    account = str(uuid.uuid4())
    for expire, sso in ((timedelta(days=31), True), (timedelta(seconds=-1), True),
                        (timedelta(days=1), False)):  # fmt: skip
        request = auth_pb2.CreateSetupLinkRequest(
            account_id=account, expire_time=_in(expire), sso=sso
        )
        code, _ = await _refused(auth_stub.CreateSetupLink(request))
        assert code == grpc.StatusCode.INVALID_ARGUMENT
