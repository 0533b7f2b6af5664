-- OAuth 2.0 clients of the client-credentials grant (RFC 6749 §4.4): governance tools such as
-- ConductorOne's connector exchange a client id and secret for a short-lived access token.
-- As for API tokens, only a SHA-256 of the 256-bit random secret is stored.
CREATE TABLE oauth_clients (
    id             uuid        PRIMARY KEY,
    account_id     uuid        NOT NULL,
    description    text        NOT NULL DEFAULT '' CHECK (char_length(description) <= 200),
    permissions    text[]      NOT NULL CHECK (cardinality(permissions) > 0),
    secret_hash    bytea       NOT NULL CHECK (octet_length(secret_hash) = 32),
    create_time    timestamptz NOT NULL DEFAULT now(),
    rotate_time    timestamptz,
    revoke_time    timestamptz,
    last_used_time timestamptz,
    created_by     text        NOT NULL DEFAULT '' CHECK (char_length(created_by) <= 200)
);

CREATE INDEX oauth_clients_account_id_create_time_id_idx
    ON oauth_clients (account_id, create_time, id);
