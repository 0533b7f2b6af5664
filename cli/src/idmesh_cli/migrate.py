"""``idmesh migrate``: apply every storing service's migrations to DATABASE_URL.

Each service owns a PostgreSQL schema and ships its numbered SQL files inside its package, in a
``migrations`` folder (uv_build puts non-Python files of the module directory in the wheel), so
the CLI migrates exactly the code that is installed beside it.
"""

from __future__ import annotations

import argparse
import importlib.resources
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from idmesh_cli.config import DatabaseConfig
from idmesh_cli.errors import CliError
from idmesh_cli.runtime import Runtime
from meshkit.config import load_config
from meshkit.migrate import MigrationError, apply_migrations

SCHEMAS = {"directory": "directory", "auth": "auth"}
"""PostgreSQL schema → the Python package whose ``migrations`` folder fills it, in the order
they are applied."""
CONNECT_TIMEOUT_SECONDS = 10.0


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = commands.add_parser(
        "migrate",
        parents=[common],
        help="apply pending database migrations of every service",
        description=(
            "Apply the pending migrations of every service (schemas "
            + ", ".join(SCHEMAS)
            + ") to the database at DATABASE_URL. Safe to repeat and to run from several "
            "places at once: applied files are skipped, replicas are serialised by a lock."
        ),
    )
    parser.set_defaults(handler=run)


def migrations_folder(package: str) -> Path:
    """The ``migrations`` folder shipped inside the installed ``package``."""
    try:
        folder = importlib.resources.files(package) / "migrations"
    except ModuleNotFoundError:
        raise CliError(f"the {package} package is not installed") from None
    if not isinstance(folder, Path) or not folder.is_dir():
        raise CliError(f"the installed {package} package has no migrations folder")
    return folder


def describe_server(url: str) -> str:
    """host:port/database of ``url``, without the credentials it may carry."""
    parts = urlsplit(url)
    try:
        port = parts.port or 5432
    except ValueError:
        port = 5432
    return f"{parts.hostname or 'localhost'}:{port}{parts.path or ''}"


async def apply_all(url: str, folders: dict[str, Path]) -> dict[str, list[str]]:
    """Applies each schema's pending migrations; returns the file names applied per schema."""
    where = describe_server(url)
    try:
        conn = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT_SECONDS)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        raise CliError(
            f"cannot reach PostgreSQL at {where} ({type(error).__name__}) — check DATABASE_URL"
        ) from None
    applied: dict[str, list[str]] = {}
    try:
        for schema, folder in folders.items():
            try:
                applied[schema] = await apply_migrations(conn, schema, folder)
            except MigrationError as error:
                raise CliError(f"{schema}: {error}") from None
            except asyncpg.PostgresError as error:
                raise CliError(f"{schema}: migration failed, nothing applied: {error}") from None
    finally:
        await conn.close()
    return applied


async def run(args: argparse.Namespace, rt: Runtime) -> int:
    config = load_config(DatabaseConfig, rt.environ)
    folders = {schema: migrations_folder(package) for schema, package in SCHEMAS.items()}
    applied = await apply_all(config.database_url, folders)
    if rt.output.json_mode:
        rt.output.document({"applied": applied})
        return 0
    for schema, names in applied.items():
        if names:
            rt.output.result(f"{schema}: applied {', '.join(names)}")
        else:
            rt.output.result(f"{schema}: up to date")
    return 0
