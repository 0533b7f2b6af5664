-- Single sign-on: connections to the accounts' IdPs, login transactions, sessions, login traces.
-- account_id is a plain uuid, as in api_tokens: the directory owns accounts in its own schema.

CREATE TABLE connections (
    id                  uuid        PRIMARY KEY,
    account_id          uuid        NOT NULL,
    -- Lower-case slug, the CLI's handle; unique per account.
    name                text        NOT NULL,
    display_name        text        NOT NULL,
    protocol            text        NOT NULL CHECK (protocol IN ('oidc')),
    -- Claim names per attribute ({"email": "email", "groups": "groups", ...}); "" is off.
    attribute_mapping   jsonb       NOT NULL,
    provisioning_policy text        NOT NULL
        CHECK (provisioning_policy IN ('create_users', 'link_existing_users', 'deny_unknown_users')),
    profile_update      text        NOT NULL CHECK (profile_update IN ('first_login', 'every_login')),
    default_space       text        NOT NULL DEFAULT '',
    default_space_role  text        NOT NULL DEFAULT '',
    enabled             boolean     NOT NULL DEFAULT true,
    created_by          text        NOT NULL DEFAULT '',
    -- OIDC. The client secret is AES-256-GCM ciphertext (nonce || ciphertext || tag) made with
    -- the key whose id is beside it; the key itself lives in the environment, never here.
    oidc_issuer                 text,
    oidc_discovery_url          text,
    oidc_client_id              text,
    oidc_client_secret          bytea,
    oidc_client_secret_key_id   text,
    oidc_scopes                 text[],
    oidc_vendor                 text CHECK (oidc_vendor IN ('generic', 'okta', 'azure_ad', 'google')),
    oidc_entra_tenant_id        text,
    oidc_allowed_tenant_ids     text[],
    oidc_signing_algorithms     text[],
    create_time         timestamptz NOT NULL DEFAULT now(),
    update_time         timestamptz NOT NULL DEFAULT now(),
    version             bigint      NOT NULL DEFAULT 1,
    CONSTRAINT connections_oidc_complete CHECK (protocol <> 'oidc' OR (
        oidc_issuer IS NOT NULL AND oidc_discovery_url IS NOT NULL AND oidc_client_id IS NOT NULL
        AND oidc_client_secret IS NOT NULL AND oidc_client_secret_key_id IS NOT NULL
        AND oidc_vendor IS NOT NULL AND oidc_scopes IS NOT NULL
        AND oidc_signing_algorithms IS NOT NULL))
);
CREATE UNIQUE INDEX connections_name_key ON connections (account_id, name);
CREATE INDEX connections_account_idx ON connections (account_id, create_time, id);

-- Home-realm discovery: an email domain leads to exactly one connection, whatever the account.
CREATE TABLE connection_domains (
    domain        text PRIMARY KEY CHECK (domain = lower(domain)),
    connection_id uuid NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    account_id    uuid NOT NULL
);
CREATE INDEX connection_domains_connection_idx ON connection_domains (connection_id);

-- A started login. The state is the key, stored hashed: a leak of this table replays nothing.
-- Single use (consume_time), short-lived (expire_time), bound to the browser (binding_hash is
-- the SHA-256 of an HttpOnly cookie's value).
CREATE TABLE login_transactions (
    state_hash    bytea       PRIMARY KEY CHECK (octet_length(state_hash) = 32),
    connection_id uuid        NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    account_id    uuid        NOT NULL,
    binding_hash  bytea       NOT NULL CHECK (octet_length(binding_hash) = 32),
    nonce         text        NOT NULL,
    code_verifier text        NOT NULL,
    redirect_uri  text        NOT NULL,
    return_to     text        NOT NULL,
    -- The issuer the flow started with (mix-up defence, RFC 9700 §4.4).
    issuer        text        NOT NULL,
    create_time   timestamptz NOT NULL DEFAULT now(),
    expire_time   timestamptz NOT NULL,
    consume_time  timestamptz
);
CREATE INDEX login_transactions_expire_idx ON login_transactions (expire_time);

-- Signed-in browser sessions. Only the SHA-256 of the cookie's secret is stored.
CREATE TABLE sessions (
    id            uuid        PRIMARY KEY,
    secret_hash   bytea       NOT NULL CHECK (octet_length(secret_hash) = 32),
    account_id    uuid        NOT NULL,
    user_id       uuid        NOT NULL,
    connection_id uuid,
    create_time   timestamptz NOT NULL DEFAULT now(),
    expire_time   timestamptz NOT NULL,
    revoke_time   timestamptz,
    revoke_reason text        NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user_idx ON sessions (account_id, user_id) WHERE revoke_time IS NULL;
CREATE INDEX sessions_expire_idx ON sessions (expire_time);

-- One record per SSO attempt: what an account admin reads when a login fails.
CREATE TABLE login_traces (
    id                  uuid             PRIMARY KEY,
    account_id          uuid             NOT NULL,
    connection_id       uuid             NOT NULL,
    time                timestamptz      NOT NULL DEFAULT clock_timestamp(),
    trace_id            text             NOT NULL DEFAULT '',
    stage               text             NOT NULL,
    outcome             text             NOT NULL CHECK (outcome IN ('success', 'failure')),
    reason              text             NOT NULL DEFAULT '',
    detail              text             NOT NULL DEFAULT '',
    subject             text             NOT NULL DEFAULT '',
    email               text             NOT NULL DEFAULT '',
    user_id             uuid,
    -- The ID token's claims with secrets redacted.
    claims              jsonb            NOT NULL DEFAULT '{}',
    groups              text[]           NOT NULL DEFAULT '{}',
    clock_delta_seconds double precision,
    duration_ms         double precision
);
CREATE INDEX login_traces_account_time_idx ON login_traces (account_id, time, id);
CREATE INDEX login_traces_expire_idx ON login_traces (time);
