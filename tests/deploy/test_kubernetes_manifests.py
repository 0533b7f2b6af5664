"""The rendered Kubernetes overlays hold together: every service has what issue 7 asks for, the
addresses and ports agree with each other and with the code's defaults, pods are locked down,
and secrets live where they should."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from tests.deploy.manifests import (
    GRPC_SERVICES,
    SERVICES,
    STORING_SERVICES,
    Obj,
    all_containers,
    app_container,
    deployment,
    find,
    find_generated,
    kubernetes_runs,
    objects,
    overlay_names,
    pod_spec,
    rendered,
    resolve_env,
)

OVERLAYS = overlay_names()
# The ports the code listens on by default (each service's config.py): the manifests must agree.
CODE_PORTS = {"directory": 50051, "auth": 50052, "scim": 50053, "gateway": 8080}
# The services' own drain (meshkit.server / gateway.server: 1 s) and grace (10 s) after SIGTERM.
SHUTDOWN_SECONDS = 1 + 10


def test_there_is_a_dev_and_a_prod_overlay() -> None:
    """Issue 7: kustomize base with overlays dev and prod."""
    assert {"dev", "prod"} <= set(OVERLAYS)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_has_a_deployment_service_account_budget_and_autoscaler(overlay: str) -> None:
    """Issue 7: per service a Deployment, a Service and a ServiceAccount, a PodDisruptionBudget,
    and a HorizontalPodAutoscaler (every service is stateless: its state is in PostgreSQL)."""
    docs = rendered(overlay)
    for service in SERVICES:
        spec = pod_spec(docs, service)
        assert spec["serviceAccountName"] == service
        find(docs, "ServiceAccount", service)
        find(docs, "Service", service)
        pdb = find(docs, "PodDisruptionBudget", service)
        labels = deployment(docs, service)["spec"]["template"]["metadata"]["labels"]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
        hpa = find(docs, "HorizontalPodAutoscaler", service)
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": service,
        }
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_deployments_leave_the_replica_count_to_the_autoscaler(overlay: str) -> None:
    """A `replicas` in a Deployment would reset the autoscaler's count on every apply."""
    for service in SERVICES:
        assert "replicas" not in deployment(rendered(overlay), service)["spec"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_grpc_services_are_headless_on_the_port_the_code_listens_on(overlay: str) -> None:
    """Issue 7: headless Services (clusterIP: None) so that dns:/// resolves every ready replica
    and channels balance round robin; a headless Service has no port mapping, so its port, the
    containerPort, PORT and the code's default are one number."""
    docs = rendered(overlay)
    for service in GRPC_SERVICES:
        svc = find(docs, "Service", service)
        assert svc["spec"]["clusterIP"] == "None"
        (port,) = svc["spec"]["ports"]
        container = app_container(docs, service)
        (container_port,) = container["ports"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert port["port"] == container_port["containerPort"] == int(env["PORT"])
        assert port["port"] == CODE_PORTS[service]
        assert port["targetPort"] == container_port["name"]
        assert port["appProtocol"] == "grpc"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_peer_address_is_a_dns_round_robin_target_of_the_right_service(overlay: str) -> None:
    """Issue 7: DIRECTORY_ADDR, AUTH_ADDR and SCIM_ADDR are dns:///<service>:<port> of the
    service they name, and the callers are exactly the ones of the architecture."""
    _, runs = kubernetes_runs(overlay)
    callers: dict[str, set[str]] = {}
    for service, run in runs.items():
        for variable, value in run.env.items():
            if not variable.endswith("_ADDR"):
                continue
            target = variable.removesuffix("_ADDR").lower()
            assert value == f"dns:///{target}:{CODE_PORTS[target]}", f"{service}: {variable}"
            callers.setdefault(target, set()).add(service)
    assert callers == {
        "directory": {"gateway", "scim", "auth"},
        "auth": {"gateway"},
        "scim": {"gateway"},
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_and_container_is_locked_down(overlay: str) -> None:
    """Issue 7: runAsNonRoot, readOnlyRootFilesystem, allowPrivilegeEscalation false, every
    capability dropped, seccomp RuntimeDefault, an emptyDir on /tmp, no API token mounted."""
    docs = rendered(overlay)
    for service in SERVICES:
        spec = pod_spec(docs, service)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == 10001  # the image's numeric USER
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        assert spec["enableServiceLinks"] is False
        volumes = {v["name"]: v for v in spec["volumes"]}
        for container in all_containers(docs, service):
            context = container["securityContext"]
            where = f"{service}/{container['name']}"
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["runAsNonRoot"] is True, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert "emptyDir" in volumes[mounts["/tmp"]], where


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_has_resource_requests_and_limits(overlay: str) -> None:
    """Issue 7: requests and limits for CPU and memory, on init containers too."""
    docs = rendered(overlay)
    for service in SERVICES:
        for container in all_containers(docs, service):
            resources = container["resources"]
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources[kind]), f"{service}: {kind}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_grpc_services_are_probed_on_the_standard_health_service(overlay: str) -> None:
    """Issue 7: Kubernetes native gRPC readiness, liveness (and startup) probes on the port of
    the grpc.health.v1 service."""
    docs = rendered(overlay)
    for service in GRPC_SERVICES:
        container = app_container(docs, service)
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["grpc"] == {"port": CODE_PORTS[service]}, probe


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_gateway_is_live_on_healthz_and_ready_on_readyz(overlay: str) -> None:
    """Issue 7: liveness on /healthz (never looks at peers), readiness on /readyz (all peers
    SERVING)."""
    container = app_container(rendered(overlay), "gateway")
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_grace_period_covers_the_pre_stop_pause_and_the_services_own_shutdown(
    overlay: str,
) -> None:
    """Issue 7: terminationGracePeriodSeconds ≥ 15 and ≥ the preStop pause plus the services'
    drain (1 s) and grace (10 s), so no pod is killed in the middle of finishing its calls."""
    docs = rendered(overlay)
    for service in SERVICES:
        grace = pod_spec(docs, service)["terminationGracePeriodSeconds"]
        pause = app_container(docs, service)["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert grace >= 15
        assert grace >= pause + SHUTDOWN_SECONDS, service


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_directory_and_auth_read_the_database_and_only_from_a_secret(overlay: str) -> None:
    """Only directory and auth use PostgreSQL: they alone get DATABASE_URL, each its own key of
    the idmesh-database Secret; scim and the gateway have no database access at all."""
    _, runs = kubernetes_runs(overlay)
    for service, run in runs.items():
        if service in STORING_SERVICES:
            source = run.sources["DATABASE_URL"]
            assert (source.kind, source.reference) == (
                "secret",
                f"idmesh-database/{service}-url",
            )
        else:
            assert "DATABASE_URL" not in run.env, service


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_migrations_run_in_an_init_container_before_each_storing_service(overlay: str) -> None:
    """Issue 7 (migrations; docs/deployment.md defends initContainer over Job): the migrate
    image runs `idmesh migrate` with the owner role's URL before directory and auth start, and
    auth does not migrate again with its own, DDL-less, role."""
    docs = rendered(overlay)
    for service in STORING_SERVICES:
        (init,) = pod_spec(docs, service)["initContainers"]
        assert init["command"] == ["idmesh", "migrate"]
        assert re.search(r"(^|/)migrate(:|$)", init["image"]), init["image"]
        (variable,) = init["env"]
        assert variable["name"] == "DATABASE_URL"
        assert variable["valueFrom"]["secretKeyRef"]["key"] == "migrate-url"
    _, runs = kubernetes_runs(overlay)
    assert runs["auth"].env["MIGRATE_ON_START"] == "false"
    for service in ("scim", "gateway"):
        assert "initContainers" not in pod_spec(docs, service)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_deployment_runs_its_own_image_and_console_script(overlay: str) -> None:
    """Issue 7: one image per service, started through its console script idmesh-<service>."""
    docs = rendered(overlay)
    for service in SERVICES:
        container = app_container(docs, service)
        assert container["command"] == [f"idmesh-{service}"]
        assert re.search(rf"(^|/){service}(:|@|$)", container["image"]), container["image"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_auth_has_slots_for_the_encryption_key_and_the_signing_keys(overlay: str) -> None:
    """Issue 7: IDMESH_ENCRYPTION_KEY from the idmesh-auth-keys Secret, and the signing key
    set mounted read-only from the same Secret, for auth only."""
    docs = rendered(overlay)
    _, runs = kubernetes_runs(overlay)
    source = runs["auth"].sources["IDMESH_ENCRYPTION_KEY"]
    assert (source.kind, source.reference) == ("secret", "idmesh-auth-keys/encryption-key")
    volumes = {v["name"]: v for v in pod_spec(docs, "auth")["volumes"]}
    mounts = {m["mountPath"]: m for m in app_container(docs, "auth")["volumeMounts"]}
    keys_file = runs["auth"].env["IDMESH_SIGNING_KEYS_FILE"]
    mount = mounts[keys_file.rsplit("/", 1)[0]]
    assert mount["readOnly"] is True
    secret = volumes[mount["name"]]["secret"]
    assert re.fullmatch(r"idmesh-auth-keys(-[a-z0-9]{10})?", secret["secretName"])
    assert secret["items"] == [{"key": "signing-jwks.json", "path": "signing-jwks.json"}]
    for service in ("scim", "gateway"):
        assert "IDMESH_ENCRYPTION_KEY" not in runs[service].env


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_directory_and_the_deliverer_read_auths_encryption_key_and_scim_and_gateway_do_not(
    overlay: str,
) -> None:
    """Webhook signing secrets are encrypted at rest (docs/events.md): directory seals them and
    the deliverer opens them, with the key and the previous keys of the idmesh-auth-keys Secret
    that auth reads, one key for every service storing sealed secrets; the services that store
    nothing never see it."""
    docs = rendered(overlay)
    _, runs = kubernetes_runs(overlay)
    deliverer = app_container(docs, "deliverer")
    _, deliverer_sources = resolve_env(docs, deliverer, pod_name="deliverer-x", namespace="idmesh")
    auth_key = runs["auth"].sources["IDMESH_ENCRYPTION_KEY"]
    for sources in (runs["directory"].sources, deliverer_sources):
        key = sources["IDMESH_ENCRYPTION_KEY"]
        assert (key.kind, key.reference) == (auth_key.kind, auth_key.reference)
        assert key.reference == "idmesh-auth-keys/encryption-key"
    for container in (app_container(docs, "directory"), deliverer):
        (previous,) = [
            e for e in container["env"] if e["name"] == "IDMESH_ENCRYPTION_PREVIOUS_KEYS"
        ]
        ref = previous["valueFrom"]["secretKeyRef"]
        assert (ref["key"], ref["optional"]) == ("previous-encryption-keys", True)
    for service in ("scim", "gateway"):
        assert not {"IDMESH_ENCRYPTION_KEY", "IDMESH_ENCRYPTION_PREVIOUS_KEYS"} & set(
            runs[service].env
        )


def _secret_keys_read(docs: tuple[Obj, ...]) -> set[tuple[str, str]]:
    """(Secret, key) of every required secretKeyRef and projected Secret item of the
    workloads (an optional key, such as the previous encryption keys, may be absent)."""
    read: set[tuple[str, str]] = set()
    for service in SERVICES:
        for container in all_containers(docs, service):
            for item in container.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref and not ref.get("optional", False):
                    read.add((ref["name"], ref["key"]))
        for volume in pod_spec(docs, service).get("volumes", []):
            if "secret" in volume:
                for item in volume["secret"]["items"]:
                    read.add((volume["secret"]["secretName"], item["key"]))
    return read


def test_the_dev_overlay_generates_a_placeholder_for_every_secret_key_read() -> None:
    """Issue 7: example/placeholder Secrets in the dev overlay only, with every key the
    workloads read, and visibly not real credentials."""
    docs = rendered("dev")
    for name, key in _secret_keys_read(docs):
        secret = next(s for s in objects(docs, "Secret") if s["metadata"]["name"] == name)
        assert key in secret["data"], f"{name} lacks {key}"
    urls = kubernetes_runs("dev")[1]["directory"].env["DATABASE_URL"]
    assert "placeholder" in urls


def test_the_prod_overlay_contains_no_secret_and_references_the_external_ones() -> None:
    """Issue 7: prod references externally managed Secrets; none is in the repository."""
    docs = rendered("prod")
    assert objects(docs, "Secret") == []
    assert {name for name, _ in _secret_keys_read(docs)} == {"idmesh-database", "idmesh-auth-keys"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_gateway_is_exposed_through_a_tls_ingress_on_its_public_url(overlay: str) -> None:
    """Issue 7: the gateway is exposed via the Ingress, with TLS, on the host PUBLIC_URL names;
    no Service is a NodePort or LoadBalancer."""
    docs = rendered(overlay)
    for service in objects(docs, "Service"):
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP"
    (ingress,) = objects(docs, "Ingress")
    (rule,) = ingress["spec"]["rules"]
    backends = {p["backend"]["service"]["name"] for p in rule["http"]["paths"]}
    assert backends == {"gateway"}
    assert any(rule["host"] in tls["hosts"] for tls in ingress["spec"]["tls"])
    public_url = kubernetes_runs(overlay)[1]["gateway"].env["PUBLIC_URL"]
    assert public_url == f"https://{rule['host']}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_namespace_enforces_the_restricted_pod_security_standard(overlay: str) -> None:
    """The pods meet the `restricted` Pod Security Standard, so the namespace enforces it."""
    docs = rendered(overlay)
    (namespace,) = objects(docs, "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == namespace["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_sends_all_spans_to_the_collector(overlay: str) -> None:
    """Issue 7 (tracing): OTLP export to the Collector's gRPC port, head sampling off so the
    Collector's tail sampling sees every failed login, one service name per service."""
    _, runs = kubernetes_runs(overlay)
    for service, run in runs.items():
        env = run.env
        assert env["OTEL_TRACES_EXPORTER"] == "otlp"
        assert env["OTEL_TRACES_SAMPLER"] == "parentbased_always_on"
        assert re.fullmatch(
            r"http://otel-collector\.observability[.a-z]*:4317", env["OTEL_EXPORTER_OTLP_ENDPOINT"]
        )
        assert env["OTEL_SERVICE_NAME"] == service
        assert f"deployment.environment.name={overlay}" in env["OTEL_RESOURCE_ATTRIBUTES"]
        assert "$(" not in env["OTEL_RESOURCE_ATTRIBUTES"]  # every reference was defined before
        assert env["HOST"] == "0.0.0.0"
        assert env["LOG_FORMAT"] == "json"


def test_a_generated_configmap_is_found_under_its_hashed_name() -> None:
    """The helper the other tests rely on: kustomize suffixes generated names with a hash."""
    assert find_generated(rendered("dev"), "ConfigMap", "idmesh-common") is not None
    assert find_generated(rendered("dev"), "ConfigMap", "idmesh-commo") is None


def _cpus(quantity: str) -> int:
    """Whole CPUs of a Kubernetes CPU quantity ("1", "1500m"), rounded up."""
    if quantity.endswith("m"):
        return -(-int(quantity[:-1]) // 1000)
    return math.ceil(float(quantity))


def _env_value(container: Obj, name: str) -> str | None:
    return next(
        (item.get("value") for item in container.get("env", []) if item["name"] == name), None
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_runs_one_worker_per_cpu_of_its_limit(overlay: str) -> None:
    """WORKERS matches the container's CPU limit (one event loop uses one core at most): more
    would fight over the quota, fewer would leave it unused. Explicit rather than the default,
    which would count the node's CPUs wherever the cgroup's quota cannot be read."""
    docs = rendered(overlay)
    for service in SERVICES:
        container = app_container(docs, service)
        assert _env_value(container, "WORKERS") == str(
            _cpus(str(container["resources"]["limits"]["cpu"]))
        ), service


def test_the_connection_budget_in_the_docs_is_what_the_manifests_allow_at_most() -> None:
    """docs/deployment.md's connection budget is Σ (maxReplicas + maxSurge) × WORKERS ×
    DB_POOL_MAX over the services with a database pool (the deliverer runs one process)."""
    docs = rendered("prod")
    total = 0
    for service in (*STORING_SERVICES, "deliverer"):
        container = app_container(docs, service)
        replicas = find(docs, "HorizontalPodAutoscaler", service)["spec"]["maxReplicas"]
        surge = deployment(docs, service)["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
        workers = int(_env_value(container, "WORKERS") or 1)
        total += (replicas + surge) * workers * int(_env_value(container, "DB_POOL_MAX") or 0)
    text = (Path(__file__).resolve().parents[2] / "docs/deployment.md").read_text()
    documented = re.search(r"= (\d+), so `max_connections`", text)
    assert documented is not None
    assert int(documented.group(1)) == total
