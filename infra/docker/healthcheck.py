"""The container HEALTHCHECK of the service images: exit 0 when the service in this container
can serve, 1 otherwise.

docker and compose run it (compose orders start-up on it); Kubernetes ignores it and probes the
same endpoints natively. The service is IDMESH_SERVICE (set at build time), its port PORT:
- gateway: GET /readyz answers 200 (every peer SERVING);
- directory, auth, scim: the standard grpc.health.v1 Health service reports SERVING.

Only the standard library and grpc (which every service image has) are used, and no project
module is imported, so the check keeps working whatever the service's own code does at import.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from typing import Any

DEFAULT_PORTS = {"directory": 50051, "auth": 50052, "scim": 50053, "gateway": 8080}
TIMEOUT_SECONDS = 2.0


def gateway_ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/readyz", timeout=TIMEOUT_SECONDS
        ) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def grpc_serving(port: int) -> bool:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        # Any as in meshkit.channels: the stubs' typing of HealthStub lacks its methods.
        stub: Any = health_pb2_grpc.HealthStub(channel)
        try:
            response = stub.Check(health_pb2.HealthCheckRequest(), timeout=TIMEOUT_SECONDS)
        except grpc.RpcError:
            return False
    return bool(response.status == health_pb2.HealthCheckResponse.SERVING)


def main() -> int:
    service = os.environ.get("IDMESH_SERVICE", "")
    if service not in DEFAULT_PORTS:
        print(f"healthcheck: unknown IDMESH_SERVICE {service!r}", file=sys.stderr)
        return 1
    port = int(os.environ.get("PORT") or DEFAULT_PORTS[service])
    healthy = gateway_ready(port) if service == "gateway" else grpc_serving(port)
    if not healthy:
        print(f"healthcheck: {service} on port {port} is not serving", file=sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
