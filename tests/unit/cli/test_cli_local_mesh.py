"""idmesh_cli.local_mesh: the CLI finds the addresses `make run` bound (mesh.json in its data
folder), so the commands it prints work as typed and the URLs `connection add-oidc|add-saml`
print name the gateway wherever it runs."""

from __future__ import annotations

from pathlib import Path

from idmesh_cli.connections import redirect_uri
from idmesh_cli.local_mesh import with_local_mesh, write_state
from idmesh_cli.output import Output
from idmesh_cli.runtime import Runtime

ADDRESSES = {"directory": "127.0.0.1:41001", "auth": "127.0.0.1:41002", "scim": "127.0.0.1:41003"}
PUBLIC_URL = "http://127.0.0.1:41004"


def test_the_addresses_come_from_the_data_folder_of_the_checkout_or_a_parent(
    tmp_path: Path,
) -> None:
    """From the checkout or any folder below it (`uv run` works from subfolders too)."""
    (tmp_path / ".data").mkdir()
    write_state(tmp_path / ".data", ADDRESSES, PUBLIC_URL)
    below = tmp_path / "services" / "scim"
    below.mkdir(parents=True)
    found = with_local_mesh({"HOME": "/root"}, cwd=below)
    assert found["DIRECTORY_ADDR"] == "127.0.0.1:41001"
    assert found["AUTH_ADDR"] == "127.0.0.1:41002"
    assert found["PUBLIC_URL"] == PUBLIC_URL
    assert found["HOME"] == "/root"


def test_idmesh_data_dir_names_the_folder(tmp_path: Path) -> None:
    write_state(tmp_path, ADDRESSES, PUBLIC_URL)
    found = with_local_mesh({"IDMESH_DATA_DIR": str(tmp_path)}, cwd=Path("/"))
    assert found["SCIM_ADDR"] == "127.0.0.1:41003"


def test_an_environment_that_names_a_mesh_is_used_as_it_is(tmp_path: Path) -> None:
    """Never a mix: DIRECTORY_ADDR from the shell and PUBLIC_URL from the file could name two
    different meshes."""
    write_state(tmp_path, ADDRESSES, PUBLIC_URL)
    environ = {"IDMESH_DATA_DIR": str(tmp_path), "GATEWAY_URL": "https://idmesh.example"}
    assert with_local_mesh(environ) == environ


def test_without_a_running_make_run_nothing_is_added(tmp_path: Path) -> None:
    assert with_local_mesh({}, cwd=tmp_path) == {}


def test_the_redirect_uri_names_the_gateway_make_run_bound(tmp_path: Path) -> None:
    """Port 8080 was printed and stored even when the gateway listened elsewhere."""
    write_state(tmp_path, ADDRESSES, PUBLIC_URL)
    runtime = Runtime(Output(False), {"IDMESH_DATA_DIR": str(tmp_path)})
    assert redirect_uri(runtime, "c1") == f"{PUBLIC_URL}/sso/oidc/c1/callback"
    assert runtime.config.directory_addr == "127.0.0.1:41001"
