-- Machine identities with a lifecycle. A client's secrets move to a table
-- of their own, so that a rotation can leave the previous secret working
-- until a grace period ends (expires_at; NULL until a rotation sets it).
-- Clients get a token lifetime of their own (0: the issuer's), a delegate
-- flag (may act for people) and disabled_at (NULL while enabled).
CREATE TABLE client_secrets (
    client_id  text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    hash       text COLLATE "C" NOT NULL,
    created_at timestamptz      NOT NULL,
    expires_at timestamptz,
    PRIMARY KEY (client_id, hash)
);

CREATE INDEX client_secrets_expires ON client_secrets (expires_at);

INSERT INTO client_secrets (client_id, hash, created_at)
    SELECT id, secret_hash, created_at FROM clients WHERE secret_hash <> '';

ALTER TABLE clients DROP COLUMN secret_hash;
ALTER TABLE clients ADD COLUMN token_ttl_seconds integer NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN delegate boolean NOT NULL DEFAULT false;
ALTER TABLE clients ADD COLUMN disabled_at timestamptz;

-- ListClients of one org reads a range of (org_code, id).
DROP INDEX clients_org;
CREATE INDEX clients_org ON clients (org_code, id);
