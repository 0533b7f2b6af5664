"""Entra ID's and Okta's provisioning sequences (docs/scim-clients.md §2, §3, §5) replayed
request by request against the scim service and a real directory, then what the directory holds.
The same replays run through the real gateway in tests/e2e/scim."""

from __future__ import annotations

import pytest

from tests.integration.scim import replays
from tests.support.directory import Stub

from .harness import Scim, created, okta_user

# harness.Scim sends every request with this token id.
TOKEN_ID = "token-1"


async def test_entras_test_connection_gets_empty_lists_and_a_404(scim: Scim) -> None:
    """§2 row 1: never 404 on a filter, 404 + SCIM error on a random id."""
    await replays.entra_tests_the_connection(scim)


@pytest.mark.parametrize("optscim062020", [False, True], ids=["default", "aadOptscim062020"])
async def test_entra_provisions_updates_and_soft_deletes_a_user_in_either_dialect(
    scim: Scim, directory: Stub, optscim062020: bool
) -> None:
    """§2 rows 2–10 and §3: both columns must work whatever the URL says (the flag does not
    apply to on-demand provisioning)."""
    user = await replays.entra_provisions_a_user(scim, optscim062020=optscim062020)
    await replays.check_entra_user(
        directory, scim.account_id, user, token_id=TOKEN_ID, optscim062020=optscim062020
    )
    await replays.entra_hard_deletes_a_user(scim, user.id)


@pytest.mark.parametrize("optscim062020", [False, True], ids=["default", "aadOptscim062020"])
async def test_entra_provisions_a_group_and_removes_only_the_member_it_names(
    scim: Scim, directory: Stub, optscim062020: bool
) -> None:
    """§2 row 12, §3 row 4: a strict server would remove every member on the default dialect's
    remove-with-value."""
    members = [(await created(scim, okta_user()))["id"] for _ in range(3)]
    group = await replays.entra_provisions_a_group(scim, members, optscim062020=optscim062020)
    await replays.check_entra_group(directory, scim.account_id, group, token_id=TOKEN_ID)


async def test_okta_provisions_pushes_deactivates_and_reactivates_a_user(
    scim: Scim, directory: Stub
) -> None:
    """§5 rows 1–7."""
    user = await replays.okta_provisions_a_user(scim)
    await replays.check_okta_user(directory, scim.account_id, user, token_id=TOKEN_ID)


async def test_okta_group_push_renames_swaps_and_replaces_members_then_deletes(
    scim: Scim, directory: Stub
) -> None:
    """§5 rows 8–11."""
    members = [(await created(scim, okta_user()))["id"] for _ in range(3)]
    group = await replays.okta_pushes_a_group(scim, members)
    await replays.check_okta_group(directory, scim.account_id, group)
    await replays.okta_deletes_a_group(scim, group.id)
