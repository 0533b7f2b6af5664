-- Login trust. A connection's domains are the email domains it serves within its account; an
-- account proves a domain is its own in directory (directory.domains, a DNS TXT record), and
-- only then does home-realm discovery route the domain, or may a login link or create a user by
-- an email of it. Several accounts may therefore list one domain here: an unverified listing
-- never blocks the real owner. Within one account, one connection serves a domain.
ALTER TABLE connection_domains DROP CONSTRAINT connection_domains_pkey;
ALTER TABLE connection_domains ADD PRIMARY KEY (account_id, domain);

-- OIDC: whether the userinfo endpoint is asked after the ID token (OIDC Core §5.3). New
-- connections take their vendor preset's default; existing ones keep what they did.
ALTER TABLE connections ADD COLUMN oidc_userinfo boolean NOT NULL DEFAULT false;
