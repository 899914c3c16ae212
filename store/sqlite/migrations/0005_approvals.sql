-- Approvals: a person's decision on a call the access policy lets run only
-- once someone approves it. Keyed by (org_code, id) like every record of a
-- tenant; the approval page reads one by its id within the person's org.

CREATE TABLE approvals (
    org_code      TEXT    NOT NULL,
    id            TEXT    NOT NULL,
    client_id     TEXT    NOT NULL,
    subject       TEXT    NOT NULL,
    actor_chain   TEXT,
    purpose       TEXT    NOT NULL,
    tool          TEXT    NOT NULL,
    params_sha256 TEXT    NOT NULL,
    args          TEXT    NOT NULL,
    policies      TEXT,
    status        TEXT    NOT NULL,
    decided_by    TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    decided_at    INTEGER,
    expires_at    INTEGER NOT NULL,
    used_at       INTEGER,
    PRIMARY KEY (org_code, id)
);

-- A client's pending approvals (counted to bound them, and found again when
-- the same call is repeated).
CREATE INDEX approvals_client ON approvals (org_code, client_id, status, expires_at);
-- Removal once expired.
CREATE INDEX approvals_expires ON approvals (expires_at);
