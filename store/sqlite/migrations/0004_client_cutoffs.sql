-- A client's cutoff: its tokens issued before cutoff are invalid (the client
-- was disabled or deleted, or an operator cut its tokens off). Kept until
-- expires_at, when every such token has expired anyway; changed_at lets the
-- resource servers of every replica poll for what changed.
CREATE TABLE client_cutoffs (
    client_id  TEXT    NOT NULL PRIMARY KEY,
    cutoff     INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    changed_at INTEGER NOT NULL
);

CREATE INDEX client_cutoffs_changed ON client_cutoffs (changed_at);
CREATE INDEX client_cutoffs_expires ON client_cutoffs (expires_at);
