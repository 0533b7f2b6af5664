"""meshkit.database.pool_bounds: each worker has its own database pool, so a service holds up to
WORKERS × DB_POOL_MAX connections; unset, DB_POOL_MAX keeps a service near 10 in total."""

from __future__ import annotations

import pytest

from meshkit.config import ConfigError
from meshkit.database import pool_bounds


@pytest.mark.parametrize(
    ("workers", "expected"), [(1, (2, 10)), (2, (2, 5)), (3, (2, 4)), (4, (2, 3)), (16, (2, 2))]
)
def test_without_db_pool_max_a_worker_gets_ten_divided_by_workers_and_at_least_two(
    workers: int, expected: tuple[int, int]
) -> None:
    """One worker: today's 2..10; more: the service's total stays about 10."""
    assert pool_bounds(None, None, workers) == expected


def test_db_pool_max_is_per_worker() -> None:
    """DB_POOL_MAX=8 with 4 workers: 8 each, 32 for the service (README, docs/deployment.md)."""
    assert pool_bounds(None, 8, 4) == (2, 8)


def test_db_pool_min_defaults_to_two_but_never_above_the_maximum() -> None:
    assert pool_bounds(None, 1, 1) == (1, 1)
    assert pool_bounds(3, None, 1) == (3, 10)


def test_a_minimum_above_the_maximum_is_a_configuration_error() -> None:
    """Explicitly, or against the default of many workers."""
    with pytest.raises(ConfigError, match="DB_POOL_MIN must not exceed DB_POOL_MAX"):
        pool_bounds(5, 4, 1)
    with pytest.raises(ConfigError, match="DB_POOL_MIN must not exceed DB_POOL_MAX"):
        pool_bounds(5, None, 4)
