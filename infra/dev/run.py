"""``make run``: the whole mesh on 127.0.0.1 for a developer, in one terminal.

PostgreSQL is DATABASE_URL when it is set, otherwise an embedded cluster kept in ``.data/pg`` of
the checkout (durable, so accounts and tokens survive restarts; ``make clean`` deletes it). The
database gets the migrations of every storing service, the processes (directory and its webhook
deliverer, auth, scim, gateway) start on their default ports (any free port for one whose default
is taken, or taken by another process before the service could bind it), and once the gateway is
ready the addresses actually bound and the first commands to type are printed, and written to
``mesh.json`` in the data folder, where the ``idmesh`` CLI finds them (idmesh_cli.local_mesh).
Ctrl-C or SIGTERM stops the services first,
then the embedded PostgreSQL.

Environment: DATABASE_URL, GATEWAY_PORT (default 8080), LOG_FORMAT (default plain), LOG_LEVEL,
OTEL_TRACES_EXPORTER (default none) and the other OTEL_* variables, passed to every service;
IDMESH_DATA_DIR (default .data of the checkout) for the embedded cluster and the pid file;
IDMESH_ENCRYPTION_KEY (default: a key generated once into the data folder), given to directory,
its deliverer and auth, which seal secrets with it; DNS_NAMESERVERS
(default the system resolver), DOMAIN_RECHECK_INTERVAL and DOMAIN_GRACE_PERIOD, passed to
directory for domain verification; WORKERS (default: one per CPU), the processes each of
directory, auth, scim and the gateway runs behind its port.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from idmesh_cli.local_mesh import STATE_FILE, write_state
from infra.dev.mesh import DEFAULT_PORTS, Mesh, MeshError, port_is_free
from meshkit.config import ConfigError
from meshkit.localdb import LocalPostgres
from meshkit.migrate import apply_migrations
from meshkit.secretbox import new_key
from meshkit.testing import database_url
from meshkit.workers import configured_workers

ROOT = Path(__file__).resolve().parents[2]
# IDMESH_DATA_DIR moves the local state elsewhere (the tests' make run uses a temporary folder).
DATA_DIR = Path(os.environ.get("IDMESH_DATA_DIR") or ROOT / ".data").resolve()
PG_DIR = DATA_DIR / "pg"
# The launcher's and the services' pids while make run runs.
RUN_STATE = DATA_DIR / "run.pids"
PG_PORT = 55432
DATABASE = "idmesh"
# Each storing service's schema; its migrations ship inside the service's package.
SCHEMAS = ("directory", "auth")
START_TIMEOUT = 60.0


def say(message: str = "") -> None:
    print(message, flush=True)


def shown(path: Path) -> str:
    """``path`` relative to the checkout when inside it: shorter to read and to copy."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def redact(url: str) -> str:
    """``url`` with its password masked: DATABASE_URL may carry one and this output is a log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def migrations_folder(package: str) -> Path:
    """The ``migrations`` folder of an installed service package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"package {package} is not installed: run make setup")
    return Path(next(iter(spec.submodule_search_locations))) / "migrations"


async def prepare_database(admin_url: str, *, create: bool) -> str:
    """Creates database ``idmesh`` on the embedded server when missing (``create``), applies
    every pending migration, and returns the database's URL."""
    url = admin_url
    if create:
        conn = await asyncpg.connect(admin_url)
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE)
            if not exists:
                await conn.execute(f'CREATE DATABASE "{DATABASE}"')
                say(f"created database {DATABASE}")
        finally:
            await conn.close()
        url = database_url(admin_url, DATABASE)
    conn = await asyncpg.connect(url)
    try:
        for schema in SCHEMAS:
            folder = migrations_folder(schema)
            applied = await apply_migrations(conn, schema, folder) if folder.is_dir() else []
            if applied:
                say(f"applied {schema} migrations: {', '.join(applied)}")
    finally:
        await conn.close()
    return url


def _runs(pid: int, marker: bytes) -> bool:
    """Whether process ``pid`` exists and its command line contains ``marker``: a recorded pid
    may have been reused by an unrelated process since."""
    try:
        return marker in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _read_state() -> dict[str, int]:
    state: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in RUN_STATE.read_text().splitlines():
            name, _, pid = line.partition(" ")
            if pid.strip().isdigit():
                state[name] = int(pid)
    return state


def record_state(pids: Mapping[str, int] | None = None) -> None:
    """Writes our pid and the services' pids, for the next make run to clean up after us if
    we are killed without a chance to stop them (SIGKILL, a crash)."""
    lines = [f"launcher {os.getpid()}", *(f"{svc} {pid}" for svc, pid in (pids or {}).items())]
    RUN_STATE.write_text("\n".join(lines) + "\n")


def claim_data_dir() -> None:
    """Refuses to run beside a live ``make run`` of this checkout, and stops what one that was
    killed without cleanup left behind: its services (in sessions of their own, nothing else
    stops them) and its PostgreSQL (whose pid file would make our start fail)."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    if RUN_STATE.exists():
        state = _read_state()
        launcher = state.pop("launcher", 0)
        if launcher and launcher != os.getpid() and _runs(launcher, b"infra.dev.run"):
            raise SystemExit(f"make run is already running in this checkout (pid {launcher})")
        leftovers = {
            svc: pid for svc, pid in state.items() if _runs(pid, f"\0-m\0{svc}\0".encode())
        }
        for service, pid in leftovers.items():
            say(f"stopping {service} (pid {pid}), left running by an earlier make run")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(
            _runs(pid, f"\0-m\0{svc}\0".encode()) for svc, pid in leftovers.items()
        ):
            time.sleep(0.1)
        stop_orphaned_postgres()
    record_state()


def stop_orphaned_postgres() -> None:
    """Fast shutdown of a postmaster still running on ``.data/pg``: SIGINT, as the PostgreSQL
    manual's "Shutting Down the Server" documents; pg_ctl would have to run as its user."""
    pid_file = PG_DIR / "postmaster.pid"
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int(pid_file.read_text().splitlines()[0])
        if not _runs(pid, str(PG_DIR).encode()):
            return  # a stale file: pg_ctl start copes with it
        say(f"stopping the PostgreSQL (pid {pid}) left running by an earlier make run")
        os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _runs(pid, str(PG_DIR).encode()):
            time.sleep(0.1)


def requested_ports() -> tuple[dict[str, int], dict[str, int]]:
    """(fixed, preferred) ports for the Mesh: the default ports, which move when taken, and an
    explicit GATEWAY_PORT, a promise to the user: taken means an error, not a substitute."""
    preferred = dict(DEFAULT_PORTS)
    requested = os.environ.get("GATEWAY_PORT", "").strip()
    if not requested:
        return {}, preferred
    if not requested.isdigit() or not port_is_free(int(requested)):
        raise SystemExit(f"GATEWAY_PORT={requested} is not a free port")
    del preferred["gateway"]
    return {"gateway": int(requested)}, preferred


def banner(
    mesh: Mesh, url: str, embedded: bool, tracing: str, log_format: str, workers: int
) -> str:
    where = f"embedded, data in {shown(PG_DIR)}" if embedded else "DATABASE_URL"
    if tracing == "none":
        tracing_line = (
            "OTEL_TRACES_EXPORTER=none (the default here): spans are created, not exported.\n"
            "                 To see them: OTEL_TRACES_EXPORTER=console make run\n"
            "                 To a collector: OTEL_TRACES_EXPORTER=otlp"
            " OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317 make run"
        )
    else:
        tracing_line = f"OTEL_TRACES_EXPORTER={tracing} (from your environment)"
    gateway = mesh.gateway_url
    return f"""
idmesh is running
  gateway        {gateway}   (GET /healthz, GET /readyz, /api/v1, /scim/v2)
  directory      {mesh.address("directory")}   (gRPC)
  auth           {mesh.address("auth")}   (gRPC)
  scim           {mesh.address("scim")}   (gRPC)
  database       {redact(url)}   ({where})
  tracing        {tracing_line}
  logs           LOG_FORMAT={log_format} (LOG_FORMAT=json for JSON lines), LOG_LEVEL to change
                 the level
  workers        WORKERS={workers}: processes per service behind its port (one per CPU by
                 default)

A first account and an API token for it, from another terminal in this checkout (the token
command prints only the secret on stdout, shown this once; the CLI finds these addresses in
{shown(DATA_DIR / STATE_FILE)}):
  uv run idmesh account create acme
  TOKEN=$(uv run idmesh token create --account acme --permission users:manage)
  curl -H "Authorization: Bearer $TOKEN" {gateway}/api/v1/accounts/acme

Ctrl-C stops everything.
"""


def development_encryption_key() -> str:
    """IDMESH_ENCRYPTION_KEY when set; otherwise a key generated once into the data folder
    (readable by its owner only), so SSO connections and webhook endpoints created under make
    run survive restarts."""
    configured = os.environ.get("IDMESH_ENCRYPTION_KEY", "").strip()
    if configured:
        return configured
    path = DATA_DIR / "encryption.key"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        key = new_key()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(key)
    return path.read_text().strip()


async def serve() -> int:
    started = time.monotonic()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # SIGHUP too: closing the terminal must not orphan the services in their own sessions.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, stop.set)

    tracing = os.environ.get("OTEL_TRACES_EXPORTER", "").strip() or "none"
    log_format = os.environ.get("LOG_FORMAT", "").strip() or "plain"
    cluster: LocalPostgres | None = None
    mesh: Mesh | None = None
    # Outside the try: refusing to run beside a live make run must leave its state file alone.
    claim_data_dir()
    try:
        env_url = os.environ.get("DATABASE_URL", "").strip()
        if env_url:
            try:
                url = await prepare_database(env_url, create=False)
            except (OSError, asyncpg.PostgresError) as error:
                say(f"DATABASE_URL ({redact(env_url)}) is not usable: {error}")
                return 1
        else:
            cluster = LocalPostgres(PG_DIR, port=PG_PORT if port_is_free(PG_PORT) else 0)
            say(f"starting PostgreSQL in {shown(PG_DIR)} on port {cluster.port}")
            # pg_ctl blocks until the server accepts connections: off the event loop, so that a
            # Ctrl-C meanwhile is still handled.
            try:
                admin_url = await asyncio.to_thread(cluster.start)
            except (RuntimeError, subprocess.CalledProcessError) as error:
                say(f"PostgreSQL failed to start: {error}")
                say(f"its log: {shown(PG_DIR / 'server.log')}")
                return 1
            url = await prepare_database(admin_url, create=True)
        if stop.is_set():
            return 130

        fixed, preferred = requested_ports()
        try:
            workers = configured_workers()
        except ConfigError as error:
            say(str(error))
            return 2
        pids: dict[str, int] = {}

        def spawned(service: str, pid: int) -> None:
            pids[service] = pid
            record_state(pids)

        mesh = Mesh(
            url,
            ports=fixed,
            preferred_ports=preferred,
            env_overrides={
                "OTEL_TRACES_EXPORTER": tracing,
                "LOG_FORMAT": log_format,
                # A developer's webhook receiver runs on this machine, over plain http.
                "WEBHOOK_ALLOW_PRIVATE": os.environ.get("WEBHOOK_ALLOW_PRIVATE", "1"),
                "WORKERS": str(workers),
            },
            encryption_key=development_encryption_key(),
            own_session=True,
            on_spawn=spawned,
        )
        starting = asyncio.create_task(mesh.start(timeout=START_TIMEOUT))
        interrupted = asyncio.create_task(stop.wait())
        await asyncio.wait({starting, interrupted}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError, MeshError):
                await starting
            return 130
        interrupted.cancel()
        try:
            starting.result()
        except MeshError as error:
            say(f"\nidmesh failed to start: {error}")
            return 1

        for service, port in mesh.moved.items():
            say(f"{service}: port {port} is taken, listening on {mesh.ports[service]}")
        write_state(DATA_DIR, mesh.addresses, mesh.gateway_url)
        say(banner(mesh, url, cluster is not None, tracing, log_format, workers))
        say(f"ready in {time.monotonic() - started:.1f}s")
        exited = asyncio.create_task(mesh.wait_any_exit())
        interrupted = asyncio.create_task(stop.wait())
        await asyncio.wait({exited, interrupted}, return_when=asyncio.FIRST_COMPLETED)
        if exited.done():
            service = exited.result()
            say(f"\n{service} exited with code {mesh.returncode(service)}; stopping the rest")
            return 1
        exited.cancel()
        return 0
    finally:
        if mesh is not None:
            say("\nstopping the services")
            codes = await mesh.stop()
            unclean = {svc: code for svc, code in codes.items() if code != 0}
            if unclean:
                say(f"exit codes other than 0: {unclean}")
        if cluster is not None:
            say("stopping PostgreSQL")
            try:
                await asyncio.to_thread(cluster.stop)
            except (RuntimeError, subprocess.CalledProcessError) as error:
                say(f"PostgreSQL did not stop cleanly: {error}")
        RUN_STATE.unlink(missing_ok=True)
        (DATA_DIR / STATE_FILE).unlink(missing_ok=True)
        say("stopped")


def main() -> None:
    sys.exit(asyncio.run(serve()))


if __name__ == "__main__":
    main()
