"""scim2-tester 0.5.2 (python-scim) against the real mesh through the gateway: every check of
every discovered resource type and schema (discovery, CRUD, attributes on GET/list/search,
PATCH add/replace/remove of every attribute), docs/scim-clients.md §8.

Every check must be SUCCESS, PATCH ``remove`` of ``active`` and of ``roles`` included: removing
either unassigns it (RFC 7644 §3.5.2.2), so the user is active with the account's default role
and reads back without the attribute.

How the tool's random values are met honestly: it draws a value from an attribute's
``canonicalValues`` when /Schemas lists some (scim2-models turns them into field examples,
scim2_tester.filling.get_random_example_value), a random UUID string otherwise. ``roles.value``
and ``userType`` accept only the account's role names and ``timezone`` only IANA zone names
(RFC 7643 §4.1.1), so /Schemas lists exactly those as canonicalValues: true, and what makes
the tool send valid values instead of garbage that idmesh rightly refuses.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.dev.mesh import Mesh
from tests.conformance.tools import binary
from tests.e2e.tenants import create_tenant

pytestmark = pytest.mark.e2e

DRIVER = Path(__file__).with_name("scim2_tester_driver.py")
TIMEOUT = 180.0


async def _run_tester(tools: Path, base_url: str, token: str) -> list[dict[str, Any]]:
    process = await asyncio.create_subprocess_exec(
        str(binary("python", tools)),
        str(DRIVER),
        env={**os.environ, "SCIM_URL": base_url, "SCIM_TOKEN": token, "PYTHONPATH": ""},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"scim2-tester did not finish in {TIMEOUT:g}s") from None
    assert process.returncode == 0, err.decode()
    return [json.loads(line) for line in out.decode().splitlines() if line.strip()]


async def test_every_scim2_tester_check_succeeds(mesh: Mesh, conformance_tools: Path) -> None:
    """A fresh account with default settings (Group PATCH 204, which the tool accepts)."""
    tenant = await create_tenant(mesh)
    results = await _run_tester(conformance_tools, f"{mesh.gateway_url}/scim/v2", tenant.token)

    counts = collections.Counter(r["status"] for r in results)
    print(f"scim2-tester: {len(results)} checks, {dict(counts)}", file=sys.stderr)
    failed = [r for r in results if r["status"] != "SUCCESS"]
    assert not failed, json.dumps(failed, indent=2)
    # The tool adapts to what the server advertises: a collapse in the number of checks would
    # hide failures (reference §8: "compare failures, not totals", but not blindly).
    assert len(results) >= 130
    checked = {(r["resource_type"], r["title"]) for r in results}
    for resource_type in ("User", "Group"):
        for check in (
            "object_creation",
            "object_query",
            "object_replacement",
            "object_deletion",
            "search_with_attributes",
            "check_add_attribute",
            "check_replace_attribute",
            "check_remove_attribute",
        ):
            assert (resource_type, check) in checked, (resource_type, check)
