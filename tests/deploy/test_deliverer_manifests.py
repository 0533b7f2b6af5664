"""The webhook deliverer in the deployments: the directory's worker, from the directory's image,
with the directory's database role, at least two replicas (safe: endpoints are claimed with
SELECT … FOR UPDATE SKIP LOCKED), probed on its gRPC health port, reaching only PostgreSQL and
public HTTPS; and started as its container is, it reports SERVING and stops cleanly."""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import socket
import sys
from pathlib import Path

import pytest

from directory.webhooks.config import DelivererConfig
from meshkit.channels import connect, is_serving
from meshkit.testing import PostgresServer, migrate
from tests.conftest import MIGRATIONS
from tests.deploy.manifests import (
    all_containers,
    app_container,
    compose_services,
    deployment,
    find,
    objects,
    overlay_names,
    pod_spec,
    rendered,
    resolve_env,
)

OVERLAYS = overlay_names()
SERVICE = "deliverer"
HEALTH_PORT = 50054
PRIVATE_RANGES = {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_deliverer_is_a_worker_of_the_directory_image_with_two_replicas_or_more(
    overlay: str,
) -> None:
    docs = rendered(overlay)
    container = app_container(docs, SERVICE)
    assert container["command"] == ["idmesh-deliverer"]
    assert re.search(r"(^|/)directory(:|@|$)", container["image"]), container["image"]
    assert pod_spec(docs, SERVICE)["serviceAccountName"] == SERVICE
    assert "replicas" not in deployment(docs, SERVICE)["spec"]
    hpa = find(docs, "HorizontalPodAutoscaler", SERVICE)
    # The dev overlay runs one of everything.
    assert hpa["spec"]["minReplicas"] >= (1 if overlay == "dev" else 2)
    find(docs, "PodDisruptionBudget", SERVICE)
    assert SERVICE not in {s["metadata"]["name"] for s in objects(docs, "Service")}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_deliverer_uses_the_directory_role_and_never_allows_private_addresses(
    overlay: str,
) -> None:
    """The feed and the endpoints are in schema directory; WEBHOOK_ALLOW_PRIVATE is for
    development and tests only."""
    docs = rendered(overlay)
    container = app_container(docs, SERVICE)
    env, sources = resolve_env(docs, container, pod_name="deliverer-x", namespace="idmesh")
    assert (sources["DATABASE_URL"].kind, sources["DATABASE_URL"].reference) == (
        "secret",
        "idmesh-database/directory-url",
    )
    assert "WEBHOOK_ALLOW_PRIVATE" not in env
    default_port = DelivererConfig.__dataclass_fields__["port"].metadata["default"]
    assert int(env["PORT"]) == HEALTH_PORT == default_port
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["grpc"] == {"port": HEALTH_PORT}, probe


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_deliverer_pod_is_locked_down(overlay: str) -> None:
    docs = rendered(overlay)
    spec = pod_spec(docs, SERVICE)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["automountServiceAccountToken"] is False
    for container in all_containers(docs, SERVICE):
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert {"cpu", "memory"} <= set(container["resources"]["limits"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_deliverer_reaches_public_https_only_and_nobody_calls_it(overlay: str) -> None:
    """SSRF, at the network too: egress on 443 to every address but the private ranges (the
    deliverer checks each resolved address as well); no ingress rule at all."""
    policy = find(rendered(overlay), "NetworkPolicy", SERVICE)
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in policy["spec"]
    (rule,) = policy["spec"]["egress"]
    (peer,) = rule["to"]
    assert peer["ipBlock"]["cidr"] == "0.0.0.0/0"
    assert set(peer["ipBlock"]["except"]) >= PRIVATE_RANGES
    assert rule["ports"] == [{"protocol": "TCP", "port": 443}]
    labels = deployment(rendered(overlay), SERVICE)["spec"]["template"]["metadata"]["labels"]
    assert labels["idmesh.io/database-client"] == "true"


def test_compose_runs_the_deliverer_from_the_directory_image() -> None:
    service = compose_services()[SERVICE]
    assert service["entrypoint"] == ["idmesh-deliverer"]
    assert service["image"].startswith("idmesh/directory:")
    assert service["environment"]["PORT"] == str(HEALTH_PORT)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.e2e
async def test_the_deliverer_starts_serving_and_stops_on_sigterm_as_its_container_does(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    """The dev overlay's command and environment (ports, database and collector localised):
    SERVING on its health port, then SIGTERM ends it with status 0 within its grace period."""
    docs = rendered("dev")
    container = app_container(docs, SERVICE)
    env, _ = resolve_env(docs, container, pod_name="deliverer-x", namespace="idmesh")
    database_url = await postgres.create_database()
    await migrate(database_url, {"directory": MIGRATIONS["directory"]})
    port = _free_port()
    env.update(
        PORT=str(port),
        HOST="127.0.0.1",
        DATABASE_URL=database_url,
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{_free_port()}",
        PATH=f"{Path(sys.executable).parent}:/usr/bin:/bin",
    )
    program = shutil.which(container["command"][0], path=env["PATH"])
    assert program is not None
    log = (tmp_path / "deliverer.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        program, env=env, cwd=tmp_path, stdout=log, stderr=asyncio.subprocess.STDOUT
    )
    try:
        channel = connect(f"127.0.0.1:{port}")
        try:
            for _ in range(200):
                assert process.returncode is None, (tmp_path / "deliverer.log").read_text()
                if await is_serving(channel, deadline=0.5):
                    break
                await asyncio.sleep(0.1)
            assert await is_serving(channel)
        finally:
            await channel.close()
        process.send_signal(signal.SIGTERM)
        grace = pod_spec(docs, SERVICE)["terminationGracePeriodSeconds"]
        assert await asyncio.wait_for(process.wait(), timeout=grace) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        log.close()
        await postgres.drop_database(database_url)
