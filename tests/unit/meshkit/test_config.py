"""meshkit.config: 12-factor settings, every problem reported at once."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from meshkit.config import (
    ConfigError,
    load_config,
    parse_bool,
    parse_duration,
    parse_port,
    setting,
)


@dataclass(frozen=True)
class ExampleConfig:
    port: int = setting("PORT", default=50051, parse=parse_port)
    database_url: str = setting("DATABASE_URL", secret=True, description="PostgreSQL URL")
    debug: bool = setting("DEBUG", default=False, parse=parse_bool)
    timeout: float = setting("TIMEOUT", default=5.0, parse=parse_duration)


def test_defaults_apply_when_variables_are_unset_or_empty() -> None:
    """An empty variable counts as unset, as with most 12-factor tools."""
    config = load_config(ExampleConfig, {"DATABASE_URL": "postgresql://db/x", "PORT": ""})
    assert config == ExampleConfig(
        port=50051, database_url="postgresql://db/x", debug=False, timeout=5.0
    )


def test_every_missing_or_invalid_variable_is_reported_at_once() -> None:
    """Issue 2: config reports all errors at once, not one per restart."""
    with pytest.raises(ConfigError) as caught:
        load_config(ExampleConfig, {"PORT": "99999", "DEBUG": "maybe"})
    problems = caught.value.problems
    assert len(problems) == 3
    assert any(p.startswith("PORT is invalid") for p in problems)
    assert any(p.startswith("DEBUG is invalid") for p in problems)
    assert "DATABASE_URL is required (PostgreSQL URL)" in problems


def test_an_invalid_secret_is_not_echoed_in_the_error() -> None:
    """Secrets never reach logs: a bad value is named by its variable, not shown."""

    @dataclass(frozen=True)
    class Keyed:
        key_bytes: int = setting("SIGNING_KEY_BYTES", parse=int, secret=True)

    with pytest.raises(ConfigError) as caught:
        load_config(Keyed, {"SIGNING_KEY_BYTES": "hunter2"})
    assert "hunter2" not in str(caught.value)


def test_secret_fields_are_hidden_from_repr() -> None:
    config = ExampleConfig(port=1, database_url="postgresql://u:pw@db/x", debug=False, timeout=1)
    assert "pw@" not in repr(config)


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("250ms", 0.25), ("30s", 30), ("5m", 300), ("2h", 7200), ("90d", 90 * 86400), ("1.5", 1.5)],
)
def test_durations_accept_unit_suffixes(raw: str, seconds: float) -> None:
    assert parse_duration(raw) == pytest.approx(seconds)


@pytest.mark.parametrize("raw", ["-1", "5 weeks", "abc"])
def test_nonsense_durations_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match=r".+"):
        parse_duration(raw)
