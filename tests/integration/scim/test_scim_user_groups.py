"""A User's ``groups`` (RFC 7643 §4.1.2: readOnly, returned here only when asked for) through the
scim service and a real directory: rendered as before, and read with the user itself, so a
read, a PUT, a PATCH or a list makes no directory call per user for them. The scim server of
this module reaches the real directory through a stub that counts the calls it forwards."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from tests.support.directory import Stub, new_account

from .harness import BASE_URL, Scim, created, entra_user, okta_user, serving_scim

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


class CountingStub:
    """The real directory stub; every call goes through, counted by method name."""

    def __init__(self, stub: Stub) -> None:
        self.stub = stub
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        rpc = getattr(self.stub, name)

        async def counted(request: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return await rpc(request, **kwargs)

        return counted


@pytest.fixture(scope="module")
async def counting(directory: Stub) -> CountingStub:
    return CountingStub(directory)


@pytest.fixture(scope="module")
async def counted_scim_stub(counting: CountingStub) -> AsyncIterator[Any]:
    # No settings cache: every write reads the account settings, a fixed count.
    async with serving_scim(counting) as stub:
        yield stub


@pytest.fixture
async def scim(counted_scim_stub: Any, directory: Stub) -> Scim:
    account = await new_account(directory)
    return Scim(counted_scim_stub, account.id)


async def _group(scim: Scim, name: str, *members: dict[str, Any]) -> dict[str, Any]:
    reply = await scim.post(
        "/Groups",
        {"schemas": [GROUP], "displayName": name, "members": [{"value": m["id"]} for m in members]},
    )
    assert reply.status == 201, reply.body
    return reply.body  # type: ignore[no-any-return]


def _rendered(*groups: dict[str, Any]) -> list[dict[str, str]]:
    """The User's groups as idmesh has always rendered them: direct memberships, creation
    order."""
    return [
        {
            "value": g["id"],
            "$ref": f"{BASE_URL}/Groups/{g['id']}",
            "display": g["displayName"],
            "type": "direct",
        }
        for g in groups
    ]


async def _user_in_two_groups(scim: Scim) -> tuple[dict[str, Any], list[dict[str, str]]]:
    user = await created(scim, entra_user())
    others = await created(scim, entra_user())
    # Created first, named last: the order is creation order, as ListGroups gives it.
    zeta = await _group(scim, "Zeta", user)
    alpha = await _group(scim, "Alpha", user, others)
    await _group(scim, "Not hers", others)
    return user, _rendered(zeta, alpha)


async def test_get_user_renders_its_groups_from_one_directory_call(
    scim: Scim, counting: CountingStub
) -> None:
    """RFC 7644 §3.4.1 with attributes=groups: the user's groups, read with the user."""
    user, groups = await _user_in_two_groups(scim)
    counting.calls.clear()

    reply = await scim.get(f"/Users/{user['id']}", attributes="groups")

    assert reply.status == 200, reply.body
    assert reply.body["groups"] == groups
    assert counting.calls == Counter(GetUser=1)


async def test_patch_renders_the_groups_of_its_read_without_a_third_call(
    scim: Scim, counting: CountingStub
) -> None:
    """RFC 7644 §3.5.2: a PATCH cannot change ``groups`` (readOnly, RFC 7643 §4.1.2), so the
    groups read with the user are those of the updated user: GetUser and UpdateUser only."""
    user, groups = await _user_in_two_groups(scim)
    counting.calls.clear()

    reply = await scim.request(
        "PATCH",
        f"/Users/{user['id']}",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "title", "value": "Engineer"}],
        },
        query={"attributes": "groups,title"},
    )

    assert reply.status == 200, reply.body
    assert reply.body["title"] == "Engineer"
    assert reply.body["groups"] == groups
    assert counting.calls == Counter(GetAccount=1, GetUser=1, UpdateUser=1)


async def test_put_renders_the_groups_of_its_read_without_a_third_call(
    scim: Scim, counting: CountingStub
) -> None:
    """RFC 7644 §3.5.1: a PUT's ``groups`` are ignored (readOnly); the response shows the user's
    groups as read before the write."""
    user, groups = await _user_in_two_groups(scim)
    body = okta_user(user["userName"]) | {"title": "Engineer", "groups": [{"value": "ignored"}]}
    counting.calls.clear()

    reply = await scim.request(
        "PUT", f"/Users/{user['id']}", body, query={"attributes": "groups,title"}
    )

    assert reply.status == 200, reply.body
    assert reply.body["title"] == "Engineer"
    assert reply.body["groups"] == groups
    assert counting.calls == Counter(GetAccount=1, GetUser=1, UpdateUser=1)


async def test_a_list_renders_every_users_groups_from_one_directory_call(
    scim: Scim, counting: CountingStub
) -> None:
    """RFC 7644 §3.4.2 with attributes=groups: each user of the page with its own groups, from
    the page's one ListUsers call (no ListGroups per user)."""
    user, groups = await _user_in_two_groups(scim)
    counting.calls.clear()

    reply = await scim.get("/Users", attributes="groups,userName", sortBy="userName")

    assert reply.status == 200, reply.body
    by_name = {r["userName"]: r for r in reply.body["Resources"]}
    assert len(by_name) == 2
    assert by_name[user["userName"]]["groups"] == groups
    (other,) = (r for name, r in by_name.items() if name != user["userName"])
    assert [g["display"] for g in other["groups"]] == ["Alpha", "Not hers"]
    assert counting.calls == Counter(ListUsers=1)


async def test_without_groups_asked_for_none_are_read_or_rendered(
    scim: Scim, counting: CountingStub
) -> None:
    """RFC 7643 §4.1.2, ``groups`` returned only on request here: a plain read, PATCH or list
    shows none and costs the directory no group read."""
    user, _ = await _user_in_two_groups(scim)
    counting.calls.clear()

    single = await scim.get(f"/Users/{user['id']}")
    patched = await scim.patch(
        f"/Users/{user['id']}", {"op": "replace", "path": "title", "value": "Engineer"}
    )
    listed = await scim.get("/Users")

    assert "groups" not in single.body
    assert "groups" not in patched.body
    assert all("groups" not in r for r in listed.body["Resources"])
    assert counting.calls == Counter(GetUser=2, GetAccount=1, UpdateUser=1, ListUsers=1)


async def test_a_revived_user_is_rendered_with_the_groups_it_kept(
    scim: Scim, counting: CountingStub
) -> None:
    """docs/scim-clients.md §7: POST of a deactivated user's userName revives that user (201,
    same id); deactivation left its memberships, and the response shows them."""
    user, groups = await _user_in_two_groups(scim)
    deactivated = await scim.patch(
        f"/Users/{user['id']}", {"op": "replace", "path": "active", "value": False}
    )
    assert deactivated.status == 200, deactivated.body

    reply = await scim.request(
        "POST", "/Users", okta_user(user["userName"]), query={"attributes": "groups"}
    )

    assert reply.status == 201, reply.body
    assert reply.body["id"] == user["id"]
    assert reply.body["groups"] == groups


async def test_a_patch_that_changes_nothing_writes_nothing_when_groups_are_shown(
    scim: Scim, counting: CountingStub
) -> None:
    """Entra re-sends unchanged values every cycle (docs/scim-clients.md §2): no write and no
    new version, even though the user read for the response carries its groups."""
    user, groups = await _user_in_two_groups(scim)
    counting.calls.clear()

    reply = await scim.request(
        "PATCH",
        f"/Users/{user['id']}",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": True}],
        },
        query={"attributes": "groups"},
    )

    assert reply.status == 200, reply.body
    assert reply.body["groups"] == groups
    assert reply.etag == user["meta"]["version"]
    assert counting.calls == Counter(GetAccount=1, GetUser=1)
