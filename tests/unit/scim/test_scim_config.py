"""scim.config: the service's environment (meshkit.config)."""

from __future__ import annotations

import pytest

from meshkit.config import ConfigError, load_config
from scim.config import ScimConfig


def test_defaults_serve_on_50053_and_reach_the_directory_on_50051() -> None:
    """Issue: HOST/PORT default 127.0.0.1:50053, DIRECTORY_ADDR default 127.0.0.1:50051."""
    config = load_config(ScimConfig, {})
    assert (config.host, config.port, config.directory_addr) == (
        "127.0.0.1",
        50053,
        "127.0.0.1:50051",
    )
    assert config.account_cache_ttl == 5.0


def test_every_invalid_variable_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(
            ScimConfig,
            {
                "PORT": "x",
                "ACCOUNT_CACHE_TTL": "5m",
                "PROVISIONING_LOG_BATCH": "0",
                "DIRECTORY_TIMEOUT": "0",
            },
        )
    assert len(caught.value.problems) == 4


def test_the_provisioning_log_flushes_100_events_or_every_200_ms_by_default() -> None:
    """Issue 3: a bounded queue flushed every ~200 ms or 100 events."""
    config = load_config(ScimConfig, {})
    assert (config.provisioning_log_batch, config.provisioning_log_interval) == (100, 0.2)
    assert config.provisioning_log_capacity == 10_000


def test_the_group_patch_answer_is_no_longer_a_process_setting() -> None:
    """Issue 3: the answer to a Group PATCH is the account's setting
    (AccountSettings.scim_group_patch_returns_resource), not an environment variable."""
    assert not any("patch" in name for name in vars(load_config(ScimConfig, {})))
