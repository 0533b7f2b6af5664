"""samlify 2.13.1 (tests/idps/saml/server.js) as a child process: the real-IdP side of the SAML
end-to-end tests (docs/real-idps.md §3).

``install()`` runs ``npm ci`` from the committed package-lock.json once per lock-file content.
The IdP listens on 127.0.0.1 on a free port and is stopped by the pid we started. Its modes (which
part it signs, encryption, the user) live in a JSON file it re-reads on every request."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import json
import os
import re
import shutil
import signal
import socket
from pathlib import Path
from typing import Any, Final

import aiohttp

from tests.idps.saml.responses import KeyPair

HERE: Final = Path(__file__).resolve().parent
LOCK: Final = HERE / "package-lock.json"
STAMP: Final = HERE / "node_modules" / ".idmesh-lock-sha256"
_ACTION: Final = re.compile(r'<form[^>]*action="([^"]+)"', re.IGNORECASE)
_INPUT: Final = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
_INSTALL_LOCK = asyncio.Lock()


class SamlifyError(RuntimeError):
    pass


async def install() -> None:
    """``npm ci`` in tests/idps/saml unless node_modules already matches the lock file."""
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    async with _INSTALL_LOCK:
        if STAMP.exists() and STAMP.read_text() == digest:
            return
        npm = shutil.which("npm")
        if npm is None:
            raise SamlifyError("npm is required for the SAML end-to-end tests (apt: nodejs npm)")
        process = await asyncio.create_subprocess_exec(
            npm, "ci", "--no-audit", "--no-fund", "--loglevel=error",
            cwd=HERE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output, _ = await asyncio.wait_for(process.communicate(), 300)
        if process.returncode != 0:
            raise SamlifyError(f"npm ci failed in {HERE}:\n{output.decode(errors='replace')}")
        STAMP.write_text(digest)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SamlifyIdp:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = _free_port()
        self.keys = KeyPair.generate("samlify test idp")
        self.config_file = workdir / "config.json"
        self.log_file = workdir / "samlify.log"
        self._process: asyncio.subprocess.Process | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def slo_url(self) -> str:
        return f"{self.base}/slo"

    @property
    def metadata_url(self) -> str:
        return f"{self.base}/metadata"

    def configure(self, sp_metadata: str, *, email: str, attributes: dict[str, list[str]],
                  sign: str = "assertion", encrypt: bool = False,
                  logout: str = "success") -> None:  # fmt: skip
        """The SP the next responses are for, what they sign and encrypt, the user, and how it
        answers the SP's LogoutRequest ("success", or "partial": PartialLogout)."""
        sp_file = self.workdir / "sp.xml"
        sp_file.write_text(sp_metadata)
        self.config_file.write_text(
            json.dumps(
                {
                    "spMetadataFile": str(sp_file),
                    "sign": sign,
                    "encrypt": encrypt,
                    "logout": logout,
                    "user": {"email": email, "attributes": attributes},
                }
            )
        )

    async def start(self) -> None:
        node = shutil.which("node")
        if node is None:
            raise SamlifyError("node is required for the SAML end-to-end tests")
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "idp.key").write_text(self.keys.key_pem)
        (self.workdir / "idp.crt").write_text(self.keys.cert_pem)
        if not self.config_file.exists():
            self.config_file.write_text("{}")
        env = {
            **os.environ,
            "PORT": str(self.port),
            "IDP_KEY_FILE": str(self.workdir / "idp.key"),
            "IDP_CERT_FILE": str(self.workdir / "idp.crt"),
            "CONFIG_FILE": str(self.config_file),
        }
        log = self.log_file.open("ab")
        try:
            self._process = await asyncio.create_subprocess_exec(
                node, str(HERE / "server.js"), cwd=HERE, env=env,
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
        finally:
            log.close()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            for _ in range(100):
                if self._process.returncode is not None:
                    break
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.get(self.metadata_url) as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.1)
        await self.stop()
        raise SamlifyError(f"samlify did not start:\n{self.log_file.read_text()[-2000:]}")

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 5)
        except TimeoutError:
            process.kill()
            await process.wait()


def read_post_form(page: str) -> tuple[str, dict[str, Any]]:
    """The auto-submitting form's action and fields, as a browser would post them."""
    action = _ACTION.search(page)
    if action is None:
        raise SamlifyError("the IdP answered no form")
    fields = {html.unescape(k): html.unescape(v) for k, v in _INPUT.findall(page)}
    return html.unescape(action.group(1)), fields
