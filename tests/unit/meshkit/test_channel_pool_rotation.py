"""meshkit.channel_pool.plan: which connection each call takes, so that every worker of a peer
gets the same share of one client's calls whatever connections the kernel handed it."""

from __future__ import annotations

from collections import Counter

from meshkit.channel_pool import MAX_CONNECTIONS, plan
from meshkit.workers import WorkerIdentity

GROUP = "pod-a-100"


def worker(index: int, count: int = 2, group: str = GROUP) -> WorkerIdentity:
    return WorkerIdentity(index, count, group)


def calls_per_worker(identities: list[WorkerIdentity | None], calls: int) -> Counter[int]:
    order = plan(identities).order
    counted: Counter[int] = Counter()
    for turn in range(calls):
        found = identities[order[turn % len(order)]]
        assert found is not None
        counted[found.index] += 1
    return counted


def test_each_worker_gets_one_call_per_round_however_many_connections_it_holds() -> None:
    """Three connections on worker 0, one on worker 1: still half the calls each."""
    identities: list[WorkerIdentity | None] = [worker(0), worker(1), worker(0), worker(0)]
    assert calls_per_worker(identities, 600) == {0: 300, 1: 300}


def test_four_workers_share_the_calls_exactly() -> None:
    identities: list[WorkerIdentity | None] = [worker(i, 4) for i in (3, 1, 0, 2, 1)]
    assert calls_per_worker(identities, 400) == {0: 100, 1: 100, 2: 100, 3: 100}


def test_a_worker_without_a_connection_gets_one_replaced_from_a_worker_that_has_two() -> None:
    """Both connections reached worker 0: one of them is replaced, hoping for worker 1."""
    rotation = plan([worker(0), worker(0)])
    assert rotation.workers == 2
    assert rotation.reached == 1
    assert not rotation.complete
    assert rotation.replace in (0, 1)


def test_nothing_is_replaced_while_a_connection_is_still_being_identified() -> None:
    """The unknown connection may be the one reaching the missing worker; until it is known it
    takes a turn of its own."""
    rotation = plan([worker(0), worker(0), None])
    assert rotation.replace is None
    assert sorted(set(rotation.order)) == [0, 1, 2]


def test_the_pool_grows_to_as_many_connections_as_the_peer_has_workers() -> None:
    """One connection reached worker 0 of 3: the pool wants three connections."""
    assert plan([worker(0, 3)]).connections == 3


def test_the_pool_stops_at_its_limit_and_then_wants_that_many_distinct_workers() -> None:
    """A peer with 32 workers: MAX_CONNECTIONS connections, each on a worker of its own."""
    identities: list[WorkerIdentity | None] = [worker(i, 32) for i in range(MAX_CONNECTIONS)]
    rotation = plan(identities)
    assert rotation.connections == MAX_CONNECTIONS
    assert rotation.complete
    assert rotation.replace is None


def test_one_worker_is_complete_with_one_connection() -> None:
    """WORKERS=1 peers: one connection, as before pools existed."""
    rotation = plan([worker(0, 1)])
    assert (rotation.connections, rotation.complete, rotation.order) == (1, True, (0,))


def test_connections_reaching_several_replicas_take_plain_turns_and_are_never_replaced() -> None:
    """dns:/// over a headless Service: each channel balances over the replicas itself, so the
    identities the pool sees are of several groups and mean nothing for balance."""
    rotation = plan([worker(0, group="pod-a-1"), worker(0, group="pod-b-1")])
    assert rotation.order == (0, 1)
    assert rotation.workers == 0
    assert rotation.replace is None


def test_connections_of_unknown_workers_take_plain_turns() -> None:
    """A peer that does not name its workers (or not yet): round robin over the connections."""
    rotation = plan([None, None])
    assert rotation.order == (0, 1)
    assert rotation.replace is None
