"""AuthService API tokens through a real in-process gRPC server and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import asyncpg
import grpc
import pytest
from google.protobuf import timestamp_pb2

from idmesh.auth.v1 import auth_pb2, auth_pb2_grpc
from meshkit.errors import ServiceError, from_rpc_error

pytestmark = pytest.mark.integration

if TYPE_CHECKING:
    # Only in the typed stubs: at run time AuthServiceStub on an aio channel is this.
    Stub = auth_pb2_grpc.AuthServiceAsyncStub


async def create(
    stub: Stub,
    account_id: uuid.UUID,
    *,
    permissions: tuple[str, ...] = ("users:manage", "groups:manage"),
    description: str = "Okta SCIM",
    expire_time: datetime | None = None,
) -> auth_pb2.CreateApiTokenResponse:
    request = auth_pb2.CreateApiTokenRequest(
        account_id=str(account_id),
        description=description,
        permissions=permissions,
        created_by="admin@example.com",
    )
    if expire_time is not None:
        request.expire_time.FromDatetime(expire_time)
    return await stub.CreateApiToken(request)


async def rpc_error(call: Awaitable[Any]) -> tuple[grpc.StatusCode, ServiceError]:
    """Awaits ``call``, which must fail; its status code and the rebuilt ServiceError."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value.code(), from_rpc_error(caught.value)


async def list_ids(stub: Stub, account_id: uuid.UUID, *, include_revoked: bool) -> list[str]:
    response = await stub.ListApiTokens(
        auth_pb2.ListApiTokensRequest(
            account_id=str(account_id), include_revoked=include_revoked, page_size=200
        )
    )
    return [token.id for token in response.tokens]


async def test_create_returns_the_secret_once_and_list_never_shows_it(auth_stub: Stub) -> None:
    """The secret is in the create response and nowhere else, ever (auth.proto)."""
    account = uuid.uuid4()
    created = await create(auth_stub, account)
    assert created.secret.startswith("idm_" + uuid.UUID(created.token.id).hex + "_")
    assert created.token.account_id == str(account)
    assert list(created.token.permissions) == ["groups:manage", "users:manage"]
    assert created.token.created_by == "admin@example.com"
    assert created.token.HasField("create_time")
    assert not created.token.HasField("expire_time")
    assert not created.token.HasField("revoke_time")
    listed = await auth_stub.ListApiTokens(auth_pb2.ListApiTokensRequest(account_id=str(account)))
    assert [token.id for token in listed.tokens] == [created.token.id]
    assert created.secret not in str(listed)
    assert created.secret.encode() not in listed.SerializeToString()


async def test_the_stored_row_never_contains_the_secret(
    auth_stub: Stub, auth_pool: asyncpg.Pool
) -> None:
    """Hashed at rest: no column holds the secret or its random part, in text or bytes."""
    created = await create(auth_stub, uuid.uuid4())
    randomness = created.secret[37:]
    row_text = await auth_pool.fetchval(
        "SELECT t::text FROM auth.api_tokens t WHERE id = $1", uuid.UUID(created.token.id)
    )
    assert isinstance(row_text, str)
    assert randomness not in row_text
    assert created.secret.encode().hex() not in row_text
    assert randomness.encode().hex() not in row_text
    row = await auth_pool.fetchrow(
        "SELECT * FROM auth.api_tokens WHERE id = $1", uuid.UUID(created.token.id)
    )
    assert row is not None
    for value in row.values():
        text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        assert randomness not in text


async def test_verify_answers_the_account_and_permissions(auth_stub: Stub) -> None:
    """VerifyApiToken: which account and permissions a presented secret carries."""
    account = uuid.uuid4()
    created = await create(auth_stub, account, permissions=("users:read", "audit:read"))
    verified = await auth_stub.VerifyApiToken(auth_pb2.VerifyApiTokenRequest(secret=created.secret))
    assert verified.account_id == str(account)
    assert verified.token_id == created.token.id
    assert sorted(verified.permissions) == ["audit:read", "users:read"]


async def test_verify_records_the_last_use(auth_stub: Stub) -> None:
    """last_used_time is updated on verify (asynchronously, at most once a minute)."""
    account = uuid.uuid4()
    created = await create(auth_stub, account)
    await auth_stub.VerifyApiToken(auth_pb2.VerifyApiTokenRequest(secret=created.secret))
    for _ in range(50):
        listed = await auth_stub.ListApiTokens(
            auth_pb2.ListApiTokensRequest(account_id=str(account))
        )
        if listed.tokens[0].HasField("last_used_time"):
            break
        await asyncio.sleep(0.05)
    assert listed.tokens[0].HasField("last_used_time")


async def test_a_revoked_token_is_unauthenticated(auth_stub: Stub) -> None:
    """Revoked → UNAUTHENTICATED, immediately in the revoking process (cache evicted)."""
    account = uuid.uuid4()
    created = await create(auth_stub, account)
    verify = auth_pb2.VerifyApiTokenRequest(secret=created.secret)
    await auth_stub.VerifyApiToken(verify)  # now cached
    revoked = await auth_stub.RevokeApiToken(
        auth_pb2.RevokeApiTokenRequest(account_id=str(account), token_id=created.token.id)
    )
    assert revoked.token.HasField("revoke_time")
    code, error = await rpc_error(auth_stub.VerifyApiToken(verify))
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert error.message == "invalid or expired token"


async def test_a_revocation_through_another_replica_takes_effect_within_the_cache_ttl(
    auth_stub: Stub, other_replica_stub: Stub, cache_ttl_seconds: float
) -> None:
    """Revocation is honoured everywhere within the verification cache's TTL (≤ 5 s)."""
    account = uuid.uuid4()
    created = await create(auth_stub, account)
    verify = auth_pb2.VerifyApiTokenRequest(secret=created.secret)
    await other_replica_stub.VerifyApiToken(verify)  # cached by the other replica
    await auth_stub.RevokeApiToken(
        auth_pb2.RevokeApiTokenRequest(account_id=str(account), token_id=created.token.id)
    )
    await asyncio.sleep(cache_ttl_seconds)
    code, _ = await rpc_error(other_replica_stub.VerifyApiToken(verify))
    assert code == grpc.StatusCode.UNAUTHENTICATED


async def test_revoking_twice_returns_the_token_unchanged(auth_stub: Stub) -> None:
    """RevokeApiToken is idempotent: the first revoke_time is kept."""
    account = uuid.uuid4()
    created = await create(auth_stub, account)
    request = auth_pb2.RevokeApiTokenRequest(account_id=str(account), token_id=created.token.id)
    first = await auth_stub.RevokeApiToken(request)
    second = await auth_stub.RevokeApiToken(request)
    assert first.token == second.token


async def test_an_expired_token_is_unauthenticated(
    auth_stub: Stub, auth_pool: asyncpg.Pool
) -> None:
    """Expired → UNAUTHENTICATED with the same message as any other failure."""
    account = uuid.uuid4()
    created = await create(auth_stub, account, expire_time=datetime.now(UTC) + timedelta(hours=1))
    # Time travel in the database: the token's expiry passes.
    await auth_pool.execute(
        "UPDATE auth.api_tokens SET expire_time = now() - interval '1 second' WHERE id = $1",
        uuid.UUID(created.token.id),
    )
    code, error = await rpc_error(
        auth_stub.VerifyApiToken(auth_pb2.VerifyApiTokenRequest(secret=created.secret))
    )
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert error.message == "invalid or expired token"


async def test_a_secret_with_one_character_changed_is_unauthenticated(auth_stub: Stub) -> None:
    """A tampered secret (right id, one character of the random part changed) is refused."""
    created = await create(auth_stub, uuid.uuid4())
    secret = created.secret
    await auth_stub.VerifyApiToken(auth_pb2.VerifyApiTokenRequest(secret=secret))
    tampered = secret[:50] + ("A" if secret[50] != "A" else "B") + secret[51:]
    code, error = await rpc_error(
        auth_stub.VerifyApiToken(auth_pb2.VerifyApiTokenRequest(secret=tampered))
    )
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert error.message == "invalid or expired token"


@pytest.mark.parametrize(
    "secret", ["", "garbage", "idm_" + "0" * 32 + "_" + "a" * 43, "Bearer idm_x"]
)
async def test_malformed_and_unknown_secrets_are_unauthenticated_alike(
    auth_stub: Stub, secret: str
) -> None:
    """Malformed and unknown secrets give the same UNAUTHENTICATED message: no oracle."""
    code, error = await rpc_error(
        auth_stub.VerifyApiToken(auth_pb2.VerifyApiTokenRequest(secret=secret))
    )
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert error.message == "invalid or expired token"


async def test_another_account_can_neither_list_nor_revoke_a_token(auth_stub: Stub) -> None:
    """Tenant isolation: another account's token is NOT_FOUND on revoke and absent from lists."""
    owner, intruder = uuid.uuid4(), uuid.uuid4()
    created = await create(auth_stub, owner)
    assert await list_ids(auth_stub, intruder, include_revoked=True) == []
    code, error = await rpc_error(
        auth_stub.RevokeApiToken(
            auth_pb2.RevokeApiTokenRequest(account_id=str(intruder), token_id=created.token.id)
        )
    )
    assert code == grpc.StatusCode.NOT_FOUND
    assert error.field == "token_id"
    # Still valid: the failed attempt changed nothing.
    await auth_stub.VerifyApiToken(auth_pb2.VerifyApiTokenRequest(secret=created.secret))


async def test_revoking_an_unknown_token_is_not_found(auth_stub: Stub) -> None:
    """Unknown id → NOT_FOUND."""
    code, _ = await rpc_error(
        auth_stub.RevokeApiToken(
            auth_pb2.RevokeApiTokenRequest(account_id=str(uuid.uuid4()), token_id=str(uuid.uuid4()))
        )
    )
    assert code == grpc.StatusCode.NOT_FOUND


async def test_an_unknown_permission_is_invalid_argument_naming_the_field(
    auth_stub: Stub,
) -> None:
    """Unknown permission → INVALID_ARGUMENT with field "permissions" in the rich status."""
    code, error = await rpc_error(create(auth_stub, uuid.uuid4(), permissions=("users:delete",)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.field == "permissions"


async def test_no_permissions_is_invalid_argument(auth_stub: Stub) -> None:
    """Empty permissions → INVALID_ARGUMENT naming the field."""
    code, error = await rpc_error(create(auth_stub, uuid.uuid4(), permissions=()))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.field == "permissions"


async def test_an_expire_time_in_the_past_is_invalid_argument(auth_stub: Stub) -> None:
    """expire_time in the past → INVALID_ARGUMENT(field="expire_time")."""
    past = datetime.now(UTC) - timedelta(minutes=1)
    code, error = await rpc_error(create(auth_stub, uuid.uuid4(), expire_time=past))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.field == "expire_time"


async def test_a_description_over_200_characters_is_invalid_argument(auth_stub: Stub) -> None:
    """Description length ≤ 200."""
    code, error = await rpc_error(create(auth_stub, uuid.uuid4(), description="d" * 201))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.field == "description"


async def test_list_pages_through_every_token_in_creation_order(auth_stub: Stub) -> None:
    """Keyset pagination on (create_time, id): every token once, in order, then no token."""
    account = uuid.uuid4()
    created = [(await create(auth_stub, account)).token.id for _ in range(5)]
    seen: list[str] = []
    page_token = ""
    pages = 0
    while True:
        response = await auth_stub.ListApiTokens(
            auth_pb2.ListApiTokensRequest(
                account_id=str(account), page_size=2, page_token=page_token
            )
        )
        seen += [token.id for token in response.tokens]
        pages += 1
        page_token = response.next_page_token
        if not page_token:
            break
    assert seen == created
    assert pages == 3


async def test_revoked_tokens_are_listed_only_when_asked(auth_stub: Stub) -> None:
    """include_revoked: revoked tokens are hidden by default."""
    account = uuid.uuid4()
    kept = await create(auth_stub, account)
    gone = await create(auth_stub, account)
    await auth_stub.RevokeApiToken(
        auth_pb2.RevokeApiTokenRequest(account_id=str(account), token_id=gone.token.id)
    )
    assert await list_ids(auth_stub, account, include_revoked=False) == [kept.token.id]
    assert await list_ids(auth_stub, account, include_revoked=True) == [
        kept.token.id,
        gone.token.id,
    ]


async def test_an_expire_time_round_trips(auth_stub: Stub) -> None:
    """expire_time is stored and returned as given (to the microsecond)."""
    expire = datetime.now(UTC).replace(microsecond=123456) + timedelta(days=30)
    created = await create(auth_stub, uuid.uuid4(), expire_time=expire)
    expected = timestamp_pb2.Timestamp()
    expected.FromDatetime(expire)
    assert created.token.expire_time == expected
