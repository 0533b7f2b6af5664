"""IDMESH_ENCRYPTION_KEY in directory and its deliverer (docs/events.md, "Secrets at rest"):
required by both, in auth's format; one key from the launcher for every service that stores
sealed secrets; a webhook secret's ciphertext bound to its purpose and endpoint."""

from __future__ import annotations

import uuid

import pytest

from auth.sso.connection_store import secret_associated_data
from directory.config import DirectoryConfig
from directory.webhooks.config import DelivererConfig
from directory.webhooks.secrets import associated_data, seal
from infra.dev.mesh import Mesh
from meshkit.config import ConfigError, load_config
from meshkit.secretbox import SecretBox, SecretBoxError, key_id, new_key, parse_key

CONFIGS = [DirectoryConfig, DelivererConfig]


@pytest.mark.parametrize("config", CONFIGS)
def test_without_the_key_the_configuration_error_names_it_and_what_it_is_for(
    config: type[DirectoryConfig | DelivererConfig],
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(config, {"DATABASE_URL": "postgresql://x/y"})
    (problem,) = raised.value.problems
    assert problem.startswith("IDMESH_ENCRYPTION_KEY is required (32 bytes in base64url")
    assert "webhook signing secrets" in problem


@pytest.mark.parametrize("config", CONFIGS)
def test_the_key_and_the_previous_keys_make_the_box_that_opens_what_either_sealed(
    config: type[DirectoryConfig | DelivererConfig],
) -> None:
    """Auth's format and rotation: the current key seals, the previous ones still open."""
    current, previous = new_key(), new_key()
    loaded = load_config(
        config,
        {
            "DATABASE_URL": "postgresql://x/y",
            "IDMESH_ENCRYPTION_KEY": current,
            "IDMESH_ENCRYPTION_PREVIOUS_KEYS": previous,
        },
    )
    box = loaded.secretbox()
    assert box.current_key_id == key_id(parse_key(current))
    row = associated_data(uuid.uuid4(), uuid.uuid4())
    assert box.open(SecretBox(parse_key(previous)).seal("whsec_x", row), row) == "whsec_x"
    assert current not in repr(loaded)


def test_a_webhook_secret_opens_for_its_endpoint_only_and_never_as_another_kind_of_secret() -> None:
    """Bound to purpose, account and endpoint: the same ids as a connection's client secret, or
    another endpoint or account, do not open it."""
    box = SecretBox(parse_key(new_key()))
    account, endpoint = uuid.uuid4(), uuid.uuid4()
    sealed = seal(box, account, endpoint, "whsec_c2VjcmV0")
    assert box.open(sealed, associated_data(account, endpoint)) == "whsec_c2VjcmV0"
    for elsewhere in (
        associated_data(account, uuid.uuid4()),
        associated_data(uuid.uuid4(), endpoint),
        associated_data(endpoint, account),
        secret_associated_data(endpoint, account),
    ):
        with pytest.raises(SecretBoxError):
            box.open(sealed, elsewhere)


def test_the_launcher_gives_one_key_to_the_storing_services_and_none_to_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """make run and the end-to-end meshes: directory, its deliverer and auth share the mesh's
    key (one the caller's environment cannot replace by accident); scim and gateway, which
    store nothing, never get it."""
    monkeypatch.setenv("IDMESH_ENCRYPTION_KEY", "inherited-from-the-shell")
    key = new_key()
    mesh = Mesh("postgresql://127.0.0.1/idmesh", encryption_key=key)
    for service in ("directory", "deliverer", "auth"):
        assert mesh.environment(service)["IDMESH_ENCRYPTION_KEY"] == key
    for service in ("scim", "gateway"):
        assert "IDMESH_ENCRYPTION_KEY" not in mesh.environment(service)
    fresh = Mesh("postgresql://127.0.0.1/idmesh")
    keys = {fresh.environment(s)["IDMESH_ENCRYPTION_KEY"] for s in ("directory", "deliverer")}
    (generated,) = keys
    assert parse_key(generated)
    assert generated != key
