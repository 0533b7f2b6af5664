"""The addresses of the mesh ``make run`` runs on this machine, so that the commands it prints
work as typed wherever it had to put the services.

``make run`` writes ``mesh.json`` into its data folder (``IDMESH_DATA_DIR``, default ``.data``
of the checkout) once the mesh is ready, and deletes it when it stops. The CLI reads it from
``IDMESH_DATA_DIR``, else from ``.data`` of the current folder or of the nearest parent that
has one. An environment that names a mesh itself (any of DIRECTORY_ADDR, AUTH_ADDR, SCIM_ADDR,
PUBLIC_URL, GATEWAY_URL) is used as it is: the file never mixes with it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

STATE_FILE = "mesh.json"
# The state file's keys → the variables they stand for.
VARIABLES = {
    "directory": "DIRECTORY_ADDR",
    "auth": "AUTH_ADDR",
    "scim": "SCIM_ADDR",
    "public_url": "PUBLIC_URL",
}
_NAMING_A_MESH = (*VARIABLES.values(), "GATEWAY_URL")


def state_file(environ: Mapping[str, str], cwd: Path | None = None) -> Path | None:
    """The state file of the local ``make run``, when there is one."""
    configured = environ.get("IDMESH_DATA_DIR", "").strip()
    if configured:
        path = Path(configured) / STATE_FILE
        return path if path.is_file() else None
    folder = (cwd or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        path = candidate / ".data" / STATE_FILE
        if path.is_file():
            return path
    return None


def with_local_mesh(environ: Mapping[str, str], cwd: Path | None = None) -> dict[str, str]:
    """``environ``, plus the local ``make run``'s addresses when it names no mesh itself."""
    if any(environ.get(variable, "").strip() for variable in _NAMING_A_MESH):
        return dict(environ)
    found: dict[str, str] = {}
    path = state_file(environ, cwd)
    if path is not None:
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            state = {}
        if isinstance(state, dict):
            for key, variable in VARIABLES.items():
                value = state.get(key)
                if isinstance(value, str) and value:
                    found[variable] = value
    return {**environ, **found}


def write_state(folder: Path, addresses: Mapping[str, str], public_url: str) -> Path:
    """What ``make run`` writes once its mesh is ready (atomically: the CLI may be reading)."""
    path = folder / STATE_FILE
    partial = path.with_suffix(".tmp")
    state = {key: addresses[key] for key in ("directory", "auth", "scim")}
    partial.write_text(json.dumps({**state, "public_url": public_url}, indent=2) + "\n")
    os.replace(partial, path)
    return path
