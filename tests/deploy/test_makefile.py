"""The Makefile as a newcomer meets it: `make test` installs the system tools its suites drive
(or says which package is missing), `make help` writes plain text off a terminal, and
`make clean` deletes the data folder `make run` used."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _probe() -> str:
    """A makefile with our apt_install helper, asked for a command nobody has (read from stdin:
    the unprivileged user need not read the checkout)."""
    text = (ROOT / "Makefile").read_text()
    start = text.index("apt_install =")
    helper = text[start : text.index("\n\n", start)]
    call = "$(call apt_install,idmesh-no-such-command,idmesh-no-such-package)"
    return f"{helper}\n\nprobe:\n\t@{call}\n"


def _make(*args: str, env: dict[str, str] | None = None, **kwargs: object) -> str:
    result = subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, **(env or {})},
        **kwargs,  # type: ignore[call-overload]
    )
    return str(result.stdout)


def test_make_test_installs_the_system_tools_its_suites_drive_first() -> None:
    """docker-compose (deploy-check), xmlsec1 (pysaml2) and chromium (playwright) come from
    Debian's packages through `deploy-tools` and `test-tools`, which `test` depends on."""
    plan = _make("-n", "test")
    for package in ("docker-compose", "xmlsec1", "chromium"):
        assert f"command -v {package}" in plan, package
    assert plan.index("command -v chromium") < plan.index("python -m pytest")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as an unprivileged user")
def test_without_root_or_sudo_the_missing_package_is_named() -> None:
    """As a user who is neither root nor a sudoer, nothing is attempted: the message names the
    Debian package to install, and make fails."""
    result = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
         "make", "--no-print-directory", "-f", "-", "probe"],
        input=_probe(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd="/",
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
    )  # fmt: skip
    assert result.returncode != 0
    assert "idmesh-no-such-command is missing: install Debian's idmesh-no-such-package" in (
        result.stderr
    )


def test_make_help_is_plain_text_off_a_terminal() -> None:
    """Piped or redirected, the list of targets carries no escape codes."""
    listed = _make("help")
    assert "\033" not in listed
    assert "  test " in listed


def test_make_clean_deletes_the_data_folder_make_run_used(tmp_path: Path) -> None:
    """IDMESH_DATA_DIR moves make run's data: make clean follows it, and leaves .data alone."""
    data = tmp_path / "elsewhere"
    (data / "pg").mkdir(parents=True)
    _make("clean", env={"IDMESH_DATA_DIR": str(data)})
    assert not data.exists()
    assert shutil.which("make")
