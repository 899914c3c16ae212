-- The web console: platform administrators, the console's sessions, and
-- the approvals page's listing.
--
-- A platform administrator manages every organization in the console; only
-- the operator makes one (orgscope users set-platform-admin).
ALTER TABLE users ADD COLUMN platform_admin INTEGER NOT NULL DEFAULT 0;

-- A person signed in to the console. The browser holds a random token;
-- only its SHA-256 is kept, so a copy of the database signs nobody in. id
-- names the session in the audit trail. A session ends at expires_at
-- whatever happens (the absolute limit); the idle limit is read from
-- last_seen_at. No foreign key: a person deleted or suspended is refused
-- at the session's next use, and the row goes with DeleteExpired.
CREATE TABLE console_sessions (
    token_hash   TEXT    NOT NULL PRIMARY KEY,
    id           TEXT    NOT NULL UNIQUE,
    org_code     TEXT    NOT NULL,
    user_id      TEXT    NOT NULL,
    client_id    TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);

CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

-- The approvals page lists an organization's pending approvals, newest
-- first.
CREATE INDEX approvals_status ON approvals (org_code, status, created_at);
