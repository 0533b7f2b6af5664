"""``idmesh``: the command-line tool of idmesh operators.

Exit codes: 0 success, 1 the operation failed, 2 wrong usage or configuration. Errors are one
line on stderr, ``error: ...``.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping, Sequence

from idmesh_cli.errors import EXIT_INTERRUPTED, EXIT_USAGE, CliError
from idmesh_cli.output import Output
from idmesh_cli.parser import build_parser
from idmesh_cli.runtime import Runtime
from meshkit.config import ConfigError


def _fail(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


async def run(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Runs one command in the current event loop; returns its exit code. ``environ`` replaces
    os.environ for the configuration (tests)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help (0) or a usage error (2), already printed by argparse
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    runtime = Runtime(Output(args.json), environ)
    try:
        code: int = await args.handler(args, runtime)
        return code
    except CliError as error:
        return _fail(error.message, error.exit_code)
    except ConfigError as error:
        return _fail("; ".join(error.problems), EXIT_USAGE)
    finally:
        await runtime.close()


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: runs the command and returns its exit code."""
    try:
        return asyncio.run(run(argv))
    except KeyboardInterrupt:
        return _fail("interrupted", EXIT_INTERRUPTED)


if __name__ == "__main__":
    sys.exit(main())
