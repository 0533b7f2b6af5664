"""gateway.config: the mesh's environment variables and their defaults."""

from __future__ import annotations

import pytest

from gateway.config import load_gateway_config
from meshkit.config import ConfigError


def test_defaults_follow_the_mesh_conventions() -> None:
    """Mesh conventions: HOST 127.0.0.1, PORT 8080, peers on 50051-50053."""
    config = load_gateway_config({})
    assert (config.host, config.port) == ("127.0.0.1", 8080)
    assert (config.directory_addr, config.auth_addr, config.scim_addr) == (
        "127.0.0.1:50051",
        "127.0.0.1:50052",
        "127.0.0.1:50053",
    )
    assert config.public_url == "http://127.0.0.1:8080"


def test_public_url_defaults_to_the_port_in_use() -> None:
    """PUBLIC_URL defaults to http://127.0.0.1:<PORT>."""
    assert load_gateway_config({"PORT": "9000"}).public_url == "http://127.0.0.1:9000"


def test_public_url_loses_its_trailing_slash() -> None:
    """Paths are appended to it: https://id.example.com/ + /scim/v2 must not double the slash."""
    config = load_gateway_config({"PUBLIC_URL": "https://id.example.com/"})
    assert config.public_url == "https://id.example.com"


def test_every_invalid_variable_is_reported_at_once() -> None:
    """meshkit.config: every problem at once, so an operator fixes them in one go."""
    with pytest.raises(ConfigError) as caught:
        load_gateway_config({"PORT": "99999", "PUBLIC_URL": "id.example.com"})
    assert [problem.split(" ")[0] for problem in caught.value.problems] == ["PORT", "PUBLIC_URL"]
