-- Sign-out that reaches everywhere: what each session needs to be ended from either side, how
-- it began, when it was last used; logout attempts in the login traces; the connections' logout
-- settings.

-- How the session began (shown to admins) and its idle lifetime (SESSION_IDLE_TTL from
-- last_use_time, written at most once a minute per session).
ALTER TABLE sessions
    ADD COLUMN ip_address    text        NOT NULL DEFAULT '',
    ADD COLUMN user_agent    text        NOT NULL DEFAULT '',
    ADD COLUMN last_use_time timestamptz NOT NULL DEFAULT now(),
    -- OIDC: the IdP's session id (sid) and subject (sub) name this session in a back-channel
    -- logout token; the ID token is the id_token_hint of RP-initiated logout, sealed like
    -- client secrets (AES-256-GCM, the key id beside it).
    ADD COLUMN oidc_sid      text        NOT NULL DEFAULT '',
    ADD COLUMN oidc_sub      text        NOT NULL DEFAULT '',
    ADD COLUMN oidc_id_token bytea,
    ADD COLUMN oidc_id_token_key_id text,
    -- SAML: what a LogoutRequest names (saml-core 3.7.1): the NameID with its format and
    -- qualifiers, and the assertion's SessionIndex.
    ADD COLUMN saml_name_id           text NOT NULL DEFAULT '',
    ADD COLUMN saml_name_id_format    text NOT NULL DEFAULT '',
    ADD COLUMN saml_name_qualifier    text NOT NULL DEFAULT '',
    ADD COLUMN saml_sp_name_qualifier text NOT NULL DEFAULT '',
    ADD COLUMN saml_session_index     text NOT NULL DEFAULT '';
CREATE INDEX sessions_user_time_idx ON sessions (account_id, user_id, create_time DESC);
CREATE INDEX sessions_oidc_idx ON sessions (connection_id, oidc_sid)
    WHERE revoke_time IS NULL AND oidc_sid <> '';
CREATE INDEX sessions_oidc_sub_idx ON sessions (connection_id, oidc_sub)
    WHERE revoke_time IS NULL AND oidc_sub <> '';
CREATE INDEX sessions_saml_idx ON sessions (connection_id, saml_name_id)
    WHERE revoke_time IS NULL AND saml_name_id <> '';

-- A trace is a login attempt or a logout request (RP-initiated, back-channel, SAML SLO);
-- "partial": a logout the IdP reports as PartialLogout.
ALTER TABLE login_traces ADD COLUMN kind text NOT NULL DEFAULT 'login'
    CHECK (kind IN ('login', 'logout'));
ALTER TABLE login_traces DROP CONSTRAINT login_traces_outcome_check;
ALTER TABLE login_traces ADD CONSTRAINT login_traces_outcome_check
    CHECK (outcome IN ('success', 'failure', 'restarted', 'partial'));

-- OIDC: send the browser to the IdP's end_session_endpoint at logout (RP-Initiated Logout 1.0).
-- SAML: the IdP's SingleLogoutService (HTTP-Redirect); '' when it has none.
ALTER TABLE connections
    ADD COLUMN oidc_rp_logout boolean NOT NULL DEFAULT true,
    ADD COLUMN saml_slo_url   text    NOT NULL DEFAULT '';

-- The back-channel logout tokens' jti and the SAML LogoutRequest IDs are claimed in the shared
-- replay cache (saml_replay_cache, per connection, kinds "logout_jti" and "logout_request"), so
-- a replay is refused whichever auth replica it reaches.
