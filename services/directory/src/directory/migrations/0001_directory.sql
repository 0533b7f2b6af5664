-- The directory: accounts (tenants) and everything that belongs to one.
--
-- Every table but accounts leads its primary key with account_id: every query is scoped by
-- account, and composite foreign keys (account_id, x_id) make a reference to another account's
-- row impossible rather than merely unlikely. Ids are UUIDs. Optional strings are stored as ''
-- (proto3 has no absent string); only references and times that may be absent are NULL.
-- Mutable rows carry `version`, bumped on every change (optimistic concurrency).

CREATE TABLE accounts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Lower-case slug used in URLs and the CLI.
    name text NOT NULL CONSTRAINT accounts_name_key UNIQUE,
    display_name text NOT NULL DEFAULT '',
    require_given_name boolean NOT NULL DEFAULT false,
    require_family_name boolean NOT NULL DEFAULT false,
    require_email_user_name boolean NOT NULL DEFAULT false,
    -- NULL means Account Member. Its foreign key is added once roles exists.
    default_account_role_id uuid,
    create_time timestamptz NOT NULL DEFAULT now(),
    update_time timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 1
);
CREATE INDEX accounts_create_time_idx ON accounts (create_time, id);

CREATE TABLE roles (
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    name text NOT NULL,
    -- Immutable after creation: users and memberships rely on the scope of their role.
    scope text NOT NULL CHECK (scope IN ('account', 'space')),
    permissions text[] NOT NULL DEFAULT '{}',
    built_in boolean NOT NULL DEFAULT false,
    description text NOT NULL DEFAULT '',
    create_time timestamptz NOT NULL DEFAULT now(),
    update_time timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (account_id, id)
);
CREATE UNIQUE INDEX roles_name_key ON roles (account_id, scope, lower(name));
CREATE INDEX roles_create_time_idx ON roles (account_id, create_time, id);

ALTER TABLE accounts ADD CONSTRAINT accounts_default_account_role_fkey
    FOREIGN KEY (id, default_account_role_id) REFERENCES roles (account_id, id);

CREATE TABLE users (
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    user_name text NOT NULL,
    external_id text NOT NULL DEFAULT '',
    name_formatted text NOT NULL DEFAULT '',
    name_family_name text NOT NULL DEFAULT '',
    name_given_name text NOT NULL DEFAULT '',
    name_middle_name text NOT NULL DEFAULT '',
    name_honorific_prefix text NOT NULL DEFAULT '',
    name_honorific_suffix text NOT NULL DEFAULT '',
    display_name text NOT NULL DEFAULT '',
    nick_name text NOT NULL DEFAULT '',
    profile_url text NOT NULL DEFAULT '',
    title text NOT NULL DEFAULT '',
    user_type text NOT NULL DEFAULT '',
    preferred_language text NOT NULL DEFAULT '',
    locale text NOT NULL DEFAULT '',
    timezone text NOT NULL DEFAULT '',
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'active', 'deactivated')),
    -- Multi-valued attributes: JSON arrays of {value, type, primary, display} (addresses: their
    -- own keys), always with every key so containment queries can match on any of them.
    emails jsonb NOT NULL DEFAULT '[]',
    phone_numbers jsonb NOT NULL DEFAULT '[]',
    ims jsonb NOT NULL DEFAULT '[]',
    photos jsonb NOT NULL DEFAULT '[]',
    addresses jsonb NOT NULL DEFAULT '[]',
    entitlements jsonb NOT NULL DEFAULT '[]',
    x509_certificates jsonb NOT NULL DEFAULT '[]',
    -- RFC 7643 §4.3 enterprise extension.
    employee_number text NOT NULL DEFAULT '',
    cost_center text NOT NULL DEFAULT '',
    organization text NOT NULL DEFAULT '',
    division text NOT NULL DEFAULT '',
    department text NOT NULL DEFAULT '',
    manager_id uuid,
    manager_display_name text NOT NULL DEFAULT '',
    -- Other schema extensions, keyed by schema URN.
    extensions jsonb NOT NULL DEFAULT '{}',
    account_role_id uuid NOT NULL,
    last_login_time timestamptz,
    create_time timestamptz NOT NULL DEFAULT now(),
    update_time timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (account_id, id),
    CONSTRAINT users_account_role_fkey
        FOREIGN KEY (account_id, account_role_id) REFERENCES roles (account_id, id),
    -- Deleting a manager clears the reference explicitly (with an audit event), so no action here.
    CONSTRAINT users_manager_fkey
        FOREIGN KEY (account_id, manager_id) REFERENCES users (account_id, id)
);
-- userName is unique per account among live rows, compared case-insensitively (RFC 7643 §4.1.1
-- caseExact=false); a concurrent burst of creates of one name leaves exactly one row.
CREATE UNIQUE INDEX users_user_name_key ON users (account_id, lower(user_name));
CREATE INDEX users_external_id_idx ON users (account_id, external_id);
CREATE INDEX users_create_time_idx ON users (account_id, create_time, id);
CREATE INDEX users_manager_idx ON users (account_id, manager_id) WHERE manager_id IS NOT NULL;
CREATE INDEX users_account_role_idx ON users (account_id, account_role_id);
-- Serves `emails.value eq x` and `emails[type eq "work"].value eq x` (the matching filters of
-- Entra and Okta) by containment on the lower-cased array; filters.py emits this exact expression.
CREATE INDEX users_emails_idx ON users USING gin ((lower(emails::text)::jsonb) jsonb_path_ops);

CREATE TABLE identity_links (
    account_id uuid NOT NULL,
    -- Owned by auth, so not a reference here; stored as sent.
    connection_id text NOT NULL,
    subject text NOT NULL,
    user_id uuid NOT NULL,
    create_time timestamptz NOT NULL DEFAULT now(),
    last_login_time timestamptz,
    PRIMARY KEY (account_id, connection_id, subject),
    CONSTRAINT identity_links_user_fkey
        FOREIGN KEY (account_id, user_id) REFERENCES users (account_id, id) ON DELETE CASCADE
);
CREATE INDEX identity_links_user_idx ON identity_links (account_id, user_id);

CREATE TABLE spaces (
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    name text NOT NULL,
    description text NOT NULL DEFAULT '',
    create_time timestamptz NOT NULL DEFAULT now(),
    update_time timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (account_id, id)
);
-- IdPs send space names in `space_name`; they match whatever the case.
CREATE UNIQUE INDEX spaces_name_key ON spaces (account_id, lower(name));
CREATE INDEX spaces_create_time_idx ON spaces (account_id, create_time, id);

CREATE TABLE space_memberships (
    account_id uuid NOT NULL,
    user_id uuid NOT NULL,
    space_id uuid NOT NULL,
    -- Group-derived roles are computed from group_space_roles, never stored here.
    source text NOT NULL CHECK (source IN ('sso', 'scim', 'manual')),
    role_id uuid NOT NULL,
    create_time timestamptz NOT NULL DEFAULT now(),
    update_time timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, user_id, space_id, source),
    CONSTRAINT space_memberships_user_fkey
        FOREIGN KEY (account_id, user_id) REFERENCES users (account_id, id) ON DELETE CASCADE,
    CONSTRAINT space_memberships_space_fkey
        FOREIGN KEY (account_id, space_id) REFERENCES spaces (account_id, id) ON DELETE CASCADE,
    CONSTRAINT space_memberships_role_fkey
        FOREIGN KEY (account_id, role_id) REFERENCES roles (account_id, id)
);
CREATE INDEX space_memberships_space_idx ON space_memberships (account_id, space_id);
CREATE INDEX space_memberships_role_idx ON space_memberships (account_id, role_id);
CREATE INDEX space_memberships_create_time_idx
    ON space_memberships (account_id, create_time, user_id, space_id, source);

CREATE TABLE groups (
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    display_name text NOT NULL,
    -- The IdP's group id (SCIM externalId, the groups claim); '' when unknown.
    idp_identifier text NOT NULL DEFAULT '',
    -- Distinct member users, kept by the statement that changes the members (and bumps version).
    member_count bigint NOT NULL DEFAULT 0,
    create_time timestamptz NOT NULL DEFAULT now(),
    update_time timestamptz NOT NULL DEFAULT now(),
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (account_id, id)
);
CREATE UNIQUE INDEX groups_idp_identifier_key ON groups (account_id, idp_identifier)
    WHERE idp_identifier <> '';
CREATE INDEX groups_idp_identifier_idx ON groups (account_id, idp_identifier);
CREATE INDEX groups_display_name_idx ON groups (account_id, lower(display_name));
CREATE INDEX groups_create_time_idx ON groups (account_id, create_time, id);

-- One row per (group, user, source): a login's groups claim removes only what it added
-- (source sso) and leaves SCIM and manual memberships alone.
CREATE TABLE group_members (
    account_id uuid NOT NULL,
    group_id uuid NOT NULL,
    user_id uuid NOT NULL,
    source text NOT NULL CHECK (source IN ('sso', 'scim', 'manual')),
    create_time timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, group_id, user_id, source),
    FOREIGN KEY (account_id, group_id) REFERENCES groups (account_id, id) ON DELETE CASCADE,
    CONSTRAINT group_members_user_fkey
        FOREIGN KEY (account_id, user_id) REFERENCES users (account_id, id) ON DELETE CASCADE
);
CREATE INDEX group_members_user_idx ON group_members (account_id, user_id);

CREATE TABLE group_space_roles (
    account_id uuid NOT NULL,
    group_id uuid NOT NULL,
    space_id uuid NOT NULL,
    role_id uuid NOT NULL,
    PRIMARY KEY (account_id, group_id, space_id),
    FOREIGN KEY (account_id, group_id) REFERENCES groups (account_id, id) ON DELETE CASCADE,
    FOREIGN KEY (account_id, space_id) REFERENCES spaces (account_id, id) ON DELETE CASCADE,
    CONSTRAINT group_space_roles_role_fkey
        FOREIGN KEY (account_id, role_id) REFERENCES roles (account_id, id)
);
CREATE INDEX group_space_roles_space_idx ON group_space_roles (account_id, space_id);
CREATE INDEX group_space_roles_role_idx ON group_space_roles (account_id, role_id);

-- Append-only. No foreign keys: the trail outlives the users, groups and accounts it describes.
CREATE TABLE audit_events (
    account_id uuid NOT NULL,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    -- clock_timestamp, not now(): the events of one transaction keep their order.
    time timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_type text NOT NULL,
    actor_id text NOT NULL DEFAULT '',
    actor_display_name text NOT NULL DEFAULT '',
    action text NOT NULL,
    target_type text NOT NULL,
    target_id text NOT NULL,
    details jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (account_id, id)
);
CREATE INDEX audit_events_time_idx ON audit_events (account_id, time, id);
CREATE INDEX audit_events_target_idx ON audit_events (account_id, target_id, time);
CREATE INDEX audit_events_action_idx ON audit_events (account_id, action, time);
CREATE INDEX audit_events_actor_idx ON audit_events (account_id, actor_id, time);
