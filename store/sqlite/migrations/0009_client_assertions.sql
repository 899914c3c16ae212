-- Clients without a shared secret (private_key_jwt, RFC 7523): a client's
-- public keys, as a JWKS kept with it or a jwks_uri fetched when needed
-- (NULL when it has none). The jti of every assertion used is remembered
-- until it expires, so that an assertion works once, on every replica:
-- the primary key refuses the second use. Keyed by client, since each
-- client chooses its own jtis; no foreign key, as metadata-document
-- clients have no row in clients.
ALTER TABLE clients ADD COLUMN jwks TEXT;
ALTER TABLE clients ADD COLUMN jwks_uri TEXT;

CREATE TABLE client_assertions (
    client_id  TEXT    NOT NULL,
    jti        TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, jti)
);

CREATE INDEX client_assertions_expires ON client_assertions (expires_at);
