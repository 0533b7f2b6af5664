"""gateway.access_log: every error and every slow request is logged; successes are sampled
evenly at ACCESS_LOG_SAMPLE (a line per success cost a tenth of the gateway's CPU)."""

from __future__ import annotations

import logging
import time

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from gateway.access_log import AccessLog


def _lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "gateway.access"]


def _request() -> web.Request:
    return make_mocked_request("GET", "/api/v1/users", app=web.Application())


def test_every_error_is_logged_whatever_the_sample(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    log = AccessLog(0.0)
    for status in (400, 401, 404, 429, 499, 500, 503):
        log.record(_request(), status, time.perf_counter())
    assert [r.__dict__["http_status"] for r in _lines(caplog)] == [
        400,
        401,
        404,
        429,
        499,
        500,
        503,
    ]


def test_successes_are_logged_evenly_at_the_sampled_share(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One in twenty at 0.05: the 20th, 40th, ... of 100 successes, never a burst."""
    caplog.set_level(logging.INFO)
    log = AccessLog(0.05)
    for _ in range(100):
        log.record(_request(), 200, time.perf_counter())
    assert len(_lines(caplog)) == 5


def test_a_slow_success_is_always_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    log = AccessLog(0.0, slow_seconds=1.0)
    log.record(_request(), 200, time.perf_counter() - 2.0)
    (line,) = _lines(caplog)
    assert line.__dict__["duration_ms"] >= 2000


def test_a_sample_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        AccessLog(1.5)
