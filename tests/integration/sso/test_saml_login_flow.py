"""The SAML login (the login pipeline with auth.sso.saml.connector, wired as auth wires them)
against the real directory and PostgreSQL: an SP-initiated login provisions through the same
ProvisionLogin path as OIDC, and every attack of the corpus (docs/sso-security.md §2) is
refused with its reason in the login trace, without creating or changing a user. Two wirings on
two pools stand for two auth replicas."""

from __future__ import annotations

import base64
import copy
import uuid
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import asyncpg
import pytest
from lxml import etree
from yarl import URL

from auth.sso.connection_store import ConnectionStore
from auth.sso.models import Connection, SamlConfig
from auth.sso.pipeline import DryRunLogin, FinishedLogin, RestartLogin
from auth.sso.refusal import LoginFailed
from auth.sso.saml.connector import SamlPost, acs_path
from auth.sso.saml.presets import (
    ENTRA_EMAIL,
    ENTRA_GROUPS,
    ENTRA_OBJECT_ID,
    ENTRA_TENANT_ID,
    SAML_MAPPINGS,
)
from auth.sso.servicer import Sso, SsoSettings
from idmesh.auth.v1 import auth_pb2
from idmesh.directory.v1 import directory_pb2
from meshkit.database import create_pool
from tests.idps.saml.responses import NS, KeyPair, ResponseSpec, build, encode, sign
from tests.support.directory import ADMIN, Stub, new_account, new_group

if TYPE_CHECKING:
    from idmesh.auth.v1.auth_pb2_grpc import AuthServiceAsyncStub

pytestmark = pytest.mark.integration

IDP = "https://idp.acme.test/saml"
BASE = "https://id.example.test"
IDP_KEYS = KeyPair.generate("idp.acme.test")
ATTACKER_KEYS = KeyPair.generate("idp.acme.test")
BINDING = "b" * 43


@pytest.fixture(scope="module")
async def replica_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    created = await create_pool(database_url, min_size=1, max_size=4)
    yield created
    await created.close()


@dataclass(frozen=True)
class StartedSamlLogin:
    redirect_url: str
    relay_state: str
    request_id: str


class SamlLogins:
    """The SAML login of one auth replica: the login pipeline with the SAML connector."""

    def __init__(self, sso: Sso) -> None:
        self.sso = sso

    async def start(self, connection: Connection, **_: object) -> StartedSamlLogin:
        started = await self.sso.pipeline.start(
            connection, self.sso.saml, return_to="/me", browser_binding=BINDING
        )
        query = URL(started.redirect_url).query
        request = etree.fromstring(zlib.decompress(base64.b64decode(query["SAMLRequest"]), -15))
        return StartedSamlLogin(started.redirect_url, query["RelayState"], request.get("ID") or "")

    async def finish(
        self, connection: Connection, saml_response: str, *, relay_state: str,
        browser_binding: str,
    ) -> FinishedLogin | RestartLogin:  # fmt: skip
        post = SamlPost(saml_response, relay_state, browser_binding)
        finished = await self.sso.pipeline.finish(connection, self.sso.saml, post)
        assert not isinstance(finished, DryRunLogin)  # these tests start no test sign-in
        return finished


@pytest.fixture(scope="module")
async def flow(pool: asyncpg.Pool, directory: Stub) -> AsyncIterator[SamlLogins]:
    sso = Sso(pool, SsoSettings(), directory=directory)
    yield SamlLogins(sso)
    await sso.close()


@pytest.fixture(scope="module")
async def replica(replica_pool: asyncpg.Pool, directory: Stub) -> AsyncIterator[SamlLogins]:
    sso = Sso(replica_pool, SsoSettings(), directory=directory)
    yield SamlLogins(sso)
    await sso.close()


async def _connection(
    pool: asyncpg.Pool, directory: Stub, vendor: str = "okta", **saml: object
) -> Connection:
    account = await new_account(directory)
    domain = f"t{uuid.uuid4().hex[:10]}.test"
    await directory.ClaimDomain(
        directory_pb2.ClaimDomainRequest(
            account_id=account.id, domain=domain, verified=True, actor=ADMIN
        )
    )
    connection_id = uuid.uuid4()
    now = datetime.now(UTC)
    config = SamlConfig(
        idp_entity_id=IDP,
        sso_url="https://idp.acme.test/sso",
        certificates=(IDP_KEYS.cert_pem,),
        sp_entity_id=f"{BASE}/sso/saml/{connection_id}/metadata",
        acs_url=BASE + acs_path(connection_id),
        vendor=vendor,
    )
    connection = Connection(
        id=connection_id, account_id=uuid.UUID(account.id), name="okta-saml",
        display_name="Okta", protocol="saml", domains=(domain,),
        mapping=SAML_MAPPINGS[vendor], provisioning_policy="create_users",
        profile_update="every_login", default_space="", default_space_role="", enabled=True,
        created_by="tests", create_time=now, update_time=now, version=1, oidc=None,
        saml=replace(config, **saml),  # type: ignore[arg-type]
    )  # fmt: skip
    return await ConnectionStore(pool).insert_saml(connection, None)


def _spec(connection: Connection, request_id: str | None, **changes: object) -> ResponseSpec:
    assert connection.saml is not None
    spec = ResponseSpec(
        acs_url=connection.saml.acs_url,
        audience=connection.saml.sp_entity_id,
        issuer=IDP,
        request_id=request_id,
        name_id=f"ada@{connection.domains[0]}",
        attributes={
            "email": [f"ada@{connection.domains[0]}"],
            "firstName": ["Ada"],
            "lastName": ["Lovelace"],
        },
    )
    return replace(spec, **changes)  # type: ignore[arg-type]


async def _users(directory: Stub, account_id: uuid.UUID) -> list[directory_pb2.User]:
    listed = await directory.ListUsers(directory_pb2.ListUsersRequest(account_id=str(account_id)))
    return list(listed.users)


async def _trace(auth: AuthServiceAsyncStub, connection: Connection) -> auth_pb2.LoginTrace:
    listed = await auth.ListLoginTraces(
        auth_pb2.ListLoginTracesRequest(account_id=str(connection.account_id), page_size=1)
    )
    assert listed.traces
    return listed.traces[0]


async def _start(flow: SamlLogins, connection: Connection) -> StartedSamlLogin:
    return await flow.start(connection)


async def _post(
    flow: SamlLogins, connection: Connection, document: etree._Element | bytes, relay_state: str
) -> FinishedLogin:
    """An ACS POST that must open a session."""
    finished = await flow.finish(
        connection, encode(document), relay_state=relay_state, browser_binding=BINDING
    )
    assert isinstance(finished, FinishedLogin)
    return finished


async def _post_unsolicited(
    flow: SamlLogins, connection: Connection, document: etree._Element | bytes, relay_state: str
) -> RestartLogin:
    """An ACS POST of a valid IdP-initiated response: it must ask for a restart."""
    restarted = await flow.finish(
        connection, encode(document), relay_state=relay_state, browser_binding=BINDING
    )
    assert isinstance(restarted, RestartLogin)
    return restarted


async def test_an_sp_initiated_login_sends_an_authn_request_and_provisions_the_user(
    flow: SamlLogins, directory: Stub, auth: AuthServiceAsyncStub, pool: asyncpg.Pool
) -> None:
    """Profiles 4.1.3-4.1.4: AuthnRequest over HTTP-Redirect with an opaque RelayState, the
    signed response over HTTP-POST, the user created through ProvisionLogin, a success trace."""
    connection = await _connection(pool, directory)
    started = await _start(flow, connection)
    query = URL(started.redirect_url).query
    assert query["RelayState"] == started.relay_state
    assert len(started.relay_state) <= 80
    request = etree.fromstring(zlib.decompress(base64.b64decode(query["SAMLRequest"]), -15))
    assert request.get("ID") == started.request_id
    assert connection.saml is not None
    assert request.get("AssertionConsumerServiceURL") == connection.saml.acs_url
    document = sign(build(_spec(connection, started.request_id)), IDP_KEYS)
    finished = await _post(flow, connection, document, started.relay_state)
    assert finished.return_to == "/me"
    users = await _users(directory, connection.account_id)
    assert [u.user_name for u in users] == [f"ada@{connection.domains[0]}"]
    assert str(finished.opened.session.user_id) == users[0].id
    trace = await _trace(auth, connection)
    assert (trace.outcome, trace.stage) == (auth_pb2.LOGIN_OUTCOME_SUCCESS, "session")


def _wrapped(document: etree._Element) -> etree._Element:
    assertion = document.find("saml:Assertion", NS)
    assert assertion is not None
    evil = copy.deepcopy(assertion)
    signature = evil.find("ds:Signature", NS)
    assert signature is not None
    evil.remove(signature)
    name_id = evil.find("saml:Subject/saml:NameID", NS)
    assert name_id is not None
    name_id.text = "admin@acme.test"
    document.insert(list(document).index(assertion), evil)
    return document


ATTACKS: dict[str, tuple[str, Callable[[Connection, str], etree._Element | bytes]]] = {
    "wrapped assertion": (
        "assertion_count",
        lambda c, r: _wrapped(sign(build(_spec(c, r)), IDP_KEYS)),
    ),
    "comment in NameID": (
        "xml_comment",
        lambda c, r: etree.tostring(
            sign(build(_spec(c, r, name_id="ada@acme.test.evil.test")), IDP_KEYS)
        ).replace(b"ada@acme.test.evil.test", b"ada@acme.test<!---->.evil.test"),
    ),
    "unsigned assertion in a signed response": (
        "assertion_unsigned",
        lambda c, r: sign(build(_spec(c, r)), IDP_KEYS, assertion=False, whole_response=True),
    ),
    "missing Destination": (
        "destination_missing",
        lambda c, r: sign(build(_spec(c, r, omit_destination=True)), IDP_KEYS),
    ),
    "foreign Destination": (
        "destination_mismatch",
        lambda c, r: sign(
            build(_spec(c, r, destination=c.saml.acs_url + "-other" if c.saml else "")), IDP_KEYS
        ),
    ),
    "missing Recipient": (
        "recipient_missing",
        lambda c, r: sign(build(_spec(c, r, omit_recipient=True)), IDP_KEYS),
    ),
    "other audience": (
        "audience_mismatch",
        lambda c, r: sign(build(_spec(c, r, audience=BASE + "/other")), IDP_KEYS),
    ),
    "other issuer": (
        "issuer_mismatch",
        lambda c, r: sign(build(_spec(c, r, issuer="https://evil.test")), IDP_KEYS),
    ),
    "wrong InResponseTo": (
        "in_response_to_mismatch",
        lambda c, r: sign(build(_spec(c, "_not" + r)), IDP_KEYS),
    ),
    "unpinned KeyInfo certificate": (
        "certificate_not_pinned",
        lambda c, r: sign(build(_spec(c, r)), ATTACKER_KEYS),
    ),
    "DTD": (
        "dtd_forbidden",
        lambda c, r: (
            b'<!DOCTYPE r [<!ENTITY a "a">]>' + etree.tostring(sign(build(_spec(c, r)), IDP_KEYS))
        ),
    ),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
async def test_an_attack_is_refused_with_its_reason_and_creates_no_user(
    attack: str,
    flow: SamlLogins,
    directory: Stub,
    auth: AuthServiceAsyncStub,
    pool: asyncpg.Pool,
) -> None:
    """sso-security.md §2 rows 1-12 through the whole ACS: LoginFailed with a trace id, the
    reason in the trace, no user in the account."""
    reason, tamper = ATTACKS[attack]
    connection = await _connection(pool, directory)
    started = await _start(flow, connection)
    with pytest.raises(LoginFailed) as failed:
        await _post(flow, connection, tamper(connection, started.request_id), started.relay_state)
    trace = await _trace(auth, connection)
    assert (trace.outcome, trace.reason) == (auth_pb2.LOGIN_OUTCOME_FAILURE, reason)
    assert trace.trace_id == failed.value.trace_id
    assert await _users(directory, connection.account_id) == []


async def test_an_expired_response_is_refused_with_the_clock_delta_in_the_trace(
    flow: SamlLogins, directory: Stub, auth: AuthServiceAsyncStub, pool: asyncpg.Pool
) -> None:
    """Row 7: the trace records the clock delta, so an admin sees a skew problem."""
    connection = await _connection(pool, directory)
    started = await _start(flow, connection)
    past = datetime.now(UTC).timestamp() - 3600
    spec = _spec(connection, started.request_id, issued=past, not_on_or_after=past + 300)
    with pytest.raises(LoginFailed):
        await _post(flow, connection, sign(build(spec), IDP_KEYS), started.relay_state)
    trace = await _trace(auth, connection)
    assert trace.reason == "expired"
    assert trace.clock_delta_seconds > 3000


async def test_a_response_through_another_browser_is_refused_and_leaves_the_login_pending(
    flow: SamlLogins, directory: Stub, auth: AuthServiceAsyncStub, pool: asyncpg.Pool
) -> None:
    """Rows 6 and 14: the RelayState names this browser's single-use login; the same response
    POSTed through another browser is refused and uses nothing up, the genuine POST signs in,
    and a second POST of it finds the login spent."""
    connection = await _connection(pool, directory)
    started = await _start(flow, connection)
    document = sign(build(_spec(connection, started.request_id)), IDP_KEYS)
    with pytest.raises(LoginFailed):
        await flow.finish(
            connection, encode(document), relay_state=started.relay_state,
            browser_binding="x" * 43,
        )  # fmt: skip
    assert (await _trace(auth, connection)).reason == "browser_mismatch"
    assert await _users(directory, connection.account_id) == []
    await _post(flow, connection, document, started.relay_state)
    with pytest.raises(LoginFailed):
        await _post(flow, connection, document, started.relay_state)
    assert (await _trace(auth, connection)).reason == "relay_state_replayed"
    assert len(await _users(directory, connection.account_id)) == 1


async def test_idp_initiated_login_is_refused_unless_the_connection_opts_in(
    flow: SamlLogins, directory: Stub, auth: AuthServiceAsyncStub, pool: asyncpg.Pool
) -> None:
    """Rows 6 and 15: an unsolicited response (no RelayState) is refused unless IdP-initiated
    is on; where it is on, the valid response is spent and restarts as an SP-initiated login
    (no session, no user: a forged IdP-initiated POST cannot sign a browser in, login CSRF),
    and that login, bound to this browser, signs the user in."""
    connection = await _connection(pool, directory)
    with pytest.raises(LoginFailed):
        await _post(flow, connection, sign(build(_spec(connection, None)), IDP_KEYS), "")
    assert (await _trace(auth, connection)).reason == "unsolicited_refused"
    assert await _users(directory, connection.account_id) == []
    opted_in = replace(
        connection,
        saml=replace(connection.saml, allow_idp_initiated=True) if connection.saml else None,
    )
    unsolicited = sign(build(_spec(opted_in, None)), IDP_KEYS)
    restarted = await _post_unsolicited(flow, opted_in, unsolicited, "")
    assert restarted.return_to == "/"
    trace = await _trace(auth, connection)
    assert (trace.outcome, trace.reason) == (auth_pb2.LOGIN_OUTCOME_RESTARTED, "idp_initiated")
    assert await _users(directory, connection.account_id) == []
    with pytest.raises(LoginFailed):
        await _post(flow, opted_in, unsolicited, "")
    assert (await _trace(auth, connection)).reason == "replayed"
    started = await _start(flow, opted_in)
    solicited = sign(build(_spec(opted_in, started.request_id)), IDP_KEYS)
    await _post(flow, opted_in, solicited, started.relay_state)
    assert len(await _users(directory, connection.account_id)) == 1


async def test_a_response_replayed_on_another_replica_is_refused(
    flow: SamlLogins,
    replica: SamlLogins,
    directory: Stub,
    auth: AuthServiceAsyncStub,
    pool: asyncpg.Pool,
) -> None:
    """Row 8: the replay cache is shared through PostgreSQL; the second use of the same
    response, on another replica, fails and changes nothing."""
    connection = await _connection(pool, directory, allow_idp_initiated=True)
    document = sign(build(_spec(connection, None)), IDP_KEYS)
    await _post_unsolicited(flow, connection, document, "")
    before = await _users(directory, connection.account_id)
    with pytest.raises(LoginFailed):
        await _post(replica, connection, document, "")
    assert (await _trace(auth, connection)).reason == "replayed"
    with pytest.raises(LoginFailed):
        await _post(flow, connection, document, "")
    assert await _users(directory, connection.account_id) == before


async def test_entra_claim_uris_and_a_multi_valued_groups_attribute_sync_groups(
    flow: SamlLogins, directory: Stub, auth: AuthServiceAsyncStub, pool: asyncpg.Pool
) -> None:
    """The Torque guide's Azure section: Entra's claim URIs, the identity keyed on tenant and
    object id, one AttributeValue per group object id, synced as over OIDC."""
    connection = await _connection(pool, directory, vendor="azure_ad")
    engineering = str(uuid.uuid4())
    await new_group(directory, str(connection.account_id), "Engineering",
                    idp_identifier=engineering)  # fmt: skip
    started = await _start(flow, connection)
    attributes = {
        ENTRA_EMAIL: [f"grace@{connection.domains[0]}"],
        ENTRA_TENANT_ID: ["72f988bf-86f1-41af-91ab-2d7cd011db47"],
        ENTRA_OBJECT_ID: ["5f8c7b0e-0000-4000-8000-000000000001"],
        ENTRA_GROUPS: [engineering, str(uuid.uuid4())],
    }
    spec = _spec(connection, started.request_id, name_id="opaque-name-id", attributes=attributes)
    await _post(flow, connection, sign(build(spec), IDP_KEYS), started.relay_state)
    users = await _users(directory, connection.account_id)
    assert [u.user_name for u in users] == [f"grace@{connection.domains[0]}"]
    trace = await _trace(auth, connection)
    assert (
        trace.subject == "72f988bf-86f1-41af-91ab-2d7cd011db47|5f8c7b0e-0000-4000-8000-000000000001"
    )
    assert "groups +1" in trace.detail


async def test_an_idp_relay_state_on_an_unsolicited_response_is_never_followed(
    flow: SamlLogins, directory: Stub, auth: AuthServiceAsyncStub, pool: asyncpg.Pool
) -> None:
    """Row 14: an IdP-initiated response may carry the IdP's own RelayState (Okta, Entra send
    a URL); with IdP-initiated on it is unsolicited and lands on /, never on that URL, or on
    the path it names when that is a path of this site (Okta's "Default RelayState" deep link);
    with it off it is refused."""
    opted_in = await _connection(pool, directory, allow_idp_initiated=True)
    document = sign(build(_spec(opted_in, None)), IDP_KEYS)
    restarted = await _post_unsolicited(flow, opted_in, document, "https://evil.test/phish")
    assert restarted.return_to == "/"
    deep_link = sign(build(_spec(opted_in, None)), IDP_KEYS)
    restarted = await _post_unsolicited(flow, opted_in, deep_link, "/spaces/7?tab=members")
    assert restarted.return_to == "/spaces/7?tab=members"
    closed = await _connection(pool, directory)
    with pytest.raises(LoginFailed):
        await _post(flow, closed, sign(build(_spec(closed, None)), IDP_KEYS), "https://x.test/")
    assert (await _trace(auth, closed)).reason == "relay_state_unknown"
