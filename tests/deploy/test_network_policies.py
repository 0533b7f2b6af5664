"""The NetworkPolicies of each overlay allow exactly the connections of the architecture, and
nothing else: evaluated here the way the Kubernetes NetworkPolicy semantics define them (a
connection needs an egress allowance at the source and an ingress allowance at the destination
whenever a policy selects that pod; policies add up)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.deploy.manifests import SERVICES, deployment, objects, overlay_names, rendered

OVERLAYS = overlay_names()
PORTS = {"directory": 50051, "auth": 50052, "scim": 50053, "gateway": 8080}


@dataclass(frozen=True)
class Endpoint:
    """A pod (namespace and labels) or, with ``ip``, an address outside the cluster."""

    namespace: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    ip: str = ""


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, f"unsupported selector {selector}"
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def _peer_matches(peer: dict[str, Any], endpoint: Endpoint, policy_namespace: str) -> bool:
    if "ipBlock" in peer:
        if not endpoint.ip:
            return False
        address = ipaddress.ip_address(endpoint.ip)
        block = peer["ipBlock"]
        inside = address in ipaddress.ip_network(block["cidr"])
        return inside and not any(
            address in ipaddress.ip_network(cidr) for cidr in block.get("except", [])
        )
    if endpoint.ip:
        return False
    if "namespaceSelector" in peer:
        namespace_labels = {"kubernetes.io/metadata.name": endpoint.namespace}
        if not _selects(peer["namespaceSelector"], namespace_labels):
            return False
    elif endpoint.namespace != policy_namespace:
        return False
    return _selects(peer.get("podSelector", {}), endpoint.labels)


def _port_matches(ports: list[dict[str, Any]] | None, port: int, protocol: str) -> bool:
    if not ports:
        return True
    return any(p.get("protocol", "TCP") == protocol and p["port"] == port for p in ports)


def _allowed_by(
    policies: list[dict[str, Any]],
    subject: Endpoint,
    peer: Endpoint,
    port: int,
    protocol: str,
    direction: str,
) -> bool:
    """Whether the policies of ``subject``'s namespace let ``peer`` through in ``direction``
    ("Ingress" or "Egress"). A pod no policy of that direction selects is not isolated."""
    rules_key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    selecting = [
        p
        for p in policies
        if p["metadata"]["namespace"] == subject.namespace
        and direction in p["spec"]["policyTypes"]
        and _selects(p["spec"]["podSelector"], subject.labels)
    ]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get(rules_key) or []:
            peers = rule.get(peers_key)
            namespace = policy["metadata"]["namespace"]
            if (not peers or any(_peer_matches(x, peer, namespace) for x in peers)) and (
                _port_matches(rule.get("ports"), port, protocol)
            ):
                return True
    return False


def allowed(
    policies: list[dict[str, Any]],
    source: Endpoint,
    destination: Endpoint,
    port: int,
    protocol: str = "TCP",
) -> bool:
    """Whether ``source`` may open a connection to ``destination``:``port``. Only this
    namespace's policies are known; the other side of a foreign peer is taken as open."""
    namespace = policies[0]["metadata"]["namespace"]
    egress = source.namespace != namespace or _allowed_by(
        policies, source, destination, port, protocol, "Egress"
    )
    ingress = destination.namespace != namespace or _allowed_by(
        policies, destination, source, port, protocol, "Ingress"
    )
    return egress and ingress


def endpoints(overlay: str) -> dict[str, Endpoint]:
    """The idmesh pods as rendered, and the peers around them in a typical cluster."""
    docs = rendered(overlay)
    namespace = deployment(docs, "gateway")["metadata"]["namespace"]
    points = {
        service: Endpoint(
            namespace, dict(deployment(docs, service)["spec"]["template"]["metadata"]["labels"])
        )
        for service in SERVICES
    }
    points["ingress-controller"] = Endpoint(
        "ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"}
    )
    points["platform-service"] = Endpoint("platform", {"app.kubernetes.io/name": "billing"})
    points["other-namespace"] = Endpoint("someone-else", {"app.kubernetes.io/name": "x"})
    points["stray-pod-in-namespace"] = Endpoint(namespace, {"app.kubernetes.io/name": "debug"})
    points["kube-dns"] = Endpoint("kube-system", {"k8s-app": "kube-dns"})
    points["otel-collector"] = Endpoint(
        "observability", {"app.kubernetes.io/name": "otel-collector"}
    )
    points["identity-provider"] = Endpoint(ip="203.0.113.10")
    points["private-address"] = Endpoint(ip="10.1.2.3")
    if overlay == "prod":
        points["postgresql"] = Endpoint(ip="192.0.2.10")
    else:
        points["postgresql"] = Endpoint("databases", {"app.kubernetes.io/name": "postgresql"})
    return points


def expected_connections() -> set[tuple[str, str, int, str]]:
    """The architecture's connections (docs/deployment.md, "Network")."""
    expected = {
        ("ingress-controller", "gateway", 8080, "TCP"),
        ("gateway", "directory", 50051, "TCP"),
        ("gateway", "auth", 50052, "TCP"),
        ("gateway", "scim", 50053, "TCP"),
        ("scim", "directory", 50051, "TCP"),
        ("auth", "directory", 50051, "TCP"),
        ("platform-service", "directory", 50051, "TCP"),
        ("directory", "postgresql", 5432, "TCP"),
        ("auth", "postgresql", 5432, "TCP"),
        ("auth", "identity-provider", 443, "TCP"),
    }
    for service in SERVICES:
        expected |= {
            (service, "kube-dns", 53, "UDP"),
            (service, "kube-dns", 53, "TCP"),
            (service, "otel-collector", 4317, "TCP"),
        }
    return expected


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_allow_exactly_the_connections_of_the_architecture(overlay: str) -> None:
    """Issue 7: default deny; only the gateway is reachable from the ingress controller; the
    directory accepts the gateway, scim, auth and the platform's namespace; auth and scim accept
    the gateway; egress to DNS, PostgreSQL (storing services only), the OTel Collector, and
    HTTPS to identity providers (auth only). Every other pair, on every port that matters, is
    denied."""
    policies = objects(rendered(overlay), "NetworkPolicy")
    points = endpoints(overlay)
    targets = {
        **{service: [(port, "TCP")] for service, port in PORTS.items()},
        "postgresql": [(5432, "TCP")],
        "kube-dns": [(53, "UDP"), (53, "TCP")],
        "otel-collector": [(4317, "TCP")],
        "identity-provider": [(443, "TCP"), (80, "TCP")],
        "private-address": [(443, "TCP")],
    }
    actual = {
        (source, target, port, protocol)
        for source in points
        for target, ports in targets.items()
        for port, protocol in ports
        if source != target
        # Only what idmesh's policies govern: traffic that starts or ends in its namespace.
        and idmesh_side(points[source], points[target], policies)
        and allowed(policies, points[source], points[target], port, protocol)
    }
    expected = expected_connections()
    assert actual == expected, (
        f"allowed but not in the architecture: {sorted(actual - expected)}; "
        f"in the architecture but denied: {sorted(expected - actual)}"
    )


def idmesh_side(source: Endpoint, target: Endpoint, policies: list[dict[str, Any]]) -> bool:
    namespace = policies[0]["metadata"]["namespace"]
    return namespace in (source.namespace, target.namespace)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_default_deny_policy_isolates_every_pod_both_ways(overlay: str) -> None:
    """Issue 7: default deny, ingress and egress, for every pod of the namespace."""
    policies = objects(rendered(overlay), "NetworkPolicy")
    deny = [p for p in policies if p["spec"]["podSelector"] == {}]
    assert any(
        set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
        for p in deny
    )
