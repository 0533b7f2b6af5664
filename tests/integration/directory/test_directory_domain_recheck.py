"""The background re-check of verified domains (directory.domains.recheck), against the loopback
DNS server: a record that disappears is reported at the next check, never dropped; after the
grace period the domain is pending again; replicas check each domain once."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta

import asyncpg
import grpc
import pytest

from directory.config import parse_nameservers
from directory.domains.dns import DnsChecker
from directory.domains.recheck import DomainRecheck
from directory.store.domains import DomainStore
from idmesh.directory.v1 import directory_pb2 as pb
from tests.dns.server import LoopbackDns
from tests.support.directory import ADMIN, Stub, audit_events, details, failure, new_account

HOUR = timedelta(hours=1)


def recheck(
    pool: asyncpg.Pool,
    dns: LoopbackDns,
    *,
    grace: timedelta = HOUR,
    interval: timedelta = timedelta(0),
) -> DomainRecheck:
    """A re-check (by default one for which every DNS-verified domain is due now)."""
    checker = DnsChecker(parse_nameservers(dns.nameserver))
    return DomainRecheck(DomainStore(pool), checker, interval=interval, grace=grace)


async def verified(directory: Stub, dns: LoopbackDns, account_id: str) -> pb.Domain:
    name = f"recheck-{uuid.uuid4().hex[:10]}.test"
    claimed = await directory.ClaimDomain(
        pb.ClaimDomainRequest(account_id=account_id, domain=name, actor=ADMIN)
    )
    dns.add_txt(claimed.domain.record_name, claimed.domain.record_value)
    response = await directory.VerifyDomain(
        pb.VerifyDomainRequest(account_id=account_id, domain_id=claimed.domain.id, actor=ADMIN)
    )
    return response.domain


async def current(directory: Stub, domain: pb.Domain) -> pb.Domain:
    response = await directory.GetDomain(
        pb.GetDomainRequest(account_id=domain.account_id, domain_id=domain.id)
    )
    return response.domain


async def test_a_record_still_published_passes_quietly(
    directory: Stub, dns_server: LoopbackDns, directory_pool: asyncpg.Pool
) -> None:
    """A passing check moves last_check_time and writes no event."""
    account = await new_account(directory)
    domain = await verified(directory, dns_server, account.id)
    events = await audit_events(directory, account.id, domain.id)

    await recheck(directory_pool, dns_server).run_once()

    after = await current(directory, domain)
    assert after.status == pb.DOMAIN_STATUS_VERIFIED
    assert after.last_check_time.ToDatetime() > domain.last_check_time.ToDatetime()
    assert await audit_events(directory, account.id, domain.id) == events


async def test_a_removed_record_is_reported_at_the_next_check(
    directory: Stub,
    dns_server: LoopbackDns,
    directory_pool: asyncpg.Pool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Never silently dropped: failing_since and last_check_error are set, the failure is
    audited (domain.verification_failed) and logged as a warning naming only the domain and
    the account; within the grace period the domain stays verified."""
    account = await new_account(directory)
    domain = await verified(directory, dns_server, account.id)
    dns_server.remove(domain.record_name)

    with caplog.at_level(logging.WARNING, logger="directory.domains.recheck"):
        await recheck(directory_pool, dns_server).run_once()

    after = await current(directory, domain)
    assert after.status == pb.DOMAIN_STATUS_VERIFIED
    assert after.HasField("failing_since")
    assert f"{domain.record_name} does not exist" in after.last_check_error
    event = (await audit_events(directory, account.id, domain.id))[-1]
    assert event.action == "domain.verification_failed"
    assert event.actor.type == pb.ACTOR_TYPE_SYSTEM
    assert details(event)["reason"] == "txt_record_missing"
    (warning,) = [r for r in caplog.records if domain.domain in r.getMessage()]
    assert account.id in warning.getMessage()
    assert domain.record_value not in warning.getMessage()


async def test_after_the_grace_period_the_domain_is_pending_again(
    directory: Stub, dns_server: LoopbackDns, directory_pool: asyncpg.Pool
) -> None:
    """DOMAIN_GRACE_PERIOD of continuous failure: the domain returns to pending
    (domain.verification_lost) and no longer resolves; verifying again restores it."""
    account = await new_account(directory)
    domain = await verified(directory, dns_server, account.id)
    dns_server.remove(domain.record_name)
    await recheck(directory_pool, dns_server).run_once()

    await recheck(directory_pool, dns_server, grace=timedelta(0)).run_once()

    after = await current(directory, domain)
    assert after.status == pb.DOMAIN_STATUS_PENDING
    assert not after.HasField("verify_time")
    assert not after.HasField("failing_since")
    assert after.last_check_error != ""
    actions = [e.action for e in await audit_events(directory, account.id, domain.id)]
    assert actions[-3:] == [
        "domain.verification_failed",
        "domain.verification_failed",
        "domain.verification_lost",
    ]
    code, _ = await failure(directory.ResolveDomain(pb.ResolveDomainRequest(domain=domain.domain)))
    assert code == grpc.StatusCode.NOT_FOUND
    dns_server.add_txt(domain.record_name, domain.record_value)
    restored = await directory.VerifyDomain(
        pb.VerifyDomainRequest(account_id=account.id, domain_id=domain.id, actor=ADMIN)
    )
    assert restored.domain.status == pb.DOMAIN_STATUS_VERIFIED


async def test_a_success_ends_a_run_of_failures(
    directory: Stub, dns_server: LoopbackDns, directory_pool: asyncpg.Pool
) -> None:
    """The record back before the grace period ends: failing_since and the error are cleared,
    and the recovery is audited (domain.verified, how dns)."""
    account = await new_account(directory)
    domain = await verified(directory, dns_server, account.id)
    dns_server.remove(domain.record_name)
    await recheck(directory_pool, dns_server).run_once()
    dns_server.add_txt(domain.record_name, domain.record_value)

    await recheck(directory_pool, dns_server).run_once()

    after = await current(directory, domain)
    assert after.status == pb.DOMAIN_STATUS_VERIFIED
    assert not after.HasField("failing_since")
    assert after.last_check_error == ""
    event = (await audit_events(directory, account.id, domain.id))[-1]
    assert (event.action, details(event)["how"]) == ("domain.verified", "dns")
    assert "failing_since" in details(event)


async def test_operator_verified_domains_are_not_rechecked(
    directory: Stub, dns_server: LoopbackDns, directory_pool: asyncpg.Pool
) -> None:
    """A domain an operator vouched for has no record to look for: the re-check leaves it."""
    account = await new_account(directory)
    claimed = await directory.ClaimDomain(
        pb.ClaimDomainRequest(
            account_id=account.id,
            domain=f"vouched-{uuid.uuid4().hex[:8]}.test",
            verified=True,
            actor=ADMIN,
        )
    )

    await recheck(directory_pool, dns_server).run_once()

    assert dns_server.queried(claimed.domain.record_name) == 0
    assert (await current(directory, claimed.domain)).status == pb.DOMAIN_STATUS_VERIFIED


async def test_replicas_check_each_due_domain_once(
    directory: Stub, dns_server: LoopbackDns, directory_pool: asyncpg.Pool
) -> None:
    """Several directory replicas run the re-check at once: FOR UPDATE SKIP LOCKED leases each
    due domain to one of them, so each record is looked up once."""
    account = await new_account(directory)
    domains = [await verified(directory, dns_server, account.id) for _ in range(8)]
    before = {d.id: dns_server.queried(d.record_name) for d in domains}
    interval = timedelta(seconds=1)
    await asyncio.sleep(interval.total_seconds() + 0.1)  # every domain is due

    replicas = [recheck(directory_pool, dns_server, interval=interval) for _ in range(3)]
    await asyncio.gather(*(replica.run_once() for replica in replicas))

    assert {d.id: dns_server.queried(d.record_name) - before[d.id] for d in domains} == {
        d.id: 1 for d in domains
    }
