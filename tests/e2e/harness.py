"""How end-to-end tests start a mesh: one timeout, one environment, for the session's shared
mesh and for the private ones that tests which stop or break processes start."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from infra.dev.mesh import Mesh
from tests.dns.server import LoopbackDns
from tests.e2e.otlp_receiver import OtlpReceiver

# `make run` promises readiness within 60 s on a fresh clone; tests hold the mesh to the same.
START_TIMEOUT = 60.0


def mesh_env(receiver: OtlpReceiver) -> dict[str, str]:
    """What every e2e mesh process runs with: JSON logs (as in production), spans exported to
    ``receiver`` within ~100 ms of ending, webhooks allowed to the tests' receivers on
    127.0.0.1, and every access line written (the tests read them; production samples
    successes)."""
    return {
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "info",
        "ACCESS_LOG_SAMPLE": "1",
        "WEBHOOK_ALLOW_PRIVATE": "1",
        **receiver.exporter_env(),
    }


async def start_mesh(
    database_url: str,
    receiver: OtlpReceiver,
    log_dir: Path,
    *,
    env: Mapping[str, str] | None = None,
    service_env: Mapping[str, Mapping[str, str]] | None = None,
) -> Mesh:
    """A ready mesh on free ports with its logs in ``log_dir``; the caller stops it."""
    mesh = Mesh(
        database_url,
        env_overrides={**mesh_env(receiver), **(env or {})},
        service_env=service_env,
        log_dir=log_dir,
    )
    await mesh.start(timeout=START_TIMEOUT)
    return mesh


async def start_mesh_with_secrets(
    database_url: str,
    receiver: OtlpReceiver,
    log_dir: Path,
    *,
    env: Mapping[str, str] | None = None,
) -> Mesh:
    """A ready mesh for SSO connections, whose client secrets and SAML SP keys auth seals with
    IDMESH_ENCRYPTION_KEY: every mesh has one (the launcher's fresh key for auth, directory and
    the deliverer); the caller stops it."""
    return await start_mesh(database_url, receiver, log_dir, env=env)


def dns_env(
    dns: LoopbackDns, *, recheck_interval: str = "24h", grace_period: str = "72h"
) -> dict[str, str]:
    """directory's environment for verifying domains against ``dns`` (the loopback
    authoritative server), with the background re-check's interval and grace period."""
    return {
        "DNS_NAMESERVERS": dns.nameserver,
        "DOMAIN_RECHECK_INTERVAL": recheck_interval,
        "DOMAIN_GRACE_PERIOD": grace_period,
    }


async def start_mesh_with_dns(
    database_url: str,
    receiver: OtlpReceiver,
    log_dir: Path,
    dns: LoopbackDns,
    *,
    recheck_interval: str = "24h",
    grace_period: str = "72h",
    env: Mapping[str, str] | None = None,
) -> Mesh:
    """A ready mesh whose directory verifies domains against ``dns`` (re-checking verified ones
    every ``recheck_interval``); its auth holds the mesh's IDMESH_ENCRYPTION_KEY (SSO
    connections, for home-realm discovery); the caller stops it."""
    return await start_mesh(
        database_url,
        receiver,
        log_dir,
        env=env,
        service_env={
            "directory": dns_env(dns, recheck_interval=recheck_interval, grace_period=grace_period)
        },
    )
