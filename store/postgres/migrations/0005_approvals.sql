-- Approvals: a person's decision on a call the access policy lets run only
-- once someone approves it. The SQLite backend's 0005_approvals.sql, in
-- PostgreSQL types.

CREATE TABLE approvals (
    org_code      text COLLATE "C" NOT NULL,
    id            text COLLATE "C" NOT NULL,
    client_id     text COLLATE "C" NOT NULL,
    subject       text             NOT NULL,
    actor_chain   text[],
    purpose       text             NOT NULL,
    tool          text             NOT NULL,
    params_sha256 text             NOT NULL,
    args          text             NOT NULL,
    policies      text[],
    status        text             NOT NULL,
    decided_by    text             NOT NULL,
    created_at    timestamptz      NOT NULL,
    decided_at    timestamptz,
    expires_at    timestamptz      NOT NULL,
    used_at       timestamptz,
    PRIMARY KEY (org_code, id)
);

CREATE INDEX approvals_client ON approvals (org_code, client_id, status, expires_at);
CREATE INDEX approvals_expires ON approvals (expires_at);
