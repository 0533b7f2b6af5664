-- Verified domains: an account proves it controls a DNS domain by publishing a TXT record
-- (`_idmesh-challenge.<domain>` = `idmesh-domain-verification=<challenge_token>`). Sign-in
-- trusts an email's domain only when the account holds it verified.
--
-- Several accounts may claim a domain (pending), so a stale or hostile claim never blocks the
-- real owner; only one may hold it verified (domains_verified_key).

CREATE TABLE domains (
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    -- Lower-case ASCII (IDNA A-labels), no trailing dot.
    domain text NOT NULL
        CHECK (domain = lower(domain) AND domain <> '' AND right(domain, 1) <> '.'),
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'verified')),
    -- Not a secret: it is published in DNS. 32 hex characters (122 random bits).
    challenge_token text NOT NULL DEFAULT translate(gen_random_uuid()::text, '-', '')
        CHECK (length(challenge_token) >= 16),
    -- How the domain was verified: 'dns' (the TXT record, re-checked daily) or 'operator'
    -- (`idmesh domain add --verified`, from a shell on the deployment; not re-checked).
    verification_method text NOT NULL DEFAULT ''
        CHECK (verification_method IN ('', 'dns', 'operator')),
    create_time timestamptz NOT NULL DEFAULT now(),
    verify_time timestamptz,
    last_check_time timestamptz,
    -- Start of the current run of failed checks of a verified domain; NULL when it passes.
    failing_since timestamptz,
    -- Why the last check failed ('' when it passed): shown to admins, never a secret.
    last_check_error text NOT NULL DEFAULT '',
    created_by text NOT NULL DEFAULT '',
    PRIMARY KEY (account_id, id),
    CONSTRAINT domains_account_domain_key UNIQUE (account_id, domain),
    CONSTRAINT domains_verified_complete CHECK (
        (status = 'verified') = (verify_time IS NOT NULL AND verification_method <> ''))
);
CREATE UNIQUE INDEX domains_verified_key ON domains (domain) WHERE status = 'verified';
CREATE INDEX domains_create_time_idx ON domains (account_id, create_time, id);
-- The re-check's question: which DNS-verified domains are due, oldest check first.
CREATE INDEX domains_recheck_idx ON domains (last_check_time)
    WHERE status = 'verified' AND verification_method = 'dns';

-- The domains of existing SSO connections become pending claims of the connection's account,
-- so an operator verifies each once (`idmesh domain verify`, or `add --verified`). The auth
-- schema exists only once auth has migrated (a fresh install migrates directory first, and has
-- no connections then).
DO $$
BEGIN
    IF to_regclass('auth.connection_domains') IS NULL THEN
        RETURN;
    END IF;
    WITH claimed AS (
        INSERT INTO domains (account_id, domain, created_by)
        SELECT DISTINCT cd.account_id, rtrim(lower(cd.domain), '.'), 'migration 0004'
        FROM auth.connection_domains cd
        JOIN accounts a ON a.id = cd.account_id
        WHERE rtrim(cd.domain, '.') <> ''
        ON CONFLICT (account_id, domain) DO NOTHING
        RETURNING account_id, id, domain
    )
    INSERT INTO audit_events (account_id, actor_type, actor_id, actor_display_name, action,
        target_type, target_id, details)
    SELECT account_id, 'system', 'migration', 'migration 0004', 'domain.claimed', 'domain',
        id::text, jsonb_build_object('domain', domain, 'how', 'migration')
    FROM claimed;
END
$$;
