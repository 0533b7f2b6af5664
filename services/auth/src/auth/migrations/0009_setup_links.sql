-- Self-serve setup. A setup link is what an account admin sends a customer's IT admin: its
-- secret (only the SHA-256 stored) opens the setup wizard of one account, once, for one browser
-- (session_hash: the SHA-256 of that browser's setup cookie), until it expires, is revoked or
-- is finished. scopes: what it may configure ('sso', 'scim', 'domains').
CREATE TABLE setup_links (
    id            uuid        PRIMARY KEY,
    account_id    uuid        NOT NULL,
    scopes        text[]      NOT NULL CHECK (cardinality(scopes) > 0
                                  AND scopes <@ ARRAY['sso', 'scim', 'domains']::text[]),
    secret_hash   bytea       NOT NULL UNIQUE CHECK (octet_length(secret_hash) = 32),
    session_hash  bytea       UNIQUE CHECK (octet_length(session_hash) = 32),
    create_time   timestamptz NOT NULL DEFAULT now(),
    expire_time   timestamptz NOT NULL,
    open_time     timestamptz,
    revoke_time   timestamptz,
    finish_time   timestamptz,
    created_by    text        NOT NULL DEFAULT '' CHECK (char_length(created_by) <= 200),
    -- What the wizard configured through the link.
    connection_id uuid,
    scim_token_id uuid
);
CREATE INDEX setup_links_account_idx ON setup_links (account_id, create_time, id);

-- A test sign-in (the wizard's dry run): started for a connection that may still be disabled;
-- its callback writes nothing, opens no session, and records a trace marked test with what the
-- login would have done.
ALTER TABLE login_transactions ADD COLUMN test boolean NOT NULL DEFAULT false;
ALTER TABLE login_traces ADD COLUMN test boolean NOT NULL DEFAULT false;
ALTER TABLE login_traces ADD COLUMN test_result jsonb;
