"""The SCIM conformance tools' own virtualenv: scim2-tester, scim-sanity, scim2-cli and the
reference server scim2-server (docs/scim-clients.md §8), kept apart from the services'
dependencies (they pin their own pydantic, httpx2 and scim2-models).

``ensure_tools()`` creates ``.data/tools/scim-conformance`` with ``uv venv`` and ``uv pip install
-r requirements.txt`` (every version pinned) the first time, and reuses it while the
requirements are unchanged: a marker file inside holds their digest. A clean CI machine builds
it from PyPI in seconds; a file lock keeps two test processes from building it at once. Used by
the conformance tests and by ``make bench`` (the reference server).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = Path(__file__).with_name("requirements.txt")
VENV = ROOT / ".data" / "tools" / "scim-conformance"
_MARKER = "idmesh-requirements.sha256"
# Generous: a cold uv cache downloads about 10 MB.
INSTALL_TIMEOUT = 300


class ToolsError(RuntimeError):
    """The tools' virtualenv could not be created."""


def _uv() -> str:
    # `uv run` exports UV (its own path) to what it runs; otherwise uv is on PATH (make setup
    # installs it).
    found = os.environ.get("UV") or shutil.which("uv")
    if not found:
        raise ToolsError("uv is needed to create the conformance tools' virtualenv (make setup)")
    return found


def _digest() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def _run(command: list[str]) -> None:
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
        check=False,
        # Our own virtualenv must not leak into the tools' one.
        env={
            k: v
            for k, v in os.environ.items()
            if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")
        },
    )
    if result.returncode != 0:
        raise ToolsError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")


def binary(name: str, venv: Path = VENV) -> Path:
    return venv / "bin" / name


def ensure_tools(venv: Path = VENV) -> Path:
    """The tools' virtualenv, created or updated when its requirements changed."""
    venv.parent.mkdir(parents=True, exist_ok=True)
    digest = _digest()
    marker = venv / _MARKER
    with (venv.parent / f"{venv.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (
            marker.exists()
            and marker.read_text().strip() == digest
            and binary("python", venv).exists()
        ):
            return venv
        uv = _uv()
        shutil.rmtree(venv, ignore_errors=True)
        # This interpreter (3.11, like the services): no download, works offline once cached.
        _run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)])
        _run(
            [
                uv,
                "pip",
                "install",
                "--quiet",
                "--python",
                str(binary("python", venv)),
                "-r",
                str(REQUIREMENTS),
            ]
        )
        marker.write_text(digest + "\n")
    return venv
