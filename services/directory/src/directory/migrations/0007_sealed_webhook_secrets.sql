-- Webhook signing secrets encrypted at rest (AES-256-GCM with IDMESH_ENCRYPTION_KEY, the
-- secretbox auth seals IdP client secrets with), instead of the plaintext columns of 0005.
--
-- Each sealed secret is stored as nonce || ciphertext || tag beside the id of the key that made
-- it, and is bound through the associated data to its endpoint ("idmesh webhook
-- signing_secret|<account>|<endpoint>"): copied into another endpoint's row it does not decrypt.
-- The previous secret of a rotation is the same endpoint's former secret, under the same binding,
-- so a rotation moves its ciphertext to the previous slot without decrypting it.
--
-- SQL cannot encrypt (the key is not in the database and must never be), so this migration only
-- adds the sealed columns. The rows already there are sealed by the processes that hold the key:
-- directory and the deliverer, at start-up (directory.webhooks.secrets.seal_plaintext_secrets),
-- and the deliverer again every EVENT_PRUNE_EVERY for rows an older directory replica still wrote
-- in plaintext during a rolling upgrade. Each row is sealed and its plaintext cleared in one
-- transaction under the row lock, so the step is idempotent and replicas may race. The deliverer
-- never delivers from a row not yet sealed: its events wait, nothing is lost.
--
-- The plaintext columns stay (empty) for that upgrade: a later migration drops `secret` and
-- `previous_secret` and makes `secret_sealed` NOT NULL, once no release that writes them runs.

ALTER TABLE webhook_endpoints
    ADD COLUMN secret_sealed bytea,
    ADD COLUMN secret_key_id text,
    ADD COLUMN previous_secret_sealed bytea,
    ADD COLUMN previous_secret_key_id text,
    ALTER COLUMN secret SET DEFAULT '',
    ADD CONSTRAINT webhook_endpoints_secret_key_id_check
        CHECK ((secret_sealed IS NULL) = (secret_key_id IS NULL)),
    ADD CONSTRAINT webhook_endpoints_previous_secret_key_id_check
        CHECK ((previous_secret_sealed IS NULL) = (previous_secret_key_id IS NULL)),
    -- A sealed row keeps no plaintext: an older release rotating a sealed endpoint fails here
    -- instead of writing a secret the deliverer would not sign with.
    ADD CONSTRAINT webhook_endpoints_no_plaintext_beside_sealed_check
        CHECK (secret_sealed IS NULL OR (secret = '' AND previous_secret = ''));
