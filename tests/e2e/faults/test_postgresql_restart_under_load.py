"""PostgreSQL restarted under a SCIM provisioning load (issue "Under load, faults and hostile
input it keeps working and loses nothing"): the services ride the outage out with 503s and
reconnect by themselves, and no acknowledged user is lost or duplicated.

The machine's own PostgreSQL is never touched: the test starts a throwaway embedded cluster
(meshkit.localdb, as `make run` does) on a free port and a mesh of its own against it."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from infra.dev.mesh import SERVICES, Mesh
from meshkit.localdb import LocalPostgres
from meshkit.testing import migrate
from tests.e2e.faults.meshes import kill_all
from tests.e2e.faults.scim_load import (
    ScimLoad,
    assert_answered_in_time,
    assert_nothing_lost_or_duplicated,
    outage_figures,
    post_user,
    settle_uncertain,
    stored_users,
)
from tests.e2e.harness import start_mesh
from tests.e2e.otlp_receiver import OtlpReceiver
from tests.e2e.tenants import create_tenant, create_token

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[3]
MIGRATIONS = {
    "directory": ROOT / "services/directory/src/directory/migrations",
    "auth": ROOT / "services/auth/src/auth/migrations",
}
OUTAGE_SECONDS = 1.5
RECOVERY_SECONDS = 15.0


@pytest.fixture(scope="module")
async def throwaway_postgres() -> AsyncIterator[LocalPostgres]:
    """A migrated embedded cluster of this module alone, stopped and deleted afterwards."""
    # Under /tmp, not pytest's 0700 base folder: as root the cluster's own user must reach it.
    with tempfile.TemporaryDirectory(prefix="idmesh-pg-fault-") as folder:
        cluster = LocalPostgres(Path(folder) / "data", durable=False)
        await asyncio.to_thread(cluster.start)
        try:
            await migrate(cluster.url, MIGRATIONS)
            yield cluster
        finally:
            await asyncio.to_thread(cluster.stop)


@pytest.fixture(scope="module")
async def mesh_on_throwaway_postgres(
    throwaway_postgres: LocalPostgres,
    otlp_receiver: OtlpReceiver,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Mesh]:
    mesh = await start_mesh(
        throwaway_postgres.url, otlp_receiver, tmp_path_factory.mktemp("pg-fault-mesh")
    )
    try:
        yield mesh
    finally:
        await kill_all(mesh)


@pytest.fixture
async def running_postgres(throwaway_postgres: LocalPostgres) -> LocalPostgres:
    """The module's cluster, started again if an earlier test failed while it was down."""
    if not (throwaway_postgres.data_dir / "postmaster.pid").exists():
        await asyncio.to_thread(throwaway_postgres.start)
    return throwaway_postgres


async def test_after_a_postgresql_restart_the_services_reconnect_and_lose_no_user(
    running_postgres: LocalPostgres,
    mesh_on_throwaway_postgres: Mesh,
    http: aiohttp.ClientSession,
    record_property: Callable[[str, object], None],
) -> None:
    """meshkit.database: "later outages are survived by the pool itself: broken connections
    are replaced on their next use, and calls fail as UNAVAILABLE meanwhile"; the gateway
    answers those 503 with Retry-After (RFC 9110 §10.2.3), never 500; once PostgreSQL is back
    the same processes (same pids) serve 201s within seconds, and every acknowledged user is
    stored exactly once."""
    mesh = mesh_on_throwaway_postgres
    tenant = await create_tenant(mesh)
    pids = {service: mesh.pid(service) for service in SERVICES}
    # Never used yet: neither the gateway nor auth has it cached, so auth must read PostgreSQL.
    uncached = await create_token(mesh, tenant.account_id)
    load = ScimLoad(http, mesh.gateway_url, tenant.token)
    load.start()
    try:
        assert await load.wait_for(201, 12, within=15), load.answers[-5:]
        stopped_at = time.monotonic()
        # pg_ctl -m fast: open sessions are terminated, as in a managed server's failover.
        await asyncio.to_thread(running_postgres.stop)
        probe = await post_user(http, mesh.gateway_url, uncached, f"{load.prefix}-probe@load.test")
        await asyncio.sleep(OUTAGE_SECONDS)
        await asyncio.to_thread(running_postgres.start)
        restarted_at = time.monotonic()
        recovered = await load.wait_for(201, 8, after=restarted_at, within=RECOVERY_SECONDS)
    finally:
        answers = await load.stop()

    for name, value in outage_figures(answers, restarted_at).items():
        record_property(name, value)
    assert recovered, f"no 201s within {RECOVERY_SECONDS}s of the restart: {answers[-8:]}"
    assert {service: mesh.pid(service) for service in SERVICES} == pids
    assert all(mesh.is_running(service) for service in SERVICES)
    assert_answered_in_time(answers)
    # A token auth cannot look up is "retry later", not 401 "invalid token".
    assert probe.status == 503, probe
    assert_answered_in_time([probe])
    answers.append(probe)
    during = [a for a in answers if stopped_at <= a.sent_at < restarted_at]
    assert any(a.status == 503 for a in during), "the outage went unnoticed"

    settled = await settle_uncertain(http, mesh.gateway_url, tenant.token, answers)
    await assert_nothing_lost_or_duplicated(mesh, tenant.account_id, answers, settled)


async def test_a_request_waiting_on_postgresql_when_it_shuts_down_is_503_and_undone(
    running_postgres: LocalPostgres, mesh_on_throwaway_postgres: Mesh, http: aiohttp.ClientSession
) -> None:
    """A statement in flight when PostgreSQL shuts down (its session is terminated, "the
    connection was closed in the middle of operation") may be retried, so the caller gets 503
    with Retry-After, not 500 (meshkit.call_guard: "a broken database connection becomes
    UNAVAILABLE"), and its transaction is rolled back: once the server is back the same POST is
    201 and the user is stored once. The statement is held in flight by a lock the test takes on
    directory's users table; the fast shutdown terminates the sessions one by one, so when the
    lock holder's goes first the held statement may still commit before its own session ends:
    then the answer is 201, and the user is stored once all the same."""
    mesh = mesh_on_throwaway_postgres
    tenant = await create_tenant(mesh)
    warm = await post_user(http, mesh.gateway_url, tenant.token, "warm@pg.test")
    assert warm.status == 201, warm
    locker = await asyncpg.connect(running_postgres.url)
    try:
        await locker.execute("BEGIN; LOCK TABLE directory.users IN ACCESS EXCLUSIVE MODE")
        waiting = asyncio.create_task(
            post_user(http, mesh.gateway_url, tenant.token, "held@pg.test")
        )
        await asyncio.sleep(0.5)
        assert not waiting.done(), waiting.result()
        await asyncio.to_thread(running_postgres.stop)
        answer = await waiting
    finally:
        locker.terminate()
        if not (running_postgres.data_dir / "postmaster.pid").exists():
            await asyncio.to_thread(running_postgres.start)
    assert_answered_in_time([answer])
    settled = await settle_uncertain(http, mesh.gateway_url, tenant.token, [answer])
    if answer.status == 503:
        assert settled == {"held@pg.test": 201}, "a 503 must leave nothing behind"
    stored = sorted(user.user_name for user in await stored_users(mesh, tenant.account_id))
    assert stored == ["held@pg.test", "warm@pg.test"]
