-- Delegation: a person's authority handed to an agent by token exchange
-- (RFC 8693). Each exchange is recorded: the token it issued (by jti), the
-- grant it descends from (and dies with), the acting client and the chain
-- of actors before it (outermost first), the scopes, the purpose and the
-- expiry. A person lists their grants and what acts for them.
CREATE TABLE delegations (
    token_id         TEXT    NOT NULL PRIMARY KEY,
    grant_id         TEXT    NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    org_code         TEXT    NOT NULL,
    user_id          TEXT    NOT NULL,
    client_id        TEXT    NOT NULL,
    actor_chain      TEXT,
    subject_token_id TEXT    NOT NULL,
    scopes           TEXT,
    purpose          TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL
);

-- A grant's delegations, newest first; the janitor's sweep by expiry.
CREATE INDEX delegations_grant ON delegations (grant_id, created_at);
CREATE INDEX delegations_expires ON delegations (expires_at);

-- Grants listed per organization, and per person, in id (creation) order.
CREATE INDEX grants_org ON grants (org_code, id);
CREATE INDEX grants_org_user ON grants (org_code, user_id, id);
