-- A SCIM client may remove `active` or `roles` from a user (RFC 7644 §3.5.2.2: the attribute
-- becomes unassigned). The user then holds the default of each, active and the account's
-- default role, and SCIM reads the attribute back as absent until a client sets it again.
-- Every write other than such a removal assigns it; existing users keep theirs assigned.
ALTER TABLE users
    ADD COLUMN active_unassigned boolean NOT NULL DEFAULT false,
    ADD COLUMN account_role_unassigned boolean NOT NULL DEFAULT false,
    -- Unassigned means the default: a deactivated user's state is always assigned.
    ADD CONSTRAINT users_active_unassigned_check
        CHECK (NOT active_unassigned OR status <> 'deactivated');
