"""scim2-server, the SCIM reference implementation, started with its accounts already filled.

Seeding 100,000 users over HTTP would take minutes; this script runs the ``scim2-server`` command
itself (its own ``main``, with the arguments given after the seed), and fills each tenant's
in-memory storage through the storage's own loader (its ``resources`` setter, which indexes
each resource as ``create`` does) before the server starts listening, so every request the bench
then sends is served exactly as the command serves it. The users are
those the bench sends requests about: ``user-<i>@<domain>`` with deterministic ids (``user_id``),
so the bench knows them without asking; a tenant may also hold one group whose members are its
first users.

Run by the conformance tools' Python (tests/conformance/tools.py), which has scim2-server and
not the project: this file imports only the standard library at module level (the bench imports
it for ``user_id``). Usage::

    python scim2_server_seeded.py '<seed JSON>' <scim2-server arguments>

with the seed ``{"<tenant>": {"users": N, "domain": "...", "group_members": M}, ...}``. Prints
``seeded`` when the tenants are filled; the command then prints its own "Serving SCIM" line.
"""

from __future__ import annotations

import json
import sys
import uuid
from typing import Any

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def user_id(tenant: str, index: int) -> str:
    """The id of user ``index`` of ``tenant``: scim2-server's format (32 hex digits)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"bench:{tenant}:user:{index}").hex


def group_id(tenant: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"bench:{tenant}:group").hex


def user_name(index: int, domain: str) -> str:
    return f"user-{index}@{domain}"


def user_document(name: str) -> dict[str, Any]:
    """The user the bench creates over HTTP too (tests.bench.scenarios.scim.user_body), minus
    the random externalId."""
    return {
        "schemas": [CORE],
        "userName": name,
        "active": True,
        "displayName": "Bench User",
        "emails": [{"primary": True, "type": "work", "value": name}],
        "name": {"formatted": "Bench User", "familyName": "User", "givenName": "Bench"},
    }


def _seed(application: Any, tenant: str, spec: dict[str, Any]) -> None:
    service, storage = application.service, application.storage
    # What a request's handling does around model validation (the provider's policy).
    with service.provider:
        resources = [*storage.resources, *_users(service, storage, tenant, spec)]
        members = int(spec.get("group_members", 0))
        if members:
            resources.append(_group(service, storage, tenant, members))
        # The storage's own loader: stores and indexes each resource as create() does, without
        # create()'s two deep copies per resource (a third of a minute for 100k users).
        storage.resources = resources


def _stamped(storage: Any, resource: Any, resource_id: str, resource_type: str) -> Any:
    """``resource`` with the id and meta create() would give it."""
    from scim2_models import Meta  # type: ignore[import-not-found]

    now = storage.clock()
    resource.id = resource_id
    resource.meta = Meta(
        resource_type=resource_type, created=now, last_modified=now,
        version=storage.next_version(),
    )  # fmt: skip
    return resource


def _users(service: Any, storage: Any, tenant: str, spec: dict[str, Any]) -> list[Any]:
    model = service.get_model(service.get_resource_type("User"))
    return [
        _stamped(
            storage,
            model.model_validate(user_document(user_name(index, spec["domain"]))),
            user_id(tenant, index),
            "User",
        )
        for index in range(int(spec["users"]))
    ]


def _group(service: Any, storage: Any, tenant: str, members: int) -> Any:
    model = service.get_model(service.get_resource_type("Group"))
    group = model.model_validate(
        {
            "schemas": [GROUP],
            "displayName": f"bench {members} members",
            "members": [{"value": user_id(tenant, i)} for i in range(members)],
        }
    )
    return _stamped(storage, group, group_id(tenant), "Group")


def main() -> None:
    seed: dict[str, dict[str, Any]] = json.loads(sys.argv[1])
    from scim2_server.testserver import cli  # type: ignore[import-not-found]

    serve = cli.make_server

    def seeded_make_server(host: str, port: int, app: Any, server_class: Any) -> Any:
        # The command built its tenant dispatcher; build each tenant's application now (it
        # would be built on the first request) and fill its storage.
        for tenant, spec in seed.items():
            application = app.factory(tenant)
            _seed(application, tenant, spec)
            app.applications[tenant] = application
        print("seeded", flush=True)
        return serve(host, port, app, server_class=server_class)

    cli.make_server = seeded_make_server
    sys.argv = ["scim2-server", *sys.argv[2:], *(f"--tenant={tenant}" for tenant in seed)]
    cli.main()


if __name__ == "__main__":
    main()
