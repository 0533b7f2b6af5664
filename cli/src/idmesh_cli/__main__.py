"""``idmesh``: the command-line tool of idmesh operators.

Exit codes: 0 success, 1 the operation failed, 2 wrong usage or configuration. Errors are one
line on stderr, ``error: ...``; with ``--json``, one JSON document on stderr,
``{"error": "...", "exit_code": N}``, so that scripts parse failures as they parse results.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping, Sequence

from idmesh_cli.errors import EXIT_INTERRUPTED, EXIT_USAGE, CliError
from idmesh_cli.output import Output
from idmesh_cli.parser import UsageError, build_parser
from idmesh_cli.runtime import Runtime
from meshkit.config import ConfigError


def _fail(message: str, code: int, *, json_mode: bool = False) -> int:
    if json_mode:
        print(json.dumps({"error": message, "exit_code": code}), file=sys.stderr)
    else:
        print(f"error: {message}", file=sys.stderr)
    return code


def _wants_json(argv: Sequence[str] | None) -> bool:
    return "--json" in (sys.argv[1:] if argv is None else argv)


async def run(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Runs one command in the current event loop; returns its exit code. ``environ`` replaces
    os.environ for the configuration (tests)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as error:
        if _wants_json(argv):
            return _fail(error.message, EXIT_USAGE, json_mode=True)
        print(f"{error.usage}{error.prog}: error: {error.message}", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exit_:  # --help (0), already printed by argparse
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    runtime = Runtime(Output(args.json), environ)
    try:
        code: int = await args.handler(args, runtime)
        return code
    except CliError as error:
        return _fail(error.message, error.exit_code, json_mode=args.json)
    except ConfigError as error:
        return _fail("; ".join(error.problems), EXIT_USAGE, json_mode=args.json)
    finally:
        await runtime.close()


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: runs the command and returns its exit code."""
    try:
        return asyncio.run(run(argv))
    except KeyboardInterrupt:
        return _fail("interrupted", EXIT_INTERRUPTED, json_mode=_wants_json(argv))


if __name__ == "__main__":
    sys.exit(main())
