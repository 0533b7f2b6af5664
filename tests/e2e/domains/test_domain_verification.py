"""Domain verification end to end: the real gateway, directory and auth processes, and the
loopback authoritative DNS server the directory looks TXT records up on (DNS_NAMESERVERS).

An account claims a domain, publishes a wrong TXT value (not verified), then the right one
(verified); another account's claim is refused, gmail.com is refused; /login routes the domain
to the owner's connection only once it is verified (a rival account's connection listing the
same domain never); the record removed, the next background check reports it (failing_since,
last_check_error, the audit event, a warning in directory's log naming the domain and the
account).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from infra.dev.mesh import Mesh
from tests.dns.server import LoopbackDns
from tests.e2e.harness import start_mesh_with_dns
from tests.e2e.otlp_receiver import OtlpReceiver
from tests.e2e.tenants import create_account, create_token, unique_name

pytestmark = pytest.mark.e2e

PERMISSIONS = ("connections:manage", "audit:read")
RECHECK_SECONDS = 1.0


@pytest.fixture(scope="module")
async def domains_mesh(
    database_url: str,
    otlp_receiver: OtlpReceiver,
    dns_server: LoopbackDns,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Mesh]:
    """A mesh of its own whose directory re-checks verified domains every second."""
    mesh = await start_mesh_with_dns(
        database_url,
        otlp_receiver,
        tmp_path_factory.mktemp("domains-mesh"),
        dns_server,
        recheck_interval=f"{RECHECK_SECONDS:g}s",
    )
    yield mesh
    await mesh.stop()


@dataclass
class Admin:
    """One account's admin calling /api/v1 with a token holding ``PERMISSIONS``."""

    http: aiohttp.ClientSession
    base: str
    account_id: str
    token: str

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self.http.request(
            method,
            self.base + path,
            headers={"Authorization": f"Bearer {self.token}"},
            **kwargs,
        ) as response:
            text = await response.text()
            return response.status, (await response.json(content_type=None) if text else None)


async def new_admin(mesh: Mesh, http: aiohttp.ClientSession) -> Admin:
    account_id = await create_account(mesh, unique_name("dom"))
    token = await create_token(mesh, account_id, PERMISSIONS)
    return Admin(http, f"{mesh.gateway_url}/api/v1", account_id, token)


async def routed_to(http: aiohttp.ClientSession, mesh: Mesh, email: str) -> str | None:
    """Where /login's home-realm discovery sends ``email``: a connection id, or None."""
    async with http.get(f"{mesh.gateway_url}/login") as page:
        assert page.status == 200
    async with http.post(
        f"{mesh.gateway_url}/login",
        data={"email": email},
        headers={"Origin": mesh.gateway_url},
        allow_redirects=False,
    ) as response:
        if response.status == 404:
            return None
        assert response.status == 303, await response.text()
        location = response.headers["Location"]
    assert location.startswith("/sso/oidc/"), location
    return location.split("/")[3]


async def connect_okta(admin: Admin, domain: str) -> str:
    """An OIDC connection of the admin's account serving ``domain``; its id."""
    status, created = await admin.call(
        "POST",
        "/connections",
        json={
            "name": f"okta-{uuid.uuid4().hex[:6]}",
            "vendor": "okta",
            "issuer": "https://acme.okta.example",
            "client_id": "0oa1",
            "client_secret": "secret",
            "domains": [domain],
            "skip_discovery_check": True,
        },
    )
    assert status == 201, created
    return str(created["id"])


async def test_a_domain_is_verified_by_its_txt_record_and_reported_when_it_disappears(
    domains_mesh: Mesh, dns_server: LoopbackDns
) -> None:
    """Issue 11, "Domain verification end to end against the loopback DNS server"."""
    name = f"acme-{uuid.uuid4().hex[:8]}.test"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        owner = await new_admin(domains_mesh, http)
        rival = await new_admin(domains_mesh, http)

        # Claim: the answer carries the id, the record name and the exact value apart.
        status, domain = await owner.call("POST", "/domains", json={"domain": name})
        assert status == 201, domain
        assert domain["status"] == "pending"
        assert domain["record_name"] == f"_idmesh-challenge.{name}"
        token = domain["record_value"].removeprefix("idmesh-domain-verification=")
        assert len(token) >= 16
        verify = f"/domains/{domain['id']}:verify"

        # Both accounts connect an IdP for the domain; unverified, /login routes nobody.
        owners = await connect_okta(owner, name)
        await connect_okta(rival, name)
        assert await routed_to(http, domains_mesh, f"ceo@{name}") is None

        # A wrong TXT value: not verified, the problem names the record and the value.
        dns_server.add_txt(domain["record_name"], "idmesh-domain-verification=not-the-token")
        status, problem = await owner.call("POST", verify)
        assert status == 409, problem
        assert domain["record_name"] in problem["detail"]
        assert domain["record_value"] in problem["detail"]
        status, current = await owner.call("GET", f"/domains/{domain['id']}")
        assert current["status"] == "pending"

        # The right one: verified.
        dns_server.add_txt(domain["record_name"], domain["record_value"])
        status, verified = await owner.call("POST", verify)
        assert status == 200, verified
        assert verified["status"] == "verified"
        assert await routed_to(http, domains_mesh, f"ceo@{name.upper()}") == owners

        # Another account cannot claim it; nobody can claim gmail.com.
        status, taken = await rival.call("POST", "/domains", json={"domain": name.upper()})
        assert status == 409, taken
        status, gmail = await rival.call("POST", "/domains", json={"domain": "gmail.com"})
        assert status == 400, gmail
        assert "free-mail" in gmail["detail"]

        # The record removed: the next background check reports it.
        dns_server.remove(domain["record_name"])
        reported = await wait_for_failure(owner, domain["id"], timeout=15 * RECHECK_SECONDS)
        assert reported["status"] == "verified", "within the grace period it stays verified"
        assert reported["failing_since"] is not None
        assert f"{domain['record_name']} does not exist" in reported["last_check_error"]
        status, events = await owner.call(
            "GET", "/audit-events", params={"target_id": domain["id"], "page_size": "100"}
        )
        actions = [event["action"] for event in events["items"]]
        assert "domain.verification_failed" in actions
        assert actions.index("domain.verification_failed") < actions.index("domain.verified"), (
            "newest first: the failure comes after the verification"
        )
    log = domains_mesh.log_path("directory")
    assert log is not None
    warnings = [line for line in log.read_text().splitlines() if name in line]
    assert warnings, "the failed check is logged"
    assert all(owner.account_id in line for line in warnings)
    assert not any(token in line for line in warnings), "the log names no token"


async def wait_for_failure(admin: Admin, domain_id: str, *, timeout: float) -> Any:  # noqa: ASYNC109
    """The domain once a check has recorded a failure on it."""
    deadline = time.monotonic() + timeout
    while True:
        status, domain = await admin.call("GET", f"/domains/{domain_id}")
        assert status == 200, domain
        if domain["failing_since"] is not None or time.monotonic() > deadline:
            return domain
        await asyncio.sleep(0.2)
