"""The container images: one Dockerfile, one image per service holding only that service's
locked dependencies, run as a numeric non-root user, with nothing that installs or builds.

No Docker engine runs here, so the image contents are checked at their source: uv resolves each
image's package set from uv.lock exactly as the Dockerfile's `uv sync --package` installs it.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from infra.check import DOCKERFILE, ROOT
from tests.deploy.manifests import SERVICES

HEALTHCHECK = ROOT / "infra/docker/healthcheck.py"
DOCKERIGNORE = DOCKERFILE.with_name("Dockerfile.dockerignore")
WORKSPACE_PACKAGES = {f"idmesh-{s}" for s in SERVICES} | {"idmesh-cli"}
# One requirement a line, nothing else: workspace members as `-e ./path`, the rest `name==version`.
EXPORT_FORMAT = ("--no-hashes", "--no-header", "--no-annotate")
_REQUIREMENT = re.compile(r"^(?:-e \./\S+|(?P<name>[A-Za-z0-9_.-]+)==\S+)")


@functools.cache
def image_packages(package: str) -> frozenset[str]:
    """The distributions `uv sync --frozen --no-dev --package <package>` installs."""
    uv = shutil.which("uv")
    assert uv is not None, "uv is not on PATH (make setup installs it)"
    exported = subprocess.run(
        [uv, "export", "--frozen", "--no-dev", "--package", package, *EXPORT_FORMAT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names: set[str] = set()
    for line in exported.splitlines():
        if line.startswith("-e ./"):
            pyproject = ROOT / line.removeprefix("-e ./").strip() / "pyproject.toml"
            names.add(tomllib.loads(pyproject.read_text())["project"]["name"])
        elif match := _REQUIREMENT.match(line):
            names.add(match["name"].lower())
    return frozenset(names)


def dev_tools() -> set[str]:
    """The root's dev dependency group (test, lint, build and deploy-check tools)."""
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {re.split(r"[=<>!~\[ ;]", spec)[0].lower() for spec in root["dependency-groups"]["dev"]}


def stages() -> dict[str, list[str]]:
    """The Dockerfile's stages by name, each as its instructions (continuations joined)."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    result: dict[str, list[str]] = {}
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if match := re.match(r"FROM\s+\S+\s+AS\s+(\S+)", line, re.IGNORECASE):
            current = match[1]
            result[current] = [line]
        elif current:
            result[current].append(line)
    return result


@pytest.mark.parametrize("service", SERVICES)
def test_each_image_holds_only_its_service_and_its_locked_dependencies(service: str) -> None:
    """Issue 7: ONLY that service's dependencies: no other service's package, no dev tool."""
    packages = image_packages(f"idmesh-{service}")
    assert f"idmesh-{service}" in packages
    assert {"meshkit", "idmesh-protos"} <= packages
    assert packages & (WORKSPACE_PACKAGES - {f"idmesh-{service}"}) == set()
    assert packages & dev_tools() == set()


def test_the_protocol_services_image_has_no_http_stack() -> None:
    """scim speaks gRPC only: aiohttp stays in the gateway's image, auth's (a client of the
    identity providers) and directory's (whose webhook deliverer is a client of the accounts'
    endpoints)."""
    assert "aiohttp" not in image_packages("idmesh-scim")
    assert "aiohttp" in image_packages("idmesh-directory")
    assert "aiohttp" in image_packages("idmesh-gateway")


def test_the_migrate_image_holds_the_cli_with_both_storing_services_migrations() -> None:
    """Issue 7 (the migrations image): `idmesh migrate` migrates the schemas of the packages
    installed beside it, directory and auth; scim and the gateway are not needed for it."""
    packages = image_packages("idmesh-cli")
    assert {"idmesh-cli", "idmesh-directory", "idmesh-auth"} <= packages
    assert not packages & {"idmesh-scim", "idmesh-gateway"}


def test_the_runtime_stages_run_as_a_numeric_non_root_user_with_no_build_tools() -> None:
    """Issue 7: python:3.11-slim runtime, numeric non-root USER, uv only in the builders, pip
    and setuptools removed, the venv copied from a builder."""
    dockerfile = stages()
    assert re.search(r"ARG PYTHON_IMAGE=python:3\.11-slim", DOCKERFILE.read_text())
    runtime = " ".join(dockerfile["runtime"])
    assert dockerfile["runtime"][0].startswith("FROM ${PYTHON_IMAGE}")
    assert "pip uninstall --yes --quiet pip setuptools wheel" in runtime
    for final in ("migrate", "service"):
        body = dockerfile[final]
        assert body[0].startswith("FROM runtime "), final
        assert "USER 10001:10001" in body, final
        copies = [line for line in body if line.startswith("COPY --from=")]
        assert copies, final
        assert all("/opt/venv" in c or "healthcheck" in c for c in copies), final
    for name, body in dockerfile.items():
        uses_uv = any("--from=uv" in line for line in body)
        assert not uses_uv or name == "build-base", f"uv reaches stage {name}"


def test_the_default_target_is_the_service_chosen_by_the_build_argument() -> None:
    """Issue 7: one parameterised Dockerfile (SERVICE=directory|auth|scim|gateway) whose
    default (last) stage runs that service's console script; `--target migrate` runs
    `idmesh migrate`."""
    dockerfile = stages()
    assert list(dockerfile)[-1] == "service"
    build = " ".join(dockerfile["build"])
    assert 'uv sync --no-dev --package "idmesh-${SERVICE}"' in build
    assert "directory|auth|scim|gateway)" in build  # anything else fails the build
    assert 'ln -s "idmesh-${SERVICE}" /opt/venv/bin/idmesh-service' in build
    assert 'ENTRYPOINT ["idmesh-service"]' in dockerfile["service"]
    assert 'ENTRYPOINT ["idmesh"]' in dockerfile["migrate"]
    assert 'CMD ["migrate"]' in dockerfile["migrate"]
    assert "uv sync --no-dev --package idmesh-cli" in " ".join(dockerfile["build-migrate"])


def test_the_build_context_admits_only_what_the_build_needs() -> None:
    """The .dockerignore is an allow-list: local state (.venv, .data with its database
    cluster, .git, test artifacts) never reaches a build."""
    lines = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {line.removeprefix("!").rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {
        "pyproject.toml",
        "uv.lock",
        "protos",
        "libs",
        "services",
        "gateway",
        "cli",
        "infra/docker/healthcheck.py",
    }
    copied = {
        source.rstrip("/")
        for body in stages().values()
        for line in body
        if line.startswith("COPY ") and "--from" not in line
        for source in line.split()[1:-1]
    }
    assert all(any(c == a or c.startswith(a + "/") for a in allowed) for c in copied), copied


@pytest.mark.parametrize("service", SERVICES)
def test_the_healthcheck_fails_when_the_service_does_not_answer(
    service: str, tmp_path: Path
) -> None:
    """The image's HEALTHCHECK reports unhealthy (exit 1) when nothing serves on PORT; the
    healthy case is covered by the start-up test."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the check runs
    done = subprocess.run(
        [sys.executable, str(HEALTHCHECK)],
        env={"IDMESH_SERVICE": service, "PORT": str(port), "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "not serving" in done.stderr
