"""Webhook signing secrets at rest (docs/events.md, "Secrets at rest"): sealed with
IDMESH_ENCRYPTION_KEY and bound to their endpoint, never stored in plaintext; the deliverer signs
each delivery with what it opens; rows the release before migration 0007 left in plaintext are
sealed when directory starts (and by the deliverer); neither process starts without the key.

The module has a database of its own: its deliverer delivers every endpoint of its database."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeAlias

import asyncpg
import pytest

from directory.app import build_server
from directory.webhooks import signing
from directory.webhooks.config import DelivererConfig
from directory.webhooks.deliverer import Deliverer
from directory.webhooks.secrets import associated_data, seal_plaintext_secrets
from idmesh.directory.v1 import directory_pb2_grpc, events_pb2, events_pb2_grpc
from infra.dev.mesh import free_port
from meshkit.channels import connect, is_serving
from meshkit.config import load_config
from meshkit.database import create_pool
from meshkit.secretbox import Sealed, SecretBox, SecretBoxError, new_key, parse_key
from meshkit.server import GrpcServer
from meshkit.testing import PostgresServer, migrate
from tests.conftest import MIGRATIONS
from tests.e2e.events.receiver import Receiver
from tests.support.directory import ADMIN, Stub, new_account, new_user

Feed: TypeAlias = "events_pb2_grpc.EventServiceAsyncStub"
ENDPOINT = "SELECT * FROM directory.webhook_endpoints WHERE account_id = $1 AND id = $2"
# How the release before migration 0007 stored an endpoint and rotated its secret.
RELEASE_0006_CREATE = """
INSERT INTO directory.webhook_endpoints (account_id, url, secret, delivered_seq)
VALUES ($1, $2, $3, 0) RETURNING id
"""
RELEASE_0006_ROTATE = """
UPDATE directory.webhook_endpoints
SET previous_secret = secret, previous_secret_expire_time = now() + interval '1 day', secret = $3
WHERE account_id = $1 AND id = $2
"""


@pytest.fixture(scope="module")
def encryption_key() -> str:
    return new_key()


@pytest.fixture(scope="module")
def secretbox(encryption_key: str) -> SecretBox:
    return SecretBox(parse_key(encryption_key))


@pytest.fixture(scope="module")
async def own_database(postgres: PostgresServer) -> AsyncIterator[str]:
    url = await postgres.create_database()
    await migrate(url, {"directory": MIGRATIONS["directory"]})
    yield url
    await postgres.drop_database(url)


@pytest.fixture(scope="module")
async def pool(own_database: str) -> AsyncIterator[asyncpg.Pool]:
    opened = await create_pool(own_database, min_size=1, max_size=6)
    yield opened
    await opened.close()


@pytest.fixture(scope="module")
async def stubs(pool: asyncpg.Pool, secretbox: SecretBox) -> AsyncIterator[tuple[Stub, Feed]]:
    """The in-process directory, accepting the receiver's http://127.0.0.1 URLs."""
    server = build_server(
        pool,
        host="127.0.0.1",
        port=0,
        secretbox=secretbox,
        server=GrpcServer("127.0.0.1", 0, drain_seconds=0, grace_seconds=1),
        allow_private_webhooks=True,
    )
    port = await server.start()
    channel = connect(f"127.0.0.1:{port}", timeout=60)
    try:
        yield (
            directory_pb2_grpc.DirectoryServiceStub(channel),
            events_pb2_grpc.EventServiceStub(channel),
        )
    finally:
        await channel.close()
        await server.stop()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    running = Receiver()
    await running.start()
    yield running
    await running.stop()


@asynccontextmanager
async def running_deliverer(database_url: str, encryption_key: str) -> AsyncIterator[None]:
    """The deliverer with its production code and configuration, fast retries, and its upkeep
    (which seals plaintext secrets) every 200 ms instead of hourly."""
    config = load_config(
        DelivererConfig,
        {
            "DATABASE_URL": database_url,
            "IDMESH_ENCRYPTION_KEY": encryption_key,
            "WEBHOOK_ALLOW_PRIVATE": "1",
            "WEBHOOK_RETRY_BASE": "100ms",
            "WEBHOOK_RETRY_MAX": "500ms",
            "EVENT_PRUNE_EVERY": "200ms",
        },
    )
    deliverer_pool = await create_pool(database_url, min_size=1, max_size=config.db_pool_max)
    task = asyncio.create_task(Deliverer(deliverer_pool, config).run())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await deliverer_pool.close()


async def add_webhook(feed: Feed, account_id: str, url: str) -> events_pb2.CreateWebhookResponse:
    request = events_pb2.CreateWebhookRequest(account_id=account_id, url=url, actor=ADMIN)
    response: events_pb2.CreateWebhookResponse = await feed.CreateWebhook(request)
    return response


async def rotate(feed: Feed, account_id: str, webhook_id: str) -> str:
    rotated = await feed.RotateWebhookSecret(
        events_pb2.RotateWebhookSecretRequest(
            account_id=account_id, webhook_id=webhook_id, actor=ADMIN
        )
    )
    return str(rotated.secret)


async def endpoint_row(
    db: asyncpg.Pool | asyncpg.Connection, account_id: uuid.UUID, webhook_id: uuid.UUID
) -> asyncpg.Record:
    """The endpoint's row as stored, every column, read with raw SQL."""
    row = await db.fetchrow(ENDPOINT, account_id, webhook_id)
    assert row is not None
    return row


def assert_holds_no_plaintext(row: asyncpg.Record, secret: str) -> None:
    """No column of ``row`` holds ``secret``: neither its ``whsec_`` form, nor its base64 part,
    nor the HMAC key bytes it encodes."""
    encoded = secret.removeprefix(signing.SECRET_PREFIX)
    as_text = (secret, encoded)
    as_bytes = (secret.encode(), encoded.encode(), base64.b64decode(encoded))
    for column, value in row.items():
        if isinstance(value, bytes):
            assert not any(needle in value for needle in as_bytes), column
        else:
            assert not any(needle in str(value) for needle in as_text), column


def opened(box: SecretBox, row: asyncpg.Record, slot: str = "secret") -> str:
    sealed = Sealed(row[f"{slot}_key_id"], row[f"{slot}_sealed"])
    return box.open(sealed, associated_data(row["account_id"], row["id"]))


async def wait_until(check: Callable[[], Awaitable[Any]], attempts: int = 400) -> None:
    """Until ``check`` answers something true, every 50 ms (20 s at most)."""
    for _ in range(attempts):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the condition never held")


async def test_a_webhook_secret_is_stored_sealed_and_its_rotation_too_never_in_plaintext(
    stubs: tuple[Stub, Feed], pool: asyncpg.Pool, secretbox: SecretBox
) -> None:
    """Secrets encrypted at rest: the row read with raw SQL holds neither the secret shown at
    creation nor the one shown at rotation, only ciphertexts under the current key id that open
    to them; the previous secret moved to its slot, sealed."""
    directory, feed = stubs
    account = await new_account(directory)
    created = await add_webhook(feed, account.id, "https://hooks.example.com/idmesh")
    key = (uuid.UUID(account.id), uuid.UUID(created.webhook.id))

    row = await endpoint_row(pool, *key)
    assert created.secret.startswith(signing.SECRET_PREFIX)
    assert_holds_no_plaintext(row, created.secret)
    assert (row["secret"], row["previous_secret"]) == ("", "")
    assert row["secret_key_id"] == secretbox.current_key_id
    assert opened(secretbox, row) == created.secret
    assert row["previous_secret_sealed"] is None

    new_secret = await rotate(feed, account.id, created.webhook.id)
    row = await endpoint_row(pool, *key)
    assert new_secret != created.secret
    assert_holds_no_plaintext(row, created.secret)
    assert_holds_no_plaintext(row, new_secret)
    assert (row["secret"], row["previous_secret"]) == ("", "")
    assert opened(secretbox, row) == new_secret
    assert opened(secretbox, row, "previous_secret") == created.secret


async def test_deliveries_are_signed_with_the_opened_secret_and_the_previous_one_in_the_overlap(
    stubs: tuple[Stub, Feed], own_database: str, encryption_key: str, receiver: Receiver
) -> None:
    """The deliverer opens the sealed secrets to sign (checked by the standardwebhooks package):
    an endpoint's receiver verifies with its secret, and after a rotation with the new secret or,
    during the overlap, with the previous one."""
    directory, feed = stubs
    account = await new_account(directory)
    plain = await add_webhook(feed, account.id, receiver.url("plain"))
    receiver.expect("plain", plain.secret)
    old = await add_webhook(feed, account.id, receiver.url("previous"))
    await rotate(feed, account.id, old.webhook.id)
    receiver.expect("previous", old.secret)
    new = await add_webhook(feed, account.id, receiver.url("rotated"))
    receiver.expect("rotated", await rotate(feed, account.id, new.webhook.id))

    async with running_deliverer(own_database, encryption_key):
        await new_user(directory, account.id)
        await receiver.wait_for(
            lambda: all(receiver.at(p) for p in ("plain", "previous", "rotated")), timeout=20
        )

    assert receiver.bad_signatures == 0
    assert {d.body["type"] for d in receiver.deliveries} == {"user.created"}


async def test_a_sealed_secret_copied_into_another_endpoints_row_does_not_open(
    stubs: tuple[Stub, Feed],
    pool: asyncpg.Pool,
    secretbox: SecretBox,
    own_database: str,
    encryption_key: str,
    receiver: Receiver,
) -> None:
    """Each ciphertext is bound to its account and endpoint: copied (by someone who can write
    the table) into another endpoint's row of the same account or of another account, it opens
    neither for the box nor for the deliverer, whose attempt fails with "signing secret
    unavailable" and sends nothing; the endpoint it belongs to is still delivered."""
    directory, feed = stubs
    account, other_account = await new_account(directory), await new_account(directory)
    source = await add_webhook(feed, account.id, receiver.url("source"))
    receiver.expect("source", source.secret)
    targets = [
        (account.id, await add_webhook(feed, account.id, receiver.url("same-account"))),
        (other_account.id, await add_webhook(feed, other_account.id, receiver.url("other"))),
    ]
    stolen = await endpoint_row(pool, uuid.UUID(account.id), uuid.UUID(source.webhook.id))
    for account_id, target in targets:
        await pool.execute(
            "UPDATE directory.webhook_endpoints SET secret_sealed = $3, secret_key_id = $4"
            " WHERE account_id = $1 AND id = $2",
            uuid.UUID(account_id), uuid.UUID(target.webhook.id), stolen["secret_sealed"],
            stolen["secret_key_id"],
        )  # fmt: skip
        row = await endpoint_row(pool, uuid.UUID(account_id), uuid.UUID(target.webhook.id))
        with pytest.raises(SecretBoxError):
            opened(secretbox, row)

    async def attempted(account_id: str, webhook_id: str) -> list[events_pb2.WebhookDelivery]:
        response = await feed.ListWebhookDeliveries(
            events_pb2.ListWebhookDeliveriesRequest(account_id=account_id, webhook_id=webhook_id)
        )
        return list(response.deliveries)

    async with running_deliverer(own_database, encryption_key):
        await new_user(directory, account.id)
        await new_user(directory, other_account.id)
        for account_id, target in targets:
            await wait_until(lambda: attempted(account_id, target.webhook.id))  # noqa: B023
        await receiver.wait_for(lambda: receiver.at("source"), timeout=20)

    for account_id, target in targets:
        failed = await attempted(account_id, target.webhook.id)
        assert all(not d.succeeded for d in failed)
        assert {d.error for d in failed} == {"signing secret unavailable"}
    assert [d.path for d in receiver.deliveries] == ["source"]
    assert receiver.bad_signatures == 0


async def test_a_plaintext_secret_an_older_directory_writes_is_sealed_by_the_deliverer(
    stubs: tuple[Stub, Feed],
    pool: asyncpg.Pool,
    secretbox: SecretBox,
    own_database: str,
    encryption_key: str,
    receiver: Receiver,
) -> None:
    """During the rolling upgrade past 0007 an older directory replica still writes plaintext:
    the deliverer does not deliver from it until its upkeep seals it, then signs with the same
    secret (the receiver keeps it)."""
    directory, _ = stubs
    account = await new_account(directory)
    secret = signing.new_secret()
    account_id = uuid.UUID(account.id)
    webhook_id = await pool.fetchval(RELEASE_0006_CREATE, account_id, receiver.url("old"), secret)
    receiver.expect("old", secret)

    async with running_deliverer(own_database, encryption_key):
        await new_user(directory, account.id)
        await receiver.wait_for(lambda: receiver.at("old"), timeout=20)

    row = await endpoint_row(pool, account_id, webhook_id)
    assert_holds_no_plaintext(row, secret)
    assert opened(secretbox, row) == secret
    assert receiver.bad_signatures == 0


async def test_a_plaintext_secret_left_by_the_previous_release_is_sealed_when_directory_starts(
    postgres: PostgresServer, tmp_path: Path, encryption_key: str, secretbox: SecretBox
) -> None:
    """The upgrade: endpoints stored (and rotated) by the release before 0007, the migration
    (which cannot encrypt: the rows stay plaintext), then `python -m directory` with the key:
    before it serves, both secrets are sealed, opening to the same values, and the plaintext is
    gone; sealing again finds nothing (idempotent) and changes nothing."""
    url = await postgres.create_database()
    process: asyncio.subprocess.Process | None = None
    try:
        before = tmp_path / "migrations-0006"
        before.mkdir()
        for path in sorted(MIGRATIONS["directory"].glob("*.sql")):
            if int(path.name[:4]) <= 6:
                shutil.copy(path, before)
        await migrate(url, {"directory": before})
        current, previous = signing.new_secret(), signing.new_secret()
        conn = await asyncpg.connect(url)
        try:
            account_id = await conn.fetchval(
                "INSERT INTO directory.accounts (name) VALUES ($1) RETURNING id",
                f"acme-{uuid.uuid4().hex[:10]}",
            )
            webhook_id = await conn.fetchval(
                RELEASE_0006_CREATE, account_id, "https://hooks.example.com/idmesh", previous
            )
            await conn.execute(RELEASE_0006_ROTATE, account_id, webhook_id, current)
            await migrate(url, {"directory": MIGRATIONS["directory"]})
            row = await endpoint_row(conn, account_id, webhook_id)
            assert (row["secret"], row["previous_secret"]) == (current, previous)
            assert row["secret_sealed"] is None

            port = free_port()
            log = tmp_path / "directory.log"
            process = await start_directory(url, port, encryption_key, log)
            await wait_serving(process, port, log)

            row = await endpoint_row(conn, account_id, webhook_id)
            assert_holds_no_plaintext(row, current)
            assert_holds_no_plaintext(row, previous)
            assert (row["secret"], row["previous_secret"]) == ("", "")
            assert opened(secretbox, row) == current
            assert opened(secretbox, row, "previous_secret") == previous

            upkeep = await create_pool(url, min_size=1, max_size=2)
            try:
                assert await seal_plaintext_secrets(upkeep, secretbox) == 0
            finally:
                await upkeep.close()
            assert await endpoint_row(conn, account_id, webhook_id) == row
        finally:
            await conn.close()
    finally:
        if process is not None and process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), timeout=30)
        await postgres.drop_database(url)


@pytest.mark.parametrize("module", ["directory", "directory.webhooks"])
@pytest.mark.parametrize(
    ("key", "problem"),
    [
        (None, "IDMESH_ENCRYPTION_KEY is required"),
        ("c2hvcnQta2V5LW9mLTE2LWI", "IDMESH_ENCRYPTION_KEY is invalid: expected 32 bytes"),
    ],
)
async def test_directory_and_the_deliverer_refuse_to_start_without_a_valid_key(
    module: str, key: str | None, problem: str, tmp_path: Path
) -> None:
    """They cannot seal or open a webhook secret without it: exit 2, naming the variable and
    what is wrong with it, never its value."""
    env = service_env("postgresql://127.0.0.1:1/unused", free_port(), key)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 2, stderr.decode()
    assert problem in stderr.decode()
    if key is not None:
        assert key not in stderr.decode()


def service_env(database_url: str, port: int, key: str | None) -> dict[str, str]:
    """A service's whole environment, as its container gets it (nothing inherited but PATH)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DATABASE_URL": database_url,
        "OTEL_TRACES_EXPORTER": "none",
        "LOG_FORMAT": "plain",
        "PYTHONUNBUFFERED": "1",
    }
    if key is not None:
        env["IDMESH_ENCRYPTION_KEY"] = key
    return env


async def start_directory(
    database_url: str, port: int, key: str, log: Path
) -> asyncio.subprocess.Process:
    with log.open("wb") as output:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "directory", env=service_env(database_url, port, key),
            cwd=log.parent, stdout=output, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip


async def wait_serving(process: asyncio.subprocess.Process, port: int, log: Path) -> None:
    async with connect(f"127.0.0.1:{port}") as channel:
        for _ in range(300):
            assert process.returncode is None, read(log)
            if await is_serving(channel, deadline=0.5):
                return
            await asyncio.sleep(0.1)
    raise AssertionError(f"directory never served: {read(log)}")


def read(log: Path) -> str:
    return log.read_text()
