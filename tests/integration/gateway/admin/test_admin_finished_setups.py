"""The account admin learns from the console's overview what a customer's IT admin configured
through a setup link: each finished setup, its link, the connection it turned on and for which
domains, read from the audit log (where the link is the actor)."""

from __future__ import annotations

import uuid

import aiohttp
from google.protobuf import struct_pb2

from idmesh.directory.v1 import directory_pb2 as pb
from tests.integration.gateway.admin.conftest import Admin, sign_in


async def test_a_finished_setup_is_on_the_overview(
    browser: aiohttp.ClientSession, admin: Admin
) -> None:
    link_id, connection_id = str(uuid.uuid4()), str(uuid.uuid4())
    details = struct_pb2.Struct()
    details.update({"connection_id": connection_id, "domains": ["acme.test"],
                    "scim_token_id": str(uuid.uuid4())})  # fmt: skip
    await admin.tenant.stack.directory.RecordAuditEvent(
        pb.RecordAuditEventRequest(
            account_id=admin.tenant.id,
            actor=pb.Actor(type=pb.ACTOR_TYPE_SETUP_LINK, id=link_id, display_name="setup link"),
            action="setup_link.finished", target_type="setup_link", target_id=link_id,
            details=details,
        )
    )  # fmt: skip
    await sign_in(browser, admin)
    page = await browser.get("/admin")
    html = await page.text()
    assert "Set up by your customer" in html
    assert link_id[:8] in html
    assert f'href="/admin/connections/{connection_id}"' in html
    assert "acme.test" in html
    assert "a SCIM token issued" in html
