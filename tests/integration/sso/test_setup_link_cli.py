"""``idmesh setup-link create|list|revoke`` against the real auth and directory: the URL printed
once on the public URL, the list without it, the revocation, both in the audit log as the CLI
operator's doing; ``--json`` throughout."""

from __future__ import annotations

import json

from idmesh.directory.v1 import directory_pb2
from tests.integration.sso.test_sso_cli import Idmesh, idmesh
from tests.support.directory import Stub, new_account

__all__ = ["idmesh"]


async def test_a_link_is_created_listed_and_revoked_and_audited(
    idmesh: Idmesh, directory: Stub, gateway_url: str
) -> None:
    account = await new_account(directory)
    code, out, err = await idmesh(
        "setup-link", "create", "--account", account.name, "--sso", "--scim",
        "--expires-in", "2d", "--json",
    )  # fmt: skip
    assert code == 0, err
    created = json.loads(out)
    assert created["url"].startswith(f"{gateway_url}/setup/idsl_")
    assert (created["sso"], created["scim"], created["domains"]) == (True, True, True)
    code, out, _ = await idmesh("setup-link", "list", "--account", account.name, "--json")
    assert code == 0
    (listed,) = json.loads(out)
    assert (listed["id"], listed["status"]) == (created["id"], "active")
    assert "url" not in listed
    code, out, _ = await idmesh("setup-link", "revoke", "--account", account.name, created["id"])
    assert code == 0
    assert "Revoked" in out
    code, out, _ = await idmesh("setup-link", "list", "--account", account.name)
    assert "revoked" in out
    events = await directory.ListAuditEvents(
        directory_pb2.ListAuditEventsRequest(account_id=account.id)
    )
    setup = [e for e in events.events if e.target_type == "setup_link"]
    assert [e.action for e in setup] == ["setup_link.created", "setup_link.revoked"]
    assert {e.actor.type for e in setup} == {directory_pb2.ACTOR_TYPE_CLI}


async def test_a_link_that_sets_up_nothing_is_a_usage_error(
    idmesh: Idmesh, directory: Stub
) -> None:
    account = await new_account(directory)
    code, _, err = await idmesh("setup-link", "create", "--account", account.name)
    assert code == 2
    assert "--sso" in err
