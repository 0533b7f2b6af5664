-- SAML 2.0 connections (reference/sso-security.md §2) beside the OIDC ones, and the SAML replay
-- cache.

ALTER TABLE connections DROP CONSTRAINT connections_protocol_check;
ALTER TABLE connections ADD CONSTRAINT connections_protocol_check
    CHECK (protocol IN ('oidc', 'saml'));
ALTER TABLE connections
    ADD COLUMN saml_idp_entity_id        text,
    ADD COLUMN saml_sso_url              text,
    -- The pinned IdP signing certificates (PEM); two or more during a rollover.
    ADD COLUMN saml_certificates         text[],
    ADD COLUMN saml_vendor               text CHECK (saml_vendor IN ('generic', 'okta', 'azure_ad')),
    ADD COLUMN saml_name_id_format       text,
    ADD COLUMN saml_sp_entity_id         text,
    ADD COLUMN saml_acs_url              text,
    ADD COLUMN saml_want_response_signed boolean NOT NULL DEFAULT false,
    ADD COLUMN saml_allow_sha1           boolean NOT NULL DEFAULT false,
    ADD COLUMN saml_allow_idp_initiated  boolean NOT NULL DEFAULT false,
    ADD COLUMN saml_clock_skew_seconds   integer NOT NULL DEFAULT 120
        CHECK (saml_clock_skew_seconds BETWEEN 0 AND 300),
    -- Our SP key pair for this connection: the certificate in the SP metadata, the private key
    -- (which decrypts encrypted assertions) sealed like OIDC client secrets.
    ADD COLUMN saml_sp_certificate       text,
    ADD COLUMN saml_sp_private_key        bytea,
    ADD COLUMN saml_sp_private_key_key_id text,
    -- Refreshed on a schedule when set: the IdP's signing certificates follow its metadata.
    ADD COLUMN saml_metadata_url         text,
    ADD CONSTRAINT connections_saml_complete CHECK (protocol <> 'saml' OR (
        saml_idp_entity_id IS NOT NULL AND saml_idp_entity_id <> ''
        AND saml_sso_url IS NOT NULL AND saml_certificates IS NOT NULL
        AND cardinality(saml_certificates) > 0 AND saml_vendor IS NOT NULL
        AND saml_name_id_format IS NOT NULL AND saml_sp_entity_id IS NOT NULL
        AND saml_acs_url IS NOT NULL));

-- Every accepted Response ID and Assertion ID, per connection, until the assertion could no
-- longer be accepted anyway (row 8). One table shared by every auth replica: the primary key
-- makes the second use fail wherever it lands.
CREATE TABLE saml_replay_cache (
    connection_id uuid        NOT NULL,
    -- SHA-256 of kind ('response' / 'assertion') and the id: bounded whatever the IdP sends.
    id_hash       bytea       NOT NULL,
    expire_time   timestamptz NOT NULL,
    PRIMARY KEY (connection_id, id_hash)
);
CREATE INDEX saml_replay_cache_expire_idx ON saml_replay_cache (expire_time);
