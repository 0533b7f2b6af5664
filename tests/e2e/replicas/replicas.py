"""Two replicas of every service on one database, started the way Kubernetes runs them: each a
launcher of its own (infra.dev.mesh.Mesh, so every process starts exactly as in `make run`) on
ports of its own, every gRPC client reaching both replicas of a peer through one multi-address
target balanced round robin (``ipv4:127.0.0.1:P1,127.0.0.1:P2``, the form grpc resolves
without DNS; in Kubernetes it is ``dns:///`` a headless Service), and both gateways behind one
public URL, a loopback balancer (tests/support/balancer.py) standing for the Service in front
of the gateway's pods.

    replicas = Replicas(database_url, log_dir, env=..., service_env=...)
    await replicas.start()
    replicas.gateway_url       # the public URL: each new connection to the next gateway
    replicas.gateways[1]       # one gateway replica, for a test that must choose
    replicas.address("auth")   # both auth replicas, as the gateways reach them
    replicas.meshes[0].address("auth")   # the first auth replica alone
    await replicas.stop()
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

from infra.dev.mesh import SERVICES, Mesh, MeshError, free_port
from meshkit.ports import EXIT_PORT_TAKEN
from meshkit.secretbox import new_key
from tests.e2e.harness import START_TIMEOUT
from tests.support.balancer import RoundRobinBalancer

COUNT = 2
# The gRPC peers whose address every process is given.
_PEER_VARIABLES = {"directory": "DIRECTORY_ADDR", "auth": "AUTH_ADDR", "scim": "SCIM_ADDR"}
# Starts tried when another process takes one of the chosen ports before its service binds it.
_ATTEMPTS = 3


def instance(index: int) -> str:
    """The ``service.instance.id`` of the spans of replica ``index`` (0, 1)."""
    return f"replica-{index + 1}"


class Replicas:
    """``COUNT`` launchers of the whole mesh sharing ``database_url``; ``env`` applies to every
    process, ``service_env`` to every replica of a service."""

    def __init__(
        self,
        database_url: str,
        log_dir: Path,
        *,
        env: Mapping[str, str] | None = None,
        service_env: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self.database_url = database_url
        self.log_dir = log_dir
        self.env = dict(env or {})
        self.service_env = {
            service: dict(values) for service, values in (service_env or {}).items()
        }
        self.balancer = RoundRobinBalancer()
        self.meshes: list[Mesh] = []
        # One IDMESH_ENCRYPTION_KEY for every replica's storing services, as one Kubernetes
        # Secret gives them: what one replica seals, the other opens.
        self.encryption_key = new_key()

    # -- what clients use (tests.e2e.tenants.MeshAccess) --------------------------------------

    @property
    def gateway_url(self) -> str:
        """The public URL: the balancer in front of every gateway replica."""
        return self.balancer.url

    @property
    def gateways(self) -> list[str]:
        """Each gateway replica's own URL."""
        return [mesh.gateway_url for mesh in self.meshes]

    def address(self, service: str) -> str:
        """The gRPC target of every replica of ``service``."""
        return "ipv4:" + ",".join(mesh.address(service) for mesh in self.meshes)

    def client_env(self) -> dict[str, str]:
        """What the ``idmesh`` CLI needs to manage these replicas, peers as the gateways see
        them."""
        return {
            "DATABASE_URL": self.database_url,
            **{variable: self.address(peer) for peer, variable in _PEER_VARIABLES.items()},
            "GATEWAY_URL": self.gateway_url,
        }

    # -- life cycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Starts the balancer, then every replica at once; returns when each is ready (every
        gRPC service SERVING, each gateway's /readyz 200). Ports are chosen first, because
        every process is given the addresses of all replicas of its peers."""
        await self.balancer.start()
        for attempt in range(1, _ATTEMPTS + 1):
            self.meshes = self._launchers(self._ports())
            try:
                # A TaskGroup: when one replica fails to start, the other's start is cancelled
                # (and stops what it started) instead of running on.
                async with asyncio.TaskGroup() as group:
                    for mesh in self.meshes:
                        group.create_task(mesh.start(timeout=START_TIMEOUT))
            except BaseExceptionGroup as failed:
                await self._stop_meshes()
                error = _first(failed)
                if not _port_taken(error) or attempt == _ATTEMPTS:
                    await self.balancer.stop()
                    raise error from None
                continue
            except BaseException:
                await self.stop()
                raise
            self.balancer.backends = [(mesh.host, mesh.ports["gateway"]) for mesh in self.meshes]
            return

    async def stop(self) -> None:
        await self.balancer.stop()
        await self._stop_meshes()

    async def _stop_meshes(self) -> None:
        await asyncio.gather(*(mesh.stop() for mesh in self.meshes))

    def _ports(self) -> list[dict[str, int]]:
        """A distinct free port for every service of every replica."""
        taken: set[int] = {self.balancer.port}
        chosen = []
        for _ in range(COUNT):
            ports = {}
            for service in SERVICES:
                while (port := free_port()) in taken:
                    pass
                taken.add(port)
                ports[service] = port
            chosen.append(ports)
        return chosen

    def _launchers(self, ports: list[dict[str, int]]) -> list[Mesh]:
        """One launcher per replica on ``ports`` (fixed: a port taken meanwhile fails the start
        instead of moving one replica where its peers would not look)."""
        peers = {
            variable: "ipv4:" + ",".join(f"127.0.0.1:{each[peer]}" for each in ports)
            for peer, variable in _PEER_VARIABLES.items()
        }
        gateway_env = {**self.service_env.get("gateway", {}), "PUBLIC_URL": self.gateway_url}
        return [
            Mesh(
                self.database_url,
                ports=replica_ports,
                # Spans say which replica made them, as a pod's name does in Kubernetes.
                env_overrides={
                    **self.env,
                    **peers,
                    "OTEL_RESOURCE_ATTRIBUTES": f"service.instance.id={instance(index)}",
                },
                service_env={**self.service_env, "gateway": gateway_env},
                log_dir=self.log_dir / f"replica{index + 1}",
                encryption_key=self.encryption_key,
            )
            for index, replica_ports in enumerate(ports)
        ]


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


def _port_taken(error: BaseException) -> bool:
    """Whether another process took one of the chosen ports (worth another try elsewhere)."""
    return isinstance(error, MeshError) and (
        error.code == EXIT_PORT_TAKEN or "already in use" in str(error)
    )
