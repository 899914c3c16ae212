-- Clients without a shared secret (private_key_jwt, RFC 7523): a client's
-- public keys, as a JWKS kept with it or a jwks_uri fetched when needed
-- (NULL when it has none). The jti of every assertion used is remembered
-- until it expires, so that an assertion works once, on every replica:
-- the primary key refuses the second use. Keyed by client, since each
-- client chooses its own jtis; no foreign key, as metadata-document
-- clients have no row in clients.
ALTER TABLE clients ADD COLUMN jwks text;
ALTER TABLE clients ADD COLUMN jwks_uri text COLLATE "C";

CREATE TABLE client_assertions (
    client_id  text COLLATE "C" NOT NULL,
    jti        text COLLATE "C" NOT NULL,
    expires_at timestamptz      NOT NULL,
    PRIMARY KEY (client_id, jti)
);

CREATE INDEX client_assertions_expires ON client_assertions (expires_at);
