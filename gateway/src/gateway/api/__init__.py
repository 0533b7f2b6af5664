"""The admin and governance REST API under ``/api/v1`` (JSON, bearer-token authenticated).

``ROUTES`` is the one table of every operation: method, path, the permission it requires and the
endpoint that serves it (one module per resource). The OpenAPI document is generated from it,
and the tests walk it: a route added here without a permission, or served in another account,
fails them.

Permissions are those auth issues (services/auth/src/auth/permissions.py); ``<x>:manage``
includes ``<x>:read``. Granting and revoking space roles is ``grants:manage`` (reading grants is
``spaces:read``), so a governance tool can manage access without managing spaces.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from gateway.api import (
    access,
    accounts,
    audit,
    connections,
    credentials,
    domains,
    events,
    grants,
    groups,
    logs,
    roles,
    sessions,
    setup_links,
    spaces,
    users,
    webhooks,
)
from gateway.api.openapi import DOCUMENT_PATH, document_handler
from gateway.api.routing import Route, bind

PREFIX: Final = "/api/v1"

ANY_TOKEN: Final = None
"""Any valid token of the account (the account itself, which every token's client knows)."""
USERS_READ: Final = "users:read"
USERS_MANAGE: Final = "users:manage"
SPACES_READ: Final = "spaces:read"
SPACES_MANAGE: Final = "spaces:manage"
ROLES_READ: Final = "roles:read"
ROLES_MANAGE: Final = "roles:manage"
GROUPS_READ: Final = "groups:read"
GROUPS_MANAGE: Final = "groups:manage"
GRANTS_MANAGE: Final = "grants:manage"
AUDIT_READ: Final = "audit:read"
TOKENS_MANAGE: Final = "tokens:manage"
CONNECTIONS_READ: Final = "connections:read"
CONNECTIONS_MANAGE: Final = "connections:manage"
EVENTS_READ: Final = "events:read"
WEBHOOKS_READ: Final = "webhooks:read"
WEBHOOKS_MANAGE: Final = "webhooks:manage"

ROUTES: Final[tuple[Route, ...]] = (
    Route("GET", "/accounts/{name}", ANY_TOKEN, accounts.get_account),
    # users and their access
    Route("GET", "/users", USERS_READ, users.list_users),
    Route("GET", "/users/{user_id}", USERS_READ, users.get_user),
    Route("PATCH", "/users/{user_id}", USERS_MANAGE, users.update_user),
    Route("DELETE", "/users/{user_id}", USERS_MANAGE, users.delete_user),
    Route("POST", "/users/{user_id}:deactivate", USERS_MANAGE, users.deactivate_user),
    Route("POST", "/users/{user_id}:reactivate", USERS_MANAGE, users.reactivate_user),
    Route("GET", "/users/{user_id}/access", USERS_READ, access.get_user_access),
    Route("POST", "/access:check", USERS_READ, access.check_access),
    # sessions: who is signed in, and ending it
    Route("GET", "/users/{user_id}/sessions", USERS_READ, sessions.list_user_sessions),
    Route("POST", "/users/{user_id}:revoke-sessions", USERS_MANAGE, sessions.revoke_user_sessions),
    Route("DELETE", "/sessions/{session_id}", USERS_MANAGE, sessions.revoke_session),
    # spaces
    Route("GET", "/spaces", SPACES_READ, spaces.list_spaces),
    Route("POST", "/spaces", SPACES_MANAGE, spaces.create_space),
    Route("GET", "/spaces/{space_id}", SPACES_READ, spaces.get_space),
    Route("PATCH", "/spaces/{space_id}", SPACES_MANAGE, spaces.update_space),
    Route("DELETE", "/spaces/{space_id}", SPACES_MANAGE, spaces.delete_space),
    # roles
    Route("GET", "/roles", ROLES_READ, roles.list_roles),
    Route("POST", "/roles", ROLES_MANAGE, roles.create_role),
    Route("GET", "/roles/{role_id}", ROLES_READ, roles.get_role),
    Route("PATCH", "/roles/{role_id}", ROLES_MANAGE, roles.update_role),
    Route("DELETE", "/roles/{role_id}", ROLES_MANAGE, roles.delete_role),
    # grants: who holds which role in which space
    Route("GET", "/grants", SPACES_READ, grants.list_grants),
    Route("POST", "/grants", GRANTS_MANAGE, grants.create_grant),
    Route("GET", "/grants/{grant_id}", SPACES_READ, grants.get_grant),
    Route("DELETE", "/grants/{grant_id}", GRANTS_MANAGE, grants.delete_grant),
    # groups
    Route("GET", "/groups", GROUPS_READ, groups.list_groups),
    Route("POST", "/groups", GROUPS_MANAGE, groups.create_group),
    Route("GET", "/groups/{group_id}", GROUPS_READ, groups.get_group),
    Route("PATCH", "/groups/{group_id}", GROUPS_MANAGE, groups.update_group),
    Route("DELETE", "/groups/{group_id}", GROUPS_MANAGE, groups.delete_group),
    Route("GET", "/groups/{group_id}/members", GROUPS_READ, groups.list_group_members),
    Route("POST", "/groups/{group_id}/members", GROUPS_MANAGE, groups.add_group_members),
    Route(
        "DELETE",
        "/groups/{group_id}/members/{user_id}",
        GROUPS_MANAGE,
        groups.remove_group_member,
    ),
    Route("PUT", "/groups/{group_id}/space-roles", GROUPS_MANAGE, groups.set_group_space_roles),
    # audit log
    Route("GET", "/audit-events", AUDIT_READ, audit.list_audit_events),
    # the change feed, polled or pushed to webhook endpoints
    Route("GET", "/events", EVENTS_READ, events.list_events),
    Route("GET", "/webhooks", WEBHOOKS_READ, webhooks.list_webhooks),
    Route("POST", "/webhooks", WEBHOOKS_MANAGE, webhooks.create_webhook),
    Route("GET", "/webhooks/{webhook_id}", WEBHOOKS_READ, webhooks.get_webhook),
    Route("DELETE", "/webhooks/{webhook_id}", WEBHOOKS_MANAGE, webhooks.delete_webhook),
    Route(
        "POST",
        "/webhooks/{webhook_id}:rotate-secret",
        WEBHOOKS_MANAGE,
        webhooks.rotate_webhook_secret,
    ),
    Route(
        "GET",
        "/webhooks/{webhook_id}/deliveries",
        WEBHOOKS_READ,
        webhooks.list_webhook_deliveries,
    ),
    Route("POST", "/webhooks/{webhook_id}:resend", WEBHOOKS_MANAGE, webhooks.resend_webhook_event),
    # what went wrong: SSO attempts and SCIM requests
    Route("GET", "/login-traces", AUDIT_READ, logs.list_login_traces),
    Route("GET", "/provisioning-events", AUDIT_READ, logs.list_provisioning_events),
    # SSO connections, with what to paste into the IdP
    Route("GET", "/connections", CONNECTIONS_READ, connections.list_connections),
    Route("POST", "/connections", CONNECTIONS_MANAGE, connections.create_connection),
    Route("POST", "/connections/saml", CONNECTIONS_MANAGE, connections.create_saml_connection),
    Route("GET", "/connections/{connection_id}", CONNECTIONS_READ, connections.get_connection),
    Route(
        "PATCH", "/connections/{connection_id}", CONNECTIONS_MANAGE, connections.update_connection
    ),
    Route(
        "DELETE", "/connections/{connection_id}", CONNECTIONS_MANAGE, connections.delete_connection
    ),
    Route(
        "POST",
        "/connections/{connection_id}:test",
        CONNECTIONS_MANAGE,
        connections.test_connection,
    ),
    # email domains the account proves it controls (DNS TXT records)
    Route("GET", "/domains", CONNECTIONS_READ, domains.list_domains),
    Route("POST", "/domains", CONNECTIONS_MANAGE, domains.claim_domain),
    Route("GET", "/domains/{domain_id}", CONNECTIONS_READ, domains.get_domain),
    Route("DELETE", "/domains/{domain_id}", CONNECTIONS_MANAGE, domains.delete_domain),
    Route("POST", "/domains/{domain_id}:verify", CONNECTIONS_MANAGE, domains.verify_domain),
    # setup links: a customer's IT admin connects their IdP through the setup wizard
    Route("GET", "/setup-links", CONNECTIONS_READ, setup_links.list_setup_links),
    Route("POST", "/setup-links", CONNECTIONS_MANAGE, setup_links.create_setup_link),
    Route("GET", "/setup-links/{link_id}", CONNECTIONS_READ, setup_links.get_setup_link),
    Route("DELETE", "/setup-links/{link_id}", CONNECTIONS_MANAGE, setup_links.revoke_setup_link),
    # credentials: API tokens and OAuth clients (secrets shown once)
    Route("GET", "/tokens", TOKENS_MANAGE, credentials.list_api_tokens),
    Route("POST", "/tokens", TOKENS_MANAGE, credentials.create_api_token),
    Route("GET", "/tokens/{token_id}", TOKENS_MANAGE, credentials.get_api_token),
    Route("POST", "/tokens/{token_id}:revoke", TOKENS_MANAGE, credentials.revoke_api_token),
    Route("GET", "/oauth-clients", TOKENS_MANAGE, credentials.list_oauth_clients),
    Route("POST", "/oauth-clients", TOKENS_MANAGE, credentials.create_oauth_client),
    Route("GET", "/oauth-clients/{client_id}", TOKENS_MANAGE, credentials.get_oauth_client),
    Route(
        "POST",
        "/oauth-clients/{client_id}:rotate-secret",
        TOKENS_MANAGE,
        credentials.rotate_oauth_client_secret,
    ),
    Route(
        "POST", "/oauth-clients/{client_id}:revoke", TOKENS_MANAGE, credentials.revoke_oauth_client
    ),
)


def add_api_routes(app: web.Application) -> None:
    """Registers every ``/api/v1`` route on ``app``, and the OpenAPI document (no HEAD routes:
    the document lists exactly what is served)."""
    for route in ROUTES:
        app.router.add_route(route.method, PREFIX + route.path, bind(route))
    app.router.add_route("GET", PREFIX + DOCUMENT_PATH, document_handler(ROUTES, PREFIX))
