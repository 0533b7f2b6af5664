"""The SCIM provisioning log through the real processes (issue 3): every request lands in the
directory shortly after it is answered, `idmesh scim log` shows it to the admin newest first,
nothing in it is a body, a value or a token, and a stopping scim service writes what it still
holds."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from idmesh.directory.v1 import directory_pb2 as pb
from idmesh.directory.v1 import directory_pb2_grpc
from infra.dev.mesh import Mesh
from meshkit.channels import connect
from tests.e2e.harness import start_mesh
from tests.e2e.otlp_receiver import OtlpReceiver
from tests.e2e.scim.gateway_client import GatewayScim
from tests.e2e.tenants import Tenant, create_tenant, run_cli
from tests.integration.scim.replays import okta_user

pytestmark = pytest.mark.e2e


async def _logged(directory: Any, account_id: str, count: int, within: float = 5.0) -> list[Any]:
    """The account's events once there are ``count`` of them (oldest first)."""
    request = pb.ListProvisioningEventsRequest(
        account_id=account_id, page=pb.PageRequest(page_size=1000)
    )
    events: list[Any] = []
    for _ in range(int(within / 0.05)):
        events = list((await directory.ListProvisioningEvents(request)).events)
        if len(events) >= count:
            return events
        await asyncio.sleep(0.05)
    raise AssertionError(f"{len(events)} events logged, expected {count}")


async def test_every_request_is_logged_and_idmesh_scim_log_shows_it_newest_first(
    okta: GatewayScim, mesh: Mesh, tenant: Tenant, directory: Any
) -> None:
    """Like Entra's provisioning logs: token, method, operation, resource type and id, outcome,
    status, duration and a short error category, for successes and refusals alike."""
    body = okta_user()
    user_id = (await okta.request("POST", "/Users", body)).body["id"]
    await okta.request("GET", "/Users", query={"filter": f'userName eq "{body["userName"]}"'})
    await okta.request(
        "PATCH",
        f"/Users/{user_id}",
        {"Operations": [{"op": "replace", "path": "title", "value": "Secret Agent"}]},
    )
    await okta.request("POST", "/Users", body)  # 409
    await okta.request("GET", f"/Users/{uuid.uuid4()}")  # 404
    await okta.request("GET", "/Schemas")
    await okta.request("DELETE", f"/Users/{user_id}")

    events = await _logged(directory, tenant.account_id, 7)
    rows = [
        (e.method, e.operation, e.resource_type, e.http_status, e.outcome, e.detail) for e in events
    ]
    success, rejected = pb.PROVISIONING_OUTCOME_SUCCESS, pb.PROVISIONING_OUTCOME_REJECTED
    assert rows == [
        ("POST", "create", "User", 201, success, ""),
        ("GET", "list", "User", 200, success, ""),
        ("PATCH", "update", "User", 200, success, ""),
        ("POST", "create", "User", 409, rejected, "uniqueness on userName"),
        ("GET", "read", "User", 404, rejected, "not found"),
        ("GET", "discovery", "Schema", 200, success, ""),
        ("DELETE", "delete", "User", 204, success, ""),
    ]
    assert [e.resource_id for e in events if e.operation in ("create", "update", "delete")] == [
        user_id,
        user_id,
        "",
        user_id,
    ]
    assert {e.token_id for e in events} == {okta.token_id}
    assert all(e.duration.ToNanoseconds() > 0 and e.trace_id for e in events)

    shown = await run_cli(mesh, "scim", "log", "--account", tenant.name, "--json")
    listed = json.loads(shown.stdout)
    assert [e["http_status"] for e in listed] == [204, 200, 404, 409, 200, 200, 201]
    assert listed[3]["outcome"] == "rejected"
    for secret in (body["userName"], body["password"], "Secret Agent", okta.token):
        assert secret not in shown.stdout
    refusals = await run_cli(
        mesh, "scim", "log", "--account", tenant.name, "--outcome", "rejected", "--limit", "1"
    )
    lines = refusals.stdout.splitlines()
    assert lines[0].split()[:3] == ["TIME", "TOKEN", "METHOD"]
    assert len(lines) == 2
    assert "404" in lines[1]
    assert "not found" in lines[1]
    by_token = await run_cli(
        mesh, "scim", "log", "--account", tenant.name, "--token", okta.token_id, "--json"
    )
    assert len(json.loads(by_token.stdout)) == 7


async def test_idmesh_scim_log_says_a_token_is_unknown_instead_of_printing_an_empty_log(
    mesh: Mesh, tenant: Tenant
) -> None:
    """An empty log for a mistyped token id would read as "this token sent nothing"; with
    --json the error is a JSON document on stderr, with the exit code."""
    unknown = str(uuid.uuid4())
    failed = await run_cli(
        mesh, "scim", "log", "--account", tenant.name, "--token", unknown, check=False
    )
    assert failed.returncode == 1
    assert f"token '{unknown}' is unknown in this account" in failed.stderr
    as_json = await run_cli(
        mesh, "scim", "log", "--account", tenant.name, "--token", unknown, "--json", check=False
    )
    assert as_json.returncode == 1
    assert json.loads(as_json.stderr) == {
        "error": f"token '{unknown}' is unknown in this account: `idmesh token list --account "
        "...` and `idmesh oauth-client list --account ...` show its credentials",
        "exit_code": 1,
    }


async def test_idmesh_account_update_turns_group_patch_answers_to_204_for_that_account_only(
    http: aiohttp.ClientSession, mesh: Mesh, tenant: Tenant, entra: GatewayScim
) -> None:
    """AccountSettings.scim_group_patch_returns_resource, set by the operator: 204 for this
    account, the default 200 with the entire group (scim-sanity, docs/scim-clients.md §8) for
    the others."""
    changed = await run_cli(
        mesh, "account", "update", tenant.name, "--scim-group-patch-returns-resource", "false"
    )
    assert "204 No Content" in changed.stdout
    other = GatewayScim(http, mesh.gateway_url, (await create_tenant(mesh)).token)
    for client, expected in ((entra, 204), (other, 200)):
        user = (await client.request("POST", "/Users", okta_user())).body["id"]
        group = (await client.request("POST", "/Groups", {"displayName": "G"})).body["id"]
        reply = await client.request(
            "PATCH",
            f"/Groups/{group}",
            {"Operations": [{"op": "add", "path": "members", "value": [{"value": user}]}]},
        )
        assert reply.status == expected, reply.body
        if expected == 200:
            assert reply.body["id"] == group
            assert [m["value"] for m in reply.body["members"]] == [user]


async def test_a_stopping_scim_service_writes_the_events_it_still_holds(
    database_url: str, otlp_receiver: OtlpReceiver, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    """Issue 3: "flushed on shutdown". With a one-minute interval nothing is written while the
    service runs; SIGTERM drains the requests, then the log is written before the exit."""
    mesh = await start_mesh(
        database_url,
        otlp_receiver,
        tmp_path,
        service_env={
            "scim": {"PROVISIONING_LOG_INTERVAL": "60s", "PROVISIONING_LOG_BATCH": "1000"}
        },
    )
    try:
        tenant = await create_tenant(mesh)
        client = GatewayScim(http, mesh.gateway_url, tenant.token)
        for _ in range(5):
            assert (await client.request("POST", "/Users", okta_user())).status == 201
        async with _directory(mesh) as directory:
            request = pb.ListProvisioningEventsRequest(account_id=tenant.account_id)
            assert not (await directory.ListProvisioningEvents(request)).events
            assert await mesh.stop_service("scim") == 0
            events = (await directory.ListProvisioningEvents(request)).events
            assert [e.http_status for e in events] == [201] * 5
    finally:
        await mesh.stop()


@asynccontextmanager
async def _directory(mesh: Mesh) -> AsyncIterator[Any]:
    async with connect(mesh.address("directory")) as channel:
        yield directory_pb2_grpc.DirectoryServiceStub(channel)
