"""The compose file runs the same mesh as Kubernetes (same images, commands and variables, the
same hardening), with migrations as a one-shot step, and every trace goes through the Collector,
whose tail sampling keeps every failed login."""

from __future__ import annotations

from typing import Any

import yaml

from infra.check import OTEL
from tests.deploy.manifests import (
    SERVICES,
    STORING_SERVICES,
    compose_runs,
    compose_services,
    find,
    find_generated,
    kubernetes_runs,
    rendered_folder,
)

COLLECTOR_CONFIG = OTEL / "collector.yaml"
# Variables only Kubernetes has: the downward API for resource attributes, the environment name
# they carry, and the signing key file mounted from a Secret (compose mounts no key file until
# auth reads one).
KUBERNETES_ONLY = {"POD_NAME", "POD_NAMESPACE", "IDMESH_ENVIRONMENT", "IDMESH_SIGNING_KEYS_FILE"}
# Variables whose value is the environment's own: where things are, how loud, what is secret.
ENVIRONMENT_SPECIFIC = {
    "DATABASE_URL",
    "PUBLIC_URL",
    "LOG_LEVEL",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_RESOURCE_ATTRIBUTES",
    "IDMESH_ENCRYPTION_KEY",
}


def collector() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(COLLECTOR_CONFIG.read_text())
    return config


def test_compose_configures_each_service_like_kubernetes() -> None:
    """Issue 7 (one configuration, two platforms): compose sets the same variables as the
    Kubernetes base for every service, with the same values except where an environment
    differs (addresses of external things, log level, secrets), and the same command."""
    compose_migrate, compose = compose_runs()
    k8s_migrate, k8s = kubernetes_runs("dev")
    assert compose_migrate.command == k8s_migrate.command == ("idmesh", "migrate")
    for service in SERVICES:
        in_k8s = {k: v for k, v in k8s[service].env.items() if k not in KUBERNETES_ONLY}
        in_compose = compose[service].env
        assert set(in_compose) == set(in_k8s), service
        for variable in set(in_k8s) - ENVIRONMENT_SPECIFIC:
            assert in_compose[variable] == in_k8s[variable], f"{service}: {variable}"
        assert compose[service].command == k8s[service].command


def test_compose_gives_directory_and_the_deliverer_auths_encryption_key_only() -> None:
    """Webhook signing secrets are sealed by directory and opened by the deliverer with the key
    auth seals its secrets with (one knob, IDMESH_ENCRYPTION_KEY); scim and gateway store
    nothing and never see it."""
    services = compose_services()
    key = services["auth"]["environment"]["IDMESH_ENCRYPTION_KEY"]
    for name in ("directory", "deliverer"):
        assert services[name]["environment"]["IDMESH_ENCRYPTION_KEY"] == key, name
    for name in ("scim", "gateway"):
        assert "IDMESH_ENCRYPTION_KEY" not in services[name]["environment"], name


def test_compose_runs_migrations_once_before_the_storing_services() -> None:
    """Issue 7: migrations as a one-shot service the storing services depend on with
    `condition: service_completed_successfully`, after PostgreSQL is healthy."""
    services = compose_services()
    migrate = services["migrate"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert migrate["restart"] == "no"
    assert migrate["build"]["target"] == "migrate"
    for service in STORING_SERVICES:
        condition = services[service]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully"
    assert "healthcheck" in services["postgres"]


def test_compose_builds_each_service_from_the_one_dockerfile_and_hardens_it() -> None:
    """Issue 7: the parameterised Dockerfile (SERVICE build argument), read-only root
    filesystem, no capabilities, no privilege escalation, a tmpfs on /tmp."""
    services = compose_services()
    for name in [*SERVICES, "migrate"]:
        service = services[name]
        assert service["build"]["dockerfile"] == "infra/docker/Dockerfile"
        if name != "migrate":
            assert service["build"]["args"] == {"SERVICE": name}
            assert service["image"].startswith(f"idmesh/{name}:")
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert service["tmpfs"] == ["/tmp"], name


def test_compose_publishes_only_the_gateway_and_jaeger_on_loopback() -> None:
    """Only the gateway (and the Jaeger UI) are reachable from the host, and only locally."""
    services = compose_services()
    published = {name: s.get("ports", []) for name, s in services.items() if s.get("ports")}
    assert set(published) == {"gateway", "jaeger"}
    for ports in published.values():
        for port in ports:
            assert str(port).startswith("127.0.0.1:"), port


def test_compose_sends_every_trace_through_the_collector_to_jaeger() -> None:
    """Issue 7: `docker compose up` gives traces: services -> Collector (OTLP) -> Jaeger."""
    services = compose_services()
    for service in SERVICES:
        assert services[service]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == (
            "http://otel-collector:4317"
        )
    otel = services["otel-collector"]
    assert "opentelemetry-collector-contrib" in otel["image"]  # tail_sampling is contrib only
    mounts = [str(volume) for volume in otel["volumes"]]
    assert any(
        m.endswith("infra/otel/collector.yaml:/etc/otelcol/collector.yaml:ro") for m in mounts
    )
    assert otel["environment"]["OTLP_BACKEND_ENDPOINT"] == "jaeger:4317"
    assert "jaeger" in services


def test_the_collector_limits_memory_first_samples_tails_and_batches_last() -> None:
    """Issue 7: OTLP in; memory_limiter, tail_sampling, batch in that order; an OTLP exporter;
    every component a pipeline names is defined."""
    config = collector()
    pipeline = config["service"]["pipelines"]["traces"]
    assert pipeline["receivers"] == ["otlp"]
    assert pipeline["processors"] == ["memory_limiter", "tail_sampling", "batch"]
    for kind in ("receivers", "processors", "exporters"):
        for name in pipeline[kind]:
            assert name in config[kind], f"{kind}: {name}"
    assert all(name.split("/")[0] == "otlp" for name in pipeline["exporters"])
    assert config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"].endswith(":4317")
    assert config["service"]["extensions"] == ["health_check"]


def test_tail_sampling_keeps_every_failed_login_and_a_share_of_the_rest() -> None:
    """Issue 7: a trace is kept when a span has an error status, or when a span's
    idmesh.login.outcome is present and not "success"; otherwise a probabilistic share. No
    inverted or drop policy, which would override the keeps."""
    sampling = collector()["processors"]["tail_sampling"]
    policies = {policy["type"]: policy for policy in sampling["policies"]}
    assert set(policies) == {"status_code", "ottl_condition", "probabilistic"}
    assert policies["status_code"]["status_code"]["status_codes"] == ["ERROR"]
    (condition,) = policies["ottl_condition"]["ottl_condition"]["span"]
    assert " ".join(condition.split()) == (
        'attributes["idmesh.login.outcome"] != nil and '
        'attributes["idmesh.login.outcome"] != "success"'
    )
    assert "sampling_percentage" in policies["probabilistic"]["probabilistic"]
    assert "invert_match" not in COLLECTOR_CONFIG.read_text()


def test_the_collector_on_kubernetes_is_where_the_services_send_their_spans() -> None:
    """The Collector's Kubernetes Deployment (infra/otel) runs collector.yaml, in the
    observability namespace, on the port and labels the services and NetworkPolicies use,
    as a single replica so that each trace meets one tail sampler."""
    docs = rendered_folder(OTEL)
    service = find(docs, "Service", "otel-collector")
    assert service["metadata"]["namespace"] == "observability"
    assert {p["port"] for p in service["spec"]["ports"]} >= {4317}
    deployment = find(docs, "Deployment", "otel-collector")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "otel-collector"
    config_map = find_generated(docs, "ConfigMap", "otel-collector")
    assert config_map is not None
    assert config_map["data"]["collector.yaml"] == COLLECTOR_CONFIG.read_text()
    _, runs = kubernetes_runs("prod")
    endpoint = runs["gateway"].env["OTEL_EXPORTER_OTLP_ENDPOINT"]
    assert endpoint.startswith("http://otel-collector.observability.")
