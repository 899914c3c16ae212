-- The web console: platform administrators, the console's sessions, and
-- the approvals page's listing. The SQLite backend's 0011_console.sql, in
-- PostgreSQL types.
ALTER TABLE users ADD COLUMN platform_admin boolean NOT NULL DEFAULT false;

CREATE TABLE console_sessions (
    token_hash   text COLLATE "C" NOT NULL PRIMARY KEY,
    id           text COLLATE "C" NOT NULL UNIQUE,
    org_code     text COLLATE "C" NOT NULL,
    user_id      text COLLATE "C" NOT NULL,
    client_id    text COLLATE "C" NOT NULL,
    created_at   timestamptz      NOT NULL,
    last_seen_at timestamptz      NOT NULL,
    expires_at   timestamptz      NOT NULL
);

CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

CREATE INDEX approvals_status ON approvals (org_code, status, created_at);
