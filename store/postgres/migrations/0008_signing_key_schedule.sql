-- Signing keys rotate: a key is published when it is made (created_at),
-- signs from activate_at, and the keys before it stay published until its
-- retire_previous_at. Private keys may be sealed under a key-encryption key
-- (kek_id names it; '' is stored clear); the public key is kept beside it,
-- readable without that key (NULL for keys made before: they are clear).
ALTER TABLE signing_keys ADD COLUMN kek_id text NOT NULL DEFAULT '';
ALTER TABLE signing_keys ADD COLUMN public_key bytea;
ALTER TABLE signing_keys ADD COLUMN activate_at timestamptz;
ALTER TABLE signing_keys ADD COLUMN retire_previous_at timestamptz;
UPDATE signing_keys SET activate_at = created_at;
ALTER TABLE signing_keys ALTER COLUMN activate_at SET NOT NULL;
