"""The real oidc-provider (tests/idps/oidc/server.mjs) as a child process, and a headless
driver of its login and consent forms (docs/real-idps.md §2, §7).

``install()`` runs ``npm ci`` from the committed package-lock.json (CI machines start clean;
node and npm are there), once per lock-file content. The provider listens on 127.0.0.1 only, on
a free port, and is stopped by the pid we started, never by name.
"""

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import aiohttp
from yarl import URL

HERE: Final = Path(__file__).resolve().parent
LOCK: Final = HERE / "package-lock.json"
STAMP: Final = HERE / "node_modules" / ".idmesh-lock-sha256"
SCOPES: Final = "openid email profile groups torque"
_FORM_ACTION: Final = re.compile(r'<form[^>]*action="([^"]+)"', re.IGNORECASE)
_INSTALL_LOCK = asyncio.Lock()


class ProviderError(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def install() -> None:
    """``npm ci`` in tests/idps/oidc unless node_modules already matches the lock file."""
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    async with _INSTALL_LOCK:
        if STAMP.exists() and STAMP.read_text() == digest:
            return
        npm = shutil.which("npm")
        if npm is None:
            raise ProviderError("npm is required for the OIDC end-to-end tests (apt: nodejs npm)")
        process = await asyncio.create_subprocess_exec(
            npm, "ci", "--no-audit", "--no-fund", "--loglevel=error",
            cwd=HERE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output, _ = await asyncio.wait_for(process.communicate(), 300)
        if process.returncode != 0:
            raise ProviderError(f"npm ci failed in {HERE}:\n{output.decode(errors='replace')}")
        STAMP.write_text(digest)


@dataclass
class Client:
    """A client registered at the provider (RFC 7591) and how to update it (RFC 7592)."""

    client_id: str
    client_secret: str = field(repr=False)
    registration_uri: str
    registration_token: str = field(repr=False)
    metadata: dict[str, Any] = field(repr=False)


class OidcProvider:
    """One oidc-provider process; ``users`` are written to its USERS_FILE, re-read per login."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or _free_port()
        self.keys_file = workdir / "keys.json"
        self.users_file = workdir / "users.json"
        self.clients_file = workdir / "clients.json"
        self.log_file = workdir / "oidc-provider.log"
        self._process: asyncio.subprocess.Process | None = None
        self._users: dict[str, dict[str, Any]] = {}
        # Every client registered so far, as static clients survive a restart.
        self._clients: dict[str, dict[str, Any]] = {}

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def set_user(self, login: str, **claims: Any) -> None:
        self._users[login] = claims
        self.users_file.write_text(json.dumps(self._users))

    def ensure_email(self, login: str, domain: str) -> None:
        """Unless a test chose the email, ``login`` (without an "@") signs in as
        ``<login>@<domain>``: a tenant's verified domain, where logins may link by email."""
        claims = self._users.get(login, {})
        if "@" not in login and "email" not in claims:
            self.set_user(login, **claims, email=f"{login}@{domain}")

    async def start(self, *, publish: str = "all", rotate: bool = False) -> None:
        node = shutil.which("node")
        if node is None:
            raise ProviderError("node is required for the OIDC end-to-end tests")
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.users_file.exists():
            self.users_file.write_text("{}")
        self.clients_file.write_text(json.dumps(list(self._clients.values())))
        env = {
            **os.environ,
            "PORT": str(self.port),
            "KEYS_FILE": str(self.keys_file),
            "USERS_FILE": str(self.users_file),
            "CLIENTS_FILE": str(self.clients_file),
            "PUBLISH": publish,
            "ROTATE": "1" if rotate else "0",
        }
        log = self.log_file.open("ab")
        try:
            self._process = await asyncio.create_subprocess_exec(
                node, str(HERE / "server.mjs"), cwd=HERE, env=env,
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
        finally:
            log.close()
        await self._wait_ready()

    async def _wait_ready(self) -> None:
        url = f"{self.issuer}/.well-known/openid-configuration"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            for _ in range(100):
                if self._process is not None and self._process.returncode is not None:
                    break
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.get(url) as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.1)
        await self.stop()
        tail = self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
        raise ProviderError(f"oidc-provider did not start on {self.issuer}:\n{tail}")

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

    async def restart(self, *, publish: str = "all", rotate: bool = False) -> None:
        """A new process on the same port, with the clients registered so far (as static
        clients) but no sessions or grants."""
        await self.stop()
        await self.start(publish=publish, rotate=rotate)

    async def register_client(self, redirect_uri: str) -> Client:
        body = {
            "redirect_uris": [redirect_uri],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_basic",
            "scope": SCOPES,
        }
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{self.issuer}/reg", json=body) as response,
        ):
            registered = await response.json()
            if response.status != 201:
                raise ProviderError(f"registration failed: {registered}")
        self._remember(registered)
        return Client(
            client_id=registered["client_id"],
            client_secret=registered["client_secret"],
            registration_uri=registered["registration_client_uri"],
            registration_token=registered["registration_access_token"],
            metadata=registered,
        )

    async def set_redirect_uri(
        self, client: Client, redirect_uri: str, *, post_logout_redirect_uri: str = "",
        backchannel_logout_uri: str = "",
    ) -> None:  # fmt: skip
        """RFC 7592 §2.2: the exact callback of the connection idmesh created, and its logout
        URIs (RP-Initiated Logout 1.0 §3.1, Back-Channel Logout 1.0 §2.2, with sid)."""
        keep = ("client_id", "client_secret", "grant_types", "response_types",
                "token_endpoint_auth_method", "scope")  # fmt: skip
        body = {key: client.metadata[key] for key in keep} | {"redirect_uris": [redirect_uri]}
        if post_logout_redirect_uri:
            body["post_logout_redirect_uris"] = [post_logout_redirect_uri]
        if backchannel_logout_uri:
            body["backchannel_logout_uri"] = backchannel_logout_uri
            body["backchannel_logout_session_required"] = True
        headers = {"Authorization": f"Bearer {client.registration_token}"}
        async with (
            aiohttp.ClientSession() as session,
            session.put(client.registration_uri, json=body, headers=headers) as response,
        ):
            if response.status != 200:
                raise ProviderError(f"update failed: {await response.text()}")
            self._remember(await response.json())

    def _remember(self, metadata: dict[str, Any]) -> None:
        keep = ("client_id", "client_secret", "redirect_uris", "grant_types", "response_types",
                "token_endpoint_auth_method", "scope", "post_logout_redirect_uris",
                "backchannel_logout_uri", "backchannel_logout_session_required")  # fmt: skip
        known = self._clients.get(metadata["client_id"], {})
        self._clients[metadata["client_id"]] = known | {
            k: metadata[k] for k in keep if k in metadata
        }


async def sign_in_at_idp(
    session: aiohttp.ClientSession,
    authorization_url: str,
    callback_prefix: str,
    *,
    login: str,
    password: str = "any-password",
) -> str:
    """Drives the provider's dev login and consent forms like a browser would (real-idps.md §2
    "Driving a login headlessly") and returns the URL it redirects to under
    ``callback_prefix`` (with code, state and iss), without requesting it."""
    url = authorization_url
    for _ in range(20):
        async with session.get(url, allow_redirects=False) as response:
            body = await response.text()
            location = response.headers.get("Location")
        if location is not None:
            url = str(URL(url).join(URL(location)))
            if url.startswith(callback_prefix):
                return url
            continue
        match = _FORM_ACTION.search(body)
        if match is None:
            raise ProviderError(f"no form at {url} ({response.status}): {body[:300]}")
        action = str(URL(url).join(URL(html.unescape(match.group(1)))))
        if 'name="prompt" value="login"' in body:
            form = {"prompt": "login", "login": login, "password": password}
        elif 'name="prompt" value="consent"' in body:
            form = {"prompt": "consent"}
        else:
            raise ProviderError(f"an unexpected form at {url}: {body[:300]}")
        async with session.post(action, data=form, allow_redirects=False) as response:
            await response.read()
            location = response.headers.get("Location")
        if location is None:
            raise ProviderError(f"the {form['prompt']} form did not redirect")
        url = str(URL(action).join(URL(location)))
        if url.startswith(callback_prefix):
            return url
    raise ProviderError("too many redirects at the IdP")


async def sign_out_at_idp(session: aiohttp.ClientSession, url: str) -> str:
    """Drives the provider's logout confirmation like a browser (``url`` is its
    end_session_endpoint, with or without an RP's parameters): "Yes, sign me out". The
    provider then posts a logout token to every client of the session that registered a
    back-channel logout URI, before it redirects. Returns where it redirects to."""
    async with session.get(url, allow_redirects=False) as response:
        body = await response.text()
    action = _FORM_ACTION.search(body)
    xsrf = re.search(r'name="xsrf" value="([^"]+)"', body)
    if action is None or xsrf is None:
        raise ProviderError(f"no logout form at {url}: {body[:300]}")
    target = str(URL(url).join(URL(html.unescape(action.group(1)))))
    form = {"xsrf": xsrf.group(1), "logout": "yes"}
    async with session.post(target, data=form, allow_redirects=False) as response:
        await response.read()
        location = response.headers.get("Location", "")
    return str(URL(target).join(URL(location))) if location else ""
