"""The offline validation of the deployment (infra/check.py, `make deploy-check`) passes, and it
has teeth: a missing tool and an invalid manifest fail it, they are never skipped."""

from __future__ import annotations

import pytest

from infra.check import (
    CHECKS,
    KUBERNETES_VERSIONS,
    Check,
    CheckFailed,
    ToolMissing,
    find_tool,
    validate_manifests,
)


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.name)
def test_the_deployment_passes_each_offline_check(check: Check) -> None:
    """Issue 7: every overlay renders with kustomize and is valid for the strict Kubernetes
    schemas, all YAML passes yamllint, the Dockerfile passes hadolint, and docker-compose accepts
    the compose file."""
    try:
        check.run()
    except CheckFailed as error:
        pytest.fail(f"{check.name}: {error}")


def test_a_missing_tool_fails_with_how_to_install_it() -> None:
    """Issue 7 ("skipping nothing silently"): a tool that is not installed is a failure whose
    message says where it comes from."""
    with pytest.raises(ToolMissing, match="not installed"):
        find_tool("idmesh-no-such-tool")


def test_every_tool_comes_from_the_project_setup() -> None:
    """Issue 7: kubectl (kustomize), kubernetes-validate, yamllint and hadolint are dev
    dependencies in the project's environment, and docker-compose is on PATH (apt)."""
    for name in ("kubectl", "kubernetes-validate", "yamllint", "hadolint", "docker-compose"):
        assert find_tool(name).is_file()


def test_strict_validation_rejects_an_unknown_field() -> None:
    """Issue 7 (kubernetes-validate --strict): a misspelt field, which the API server would
    silently drop, fails the check."""
    misspelt = """\
apiVersion: v1
kind: Service
metadata:
  name: directory
spec:
  clusterIp: None
  ports:
    - port: 50051
"""
    with pytest.raises(CheckFailed, match="clusterIp"):
        validate_manifests({"misspelt": misspelt}, KUBERNETES_VERSIONS[:1])
