"""Reading the deployment as the platforms see it: the objects kustomize renders for an overlay,
the services docker-compose resolves, and each container's command and environment resolved the
way the kubelet and compose resolve them.

The deploy tests read everything from here, never from a copy of the values: a test that starts
a service with the manifests' environment proves the manifests and the code agree.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from infra.check import OVERLAYS, compose_config, render

SERVICES = ("directory", "auth", "scim", "gateway")
GRPC_SERVICES = ("directory", "auth", "scim")
STORING_SERVICES = ("directory", "auth")

Obj = dict[str, Any]

# $(VAR) in a container's env value, as the kubelet expands it; $$ escapes a dollar.
_DEPENDENT_VARIABLE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def overlay_names() -> list[str]:
    return [folder.name for folder in sorted(OVERLAYS.iterdir()) if folder.is_dir()]


@functools.cache
def rendered(overlay: str) -> tuple[Obj, ...]:
    """Every object ``kubectl kustomize infra/k8s/overlays/<overlay>`` outputs."""
    return tuple(doc for doc in yaml.safe_load_all(render(OVERLAYS / overlay)) if doc)


@functools.cache
def rendered_folder(folder: Path) -> tuple[Obj, ...]:
    return tuple(doc for doc in yaml.safe_load_all(render(folder)) if doc)


def objects(docs: tuple[Obj, ...], kind: str) -> list[Obj]:
    return [doc for doc in docs if doc["kind"] == kind]


def find(docs: tuple[Obj, ...], kind: str, name: str) -> Obj:
    for doc in objects(docs, kind):
        if doc["metadata"]["name"] == name:
            return doc
    raise KeyError(f"no {kind} {name}")


def unhashed(name: str) -> str:
    """``name`` without the content hash kustomize appends to generated ConfigMaps/Secrets."""
    return re.sub(r"-[a-z0-9]{10}$", "", name)


def find_generated(docs: tuple[Obj, ...], kind: str, name: str) -> Obj | None:
    """The ConfigMap or Secret generated as ``name`` (kustomize appends a content hash), or
    None when the overlay does not contain it (an externally managed Secret)."""
    for doc in objects(docs, kind):
        actual = doc["metadata"]["name"]
        if actual == name or re.fullmatch(re.escape(name) + r"-[a-z0-9]{10}", actual):
            return doc
    return None


def deployment(docs: tuple[Obj, ...], service: str) -> Obj:
    return find(docs, "Deployment", service)


def pod_spec(docs: tuple[Obj, ...], service: str) -> Obj:
    spec: Obj = deployment(docs, service)["spec"]["template"]["spec"]
    return spec


def app_container(docs: tuple[Obj, ...], service: str) -> Obj:
    """The service's own container (named after it) in its Deployment."""
    for container in pod_spec(docs, service)["containers"]:
        if container["name"] == service:
            return dict(container)
    raise KeyError(f"the {service} Deployment has no container named {service}")


def all_containers(docs: tuple[Obj, ...], service: str) -> list[Obj]:
    spec = pod_spec(docs, service)
    return [*spec.get("initContainers", []), *spec["containers"]]


def _data(doc: Obj) -> dict[str, str]:
    """A ConfigMap's or a Secret's values (a Secret's `data` is base64)."""
    data = doc.get("data") or {}
    if doc["kind"] == "Secret":
        values = {k: base64.b64decode(v).decode() for k, v in data.items()}
        values.update(doc.get("stringData") or {})
        return values
    return {k: str(v) for k, v in data.items()}


def secret_placeholder(name: str, key: str) -> str:
    """What an env value from a Secret that the overlay does not contain resolves to here."""
    return f"<external secret {name}/{key}>"


def expand(value: str, env: Mapping[str, str]) -> str:
    """The kubelet's expansion of $(VAR) references to variables defined before (unknown ones
    are left as written, as the kubelet does)."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return _DEPENDENT_VARIABLE.sub(replace, value)


@dataclass(frozen=True)
class EnvSource:
    """Where a container's variable comes from: "value", "configMap", "secret" or "field"."""

    kind: str
    reference: str = ""


def resolve_env(
    docs: tuple[Obj, ...], container: Obj, *, pod_name: str, namespace: str
) -> tuple[dict[str, str], dict[str, EnvSource]]:
    """The environment the kubelet gives ``container`` (envFrom first, then env in order with
    $(VAR) expansion), and where each variable came from. Secrets that are not part of the
    rendering resolve to ``secret_placeholder``."""
    env: dict[str, str] = {}
    sources: dict[str, EnvSource] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            name = source["configMapRef"]["name"]
            doc = find_generated(docs, "ConfigMap", name)
            if doc is None:
                raise KeyError(f"envFrom names ConfigMap {name}, which the overlay lacks")
            for key, value in _data(doc).items():
                env[key] = value
                sources[key] = EnvSource("configMap", unhashed(name))
        else:
            raise ValueError(f"unsupported envFrom {source}")
    for item in container.get("env", []):
        name = item["name"]
        if "value" in item:
            env[name] = expand(str(item["value"]), env)
            sources[name] = EnvSource("value")
            continue
        value_from = item["valueFrom"]
        if "fieldRef" in value_from:
            path = value_from["fieldRef"]["fieldPath"]
            fields = {"metadata.name": pod_name, "metadata.namespace": namespace}
            env[name] = fields[path]
            sources[name] = EnvSource("field", path)
        elif "secretKeyRef" in value_from:
            ref = value_from["secretKeyRef"]
            secret = find_generated(docs, "Secret", ref["name"])
            if secret is None and ref.get("optional", False):
                continue  # an external Secret's optional key: assume absent, as a new one is
            if secret is None:
                env[name] = secret_placeholder(ref["name"], ref["key"])
            elif ref["key"] in _data(secret):
                env[name] = _data(secret)[ref["key"]]
            elif ref.get("optional", False):
                continue  # the kubelet leaves the variable unset
            else:
                raise KeyError(f"{name}: Secret {ref['name']} has no key {ref['key']}")
            sources[name] = EnvSource("secret", f"{unhashed(ref['name'])}/{ref['key']}")
        elif "configMapKeyRef" in value_from:
            ref = value_from["configMapKeyRef"]
            doc = find_generated(docs, "ConfigMap", ref["name"])
            if doc is None:
                raise KeyError(f"{name} names ConfigMap {ref['name']}, which the overlay lacks")
            env[name] = _data(doc)[ref["key"]]
            sources[name] = EnvSource("configMap", f"{unhashed(ref['name'])}/{ref['key']}")
        else:
            raise ValueError(f"unsupported valueFrom {value_from}")
    return env, sources


@dataclass(frozen=True)
class ContainerRun:
    """How a platform starts one container: its command and its complete configured
    environment (the image's own ENV aside)."""

    service: str
    command: tuple[str, ...]
    env: dict[str, str]
    sources: dict[str, EnvSource]


def kubernetes_runs(overlay: str) -> tuple[ContainerRun, dict[str, ContainerRun]]:
    """The migrate initContainer and every service's container of ``overlay``."""
    docs = rendered(overlay)
    migrate: ContainerRun | None = None
    services: dict[str, ContainerRun] = {}
    for service in SERVICES:
        meta = deployment(docs, service)["metadata"]
        pod_name = f"{service}-5d9f7c6b8-x2x7q"
        for init in pod_spec(docs, service).get("initContainers", []):
            if init["name"] == "migrate" and migrate is None:
                env, sources = resolve_env(
                    docs, init, pod_name=pod_name, namespace=meta["namespace"]
                )
                migrate = ContainerRun("migrate", tuple(init["command"]), env, sources)
        container = app_container(docs, service)
        env, sources = resolve_env(docs, container, pod_name=pod_name, namespace=meta["namespace"])
        services[service] = ContainerRun(service, tuple(container["command"]), env, sources)
    if migrate is None:
        raise KeyError(f"no migrate initContainer in overlay {overlay}")
    return migrate, services


@functools.cache
def compose_services() -> dict[str, Obj]:
    """The compose file's services as ``docker-compose config`` resolves them."""
    config: Obj = yaml.safe_load(compose_config())
    services: dict[str, Obj] = config["services"]
    return services


def compose_runs() -> tuple[ContainerRun, dict[str, ContainerRun]]:
    """The one-shot migrate service and every idmesh service of the compose file."""

    def run(name: str) -> ContainerRun:
        service = compose_services()[name]
        env = {k: str(v) for k, v in (service.get("environment") or {}).items()}
        return ContainerRun(
            name,
            tuple(service["entrypoint"]),
            env,
            {k: EnvSource("value") for k in env},
        )

    return run("migrate"), {name: run(name) for name in SERVICES}


def iter_sources() -> Iterator[str]:
    """Every source of container runs: each overlay, then compose."""
    yield from (f"k8s/{name}" for name in overlay_names())
    yield "compose"


def runs(source: str) -> tuple[ContainerRun, dict[str, ContainerRun]]:
    if source == "compose":
        return compose_runs()
    return kubernetes_runs(source.removeprefix("k8s/"))
