-- OrgScope's initial schema: the tables and keys of the SQLite backend's
-- 0001_init.sql, in PostgreSQL types.
--
-- Times are timestamptz, written in UTC at microsecond precision; NULL is
-- the zero time (never used, never revoked). Lists are text[] and maps
-- jsonb, NULL when empty; flag values are json, which keeps their text as
-- given. Keys are COLLATE "C": they sort bytewise, as Go compares strings
-- (cursors and the order of listings depend on it), and LIKE 'prefix%' can
-- read their indexes whatever the database's collation. Every tenant table
-- is keyed by org_code first, so each tenant query reads one index range of
-- one organization.

CREATE TABLE orgs (
    code       text COLLATE "C" NOT NULL PRIMARY KEY,
    name       text             NOT NULL,
    properties jsonb,
    created_at timestamptz      NOT NULL,
    updated_at timestamptz      NOT NULL
);

-- ListUsers is a range scan of the primary key (org_code, id): O(page
-- size) however deep the page. The *_lower columns hold the Go-lower-cased
-- forms that uniqueness and prefix search compare (SQL lower() depends on
-- the collation; Go's folding does not).
CREATE TABLE users (
    org_code        text COLLATE "C" NOT NULL REFERENCES orgs (code) ON DELETE CASCADE,
    id              text COLLATE "C" NOT NULL,
    email           text             NOT NULL,
    email_lower     text COLLATE "C" NOT NULL,
    given_name      text             NOT NULL,
    family_name     text             NOT NULL,
    given_lower     text COLLATE "C" NOT NULL,
    family_lower    text COLLATE "C" NOT NULL,
    full_name_lower text COLLATE "C" NOT NULL,
    status          text             NOT NULL,
    role            text             NOT NULL,
    password_hash   text,
    created_at      timestamptz      NOT NULL,
    updated_at      timestamptz      NOT NULL,
    PRIMARY KEY (org_code, id)
);

CREATE UNIQUE INDEX users_org_email ON users (org_code, email_lower);
-- The issuer's sign-in looks an email up across all organizations.
CREATE INDEX users_email ON users (email_lower);

CREATE TABLE flag_definitions (
    key           text COLLATE "C" NOT NULL PRIMARY KEY,
    type          text             NOT NULL,
    default_value json             NOT NULL,
    description   text             NOT NULL,
    created_at    timestamptz      NOT NULL,
    updated_at    timestamptz      NOT NULL
);

CREATE TABLE flag_overrides (
    org_code   text COLLATE "C" NOT NULL REFERENCES orgs (code) ON DELETE CASCADE,
    key        text COLLATE "C" NOT NULL REFERENCES flag_definitions (key) ON DELETE CASCADE,
    value      json             NOT NULL,
    updated_at timestamptz      NOT NULL,
    PRIMARY KEY (org_code, key)
);

-- Deleting a definition cascades to its overrides through this index.
CREATE INDEX flag_overrides_key ON flag_overrides (key);

CREATE TABLE clients (
    id                         text COLLATE "C" NOT NULL PRIMARY KEY,
    name                       text             NOT NULL,
    kind                       text             NOT NULL,
    org_code                   text COLLATE "C" REFERENCES orgs (code) ON DELETE CASCADE,
    secret_hash                text             NOT NULL,
    scopes                     text[],
    redirect_uris              text[],
    grant_types                text[],
    token_endpoint_auth_method text             NOT NULL,
    properties                 jsonb,
    created_at                 timestamptz      NOT NULL,
    last_used_at               timestamptz
);

CREATE INDEX clients_org ON clients (org_code);
-- DeleteIdleClients and CountClients filter on exactly these expressions.
CREATE INDEX clients_idle ON clients (kind, COALESCE(last_used_at, created_at));

CREATE TABLE signing_keys (
    id          text COLLATE "C" NOT NULL PRIMARY KEY,
    algorithm   text             NOT NULL,
    private_key bytea            NOT NULL,
    created_at  timestamptz      NOT NULL
);

CREATE INDEX signing_keys_created ON signing_keys (created_at);

CREATE TABLE auth_requests (
    handle_hash           text COLLATE "C" NOT NULL PRIMARY KEY,
    client_id             text             NOT NULL,
    redirect_uri          text             NOT NULL,
    state                 text             NOT NULL,
    scopes                text[],
    resource              text             NOT NULL,
    code_challenge        text             NOT NULL,
    code_challenge_method text             NOT NULL,
    csrf_hash             text             NOT NULL,
    org_code              text             NOT NULL,
    user_id               text             NOT NULL,
    created_at            timestamptz      NOT NULL,
    expires_at            timestamptz
);

CREATE TABLE auth_codes (
    code_hash      text COLLATE "C" NOT NULL PRIMARY KEY,
    client_id      text             NOT NULL,
    org_code       text             NOT NULL,
    user_id        text             NOT NULL,
    redirect_uri   text             NOT NULL,
    resource       text             NOT NULL,
    scopes         text[],
    code_challenge text             NOT NULL,
    created_at     timestamptz      NOT NULL,
    expires_at     timestamptz,
    used_at        timestamptz,
    grant_id       text             NOT NULL
);

CREATE TABLE grants (
    id         text COLLATE "C" NOT NULL PRIMARY KEY,
    client_id  text             NOT NULL,
    org_code   text             NOT NULL,
    user_id    text             NOT NULL,
    scopes     text[],
    resource   text             NOT NULL,
    created_at timestamptz      NOT NULL,
    revoked_at timestamptz
);

CREATE INDEX grants_revoked ON grants (revoked_at);

CREATE TABLE refresh_tokens (
    token_hash text COLLATE "C" NOT NULL PRIMARY KEY,
    grant_id   text COLLATE "C" NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    created_at timestamptz      NOT NULL,
    expires_at timestamptz,
    rotated_at timestamptz
);

CREATE INDEX refresh_tokens_grant ON refresh_tokens (grant_id);

-- Events are keyed by (org_code, id); ids are time-ordered, so newest first
-- is a backwards range scan of the primary key.
CREATE TABLE audit_events (
    org_code  text COLLATE "C" NOT NULL,
    id        text COLLATE "C" NOT NULL,
    time      timestamptz      NOT NULL,
    subject   text             NOT NULL,
    client_id text             NOT NULL,
    action    text             NOT NULL,
    target    text             NOT NULL,
    outcome   text             NOT NULL,
    detail    text             NOT NULL,
    PRIMARY KEY (org_code, id)
);
