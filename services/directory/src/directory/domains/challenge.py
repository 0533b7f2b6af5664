"""What an account publishes in DNS to prove it controls a domain.

The record lives under a name of its own (``_idmesh-challenge.<domain>``), not the domain's apex
TXT set, so that publishing it touches nothing else (as ACME's ``_acme-challenge``, RFC 8555
§8.4). Its value names the service, so that one TXT record cannot be mistaken for another's.
"""

from __future__ import annotations

from typing import Final

RECORD_PREFIX: Final = "_idmesh-challenge"
VALUE_PREFIX: Final = "idmesh-domain-verification="


def record_name(domain: str) -> str:
    """The TXT record's owner name for ``domain`` (normalised)."""
    return f"{RECORD_PREFIX}.{domain}"


def record_value(token: str) -> str:
    """The exact TXT value to publish for a claim's challenge token."""
    return VALUE_PREFIX + token
