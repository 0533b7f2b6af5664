"""scim.conflicts: what a PATCH does when its write meets a concurrent one (RFC 9110 §15.5.13:
412 only for a precondition the request carried; Entra and Okta send PATCH without If-Match)."""

from __future__ import annotations

import asyncio

import pytest

from meshkit.errors import FailedPrecondition, Unavailable
from scim import conflicts
from scim.errors import VERSION_MISMATCH

CONFLICT = FailedPrecondition("stale version", reason=VERSION_MISMATCH)


def test_a_patch_with_if_match_gets_one_attempt_and_one_without_gets_several() -> None:
    """With If-Match the client chose the version; without, the service re-reads and retries."""
    assert list(conflicts.attempts(True)) == [0]
    assert len(list(conflicts.attempts(False))) == conflicts.ATTEMPTS_WITHOUT_IF_MATCH


async def test_the_first_conflict_of_a_patch_with_if_match_is_the_clients_412() -> None:
    """RFC 7644 §3.14: If-Match that no longer holds is 412, raised as the conflict itself."""
    with pytest.raises(FailedPrecondition) as raised:
        await conflicts.after_conflict(CONFLICT, 0, has_if_match=True)
    assert raised.value is CONFLICT


async def test_a_conflict_without_if_match_is_retried_until_the_last_attempt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every attempt before the last returns (after a jittered pause, exponential and capped)
    so the loop tries again; the pauses are recorded instead of slept."""
    pauses: list[float] = []

    async def pause(seconds: float) -> None:
        pauses.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", pause)
    for attempt in conflicts.attempts(has_if_match=False):
        if attempt == conflicts.ATTEMPTS_WITHOUT_IF_MATCH - 1:
            break
        await conflicts.after_conflict(CONFLICT, attempt, has_if_match=False)
    assert len(pauses) == conflicts.ATTEMPTS_WITHOUT_IF_MATCH - 1
    for attempt, seconds in enumerate(pauses):
        assert 0 <= seconds <= min(0.05, 0.002 * 2**attempt)


async def test_conflicts_that_never_stop_end_in_503_never_412() -> None:
    """A request without a precondition cannot fail one: endless contention is the service's
    temporary condition, 503 (the gateway adds Retry-After)."""
    last = conflicts.ATTEMPTS_WITHOUT_IF_MATCH - 1
    with pytest.raises(Unavailable) as raised:
        await conflicts.after_conflict(CONFLICT, last, has_if_match=False)
    assert raised.value.reason == "contention"


async def test_other_failed_preconditions_are_never_retried() -> None:
    """Only a version conflict is worth a re-read; anything else is the answer."""
    other = FailedPrecondition("the user is deactivated", reason="deactivated")
    with pytest.raises(FailedPrecondition) as raised:
        await conflicts.after_conflict(other, 0, has_if_match=False)
    assert raised.value is other
