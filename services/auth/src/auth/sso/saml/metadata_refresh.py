"""IdP metadata by URL: fetched when a connection is created, and refreshed on a schedule so a
new IdP signing certificate is trusted as soon as the IdP publishes it (sso-security.md §6,
"IdP cert rollover breaks login"; Keycloak's metadata refresh in §5.2).

A refresh only replaces the certificates and the SSO URL, and only when the metadata still names
the connection's entity id and at least one certificate; a failed fetch changes nothing. Logs
name connection ids and reasons only.
"""

from __future__ import annotations

import asyncio
import logging

from auth.sso.connection_store import ConnectionStore
from auth.sso.http import IdpHttp, IdpHttpError
from auth.sso.saml.connections import idp_slo_url, parse_idp_metadata
from meshkit.errors import FailedPrecondition, InvalidArgument

logger = logging.getLogger(__name__)


async def fetch_metadata(http: IdpHttp, url: str) -> str:
    """The metadata XML at ``url``; FailedPrecondition (reason ``metadata_unavailable``) when
    it cannot be had."""
    try:
        status, text = await http.get_text(url, "saml_metadata")
    except IdpHttpError as error:
        raise FailedPrecondition(
            str(error), field="connection.saml.metadata_url", reason="metadata_unavailable"
        ) from None
    if status != 200:
        raise FailedPrecondition(
            f"the metadata URL answered HTTP {status}",
            field="connection.saml.metadata_url",
            reason="metadata_unavailable",
        )
    return text


async def refresh_all(connections: ConnectionStore, http: IdpHttp) -> int:
    """Refreshes every SAML connection with a metadata URL; the number that changed."""
    changed = 0
    for connection in await connections.saml_refreshable():
        saml = connection.saml
        assert saml is not None
        try:
            xml = await fetch_metadata(http, saml.metadata_url)
            entity_id, sso_url, certificates = await asyncio.to_thread(parse_idp_metadata, xml)
            slo_url = await asyncio.to_thread(idp_slo_url, xml)
        except (FailedPrecondition, InvalidArgument) as error:
            logger.warning(
                "SAML metadata refresh of connection %s failed: %s",
                connection.id,
                error.reason or type(error).__name__,
            )
            continue
        if entity_id != saml.idp_entity_id or not certificates:
            logger.warning(
                "SAML metadata refresh of connection %s ignored: %s",
                connection.id,
                "another entity id" if entity_id != saml.idp_entity_id else "no certificate",
            )
            continue
        if await connections.refresh_saml_idp(
            connection.id, entity_id, list(certificates), sso_url or saml.sso_url, slo_url
        ):
            changed += 1
            logger.info("SAML metadata of connection %s refreshed", connection.id)
    return changed
