"""Concurrent writes of one user or group through the real gateway (issue "Under load, faults
and hostile input it keeps working and loses nothing"): optimistic concurrency with ETags lets
exactly one of the writers holding a version win and loses no update; one userName is created
once; concurrent member additions all land.

These break no process, so they run on the package's mesh as it is."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import aiohttp
import pytest

from idmesh.directory.v1 import directory_pb2
from infra.dev.mesh import Mesh
from tests.e2e.faults.scim_load import post_user, scim_headers, stored_users
from tests.e2e.tenants import Tenant

pytestmark = pytest.mark.e2e

WRITERS = 8
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
# Each writer re-reads and retries after a 412; far more than WRITERS rounds means a livelock.
MAX_ATTEMPTS = 4 * WRITERS


async def _get(http: aiohttp.ClientSession, url: str, token: str) -> tuple[str, dict[str, Any]]:
    async with http.get(url, headers=scim_headers(token)) as response:
        assert response.status == 200, await response.text()
        return response.headers["ETag"], json.loads(await response.read())


async def _patch_nick_name(
    http: aiohttp.ClientSession, url: str, token: str, etag: str, value: str
) -> tuple[int, str]:
    body = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "nickName", "value": value}],
    }
    headers = {**scim_headers(token), "If-Match": etag}
    async with http.patch(url, data=json.dumps(body), headers=headers) as response:
        await response.read()
        return response.status, response.headers.get("ETag", "")


async def test_concurrent_if_match_patches_let_one_writer_win_per_version_and_lose_no_update(
    fault_mesh: Mesh, fault_tenant: Tenant, http: aiohttp.ClientSession
) -> None:
    """RFC 7644 §3.14 (a PATCH with an If-Match that no longer matches is 412 Precondition
    Failed) and RFC 9110 §13.1.1: of the writers holding one ETag exactly one gets 200, the others
    412; each writer then re-reads and retries, and every writer's append is in the result, so
    no update was lost (a lost update would drop a marker from nickName)."""
    created = await post_user(http, fault_mesh.gateway_url, fault_tenant.token, "race@etag.test")
    assert created.status == 201, created
    url = f"{fault_mesh.gateway_url}/scim/v2/Users/{created.user_id}"
    token = fault_tenant.token
    first_etag, first = await _get(http, url, token)
    assert "nickName" not in first

    # Round one: every writer holds the same version and sends its PATCH at once.
    first_round = await asyncio.gather(
        *(_patch_nick_name(http, url, token, first_etag, f"w{n}") for n in range(WRITERS))
    )
    statuses = Counter(status for status, _ in first_round)
    assert statuses == {200: 1, 412: WRITERS - 1}, statuses
    (winner,) = [n for n, (status, _) in enumerate(first_round) if status == 200]

    async def append(n: int) -> int:
        """Read, append ``w<n>``, PATCH with If-Match until it is accepted; the 412s it got."""
        for rejected in range(MAX_ATTEMPTS):
            etag, user = await _get(http, url, token)
            status, new_etag = await _patch_nick_name(
                http, url, token, etag, f"{user['nickName']},w{n}"
            )
            if status == 200:
                assert new_etag
                assert new_etag != etag
                return rejected
            assert status == 412, status
        raise AssertionError(f"writer {n} never won in {MAX_ATTEMPTS} attempts")

    await asyncio.gather(*(append(n) for n in range(WRITERS) if n != winner))

    _, final = await _get(http, url, token)
    markers = final["nickName"].split(",")
    assert sorted(markers) == sorted(f"w{n}" for n in range(WRITERS)), final["nickName"]
    assert markers[0] == f"w{winner}"
    # The stale version is refused still, whatever happened since.
    status, _ = await _patch_nick_name(http, url, token, first_etag, "late")
    assert status == 412


async def test_concurrent_posts_of_one_user_name_create_exactly_one_user(
    fault_mesh: Mesh, fault_tenant: Tenant, http: aiohttp.ClientSession
) -> None:
    """RFC 7644 §3.3: a POST whose userName exists is 409 with scimType uniqueness; userName is
    unique per account case-insensitively (docs/architecture.md "The domain"), so of concurrent
    POSTs of one name, in any case, exactly one is 201 and one user is stored."""
    spellings = [
        "twin@race.test" if n % 2 else "Twin@Race.TEST" for n in range(WRITERS)
    ]  # same user, two spellings
    answers = await asyncio.gather(
        *(post_user(http, fault_mesh.gateway_url, fault_tenant.token, name) for name in spellings)
    )
    statuses = Counter(answer.status for answer in answers)
    assert statuses == {201: 1, 409: WRITERS - 1}, answers
    assert all(answer.scim_type == "uniqueness" for answer in answers if answer.status == 409)
    stored = [
        user
        for user in await stored_users(fault_mesh, fault_tenant.account_id)
        if user.user_name.lower() == "twin@race.test"
    ]
    assert len(stored) == 1
    (acknowledged,) = [answer for answer in answers if answer.status == 201]
    assert stored[0].id == acknowledged.user_id
    assert stored[0].status == directory_pb2.USER_STATUS_PENDING


async def _add_email(
    http: aiohttp.ClientSession, url: str, token: str, value: str
) -> tuple[int, str]:
    body = {
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "add", "path": "emails", "value": [{"value": value, "type": "other"}]}
        ],
    }
    async with http.patch(url, data=json.dumps(body), headers=scim_headers(token)) as response:
        return response.status, await response.text()


async def test_concurrent_patches_without_if_match_all_apply(
    fault_mesh: Mesh, fault_tenant: Tenant, http: aiohttp.ClientSession
) -> None:
    """RFC 7644 §3.5.2.1 (add to a multi-valued attribute) without If-Match, as Entra and Okta
    send every PATCH, and RFC 9110 §15.5.13 (412 only when a condition the
    request carried is false): a client that asked for no precondition never gets 412, and no
    concurrent update is lost: every added email is in the result."""
    created = await post_user(http, fault_mesh.gateway_url, fault_tenant.token, "many@add.test")
    assert created.status == 201, created
    url = f"{fault_mesh.gateway_url}/scim/v2/Users/{created.user_id}"
    added = [f"w{n}@add.test" for n in range(WRITERS)]
    answers = await asyncio.gather(
        *(_add_email(http, url, fault_tenant.token, value) for value in added)
    )
    assert [status for status, _ in answers] == [200] * WRITERS, answers
    _, final = await _get(http, url, fault_tenant.token)
    stored = sorted(email["value"] for email in final["emails"])
    assert stored == sorted([*added, "many@add.test"])


async def test_concurrent_member_additions_to_one_group_all_apply(
    fault_mesh: Mesh, fault_tenant: Tenant, http: aiohttp.ClientSession
) -> None:
    """Entra's member PATCH ``Add`` with ``[{"$ref": null, "value": id}]`` (docs/scim-
    clients.md §2 row 12; RFC 7644 §3.5.2.1), sent by several clients at once (a multi-tenant
    endpoint receives the sum of all jobs, §6): every PATCH succeeds and every member is in
    the group, none lost to a concurrent one."""
    gateway, token = fault_mesh.gateway_url, fault_tenant.token
    users = await asyncio.gather(
        *(post_user(http, gateway, token, f"member{n}@group.test") for n in range(WRITERS))
    )
    assert all(user.status == 201 for user in users), users
    group = {"schemas": [GROUP_SCHEMA], "displayName": "Racers"}
    async with http.post(
        f"{gateway}/scim/v2/Groups", data=json.dumps(group), headers=scim_headers(token)
    ) as response:
        assert response.status == 201, await response.text()
        url = f"{gateway}/scim/v2/Groups/{json.loads(await response.read())['id']}"

    async def add(user_id: str) -> int:
        body = {
            "schemas": [PATCH_OP],
            "Operations": [
                {"op": "Add", "path": "members", "value": [{"$ref": None, "value": user_id}]}
            ],
        }
        async with http.patch(url, data=json.dumps(body), headers=scim_headers(token)) as reply:
            await reply.read()
            return reply.status

    statuses = await asyncio.gather(*(add(user.user_id) for user in users))
    assert set(statuses) <= {200, 204}, statuses
    _, final = await _get(http, url, token)
    assert sorted(member["value"] for member in final["members"]) == sorted(
        user.user_id for user in users
    )
