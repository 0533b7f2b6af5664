"""tests.bench.cost: CPU milliseconds per request of each process, and the mesh total the bench
judges idmesh by (gateway + auth + scim + directory + PostgreSQL, never the IdP, the deliverer
or the load generator)."""

from __future__ import annotations

import pytest

from tests.bench.cost import merged, per_request


def test_each_process_costs_its_window_cpu_seconds_over_the_completed_requests() -> None:
    cost = per_request({"gateway": 0.5, "loadgen": 0.25}, requests=1000)
    assert cost["gateway"] == pytest.approx(0.5)
    assert cost["loadgen"] == pytest.approx(0.25)


def test_the_mesh_total_is_gateway_auth_scim_directory_and_postgresql_only() -> None:
    seconds = {"gateway": 1.0, "auth": 1.0, "scim": 1.0, "directory": 1.0, "pg": 1.0,
               "idp": 7.0, "deliverer": 3.0, "loadgen": 5.0}  # fmt: skip
    assert per_request(seconds, requests=1000)["mesh"] == pytest.approx(5.0)


def test_a_row_of_only_the_reference_has_no_mesh_total() -> None:
    assert "mesh" not in per_request({"ref": 1.0, "loadgen": 1.0}, requests=10)


def test_no_completed_request_gives_no_cost_at_all() -> None:
    assert per_request({"gateway": 1.0}, requests=0) == {}


def test_merged_windows_weigh_by_their_requests() -> None:
    # 1 s over 100 requests and 1 s over 300: 2 s over 400 = 5 ms, not the mean of 10 and 3.3.
    cost = merged([({"pg": 1.0}, 100), ({"pg": 1.0}, 300)])
    assert cost["pg"] == pytest.approx(5.0)
    assert cost["mesh"] == pytest.approx(5.0)
