"""X-Request-ID: kept when sane, generated otherwise, echoed, and in the request's log lines;
one access-log line per request without query strings or headers."""

from __future__ import annotations

import logging

import pytest

from tests.support.gateway_peers import ACME_SECRET, GatewayFactory


async def test_a_sane_request_id_is_echoed(gateway: GatewayFactory) -> None:
    """A proxy's id (1-128 of [A-Za-z0-9._-]) is kept so its logs and ours line up."""
    async with gateway() as client:
        response = await client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.01_x"})
        assert response.headers["X-Request-ID"] == "lb-7f3a.01_x"


async def test_an_unsafe_request_id_is_replaced(gateway: GatewayFactory) -> None:
    """An id that could forge log lines or overflow them is not trusted."""
    async with gateway() as client:
        for unsafe in ("a" * 129, "x y", '"}{"admin":true'):
            response = await client.get("/healthz", headers={"X-Request-ID": unsafe})
            echoed = response.headers["X-Request-ID"]
            assert echoed != unsafe
            assert len(echoed) == 32


async def test_a_request_id_is_generated_when_absent_also_on_errors(
    gateway: GatewayFactory,
) -> None:
    """Every response carries an X-Request-ID, error responses too."""
    async with gateway() as client:
        first = await client.get("/no/such/path")
        second = await client.get("/api/v1/accounts/acme")
        assert first.status == 404
        assert second.status == 401
        assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


async def test_log_lines_of_a_request_carry_its_id_and_the_access_line_is_clean(
    gateway: GatewayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """The access line has method, route template, status and duration: never the concrete
    path, the query string (codes, tokens) or a header (Authorization)."""
    caplog.set_level(logging.INFO)
    async with gateway() as client:
        await client.get(
            "/api/v1/accounts/acme?code=s3cr3t-code",
            headers={"X-Request-ID": "req-123", "Authorization": f"Bearer {ACME_SECRET}"},
        )
    access = [r for r in caplog.records if r.name == "gateway.access"]
    assert len(access) == 1
    line = access[0]
    assert line.getMessage().startswith("GET /api/v1/accounts/{name} 200 ")
    assert line.__dict__["request_id"] == "req-123"
    assert line.__dict__["http_route"] == "/api/v1/accounts/{name}"
    assert line.__dict__["http_status"] == 200
    everything = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    assert "s3cr3t-code" not in everything
    assert ACME_SECRET not in everything
