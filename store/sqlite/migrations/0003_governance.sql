-- Records for governance: audit events with decisions and actor chains, a
-- denylist of revoked access tokens, and an index for idle clients with two
-- cutoffs.

-- Audit events are keyed by (org_code, time, id): one org's events in time
-- order are one range of the primary key, however they are filtered by
-- time. Unlike the first version, the table has a rowid: its rows are
-- large, and with every index a secondary one SQLite's planner picks the
-- client index when a listing names a client. Existing events keep
-- everything but detail, which becomes the reason; they were all allowed,
-- and keep their outcome.
ALTER TABLE audit_events RENAME TO audit_events_v1;

CREATE TABLE audit_events (
    org_code      TEXT    NOT NULL,
    time          INTEGER NOT NULL,
    id            TEXT    NOT NULL,
    client_id     TEXT    NOT NULL,
    subject       TEXT    NOT NULL,
    actor_chain   TEXT,
    grant_id      TEXT    NOT NULL,
    action        TEXT    NOT NULL,
    target        TEXT    NOT NULL,
    params_sha256 TEXT    NOT NULL,
    decision      TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    outcome       TEXT    NOT NULL,
    request_id    TEXT    NOT NULL,
    trace_id      TEXT    NOT NULL,
    purpose       TEXT    NOT NULL,
    policies      TEXT,
    PRIMARY KEY (org_code, time, id)
);

INSERT INTO audit_events (org_code, time, id, client_id, subject, actor_chain, grant_id, action, target,
    params_sha256, decision, reason, outcome, request_id, trace_id, purpose, policies)
SELECT org_code, time, id, client_id, subject, NULL, '', action, target,
    '', 'allow', detail, outcome, '', '', '', NULL
FROM audit_events_v1;

DROP TABLE audit_events_v1;

-- One client's events of one org, in time order.
CREATE INDEX audit_events_client ON audit_events (org_code, client_id, time, id);
-- Every org's events in time order: the export and retention.
CREATE INDEX audit_events_time ON audit_events (time, id);

CREATE TABLE revoked_tokens (
    token_id   TEXT    NOT NULL PRIMARY KEY,
    client_id  TEXT    NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER NOT NULL
);

CREATE INDEX revoked_tokens_revoked ON revoked_tokens (revoked_at);
CREATE INDEX revoked_tokens_expires ON revoked_tokens (expires_at);

-- DeleteIdleClients: never used (last_used_at IS NULL) and created before
-- one cutoff, or last used before another; each is a range of this index.
DROP INDEX clients_idle;
CREATE INDEX clients_idle ON clients (kind, last_used_at, created_at);
