"""Runs scim2-tester's ``check_server`` against a SCIM endpoint; executed by the conformance
tools' own Python (tests/conformance/tools.py), never imported by the test suite.

Environment: SCIM_URL (the base URL, …/scim/v2) and SCIM_TOKEN (kept out of argv). Prints one
JSON object per check: status, title, reason, resource_type, tags.
"""

from __future__ import annotations

import json
import os

from httpx2 import Client  # type: ignore[import-not-found]
from scim2_client.engines.httpx2 import SyncSCIMClient  # type: ignore[import-not-found]
from scim2_tester import check_server  # type: ignore[import-not-found]


def main() -> None:
    headers = {"Authorization": f"Bearer {os.environ['SCIM_TOKEN']}"}
    client = SyncSCIMClient(Client(base_url=os.environ["SCIM_URL"], headers=headers, timeout=30))
    for result in check_server(client):
        print(
            json.dumps(
                {
                    "status": result.status.name,
                    "title": result.title,
                    "reason": result.reason,
                    "resource_type": result.resource_type,
                    "tags": sorted(result.tags),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
