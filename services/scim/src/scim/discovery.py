"""Discovery documents (RFC 7644 §4, RFC 7643 §5–§7): /ServiceProviderConfig, /ResourceTypes and
/Schemas, built from the schema table so they tell the truth: PATCH yes, bulk no, filter yes
(with ``maxResults``), changePassword no, sort yes, ETag yes, OAuth bearer tokens.

Documents depend on the base URL (for ``meta.location``) and, for the User schema, on the
account's role names (the canonicalValues of ``roles.value`` and ``userType``: the only values
those accept), so they are built once per base URL and role set and served from memory (Okta's
SPEC test wants discovery under 400 ms).
"""

from __future__ import annotations

import functools
import json
from typing import Any, Final

from scim.schemas import (
    LIST_RESPONSE_SCHEMA,
    RESOURCE_TYPE_SCHEMA,
    RESOURCE_TYPES,
    SCHEMA_SCHEMA,
    SCHEMAS,
    SERVICE_PROVIDER_CONFIG_SCHEMA,
    Attribute,
    ResourceType,
    Schema,
)

Json = Any

# The most resources one list page returns (and the default page size): scim2-server's default,
# above Okta's pages of 100 (docs/scim-clients.md §6).
MAX_RESULTS: Final = 1000
# The largest request body accepted, 1 MiB: room for an Entra PATCH adding hundreds of members.
MAX_PAYLOAD_BYTES: Final = 1024 * 1024
DOCUMENTATION_URI: Final = "https://www.rfc-editor.org/rfc/rfc7644"


def _attribute_document(attribute: Attribute, roles: tuple[str, ...]) -> dict[str, Json]:
    document: dict[str, Json] = {
        "name": attribute.name,
        "type": attribute.type,
        "multiValued": attribute.multi_valued,
        "description": attribute.description,
        "required": attribute.required,
        "caseExact": attribute.case_exact,
        "mutability": attribute.mutability,
        "returned": attribute.returned,
        "uniqueness": attribute.uniqueness,
    }
    canonical = roles if attribute.account_roles else attribute.canonical_values
    if canonical:
        document["canonicalValues"] = list(canonical)
    if attribute.reference_types:
        document["referenceTypes"] = list(attribute.reference_types)
    if attribute.sub_attributes:
        document["subAttributes"] = [
            _attribute_document(s, roles) for s in attribute.sub_attributes if s.listed
        ]
    return document


def schema_document(schema: Schema, base_url: str, roles: tuple[str, ...] = ()) -> dict[str, Json]:
    """A schema representation (RFC 7643 §7) of ``schema``; ``roles`` are the account's role
    names."""
    return {
        "schemas": [SCHEMA_SCHEMA],
        "id": schema.id,
        "name": schema.name,
        "description": schema.description,
        "attributes": [_attribute_document(a, roles) for a in schema.attributes if not a.common],
        "meta": {
            "resourceType": "Schema",
            "location": f"{base_url.rstrip('/')}/Schemas/{schema.id}",
        },
    }


def resource_type_document(resource_type: ResourceType, base_url: str) -> dict[str, Json]:
    """A resource type representation (RFC 7643 §6)."""
    return {
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": resource_type.id,
        "name": resource_type.id,
        "endpoint": resource_type.endpoint,
        "description": resource_type.description,
        "schema": resource_type.schema.id,
        "schemaExtensions": [
            {"schema": extension.id, "required": False} for extension in resource_type.extensions
        ],
        "meta": {
            "resourceType": "ResourceType",
            "location": f"{base_url.rstrip('/')}/ResourceTypes/{resource_type.id}",
        },
    }


def service_provider_config(base_url: str) -> dict[str, Json]:
    """The service provider configuration (RFC 7643 §5). Every field Okta's SPEC test reads is
    present (docs/scim-clients.md §5)."""
    return {
        "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
        "documentationUri": DOCUMENTATION_URI,
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": MAX_PAYLOAD_BYTES},
        "filter": {"supported": True, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": False},
        "sort": {"supported": True},
        "etag": {"supported": True},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "A SCIM API token of the account, sent as "
                "'Authorization: Bearer <token>'.",
                "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
                "primary": True,
            }
        ],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": f"{base_url.rstrip('/')}/ServiceProviderConfig",
        },
    }


def list_response(resources: list[dict[str, Json]]) -> dict[str, Json]:
    """A complete (single-page) ListResponse (RFC 7644 §3.4.2)."""
    return {
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": len(resources),
        "startIndex": 1,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


@functools.lru_cache(maxsize=256)
def rendered(base_url: str, what: str, key: str = "", roles: tuple[str, ...] = ()) -> bytes | None:
    """The encoded discovery document ``what`` ("spc", "schemas", "schema", "resource_types",
    "resource_type") for ``base_url``; ``key`` selects one schema or resource type by id (case
    as served), ``roles`` are the account's role names. None when that id does not exist."""
    document: dict[str, Json] | None
    if what == "spc":
        document = service_provider_config(base_url)
    elif what == "schemas":
        document = list_response([schema_document(s, base_url, roles) for s in SCHEMAS])
    elif what == "schema":
        found = next((s for s in SCHEMAS if s.id == key), None)
        document = schema_document(found, base_url, roles) if found else None
    elif what == "resource_types":
        document = list_response([resource_type_document(r, base_url) for r in RESOURCE_TYPES])
    elif what == "resource_type":
        found_type = next((r for r in RESOURCE_TYPES if r.id == key), None)
        document = resource_type_document(found_type, base_url) if found_type else None
    else:
        raise ValueError(what)
    if document is None:
        return None
    return json.dumps(document, ensure_ascii=False).encode()
