"""Looking up a domain's challenge record, through a real resolver (dnspython).

The nameservers are the system's (``/etc/resolv.conf``) unless DNS_NAMESERVERS names others, as
the tests do with their loopback authoritative server. Nothing is cached here: an admin who has
just published the record is answered from DNS, not from an earlier miss. Each lookup is bounded
(``timeout`` per nameserver, ``lifetime`` in all) and ends as a ``Check``: passed, or the reason
it did not with a message an admin can act on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.rdatatype
import dns.resolver

from directory.domains.challenge import record_name, record_value

logger = logging.getLogger(__name__)

TXT_RECORD_MISSING: Final = "txt_record_missing"
TXT_RECORD_MISMATCH: Final = "txt_record_mismatch"
DNS_LOOKUP_FAILED: Final = "dns_lookup_failed"

DEFAULT_TIMEOUT: Final = 2.0
DEFAULT_LIFETIME: Final = 5.0


@dataclass(frozen=True)
class Check:
    """The outcome of one lookup: ``reason`` is empty when the expected value was found."""

    reason: str = ""
    error: str = ""

    @property
    def passed(self) -> bool:
        return not self.reason


PASSED: Final = Check()


@dataclass(frozen=True)
class Nameserver:
    host: str
    port: int = 53


class DnsChecker:
    """Checks that ``_idmesh-challenge.<domain>`` carries a TXT record of the expected value."""

    def __init__(
        self,
        nameservers: Sequence[Nameserver] = (),
        *,
        timeout: float = DEFAULT_TIMEOUT,
        lifetime: float = DEFAULT_LIFETIME,
    ) -> None:
        self._resolver: dns.asyncresolver.Resolver | None
        try:
            self._resolver = dns.asyncresolver.Resolver(configure=not nameservers)
        except dns.resolver.NoResolverConfiguration:
            self._resolver = None
            logger.warning("no system DNS resolver configured: set DNS_NAMESERVERS")
            return
        if nameservers:
            self._resolver.nameservers = [
                dns.nameserver.Do53Nameserver(ns.host, ns.port) for ns in nameservers
            ]
        self._resolver.timeout = timeout
        self._resolver.lifetime = lifetime

    async def check(self, domain: str, token: str) -> Check:
        """Whether the challenge record of ``domain`` holds ``record_value(token)``."""
        name = record_name(domain)
        expected = record_value(token)
        publish = f'publish a TXT record {name} with the value "{expected}"'
        if self._resolver is None:
            return Check(DNS_LOOKUP_FAILED, f"no DNS resolver is configured; {publish}")
        try:
            answer = await self._resolver.resolve(name, dns.rdatatype.TXT, search=False)
        except dns.resolver.NXDOMAIN:
            return Check(TXT_RECORD_MISSING, f"{name} does not exist in DNS; {publish}")
        except dns.resolver.NoAnswer:
            return Check(TXT_RECORD_MISSING, f"{name} has no TXT record; {publish}")
        except dns.exception.Timeout:
            return Check(DNS_LOOKUP_FAILED, f"the DNS lookup of {name} timed out; {publish}")
        except dns.resolver.NoNameservers:
            return Check(
                DNS_LOOKUP_FAILED, f"no nameserver answered the lookup of {name}; {publish}"
            )
        except dns.exception.DNSException as error:
            return Check(
                DNS_LOOKUP_FAILED,
                f"the DNS lookup of {name} failed ({type(error).__name__}); {publish}",
            )
        # A TXT value longer than 255 octets arrives as several strings, to be joined.
        values = {b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer}
        if expected in values:
            return PASSED
        return Check(
            TXT_RECORD_MISMATCH,
            f"{name} has {len(values)} TXT record(s), none with the expected value; {publish}",
        )
