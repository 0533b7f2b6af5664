-- A valid IdP-initiated SAML response does not sign anyone in: auth sends the browser to start
-- an SP-initiated login instead (sso-security.md row 15), and records that as its own outcome.
ALTER TABLE login_traces DROP CONSTRAINT login_traces_outcome_check;
ALTER TABLE login_traces ADD CONSTRAINT login_traces_outcome_check
    CHECK (outcome IN ('success', 'failure', 'restarted'));
