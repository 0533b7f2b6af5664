-- SCIM provisioning: the per-account answer to a Group PATCH, and the provisioning log.

-- RFC 7644 §3.5.2 lets a PATCH answer 204 or 200 with the resource. Entra recommends 204 for
-- groups and warns against returning members; scim-sanity's probe wants 200. false (204 unless
-- the client asks for attributes) suits Entra; true answers 200 with the group, members left out
-- unless requested (reference/scim-clients.md §8).
ALTER TABLE accounts
    ADD COLUMN scim_group_patch_returns_resource boolean NOT NULL DEFAULT false;

-- One row per SCIM request, for account admins (like Entra's provisioning logs): which token,
-- what it asked, how it ended, how long it took. Never request bodies, attribute values or
-- tokens: `detail` is a short error category written by the scim service.
--
-- Append-only and without foreign keys, like audit_events: the scim service writes in batches
-- after the fact, and a batch must not fail because a resource, a token or even the account has
-- gone since (the log outlives them).
CREATE TABLE provisioning_events (
    account_id uuid NOT NULL,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    -- When the request reached the scim service (not when the batch was written).
    time timestamptz NOT NULL,
    token_id text NOT NULL DEFAULT '',
    method text NOT NULL,
    -- create, read, list, search, replace, update, delete, discovery, other.
    operation text NOT NULL,
    -- User, Group, ServiceProviderConfig, ResourceType, Schema, or '' when the path names none.
    resource_type text NOT NULL DEFAULT '',
    -- The resource's id when the request named or created one; only ids, never a path as sent.
    resource_id text NOT NULL DEFAULT '',
    outcome text NOT NULL CHECK (outcome IN ('success', 'rejected', 'failed')),
    http_status smallint NOT NULL CHECK (http_status BETWEEN 100 AND 599),
    duration_us bigint NOT NULL DEFAULT 0 CHECK (duration_us >= 0),
    detail text NOT NULL DEFAULT '',
    trace_id text NOT NULL DEFAULT '',
    PRIMARY KEY (account_id, id)
);
-- The admin's question is "what happened lately" (newest first, filtered by token, resource
-- type or outcome): the account's events by time, read backwards.
CREATE INDEX provisioning_events_time_idx ON provisioning_events (account_id, time, id);
