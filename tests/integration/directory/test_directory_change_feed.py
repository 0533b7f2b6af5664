"""The change feed: typed events written with each change, numbered per account, watched across
the backlog/live switch, and told (never skipped) when a cursor is no longer retained."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import grpc
import pytest
from google.protobuf import json_format

from directory.app import build_server
from directory.store.events import EventStore
from idmesh.directory.v1 import directory_pb2 as pb
from idmesh.directory.v1 import directory_pb2_grpc, events_pb2, events_pb2_grpc
from meshkit.channels import connect
from meshkit.secretbox import SecretBox
from meshkit.server import GrpcServer
from tests.support.directory import (
    ADMIN,
    Stub,
    failure,
    new_account,
    new_group,
    new_space,
    new_user,
)

SCIM = pb.Actor(type=pb.ACTOR_TYPE_SCIM_TOKEN, id="token-42", display_name="Entra provisioning")


@pytest.fixture(scope="module")
async def stubs(
    directory_pool: asyncpg.Pool, secretbox: SecretBox
) -> AsyncIterator[tuple[Stub, events_pb2_grpc.EventServiceAsyncStub]]:
    server = build_server(
        directory_pool,
        host="127.0.0.1",
        port=0,
        secretbox=secretbox,
        server=GrpcServer("127.0.0.1", 0, drain_seconds=0, grace_seconds=1),
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


async def _list(
    feed: events_pb2_grpc.EventServiceAsyncStub, account_id: str, after: int = 0
) -> list[events_pb2.Event]:
    response = await feed.ListEvents(
        events_pb2.ListEventsRequest(account_id=account_id, after_cursor=after, limit=1000)
    )
    return list(response.events)


async def test_a_change_and_its_typed_event_commit_together_with_the_resource_after_it(
    stubs: tuple[Stub, events_pb2_grpc.EventServiceAsyncStub],
) -> None:
    """Issue 15: an id, a per-account cursor, the time, the actor and channel, and the resource
    as it is after the change; an audit action outside the mapping makes no event."""
    directory, feed = stubs
    account = await new_account(directory)
    user = (
        await directory.CreateUser(
            pb.CreateUserRequest(
                user=pb.User(account_id=account.id, user_name="ada@example.com"), actor=SCIM
            )
        )
    ).user
    user.title = "Engineer"
    await directory.UpdateUser(pb.UpdateUserRequest(user=user, actor=SCIM))
    user.active = False
    await directory.UpdateUser(pb.UpdateUserRequest(user=user, actor=SCIM))
    await directory.DeleteUser(
        pb.DeleteUserRequest(account_id=account.id, user_id=user.id, actor=ADMIN)
    )

    events = await _list(feed, account.id)

    assert [e.type for e in events] == [
        "user.created",
        "user.updated",
        "user.deactivated",
        "user.deleted",
    ]
    assert [e.cursor for e in events] == [1, 2, 3, 4]
    assert len({e.id for e in events}) == 4
    created, updated, deactivated, deleted = events
    assert created.channel == "scim"
    assert created.actor.id == "token-42"
    assert deleted.channel == "admin_api"
    assert json_format.MessageToDict(updated.resource)["title"] == "Engineer"
    assert json_format.MessageToDict(deactivated.resource)["status"] == "deactivated"
    assert json_format.MessageToDict(deleted.resource)["id"] == user.id


async def test_an_audited_user_change_whose_id_is_no_uuid_still_commits_with_what_it_says(
    stubs: tuple[Stub, events_pb2_grpc.EventServiceAsyncStub], directory_pool: asyncpg.Pool
) -> None:
    """The feed's trigger runs at commit and finds the user by its key: an id that is not a uuid
    finds no row (the event carries the id alone) and never aborts the change it belongs to."""
    directory, feed = stubs
    account = await new_account(directory)
    await directory_pool.execute(
        "INSERT INTO directory.audit_events (account_id, actor_type, action, target_type,"
        " target_id) VALUES ($1, 'admin_api', 'user.updated', 'user', 'not-a-uuid')",
        uuid.UUID(account.id),
    )

    (event,) = await _list(feed, account.id)

    assert event.type == "user.updated"
    assert json_format.MessageToDict(event.resource) == {"id": "not-a-uuid"}


async def test_group_members_and_space_roles_become_one_event_each(
    stubs: tuple[Stub, events_pb2_grpc.EventServiceAsyncStub],
) -> None:
    """One mapping row per (audit action, event type): group.members_changed becomes one
    group.member_added per member added; a space role granted is grant.created with its
    source."""
    directory, feed = stubs
    account = await new_account(directory)
    ada = await new_user(directory, account.id)
    bob = await new_user(directory, account.id)
    group = await new_group(directory, account.id)
    space = await new_space(directory, account.id)
    roles = await directory.ListRoles(pb.ListRolesRequest(account_id=account.id))
    member = next(r for r in roles.roles if r.name == "Space Member")
    after = (await _list(feed, account.id))[-1].cursor

    await directory.ModifyGroupMembers(
        pb.ModifyGroupMembersRequest(
            account_id=account.id,
            group_id=group.id,
            add_user_ids=[ada.id, bob.id],
            source=pb.MEMBERSHIP_SOURCE_SCIM,
            actor=SCIM,
        )
    )
    await directory.GrantSpaceRole(
        pb.GrantSpaceRoleRequest(
            account_id=account.id,
            user_id=ada.id,
            space_id=space.id,
            role_id=member.id,
            source=pb.MEMBERSHIP_SOURCE_MANUAL,
            actor=ADMIN,
        )
    )

    events = await _list(feed, account.id, after)
    assert [e.type for e in events] == ["group.member_added", "group.member_added", "grant.created"]
    added = {json_format.MessageToDict(e.resource)["user_id"] for e in events[:2]}
    assert added == {ada.id, bob.id}
    assert json_format.MessageToDict(events[0].resource)["source"] == "scim"
    grant = json_format.MessageToDict(events[2].resource)
    assert grant == {
        "user_id": ada.id,
        "space_id": space.id,
        "role_id": member.id,
        "source": "manual",
    }


async def test_a_watcher_sees_every_event_once_in_order_across_the_backlog_live_switch(
    stubs: tuple[Stub, events_pb2_grpc.EventServiceAsyncStub],
) -> None:
    """WatchEvents under concurrent writers: the backlog, then live changes, with no gap and no
    duplicate at the switch (cursors 1..n exactly)."""
    directory, feed = stubs
    account = await new_account(directory)
    for _ in range(30):
        await new_user(directory, account.id)

    async def write(n: int) -> None:
        for _ in range(n):
            await new_user(directory, account.id)

    stream = feed.WatchEvents(events_pb2.WatchEventsRequest(account_id=account.id), timeout=60)
    writers = [asyncio.create_task(write(20)) for _ in range(4)]
    seen: list[int] = []
    async for event in stream:
        seen.append(event.cursor)
        if len(seen) == 110:
            break
    stream.cancel()
    await asyncio.gather(*writers)
    assert seen == list(range(1, 111))


async def test_a_cursor_older_than_the_retained_events_is_out_of_range_with_the_oldest(
    stubs: tuple[Stub, events_pb2_grpc.EventServiceAsyncStub], directory_pool: asyncpg.Pool
) -> None:
    """A consumer that fell behind the retention is told (OUT_OF_RANGE, the cursor to resume
    after), never silently skipped; one that did not is served as before."""
    directory, feed = stubs
    account = await new_account(directory)
    for _ in range(3):
        await new_user(directory, account.id)
    await EventStore(directory_pool).prune(datetime.now(UTC) + timedelta(seconds=1))

    code, error = await failure(
        feed.ListEvents(events_pb2.ListEventsRequest(account_id=account.id, after_cursor=1))
    )
    assert code is grpc.StatusCode.OUT_OF_RANGE
    assert "resume after is 3" in error.message
    stream = feed.WatchEvents(
        events_pb2.WatchEventsRequest(account_id=account.id, after_cursor=0), timeout=10
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stream.read()
    assert raised.value.code() is grpc.StatusCode.OUT_OF_RANGE
    await new_user(directory, account.id)
    assert [e.cursor for e in await _list(feed, account.id, 3)] == [4]


async def test_retention_keeps_what_a_webhook_has_not_delivered(
    stubs: tuple[Stub, events_pb2_grpc.EventServiceAsyncStub], directory_pool: asyncpg.Pool
) -> None:
    """The cleanup never drops an event an enabled webhook endpoint still has to deliver."""
    directory, feed = stubs
    account = await new_account(directory)
    await new_user(directory, account.id)
    await feed.CreateWebhook(
        events_pb2.CreateWebhookRequest(
            account_id=account.id, url="https://hooks.example.com/idmesh", actor=ADMIN
        )
    )
    await new_user(directory, account.id)

    await EventStore(directory_pool).prune(datetime.now(UTC) + timedelta(seconds=1))

    assert [e.cursor for e in await _list(feed, account.id, 1)] == [2]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/idmesh", "insecure_url"),
        ("https://127.0.0.1/hook", "private_address"),
        ("https://10.1.2.3/hook", "private_address"),
        ("https://169.254.169.254/latest/meta-data", "private_address"),
        ("https://[::1]/hook", "private_address"),
    ],
)
async def test_a_webhook_url_must_be_https_and_public(
    stubs: tuple[Stub, events_pb2_grpc.EventServiceAsyncStub], url: str, reason: str
) -> None:
    """SSRF (issue 15): https only, no loopback, private or link-local address, unless the
    operator sets WEBHOOK_ALLOW_PRIVATE; nothing is stored."""
    directory, feed = stubs
    account = await new_account(directory)
    code, error = await failure(
        feed.CreateWebhook(
            events_pb2.CreateWebhookRequest(account_id=account.id, url=url, actor=ADMIN)
        )
    )
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == reason
    assert error.field == "url"
    listed = await feed.ListWebhooks(events_pb2.ListWebhooksRequest(account_id=account.id))
    assert not listed.webhooks


async def test_a_webhook_secret_is_in_the_standard_webhooks_form_and_shown_once(
    stubs: tuple[Stub, events_pb2_grpc.EventServiceAsyncStub],
) -> None:
    directory, feed = stubs
    account = await new_account(directory)
    created = await feed.CreateWebhook(
        events_pb2.CreateWebhookRequest(
            account_id=account.id,
            url="https://hooks.example.com/idmesh",
            types=["user.created", "grant.created"],
            actor=ADMIN,
        )
    )
    assert created.secret.startswith("whsec_")
    got = await feed.GetWebhook(
        events_pb2.GetWebhookRequest(account_id=account.id, webhook_id=created.webhook.id)
    )
    assert "secret" not in json_format.MessageToDict(got)
    assert list(got.webhook.types) == ["grant.created", "user.created"]
    code, error = await failure(
        feed.CreateWebhook(
            events_pb2.CreateWebhookRequest(
                account_id=account.id,
                url="https://hooks.example.com/idmesh",
                types=["user.exploded"],
                actor=ADMIN,
            )
        )
    )
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == "unknown_event_type"
    other = await new_account(directory)
    code, _ = await failure(
        feed.GetWebhook(
            events_pb2.GetWebhookRequest(account_id=other.id, webhook_id=created.webhook.id)
        )
    )
    assert code is grpc.StatusCode.NOT_FOUND
    assert uuid.UUID(created.webhook.id)
