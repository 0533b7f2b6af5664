-- Local passwords, for bootstrap admins only (everyone else signs in through their IdP): one
-- argon2id hash per directory user. The email is kept (lower-cased) to find the credential at
-- sign-in; user_id is the directory's id (no cross-schema foreign key, as for api_tokens).
CREATE TABLE local_credentials (
    user_id       uuid        PRIMARY KEY,
    account_id    uuid        NOT NULL,
    email         text        NOT NULL CHECK (email = lower(email) AND char_length(email) <= 320),
    password_hash text        NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    create_time   timestamptz NOT NULL DEFAULT now(),
    update_time   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, email)
);
