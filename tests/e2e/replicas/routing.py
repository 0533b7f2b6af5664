"""Choosing the gateway replica a request goes to, where a test must: the browser's URL names
the public URL (the balancer), and ``via`` sends it to one replica instead, as a load balancer
might. Cookies follow, as they do in a browser: they are scoped to the host, not the port."""

from __future__ import annotations

from tests.e2e.replicas.replicas import Replicas


def via(replicas: Replicas, replica: int, url: str) -> str:
    """``url`` (under the public URL, or a path) sent to gateway replica ``replica`` (0 or 1)."""
    if url.startswith("/"):
        return replicas.gateways[replica] + url
    assert url.startswith(replicas.gateway_url + "/"), f"{url} is not under the public URL"
    return replicas.gateways[replica] + url[len(replicas.gateway_url) :]
