"""12-factor configuration: environment variables read into a frozen dataclass.

Each field declares its variable with ``setting(...)``; ``load_config`` reads them all and raises
one ``ConfigError`` that lists every missing or invalid variable, so an operator fixes them in one
go instead of one per restart.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")
_MISSING = object()
_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d|w)$")
_DURATION_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class ConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems


class PlainValueError(ValueError):
    """A parse error whose message never quotes the value: shown even for a secret variable
    (any other parse error of a secret is reported without its message)."""


def setting(
    env: str,
    *,
    default: Any = _MISSING,
    parse: Callable[[str], Any] = str,
    secret: bool = False,
    description: str = "",
) -> Any:
    """Declares a config field read from the variable ``env``; secrets stay out of repr()."""
    return dataclasses.field(
        repr=not secret,
        metadata={
            "env": env,
            "default": default,
            "parse": parse,
            "secret": secret,
            "description": description,
        },
    )


def parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true or false")


def parse_port(raw: str) -> int:
    port = int(raw)
    if not 0 <= port <= 65535:
        raise ValueError("expected a port number from 0 to 65535")
    return port


def parse_duration(raw: str) -> float:
    """Seconds from "250ms", "30s", "5m", "2h", "90d", "52w" or a bare number of seconds: the
    one duration grammar of the configuration and the CLI (idmesh_cli.durations)."""
    raw = raw.strip()
    match = _DURATION.match(raw)
    if match:
        return int(match.group(1)) * _DURATION_SECONDS[match.group(2)]
    seconds = float(raw)
    if seconds < 0:
        raise ValueError("expected a non-negative duration")
    return seconds


def parse_choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return raw

    return parse


def load_config(cls: type[T], environ: Mapping[str, str] | None = None) -> T:
    """Builds ``cls`` from ``environ`` (default os.environ), reporting every problem at once."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    problems: list[str] = []
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        meta = field.metadata
        name = meta["env"]
        raw = environ.get(name)
        if raw is None or raw == "":
            if meta["default"] is _MISSING:
                problems.append(
                    f"{name} is required"
                    + (f" ({meta['description']})" if meta["description"] else "")
                )
            else:
                values[field.name] = meta["default"]
            continue
        try:
            values[field.name] = meta["parse"](raw)
        except ValueError as error:
            # A parser's message may quote the value (int() does): never for a secret, unless
            # the parser promises it does not.
            shown = not meta["secret"] or isinstance(error, PlainValueError)
            problems.append(f"{name} is invalid" + (f": {error}" if shown else ""))
    if problems:
        raise ConfigError(problems)
    return cls(**values)
