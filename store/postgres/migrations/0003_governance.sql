-- Records for governance: audit events with decisions and actor chains, a
-- denylist of revoked access tokens, and an index for idle clients with two
-- cutoffs. The SQLite backend's 0003_governance.sql, in PostgreSQL types.

-- Existing events keep everything but detail, which becomes the reason;
-- they were all allowed, and keep their outcome. The new columns get
-- defaults only to fill the existing rows.
ALTER TABLE audit_events
    ADD COLUMN actor_chain   text[],
    ADD COLUMN grant_id      text NOT NULL DEFAULT '',
    ADD COLUMN params_sha256 text NOT NULL DEFAULT '',
    ADD COLUMN decision      text NOT NULL DEFAULT 'allow',
    ADD COLUMN reason        text NOT NULL DEFAULT '',
    ADD COLUMN request_id    text NOT NULL DEFAULT '',
    ADD COLUMN trace_id      text NOT NULL DEFAULT '',
    ADD COLUMN purpose       text NOT NULL DEFAULT '',
    ADD COLUMN policies      text[];
UPDATE audit_events SET reason = detail;
ALTER TABLE audit_events
    DROP COLUMN detail,
    ALTER COLUMN client_id SET DATA TYPE text COLLATE "C",
    ALTER COLUMN grant_id DROP DEFAULT,
    ALTER COLUMN params_sha256 DROP DEFAULT,
    ALTER COLUMN decision DROP DEFAULT,
    ALTER COLUMN reason DROP DEFAULT,
    ALTER COLUMN request_id DROP DEFAULT,
    ALTER COLUMN trace_id DROP DEFAULT,
    ALTER COLUMN purpose DROP DEFAULT;

-- Keyed by (org_code, time, id): one org's events in time order are one
-- range of the primary key, however they are filtered by time.
ALTER TABLE audit_events DROP CONSTRAINT audit_events_pkey;
ALTER TABLE audit_events ADD PRIMARY KEY (org_code, time, id);
-- One client's events of one org, in time order.
CREATE INDEX audit_events_client ON audit_events (org_code, client_id, time, id);
-- Every org's events in time order: the export and retention.
CREATE INDEX audit_events_time ON audit_events (time, id);

CREATE TABLE revoked_tokens (
    token_id   text COLLATE "C" NOT NULL PRIMARY KEY,
    client_id  text             NOT NULL,
    expires_at timestamptz,
    revoked_at timestamptz      NOT NULL
);

CREATE INDEX revoked_tokens_revoked ON revoked_tokens (revoked_at);
CREATE INDEX revoked_tokens_expires ON revoked_tokens (expires_at);

-- DeleteIdleClients: never used (last_used_at IS NULL) and created before
-- one cutoff, or last used before another; each is a range of this index.
DROP INDEX clients_idle;
CREATE INDEX clients_idle ON clients (kind, last_used_at, created_at);
