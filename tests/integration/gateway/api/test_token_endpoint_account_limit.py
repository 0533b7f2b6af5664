"""The token endpoint's per-account rate limit on the production gateway with the real auth
(gateway.oauth.limits). The issue's requirement: "per-account rate limits on SCIM and the token
endpoint answering 429 with Retry-After". The limiter's clock is frozen, so nothing depends on
how fast the machine is."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.gateway.api.stack import Tenant
from tests.integration.gateway.api.test_api_oauth_client_credentials import (
    basic,
    new_client,
    token_limits,
    token_request,
)

GRANT = {"grant_type": "client_credentials"}


@pytest.fixture
def three_a_account(tenant: Tenant) -> Iterator[None]:
    """The session's gateway limited to bursts of 3 token requests per client and per account,
    never refilled; its own limits are back after the test."""
    with token_limits(tenant, rate=1.0, burst=3):
        yield


@pytest.mark.usefixtures("three_a_account")
async def test_the_clients_of_one_account_share_its_limit_and_other_accounts_go_on(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    """RFC 6585 §4 429 with RFC 9110 §10.2.3 Retry-After and an RFC 6749 §5.2-style error once
    the account's clients together exceed the account's limit, though neither client exceeded
    its own; another account's client is still served."""
    first = await new_client(tenant, ["users:read"])
    second = await new_client(tenant, ["users:read"])
    statuses = []
    for client_id, secret in (first, second, first):
        response, body = await token_request(tenant.stack, GRANT, basic(client_id, secret))
        statuses.append(response.status)
    assert statuses == [200, 200, 200]

    response, body = await token_request(tenant.stack, GRANT, basic(*second))
    assert response.status == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["Cache-Control"] == "no-store"
    assert body["error"] == "temporarily_unavailable"
    assert "this account" in body["error_description"]

    elsewhere = await new_client(other_tenant, ["users:read"])
    response, body = await token_request(other_tenant.stack, GRANT, basic(*elsewhere))
    assert response.status == 200, body
