"""scim.discovery: the discovery documents tell the truth (RFC 7644 §4, RFC 7643 §5–§7)."""

from __future__ import annotations

import json

from scim.discovery import MAX_PAYLOAD_BYTES, MAX_RESULTS, rendered
from scim.schemas import (
    ENTERPRISE_USER_SCHEMA,
    GROUP_SCHEMA,
    LIST_RESPONSE_SCHEMA,
    SCHEMAS,
    USER_SCHEMA,
)

BASE = "https://idmesh.example/scim/v2"


def load(what: str, key: str = "") -> dict:  # type: ignore[type-arg]
    body = rendered(BASE, what, key)
    assert body is not None
    return json.loads(body)  # type: ignore[no-any-return]


def test_service_provider_config_has_every_field_oktas_spec_test_reads() -> None:
    """docs/scim-clients.md §5: patch, bulk, filter.maxResults, changePassword, sort, etag,
    authenticationSchemes[0].{type,description}; and the truth: bulk and changePassword no."""
    spc = load("spc")
    assert spc["patch"] == {"supported": True}
    assert spc["bulk"] == {
        "supported": False,
        "maxOperations": 0,
        "maxPayloadSize": MAX_PAYLOAD_BYTES,
    }
    assert spc["filter"] == {"supported": True, "maxResults": MAX_RESULTS}
    assert spc["changePassword"] == {"supported": False}
    assert spc["sort"] == {"supported": True}
    assert spc["etag"] == {"supported": True}
    scheme = spc["authenticationSchemes"][0]
    assert scheme["type"] == "oauthbearertoken"
    assert scheme["description"]
    assert spc["meta"]["location"] == f"{BASE}/ServiceProviderConfig"


def test_resource_types_list_users_and_groups_with_the_enterprise_extension() -> None:
    """Okta SPEC test: Resources[0].name/endpoint/schema (docs/scim-clients.md §5)."""
    listed = load("resource_types")
    assert listed["schemas"] == [LIST_RESPONSE_SCHEMA]
    assert listed["totalResults"] == 2
    user, group = listed["Resources"]
    assert (user["name"], user["endpoint"], user["schema"]) == ("User", "/Users", USER_SCHEMA)
    assert user["schemaExtensions"] == [{"schema": ENTERPRISE_USER_SCHEMA, "required": False}]
    assert (group["name"], group["endpoint"], group["schema"]) == ("Group", "/Groups", GROUP_SCHEMA)
    assert load("resource_type", "Group") == group
    assert rendered(BASE, "resource_type", "Nope") is None


def test_schemas_describe_the_served_attributes_but_not_the_common_ones() -> None:
    """RFC 7643 §7 and §8.7.1: id, externalId and meta are common attributes, not listed."""
    listed = load("schemas")
    assert [s["id"] for s in listed["Resources"]] == [s.id for s in SCHEMAS]
    user = load("schema", USER_SCHEMA)
    names = [a["name"] for a in user["attributes"]]
    assert "userName" in names
    assert "id" not in names
    assert "meta" not in names
    user_name = next(a for a in user["attributes"] if a["name"] == "userName")
    assert user_name == {
        "name": "userName",
        "type": "string",
        "multiValued": False,
        "description": user_name["description"],
        "required": True,
        "caseExact": False,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "server",
    }
    password = next(a for a in user["attributes"] if a["name"] == "password")
    assert (password["mutability"], password["returned"]) == ("writeOnly", "never")
    emails = next(a for a in user["attributes"] if a["name"] == "emails")
    assert [s["name"] for s in emails["subAttributes"]] == ["value", "display", "type", "primary"]
    group = load("schema", GROUP_SCHEMA)
    members = next(a for a in group["attributes"] if a["name"] == "members")
    assert members["multiValued"] is True
    assert {s["name"] for s in members["subAttributes"]} == {"value", "$ref", "type"}
    enterprise = load("schema", ENTERPRISE_USER_SCHEMA)
    manager = next(a for a in enterprise["attributes"] if a["name"] == "manager")
    assert manager["type"] == "complex"
    assert rendered(BASE, "schema", "urn:nope") is None


def test_documents_are_cached_per_base_url() -> None:
    """Okta wants discovery under 400 ms: built once, served from memory."""
    assert rendered(BASE, "spc") is rendered(BASE, "spc")


def _user_attribute(document: dict, name: str) -> dict:  # type: ignore[type-arg]
    return next(a for a in document["attributes"] if a["name"] == name)


def test_the_accounts_role_names_are_the_canonical_values_of_roles_and_user_type() -> None:
    """/Schemas tells the truth: `roles` and `userType` accept only the account's role names
    (policy.py), and roles keeps only its value, so only `value` is listed (what Entra adds,
    display/type/primary, is accepted and not stored)."""
    body = rendered(BASE, "schema", USER_SCHEMA, ("Account Admin", "Account Member"))
    assert body is not None
    user = json.loads(body)
    roles = _user_attribute(user, "roles")
    assert [s["name"] for s in roles["subAttributes"]] == ["value"]
    assert roles["subAttributes"][0]["canonicalValues"] == ["Account Admin", "Account Member"]
    assert _user_attribute(user, "userType")["canonicalValues"] == [
        "Account Admin",
        "Account Member",
    ]
    without_roles = load("schema", USER_SCHEMA)
    assert "canonicalValues" not in _user_attribute(without_roles, "userType")


def test_timezone_lists_the_iana_zone_names_it_accepts() -> None:
    """RFC 7643 §4.1.1: an IANA time zone name; nothing else is stored (directory.validate)."""
    zones = _user_attribute(load("schema", USER_SCHEMA), "timezone")["canonicalValues"]
    assert "Europe/Berlin" in zones
    assert "Europe/berlin" not in zones
    assert len(zones) > 300


def test_documents_are_cached_per_base_url_and_role_names() -> None:
    roles = ("Account Admin", "Auditor")
    assert rendered(BASE, "schemas", "", roles) is rendered(BASE, "schemas", "", roles)
    assert rendered(BASE, "schemas", "", roles) != rendered(BASE, "schemas", "", ())
