"""tests.bench.compare: what `make bench-compare` says about two stored runs (the comparison
logic only, on small documents written here; no load is run and nothing is timed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.bench.compare import THROUGHPUT, compare, main


def _line(name: str, rps: float, cpu_ms: dict[str, float], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "system": extra.pop("system", "idmesh"),
        "concurrency": extra.pop("concurrency", 16),
        "requests_per_second": rps,
        "cpu_ms": cpu_ms,
        "busy": extra.pop("busy", False),
        **extra,
    }


BEFORE = {
    "lines": [
        _line("SCIM create", 300.0, {"gateway": 1.00, "pg": 2.00, "mesh": 5.00}),
        _line("SCIM create", 450.0, {"ref": 2.00}, system="scim2-server 0.8.3"),
        _line("OIDC login, IdP warm", 100.0, {"auth": 3.00, "mesh": 6.00}),
    ]
}
AFTER = {
    "lines": [
        # gateway 20 % more CPU per request: a regression; pg 5 % more: within the noise.
        _line("SCIM create", 290.0, {"gateway": 1.20, "pg": 2.10, "mesh": 5.30}),
        _line("SCIM create", 450.0, {"ref": 2.00}, system="scim2-server 0.8.3"),
        _line("SAML login", 60.0, {"mesh": 4.00}),
    ]
}


def _change(figure: str, name: str = "SCIM create", system: str = "idmesh") -> Any:
    found = [
        c for c in compare(BEFORE, AFTER).changes if c.key[:2] == (name, system) and
        c.figure == figure
    ]  # fmt: skip
    assert len(found) == 1
    return found[0]


def test_cpu_per_request_more_than_ten_percent_higher_is_a_regression() -> None:
    gateway = _change("gateway")
    assert (gateway.before, gateway.after) == (1.00, 1.20)
    assert gateway.ratio == pytest.approx(1.20)
    assert gateway.regression


def test_cpu_per_request_within_ten_percent_is_not_a_regression() -> None:
    assert _change("pg").ratio == pytest.approx(1.05)
    assert not _change("pg").regression
    assert not _change("mesh").regression  # 6 % up


def test_throughput_more_than_ten_percent_lower_is_a_regression_and_less_is_not() -> None:
    assert not _change(THROUGHPUT).regression  # 300 → 290, 3 % down
    slower = compare(
        {"lines": [_line("SCIM create", 300.0, {})]}, {"lines": [_line("SCIM create", 260.0, {})]}
    )
    assert [c.regression for c in slower.changes] == [True]


def test_cpu_per_request_lower_is_never_a_regression() -> None:
    cheaper = compare(
        {"lines": [_line("SCIM create", 300.0, {"mesh": 5.0})]},
        {"lines": [_line("SCIM create", 300.0, {"mesh": 2.0})]},
    )
    assert not cheaper.regressions


def test_a_cpu_rise_below_the_tick_noise_is_not_a_regression_however_large_its_ratio() -> None:
    ticks = compare(
        {"lines": [_line("SCIM create", 300.0, {"auth": 0.01})]},
        {"lines": [_line("SCIM create", 300.0, {"auth": 0.04})]},
    )
    (auth,) = [c for c in ticks.changes if c.figure == "auth"]
    assert auth.ratio == pytest.approx(4.0)
    assert not auth.regression


def test_a_reference_that_got_worse_is_marked_but_is_no_regression_of_ours() -> None:
    reference = compare(
        {"lines": [_line("SCIM create", 400.0, {"ref": 2.0}, system="scim2-server 0.8.3")]},
        {"lines": [_line("SCIM create", 300.0, {"ref": 3.0}, system="scim2-server 0.8.3")]},
    )
    assert all(change.worse for change in reference.changes)
    assert reference.regressions == []


def test_lines_are_matched_by_case_system_and_concurrency() -> None:
    reference = _change("ref", system="scim2-server 0.8.3")
    assert reference.ratio == pytest.approx(1.0)
    other_level = compare(
        {"lines": [_line("SCIM create", 300.0, {"mesh": 5.0}, concurrency=1)]},
        {"lines": [_line("SCIM create", 300.0, {"mesh": 9.0}, concurrency=16)]},
    )
    assert other_level.changes == []
    assert other_level.only_before == [("SCIM create", "idmesh", 1)]
    assert other_level.only_after == [("SCIM create", "idmesh", 16)]


def test_cases_only_one_run_measured_are_listed_not_compared() -> None:
    comparison = compare(BEFORE, AFTER)
    assert comparison.only_before == [("OIDC login, IdP warm", "idmesh", 16)]
    assert comparison.only_after == [("SAML login", "idmesh", 16)]
    assert all(c.key[0] == "SCIM create" for c in comparison.changes)


def test_a_busy_run_marks_its_changes_busy() -> None:
    busy = compare(
        {"lines": [_line("SCIM create", 300.0, {"mesh": 5.0}, busy=True)]},
        {"lines": [_line("SCIM create", 300.0, {"mesh": 5.0})]},
    )
    assert all(change.busy for change in busy.changes)


def _write(folder: Path, name: str, document: dict[str, Any]) -> Path:
    path = folder / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_the_command_compares_the_latest_two_stored_runs_and_prints_each_ratio(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path, "bench-20260101T000000+0000.json", {"lines": [_line("x", 1.0, {})]})
    _write(tmp_path, "bench-20260102T000000+0000.json", BEFORE)
    _write(tmp_path, "bench-20260103T000000+0000.json", AFTER)
    assert main([], folder=tmp_path) == 0
    out = capsys.readouterr().out
    assert "bench-20260102T000000+0000.json" in out
    assert "bench-20260103T000000+0000.json" in out
    gateway = next(line for line in out.splitlines() if "gateway ms/req" in line)
    assert "1.00" in gateway
    assert "1.20" in gateway
    assert "REGRESSION" in gateway
    assert "1 regression " in out


def test_strict_exits_with_failure_on_a_regression_only(tmp_path: Path) -> None:
    before = _write(tmp_path, "a.json", BEFORE)
    after = _write(tmp_path, "b.json", AFTER)
    assert main([str(before), str(after), "--strict"], folder=tmp_path) == 1
    assert main([str(before), str(before), "--strict"], folder=tmp_path) == 0


def test_fewer_than_two_stored_runs_is_a_usage_error(tmp_path: Path) -> None:
    _write(tmp_path, "bench-20260101T000000+0000.json", BEFORE)
    assert main([], folder=tmp_path) == 2
