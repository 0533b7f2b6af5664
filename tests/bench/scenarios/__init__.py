"""The scenarios of a run, in the order they run. Each adds its rows, memory figures and notes
to the report through the context; a new one is a module with ``async def run(ctx)`` listed
here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tests.bench.context import BenchContext
from tests.bench.scenarios import directory, events, oidc, polis, saml, scim, tokens, tracing

Scenario = Callable[[BenchContext], Awaitable[None]]

SCENARIOS: dict[str, Scenario] = {
    "directory": directory.run,
    "scim": scim.run,
    "tokens": tokens.run,
    "tracing": tracing.run,
    "oidc": oidc.run,
    "saml": saml.run,
    "polis": polis.run,
    "events": events.run,
}
