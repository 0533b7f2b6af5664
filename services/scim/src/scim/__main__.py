"""``python -m scim`` (console script idmesh-scim): the SCIM 2.0 protocol service."""

from __future__ import annotations

from meshkit.channels import connect
from meshkit.config import load_config
from meshkit.service import run_service
from scim.app import build_server
from scim.config import ScimConfig
from scim.directory import Directory
from scim.provisioning_log import ProvisioningLog


async def serve() -> None:
    """Serves ScimService on HOST:PORT until SIGTERM or SIGINT; the directory is reached at
    DIRECTORY_ADDR. On shutdown the server drains first, then the provisioning log writes what
    it still holds, then the directory channel closes."""
    config = load_config(ScimConfig)
    channel = connect(config.directory_addr, timeout=config.directory_timeout)
    try:
        directory = Directory.on(channel, account_cache_ttl=config.account_cache_ttl)
        log = ProvisioningLog(
            directory.record_provisioning_events,
            capacity=config.provisioning_log_capacity,
            batch_size=config.provisioning_log_batch,
            interval=config.provisioning_log_interval,
        )
        log.start()
        try:
            server = build_server(directory, host=config.host, port=config.port, log=log)
            await server.start()
            await server.serve_until_signal()
        finally:
            await log.close()
    finally:
        await channel.close()


def main() -> None:
    run_service("scim", serve, config=lambda: load_config(ScimConfig))


if __name__ == "__main__":
    main()
