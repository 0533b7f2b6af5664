"""/api/v1/domains on the real directory and the loopback DNS server: claim (the TXT record as
separate fields), verify (409 naming the record while DNS does not show it), the one-holder
rule as 409, free-mail and malformed names as 400, RFC 9457 problems throughout."""

from __future__ import annotations

import uuid

from gateway.errors import PROBLEM_CONTENT_TYPE
from tests.dns.server import LoopbackDns
from tests.integration.gateway.api.stack import Tenant


def fresh_domain() -> str:
    return f"api-{uuid.uuid4().hex[:10]}.test"


async def test_a_claim_answers_201_with_the_record_to_publish(tenant: Tenant) -> None:
    """201 with Location; record_name and record_value are separate fields, ready to paste;
    claiming again answers the same claim with 200."""
    name = fresh_domain()
    response = await tenant.request("POST", "/domains", json={"domain": name.upper()})

    assert response.status == 201, await response.text()
    domain = await response.json()
    assert response.headers["Location"] == f"/api/v1/domains/{domain['id']}"
    assert domain["domain"] == name
    assert domain["status"] == "pending"
    assert domain["record_name"] == f"_idmesh-challenge.{name}"
    assert domain["record_value"].startswith("idmesh-domain-verification=")
    assert domain["verification_method"] is None
    assert domain["verify_time"] is None
    assert domain["failing_since"] is None
    assert domain["last_check_error"] == ""
    again = await tenant.json("POST", "/domains", json={"domain": name})
    assert again == domain
    assert await tenant.json("GET", f"/domains/{domain['id']}") == domain


async def test_verification_is_409_until_dns_shows_the_record(
    tenant: Tenant, dns_server: LoopbackDns
) -> None:
    """RFC 9110 §15.5.10: the domain's DNS conflicts with the request until the record is
    published; the problem names the record and the exact value, the domain records the error.
    Once published, the domain is verified."""
    domain = await tenant.json("POST", "/domains", expect=201, json={"domain": fresh_domain()})
    verify = f"/domains/{domain['id']}:verify"

    missing = await tenant.request("POST", verify)
    assert missing.status == 409
    assert missing.content_type == PROBLEM_CONTENT_TYPE
    problem = await missing.json()
    assert domain["record_name"] in problem["detail"]
    assert f'"{domain["record_value"]}"' in problem["detail"]
    recorded = await tenant.json("GET", f"/domains/{domain['id']}")
    assert recorded["status"] == "pending"
    assert recorded["last_check_error"]
    assert recorded["last_check_time"]

    dns_server.add_txt(domain["record_name"], "idmesh-domain-verification=wrong")
    wrong = await tenant.request("POST", verify)
    assert wrong.status == 409
    assert "none with the expected value" in (await wrong.json())["detail"]

    dns_server.add_txt(domain["record_name"], domain["record_value"])
    verified = await tenant.json("POST", verify)
    assert verified["status"] == "verified"
    assert verified["verification_method"] == "dns"
    assert verified["verify_time"] is not None
    assert verified["last_check_error"] == ""
    events = await tenant.json("GET", f"/audit-events?target_id={domain['id']}")
    assert [e["action"] for e in reversed(events["items"])] == [
        "domain.claimed",
        "domain.verification_failed",
        "domain.verification_failed",
        "domain.verified",
    ]


async def test_a_domain_verified_elsewhere_is_409_domain_taken(
    tenant: Tenant, other_tenant: Tenant, dns_server: LoopbackDns
) -> None:
    """One account at most holds a domain verified: another's claim is 409, its pending claim
    made before cannot be verified (409), and nothing of the holder is revealed."""
    name = fresh_domain()
    early = await other_tenant.json("POST", "/domains", expect=201, json={"domain": name})
    domain = await tenant.json("POST", "/domains", expect=201, json={"domain": name})
    dns_server.add_txt(domain["record_name"], domain["record_value"])
    dns_server.add_txt(early["record_name"], early["record_value"])
    await tenant.json("POST", f"/domains/{domain['id']}:verify")

    claim = await other_tenant.request("POST", "/domains", json={"domain": name})
    verify = await other_tenant.request("POST", f"/domains/{early['id']}:verify")

    for response in (claim, verify):
        assert response.status == 409
        problem = await response.json()
        assert "another account" in problem["detail"]
        assert tenant.id not in str(problem)


async def test_free_mail_and_malformed_domains_are_400(tenant: Tenant) -> None:
    """gmail.com and its peers cannot be claimed; neither can a non-domain; nothing is made."""
    for value in ("gmail.com", "Outlook.com", "icloud.com", "not a domain", "localhost"):
        response = await tenant.request("POST", "/domains", json={"domain": value})
        assert response.status == 400, value
        assert response.content_type == PROBLEM_CONTENT_TYPE
        assert (await response.json())["errors"][0]["field"] == "domain"
    gmail = await (await tenant.request("POST", "/domains", json={"domain": "gmail.com"})).json()
    assert "free-mail" in gmail["detail"]
    assert (await tenant.json("GET", "/domains"))["items"] == []


async def test_domains_are_listed_filtered_and_deleted(
    tenant: Tenant, dns_server: LoopbackDns
) -> None:
    """GET lists the account's claims (status and domain filters); DELETE 204 then 404."""
    pending = await tenant.json("POST", "/domains", expect=201, json={"domain": fresh_domain()})
    verified = await tenant.json("POST", "/domains", expect=201, json={"domain": fresh_domain()})
    dns_server.add_txt(verified["record_name"], verified["record_value"])
    await tenant.json("POST", f"/domains/{verified['id']}:verify")

    listed = await tenant.json("GET", "/domains")
    only_verified = await tenant.json("GET", "/domains?status=verified")
    by_name = await tenant.json("GET", f"/domains?domain={pending['domain']}")

    assert [d["id"] for d in listed["items"]] == [pending["id"], verified["id"]]
    assert [d["id"] for d in only_verified["items"]] == [verified["id"]]
    assert [d["id"] for d in by_name["items"]] == [pending["id"]]
    assert (await tenant.request("DELETE", f"/domains/{verified['id']}")).status == 204
    assert (await tenant.request("GET", f"/domains/{verified['id']}")).status == 404
