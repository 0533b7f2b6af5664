"""How a login attempt fails: a connector or the pipeline raises ``Refusal`` with a stable
reason for the login trace; the caller of a refused login learns only ``LoginFailed`` (the
"sign-in failed" page with the trace id), never the reason."""

from __future__ import annotations

from typing import Final

from meshkit.errors import PermissionDenied

LOGIN_FAILED: Final = "login_failed"


class Refusal(Exception):
    """Stop the attempt at its current stage for ``reason`` (a login-trace word); ``detail``
    names ids, stages and times only. ``unavailable``: a dependency failed and the caller may
    retry; otherwise the login is refused."""

    def __init__(
        self, reason: str, detail: str, *, clock_delta: float | None = None,
        unavailable: bool = False,
    ) -> None:  # fmt: skip
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.clock_delta = clock_delta
        self.unavailable = unavailable


class LoginFailed(PermissionDenied):
    """A refused login: the caller learns nothing more (the trace holds the reason)."""

    def __init__(self, trace_id: str) -> None:
        super().__init__("the sign-in failed", reason=LOGIN_FAILED)
        self.trace_id = trace_id
