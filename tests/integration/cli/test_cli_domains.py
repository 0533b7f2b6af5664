"""idmesh domain add|list|verify|remove against the real directory, which looks TXT records up
on the loopback DNS server: add prints the record to publish, verify succeeds once it is
published, --verified is the operator's audited bootstrap, --json everywhere."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator

import pytest

from directory.app import build_server
from directory.config import parse_nameservers
from directory.domains.dns import DnsChecker
from idmesh.directory.v1 import directory_pb2_grpc
from idmesh_cli.__main__ import run
from meshkit.channels import connect
from meshkit.database import create_pool
from meshkit.secretbox import SecretBox
from meshkit.server import GrpcServer
from tests.dns.server import LoopbackDns
from tests.support.directory import audit_events, details, new_account


@pytest.fixture
async def services(database_url: str, dns_server: LoopbackDns) -> AsyncIterator[dict[str, str]]:
    pool = await create_pool(database_url, min_size=1, max_size=4)
    directory = build_server(
        pool,
        host="127.0.0.1",
        port=0,
        secretbox=SecretBox(os.urandom(32)),
        server=GrpcServer("127.0.0.1", 0, drain_seconds=0, grace_seconds=1),
        dns=DnsChecker(parse_nameservers(dns_server.nameserver)),
    )
    try:
        yield {"DIRECTORY_ADDR": f"127.0.0.1:{await directory.start()}"}
    finally:
        await directory.stop()
        await pool.close()


async def cli(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], *argv: str
) -> tuple[int, str, str]:
    code = await run(list(argv), environ=env)
    out, err = capsys.readouterr()
    return code, out, err


async def test_add_prints_the_record_and_verify_checks_it(
    services: dict[str, str], dns_server: LoopbackDns, capsys: pytest.CaptureFixture[str]
) -> None:
    """add prints the TXT record's name and value; verify fails (exit 1) naming them until the
    record is published, then succeeds; list and remove follow."""
    async with connect(services["DIRECTORY_ADDR"]) as channel:
        account = await new_account(directory_pb2_grpc.DirectoryServiceStub(channel))
    name = f"cli-{uuid.uuid4().hex[:8]}.test"

    code, out, err = await cli(capsys, services, "domain", "add", "--account", account.name, name)
    assert code == 0, err
    assert f"_idmesh-challenge.{name}" in out
    assert "idmesh-domain-verification=" in out
    code, out, _ = await cli(
        capsys, services, "domain", "add", "--account", account.name, name, "--json"
    )
    claim = json.loads(out)
    assert (claim["status"], claim["record_name"]) == ("pending", f"_idmesh-challenge.{name}")

    code, out, err = await cli(
        capsys, services, "domain", "verify", "--account", account.name, name
    )
    assert code == 1
    assert claim["record_name"] in err
    assert claim["record_value"] in err

    dns_server.add_txt(claim["record_name"], claim["record_value"])
    code, out, err = await cli(
        capsys, services, "domain", "verify", "--account", account.name, name.upper(), "--json"
    )
    assert code == 0, err
    assert json.loads(out)["status"] == "verified"

    code, out, _ = await cli(capsys, services, "domain", "list", "--account", account.name)
    assert name in out
    assert "verified" in out
    code, out, err = await cli(
        capsys, services, "domain", "remove", "--account", account.name, claim["id"], "--json"
    )
    assert code == 0, err
    code, out, _ = await cli(
        capsys, services, "domain", "list", "--account", account.name, "--json"
    )
    assert json.loads(out) == []


async def test_add_verified_is_the_operators_audited_bootstrap(
    services: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """--verified: verified at once without DNS; the event names the operator and says how."""
    async with connect(services["DIRECTORY_ADDR"]) as channel:
        directory = directory_pb2_grpc.DirectoryServiceStub(channel)
        account = await new_account(directory)
        name = f"ops-{uuid.uuid4().hex[:8]}.test"

        code, out, err = await cli(
            capsys,
            services,
            "domain",
            "add",
            "--account",
            account.name,
            name,
            "--verified",
            "--json",
        )

        assert code == 0, err
        domain = json.loads(out)
        assert (domain["status"], domain["verification_method"]) == ("verified", "operator")
        event = (await audit_events(directory, account.id, domain["id"]))[-1]
        assert event.action == "domain.verified"
        assert details(event)["how"] == "operator"
        assert event.actor.display_name != ""


async def test_free_mail_domains_are_refused_by_the_cli(
    services: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    async with connect(services["DIRECTORY_ADDR"]) as channel:
        account = await new_account(directory_pb2_grpc.DirectoryServiceStub(channel))

    code, _, err = await cli(
        capsys, services, "domain", "add", "--account", account.name, "gmail.com", "--verified"
    )

    assert code == 1
    assert "free-mail" in err
