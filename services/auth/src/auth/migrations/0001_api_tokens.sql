-- API tokens: long-lived bearer credentials of SCIM clients and the admin API.
-- Only a SHA-256 of each secret is stored; the secret itself is shown once, at creation.
-- account_id is a plain uuid on purpose: the directory owns accounts in its own schema, and the
-- services deploy independently, so there is no cross-schema foreign key.
CREATE TABLE api_tokens (
    id             uuid        PRIMARY KEY,
    account_id     uuid        NOT NULL,
    description    text        NOT NULL DEFAULT '' CHECK (char_length(description) <= 200),
    permissions    text[]      NOT NULL CHECK (cardinality(permissions) > 0),
    secret_hash    bytea       NOT NULL CHECK (octet_length(secret_hash) = 32),
    create_time    timestamptz NOT NULL DEFAULT now(),
    expire_time    timestamptz,
    revoke_time    timestamptz,
    last_used_time timestamptz,
    created_by     text        NOT NULL DEFAULT '' CHECK (char_length(created_by) <= 200)
);

-- Serves both the account filter and the keyset pagination of ListApiTokens on
-- (create_time, id); verification goes through the primary key.
CREATE INDEX api_tokens_account_id_create_time_id_idx ON api_tokens (account_id, create_time, id);
