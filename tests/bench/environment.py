"""The environment every bench mesh runs with: production's (JSON logs at info), the run's
tracing exporter, and the per-account SCIM rate limit lifted.

The gateway throttles each account to SCIM_RATE_LIMIT requests a second (200 by default): a
fairness guard between tenants, not a capacity. A benchmark drives one account as hard as it
can, so with the guard on the figures would top out at the limit and measure the limiter;
lifted, the rows measure what one gateway can serve.
"""

from __future__ import annotations

_UNLIMITED = "1000000"


def mesh_environment(exporter: str) -> dict[str, str]:
    """Variables for every service of a bench mesh; ``exporter`` is OTEL_TRACES_EXPORTER."""
    return {
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "info",
        "OTEL_TRACES_EXPORTER": exporter,
        "SCIM_RATE_LIMIT": _UNLIMITED,
        "SCIM_RATE_BURST": _UNLIMITED,
    }
