"""The CLI's configuration: the mesh's environment variables (meshkit.config)."""

from __future__ import annotations

from dataclasses import dataclass

from meshkit.config import setting


@dataclass(frozen=True)
class PeersConfig:
    """Where the services are; the same variables and defaults as the rest of the mesh."""

    directory_addr: str = setting(
        "DIRECTORY_ADDR", default="127.0.0.1:50051", description="directory gRPC address"
    )
    auth_addr: str = setting("AUTH_ADDR", default="127.0.0.1:50052", description="auth address")


@dataclass(frozen=True)
class DatabaseConfig:
    """For ``idmesh migrate`` only."""

    database_url: str = setting(
        "DATABASE_URL",
        secret=True,
        description="PostgreSQL URL, e.g. postgresql://postgres@127.0.0.1:5432/idmesh",
    )
