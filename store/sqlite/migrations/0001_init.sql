-- OrgScope's initial schema.
--
-- Times are INTEGER unix microseconds, UTC; NULL is the zero time (never
-- used, never revoked). Lists and maps are TEXT JSON; NULL when empty.
-- Every tenant table is keyed by org_code first, so each tenant query reads
-- one index range of one organization.

CREATE TABLE orgs (
    code       TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    properties TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Users are clustered by (org_code, id): ListUsers is a range scan of the
-- primary key, O(page size) however deep the page. The *_lower columns hold
-- the Go-lower-cased forms that uniqueness and prefix search compare.
CREATE TABLE users (
    org_code        TEXT    NOT NULL REFERENCES orgs (code) ON DELETE CASCADE,
    id              TEXT    NOT NULL,
    email           TEXT    NOT NULL,
    email_lower     TEXT    NOT NULL,
    given_name      TEXT    NOT NULL,
    family_name     TEXT    NOT NULL,
    given_lower     TEXT    NOT NULL,
    family_lower    TEXT    NOT NULL,
    full_name_lower TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    role            TEXT    NOT NULL,
    password_hash   TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (org_code, id)
) WITHOUT ROWID;

CREATE UNIQUE INDEX users_org_email ON users (org_code, email_lower);
-- The issuer's sign-in looks an email up across all organizations.
CREATE INDEX users_email ON users (email_lower);

CREATE TABLE flag_definitions (
    key           TEXT    NOT NULL PRIMARY KEY,
    type          TEXT    NOT NULL,
    default_value TEXT    NOT NULL,
    description   TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE flag_overrides (
    org_code   TEXT    NOT NULL REFERENCES orgs (code) ON DELETE CASCADE,
    key        TEXT    NOT NULL REFERENCES flag_definitions (key) ON DELETE CASCADE,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (org_code, key)
) WITHOUT ROWID;

-- Deleting a definition cascades to its overrides through this index.
CREATE INDEX flag_overrides_key ON flag_overrides (key);

CREATE TABLE clients (
    id                         TEXT    NOT NULL PRIMARY KEY,
    name                       TEXT    NOT NULL,
    kind                       TEXT    NOT NULL,
    org_code                   TEXT    REFERENCES orgs (code) ON DELETE CASCADE,
    secret_hash                TEXT    NOT NULL,
    scopes                     TEXT,
    redirect_uris              TEXT,
    grant_types                TEXT,
    token_endpoint_auth_method TEXT    NOT NULL,
    properties                 TEXT,
    created_at                 INTEGER NOT NULL,
    last_used_at               INTEGER
);

CREATE INDEX clients_org ON clients (org_code);
-- DeleteIdleClients and CountClients filter on exactly these expressions.
CREATE INDEX clients_idle ON clients (kind, COALESCE(last_used_at, created_at));

CREATE TABLE signing_keys (
    id          TEXT    NOT NULL PRIMARY KEY,
    algorithm   TEXT    NOT NULL,
    private_key BLOB    NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE INDEX signing_keys_created ON signing_keys (created_at);

CREATE TABLE auth_requests (
    handle_hash           TEXT    NOT NULL PRIMARY KEY,
    client_id             TEXT    NOT NULL,
    redirect_uri          TEXT    NOT NULL,
    state                 TEXT    NOT NULL,
    scopes                TEXT,
    resource              TEXT    NOT NULL,
    code_challenge        TEXT    NOT NULL,
    code_challenge_method TEXT    NOT NULL,
    csrf_hash             TEXT    NOT NULL,
    org_code              TEXT    NOT NULL,
    user_id               TEXT    NOT NULL,
    created_at            INTEGER NOT NULL,
    expires_at            INTEGER
);

CREATE TABLE auth_codes (
    code_hash      TEXT    NOT NULL PRIMARY KEY,
    client_id      TEXT    NOT NULL,
    org_code       TEXT    NOT NULL,
    user_id        TEXT    NOT NULL,
    redirect_uri   TEXT    NOT NULL,
    resource       TEXT    NOT NULL,
    scopes         TEXT,
    code_challenge TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER,
    used_at        INTEGER,
    grant_id       TEXT    NOT NULL
);

CREATE TABLE grants (
    id         TEXT    NOT NULL PRIMARY KEY,
    client_id  TEXT    NOT NULL,
    org_code   TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    scopes     TEXT,
    resource   TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE INDEX grants_revoked ON grants (revoked_at);

CREATE TABLE refresh_tokens (
    token_hash TEXT    NOT NULL PRIMARY KEY,
    grant_id   TEXT    NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    rotated_at INTEGER
);

CREATE INDEX refresh_tokens_grant ON refresh_tokens (grant_id);

-- Events are clustered by (org_code, id); ids are time-ordered, so newest
-- first is a backwards range scan of the primary key.
CREATE TABLE audit_events (
    org_code  TEXT    NOT NULL,
    id        TEXT    NOT NULL,
    time      INTEGER NOT NULL,
    subject   TEXT    NOT NULL,
    client_id TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    target    TEXT    NOT NULL,
    outcome   TEXT    NOT NULL,
    detail    TEXT    NOT NULL,
    PRIMARY KEY (org_code, id)
) WITHOUT ROWID;
