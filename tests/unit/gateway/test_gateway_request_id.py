"""gateway.request_id: only sane incoming X-Request-ID values are kept."""

from __future__ import annotations

import logging

import pytest

from gateway.request_id import current_request_id, install_log_field, sanitise_request_id


@pytest.mark.parametrize(
    "incoming", ["abc", "4bf92f3577b34da6a3ce929d0e0e4736", "req-1.2_3", "a" * 128]
)
def test_a_sane_incoming_id_is_kept(incoming: str) -> None:
    """1 to 128 characters of [A-Za-z0-9._-] pass through, so a proxy's id links the logs."""
    assert sanitise_request_id(incoming) == incoming


@pytest.mark.parametrize(
    "incoming",
    [
        None,
        "",
        "a" * 129,
        "has space",
        'quote"injection',
        "line\nbreak",
        '{"json": 1}',
        "é",
        "abc\x00",
    ],
)
def test_a_missing_or_unsafe_id_is_replaced_by_a_fresh_one(incoming: str | None) -> None:
    """Anything else could forge log lines or break JSON: a new random id replaces it."""
    generated = sanitise_request_id(incoming)
    assert generated != incoming
    assert sanitise_request_id(generated) == generated
    assert len(generated) == 32


def test_generated_ids_are_unique() -> None:
    """Generated ids are random (uuid4): two requests never share one."""
    assert len({sanitise_request_id(None) for _ in range(1000)}) == 1000


def test_log_records_made_inside_a_request_carry_its_id() -> None:
    """The id is a field of every log line of the request, and absent outside one."""
    install_log_field()
    install_log_field()  # idempotent: the factory is not stacked
    factory = logging.getLogRecordFactory()
    outside = factory("t", logging.INFO, __file__, 1, "m", (), None)
    token = current_request_id.set("req-42")
    try:
        inside = factory("t", logging.INFO, __file__, 1, "m", (), None)
    finally:
        current_request_id.reset(token)
    assert not hasattr(outside, "request_id")
    assert getattr(inside, "request_id", None) == "req-42"
