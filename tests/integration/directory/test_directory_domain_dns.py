"""The DNS lookup of a challenge record (directory.domains.dns) against real nameservers on
127.0.0.1: each way a lookup can end becomes a reason and a message an admin can act on."""

from __future__ import annotations

import time
import uuid

import dnslib

from directory.domains.dns import (
    DNS_LOOKUP_FAILED,
    TXT_RECORD_MISMATCH,
    TXT_RECORD_MISSING,
    DnsChecker,
    Nameserver,
)
from tests.dns.server import LoopbackDns, silent_udp_port

TOKEN = "0123456789abcdef0123456789abcdef"
VALUE = f"idmesh-domain-verification={TOKEN}"


def fresh_domain() -> str:
    return f"dns-{uuid.uuid4().hex[:10]}.test"


def checker(dns: LoopbackDns) -> DnsChecker:
    return DnsChecker([Nameserver("127.0.0.1", dns.port)])


async def test_a_name_that_does_not_exist_is_txt_record_missing(dns_server: LoopbackDns) -> None:
    """NXDOMAIN (RFC 1035 §4.1.1 RCODE 3): the message names the record and the value."""
    domain = fresh_domain()

    check = await checker(dns_server).check(domain, TOKEN)

    assert check.reason == TXT_RECORD_MISSING
    assert f"_idmesh-challenge.{domain} does not exist" in check.error
    assert f'"{VALUE}"' in check.error


async def test_a_name_without_txt_records_is_txt_record_missing(dns_server: LoopbackDns) -> None:
    """NOERROR with an empty answer (the name holds a CNAME target's A record, say)."""
    domain = fresh_domain()
    dns_server.add(f"_idmesh-challenge.{domain}", "A", dnslib.A("192.0.2.1"))

    check = await checker(dns_server).check(domain, TOKEN)

    assert check.reason == TXT_RECORD_MISSING
    assert "has no TXT record" in check.error


async def test_other_txt_values_are_a_mismatch(dns_server: LoopbackDns) -> None:
    """The value must be exact: a prefix, a suffix or another case is not it."""
    domain = fresh_domain()
    name = f"_idmesh-challenge.{domain}"
    for wrong in (VALUE[:-1], VALUE + " ", VALUE.upper(), TOKEN):
        dns_server.add_txt(name, wrong)

    check = await checker(dns_server).check(domain, TOKEN)

    assert check.reason == TXT_RECORD_MISMATCH
    assert "4 TXT record(s), none with the expected value" in check.error


async def test_the_exact_value_passes(dns_server: LoopbackDns) -> None:
    domain = fresh_domain()
    dns_server.add_txt(f"_idmesh-challenge.{domain}", VALUE)

    assert (await checker(dns_server).check(domain, TOKEN)).passed


async def test_a_nameserver_that_never_answers_times_out_within_the_lifetime() -> None:
    """A bounded lookup: the timeout is reported as such, within the lifetime, never a hang."""
    sock, port = silent_udp_port()
    try:
        silent = DnsChecker([Nameserver("127.0.0.1", port)], timeout=0.2, lifetime=0.5)
        started = time.monotonic()
        check = await silent.check(fresh_domain(), TOKEN)
        elapsed = time.monotonic() - started
    finally:
        sock.close()

    assert check.reason == DNS_LOOKUP_FAILED
    assert "timed out" in check.error
    assert f'"{VALUE}"' in check.error
    assert elapsed < 2.0
