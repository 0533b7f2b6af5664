"""``idmesh connection add-saml`` against the real auth and directory (issue 5: "idmesh
connection add-saml --account A --metadata FILE|URL ...")."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.idps.saml.metadata import idp_metadata
from tests.integration.sso.harness import verify_domain
from tests.integration.sso.test_saml_through_the_gateway import IDP, IDP_KEYS, NEXT_KEYS
from tests.integration.sso.test_sso_cli import Idmesh, idmesh  # noqa: F401 - the fixture
from tests.support.directory import Stub, new_account

pytestmark = pytest.mark.integration


async def test_add_saml_imports_idp_metadata_from_a_file_and_prints_what_to_register(
    idmesh: Idmesh,  # noqa: F811
    directory: Stub,
    gateway_url: str,
    tmp_path: Path,
) -> None:
    """The IdP admin needs the ACS URL, the SP entity id and the SLO URL; both certificates are
    pinned."""
    account = await new_account(directory)
    domain = f"cli{uuid.uuid4().hex[:8]}.test"
    await verify_domain(directory, account.id, domain)
    metadata = tmp_path / "okta-metadata.xml"
    metadata.write_text(idp_metadata(IDP, IDP_KEYS, NEXT_KEYS))
    code, out, err = await idmesh(
        "connection", "add-saml", "--account", account.name, "--metadata", str(metadata),
        "--vendor", "okta", "--domain", domain, "--allow-idp-initiated", "--clock-skew", "200",
    )  # fmt: skip
    assert code == 0, err
    assert f"{gateway_url}/sso/saml/" in out
    assert "/acs" in out
    # The Single Logout URL to register, and a note that this IdP has none (no SLO service in
    # its metadata): sign-out then ends idmesh's session only.
    assert out.split("Single Logout URL (SLO): ")[1].split()[0].endswith("/slo")
    assert "names no SingleLogoutService" in err
    code, out, err = await idmesh("connection", "list", "--account", account.name, "--json")
    assert code == 0, err
    [listed] = json.loads(out)
    assert listed["saml"]["idp_entity_id"] == IDP
    assert len(listed["saml"]["certificates"]) == 2
    assert listed["saml"]["allow_idp_initiated"] is True
    assert listed["saml"]["clock_skew_seconds"] == 200


async def test_add_saml_refuses_a_skew_above_300_seconds_and_missing_idp_details(
    idmesh: Idmesh,  # noqa: F811
    directory: Stub,
    tmp_path: Path,
) -> None:
    """Issue 5: clock skew at most 300 s; without metadata the IdP fields are required."""
    account = await new_account(directory)
    metadata = tmp_path / "idp.xml"
    metadata.write_text(idp_metadata(IDP, IDP_KEYS))
    code, _, err = await idmesh(
        "connection", "add-saml", "--account", account.name, "--metadata", str(metadata),
        "--clock-skew", "301",
    )  # fmt: skip
    assert code != 0
    assert "clock" in err
    code, _, err = await idmesh("connection", "add-saml", "--account", account.name)
    assert code != 0
    assert "--metadata" in err
