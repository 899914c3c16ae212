package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/orgscope/orgscope/store"
)

const keyColumns = `id, algorithm, private_key, created_at`

func scanKey(r scanner) (store.SigningKey, error) {
	var k store.SigningKey
	err := r.Scan(&k.ID, &k.Algorithm, &k.PrivateKey, timeDest{&k.CreatedAt})
	return k, err
}

// EnsureSigningKey inserts candidate only if the table is empty and returns
// the oldest key, both in one transaction that first locks signing_keys in
// SHARE ROW EXCLUSIVE mode. That mode conflicts with itself and with
// writes, not with reads: callers of EnsureSigningKey, in any process, go
// one at a time, so exactly one inserts and all return the same key, while
// SigningKeys (the JWKS) keeps reading. A table lock rather than an
// advisory one needs no key of its own and follows the table's schema.
func (s *Store) EnsureSigningKey(ctx context.Context, candidate store.SigningKey) (store.SigningKey, error) {
	candidate.CreatedAt = s.stamp(candidate.CreatedAt)
	var key store.SigningKey
	err := s.write(ctx, "ensure signing key", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO signing_keys (`+keyColumns+`)
			SELECT $1::text, $2::text, $3::bytea, $4::timestamptz WHERE NOT EXISTS (SELECT 1 FROM signing_keys)`,
			candidate.ID, candidate.Algorithm, candidate.PrivateKey, timeValue(candidate.CreatedAt))
		if err != nil {
			return err
		}
		key, err = scanKey(tx.QueryRow(ctx, `SELECT `+keyColumns+` FROM signing_keys ORDER BY created_at, id LIMIT 1`))
		return err
	})
	return key, err
}

func (s *Store) SigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	keys, err := queryAll(ctx, s.pool, `SELECT `+keyColumns+` FROM signing_keys ORDER BY created_at DESC, id DESC`, nil, scanKey)
	return keys, s.fail("signing keys", err)
}
