-- The change feed: typed events built from the audit log (the outbox), and webhook endpoints.
--
-- Every audit event is inserted in the transaction of its change. A deferred trigger turns it
-- into typed events at commit time: one row of event_types per (audit action, event type), so
-- a new kind of change joins the feed by adding a row there. The trigger numbers the account's
-- events under the row lock of event_cursors, taken at commit and held until the commit ends:
-- sequence numbers are gap-free and become visible in order, so "seq > cursor" never skips an
-- event that commits later. NOTIFY (sent at commit) wakes watchers (directory_events) and, for
-- accounts with a webhook endpoint, the deliverer (directory_webhooks); both always read the
-- table.

CREATE TABLE event_types (
    action text NOT NULL,
    event_type text NOT NULL,
    version integer NOT NULL DEFAULT 1,
    -- One event per element of this array of the audit event's details (NULL: one event).
    each_of text,
    PRIMARY KEY (action, event_type)
);

INSERT INTO event_types (action, event_type, each_of) VALUES
    ('user.created', 'user.created', NULL),
    ('user.updated', 'user.updated', NULL),
    ('user.deactivated', 'user.deactivated', NULL),
    ('user.reactivated', 'user.reactivated', NULL),
    ('user.deleted', 'user.deleted', NULL),
    ('identity_link.created', 'identity.linked', NULL),
    ('identity_link.deleted', 'identity.unlinked', NULL),
    ('group.created', 'group.created', NULL),
    ('group.updated', 'group.updated', NULL),
    ('group.space_roles_changed', 'group.updated', NULL),
    ('group.deleted', 'group.deleted', NULL),
    ('group.members_changed', 'group.member_added', 'added'),
    ('group.members_changed', 'group.member_removed', 'removed'),
    ('space_role.granted', 'grant.created', NULL),
    ('space_role.revoked', 'grant.deleted', NULL),
    -- Written by auth (connections live there) through RecordConnectionEvent.
    ('connection.created', 'connection.created', NULL),
    ('connection.updated', 'connection.updated', NULL),
    ('connection.disabled', 'connection.disabled', NULL),
    ('connection.deleted', 'connection.deleted', NULL),
    ('connection.certificate_expiring', 'certificate.expiring', NULL),
    ('scim_token.expiring', 'scim_token.expiring', NULL),
    -- The deliverer gave up on an endpoint: the account hears it through its other consumers.
    ('webhook.disabled', 'webhook.disabled', NULL),
    -- Verified domains.
    ('domain.claimed', 'domain.claimed', NULL),
    ('domain.verified', 'domain.verified', NULL),
    ('domain.verification_failed', 'domain.verification_failed', NULL),
    ('domain.verification_lost', 'domain.lost', NULL),
    ('domain.deleted', 'domain.deleted', NULL);

CREATE TABLE event_cursors (
    account_id uuid PRIMARY KEY,
    -- The account's last sequence number.
    last_seq bigint NOT NULL DEFAULT 0,
    -- Events up to this sequence number were removed by the retention cleanup.
    pruned_through bigint NOT NULL DEFAULT 0
);

CREATE TABLE events (
    account_id uuid NOT NULL,
    seq bigint NOT NULL,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    type text NOT NULL,
    version integer NOT NULL,
    time timestamptz NOT NULL,
    actor_type text NOT NULL,
    actor_id text NOT NULL,
    actor_display_name text NOT NULL,
    -- What the change came through: scim, sso, admin_api, cli, system.
    channel text NOT NULL,
    target_type text NOT NULL,
    target_id text NOT NULL,
    -- The resource as it is after the change (as it was, for a deletion); never a secret.
    resource jsonb NOT NULL,
    PRIMARY KEY (account_id, seq)
);
CREATE INDEX events_time_idx ON events (time);

-- The resource an event carries: the row as committed, in the directory's own names, or what
-- the audit event says about it when the row is gone or lives in another service.
CREATE FUNCTION event_resource(
    account uuid, target_type text, target_id text, details jsonb, element jsonb, part text
) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    found jsonb;
    member_id text;
BEGIN
    IF target_type = 'user' THEN
        SELECT to_jsonb(u) - 'account_id' INTO found
        FROM directory.users u WHERE u.account_id = account AND u.id::text = target_id;
        RETURN COALESCE(found, jsonb_build_object('id', target_id)
            || COALESCE(details -> 'before', '{}'));
    ELSIF target_type = 'group' THEN
        SELECT jsonb_build_object('id', g.id, 'display_name', g.display_name,
            'idp_identifier', g.idp_identifier, 'member_count', g.member_count,
            'version', g.version, 'update_time', g.update_time,
            'space_roles', COALESCE((SELECT jsonb_agg(jsonb_build_object(
                'space_id', r.space_id, 'role_id', r.role_id) ORDER BY r.space_id)
                FROM directory.group_space_roles r
                WHERE r.account_id = g.account_id AND r.group_id = g.id), '[]'))
        INTO found
        FROM directory.groups g WHERE g.account_id = account AND g.id::text = target_id;
        found := COALESCE(found, jsonb_build_object('id', target_id)
            || COALESCE(details -> 'before', '{}'));
        IF part IS NULL THEN
            RETURN found;
        END IF;
        member_id := CASE WHEN jsonb_typeof(element) = 'object' THEN element ->> 'user_id'
            ELSE element #>> '{}' END;
        RETURN jsonb_build_object('group', found, 'user_id', member_id,
            'source', COALESCE(details ->> (part || '_source'), element -> 'sources' ->> 0, ''));
    ELSIF target_type = 'membership' THEN
        RETURN jsonb_build_object('user_id', target_id,
            'space_id', details -> 'space_id', 'role_id', details -> 'role_id',
            'source', details -> 'source');
    ELSIF target_type = 'identity_link' THEN
        RETURN jsonb_build_object('user_id', target_id,
            'connection_id', details -> 'connection_id', 'subject', details -> 'subject');
    END IF;
    RETURN jsonb_build_object('id', target_id) || COALESCE(details -> 'resource', details);
END
$$;

CREATE FUNCTION feed_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    m record;
    element jsonb;
    seq bigint;
BEGIN
    FOR m IN SELECT t.event_type, t.version, t.each_of FROM directory.event_types t
             WHERE t.action = NEW.action ORDER BY t.event_type LOOP
        FOR element IN
            SELECT e FROM jsonb_array_elements(COALESCE(NEW.details -> m.each_of, '[]')) AS e
            WHERE m.each_of IS NOT NULL
            UNION ALL SELECT NULL WHERE m.each_of IS NULL
        LOOP
            INSERT INTO directory.event_cursors AS c (account_id, last_seq)
            VALUES (NEW.account_id, 1)
            ON CONFLICT (account_id) DO UPDATE SET last_seq = c.last_seq + 1
            RETURNING c.last_seq INTO seq;
            INSERT INTO directory.events (account_id, seq, type, version, time, actor_type,
                actor_id, actor_display_name, channel, target_type, target_id, resource)
            VALUES (NEW.account_id, seq, m.event_type, m.version, NEW.time, NEW.actor_type,
                NEW.actor_id, NEW.actor_display_name,
                CASE NEW.actor_type WHEN 'scim_token' THEN 'scim' WHEN 'sso_login' THEN 'sso'
                    ELSE NEW.actor_type END,
                NEW.target_type, NEW.target_id,
                directory.event_resource(NEW.account_id, NEW.target_type, NEW.target_id,
                    NEW.details, element, m.each_of));
        END LOOP;
    END LOOP;
    IF seq IS NOT NULL THEN
        PERFORM pg_notify('directory_events', NEW.account_id::text);
        -- The deliverer wakes only for accounts with somewhere to deliver.
        IF EXISTS (SELECT 1 FROM directory.webhook_endpoints w
                   WHERE w.account_id = NEW.account_id AND w.enabled) THEN
            PERFORM pg_notify('directory_webhooks', NEW.account_id::text);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

-- Deferred: runs at commit, after every other lock of the transaction is held, so the cursor
-- row is locked only for the commit itself and cannot join a deadlock.
CREATE CONSTRAINT TRIGGER audit_events_feed AFTER INSERT ON audit_events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION feed_event();

-- Webhook endpoints: where an account wants its events POSTed (Standard Webhooks).
CREATE TABLE webhook_endpoints (
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    url text NOT NULL,
    -- Empty: every type.
    types text[] NOT NULL DEFAULT '{}',
    description text NOT NULL DEFAULT '',
    -- The signing secret, in the Standard Webhooks form ("whsec_" + base64 of 32 bytes).
    secret text NOT NULL,
    -- After a rotation the previous secret signs as well until previous_secret_expire_time.
    previous_secret text NOT NULL DEFAULT '',
    previous_secret_expire_time timestamptz,
    enabled boolean NOT NULL DEFAULT true,
    disabled_reason text NOT NULL DEFAULT '',
    -- Every event up to this sequence number was delivered (or was not of a wanted type).
    delivered_seq bigint NOT NULL,
    -- Retries of the next event: since when it fails, how many attempts, when to try again.
    failing_since timestamptz,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_time timestamptz NOT NULL DEFAULT now(),
    create_time timestamptz NOT NULL DEFAULT now(),
    update_time timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (account_id, id)
);
CREATE INDEX webhook_endpoints_due_idx ON webhook_endpoints (next_attempt_time) WHERE enabled;

-- One row per attempt: the endpoint's delivery log.
CREATE TABLE webhook_deliveries (
    account_id uuid NOT NULL,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    endpoint_id uuid NOT NULL,
    event_id uuid NOT NULL,
    event_seq bigint NOT NULL,
    event_type text NOT NULL,
    attempt integer NOT NULL,
    -- A resend asked for by the account, outside the in-order stream.
    resend boolean NOT NULL DEFAULT false,
    succeeded boolean NOT NULL,
    http_status integer NOT NULL DEFAULT 0,
    latency_ms integer NOT NULL DEFAULT 0,
    -- Why it failed, in our words (never the response body).
    error text NOT NULL DEFAULT '',
    time timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (account_id, id),
    CONSTRAINT webhook_deliveries_endpoint_fkey FOREIGN KEY (account_id, endpoint_id)
        REFERENCES webhook_endpoints (account_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_endpoint_idx
    ON webhook_deliveries (account_id, endpoint_id, time DESC);
CREATE INDEX webhook_deliveries_time_idx ON webhook_deliveries (time);

-- "Resend this event": delivered once more, beside the in-order stream.
CREATE TABLE webhook_resends (
    account_id uuid NOT NULL,
    endpoint_id uuid NOT NULL,
    event_seq bigint NOT NULL,
    request_time timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, endpoint_id, event_seq),
    CONSTRAINT webhook_resends_endpoint_fkey FOREIGN KEY (account_id, endpoint_id)
        REFERENCES webhook_endpoints (account_id, id) ON DELETE CASCADE
);

-- The built-in Account Admin reads the feed and manages webhooks.
UPDATE roles
SET permissions = ARRAY(SELECT DISTINCT p FROM unnest(permissions
        || '{events:read,webhooks:read,webhooks:manage}') AS p ORDER BY p),
    version = version + 1,
    update_time = now()
WHERE built_in AND scope = 'account' AND name = 'Account Admin'
  AND NOT ('webhooks:manage' = ANY (permissions));
