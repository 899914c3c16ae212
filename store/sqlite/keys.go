package sqlite

import (
	"context"
	"database/sql"

	"github.com/orgscope/orgscope/store"
)

const keyColumns = `id, algorithm, private_key, created_at`

func scanKey(r scanner) (store.SigningKey, error) {
	var k store.SigningKey
	err := r.Scan(&k.ID, &k.Algorithm, &k.PrivateKey, timeDest{&k.CreatedAt})
	return k, err
}

// EnsureSigningKey inserts candidate only if the table is empty and returns
// the oldest key, both inside one write transaction. Write transactions are
// serialized (BEGIN IMMEDIATE takes the file's write lock, across processes
// too), so of racing callers exactly one inserts and all read the same key.
func (s *Store) EnsureSigningKey(ctx context.Context, candidate store.SigningKey) (store.SigningKey, error) {
	candidate.CreatedAt = s.stamp(candidate.CreatedAt)
	var key store.SigningKey
	err := s.write(ctx, "ensure signing key", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (`+keyColumns+`)
			SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM signing_keys)`,
			candidate.ID, candidate.Algorithm, candidate.PrivateKey, timeValue(candidate.CreatedAt))
		if err != nil {
			return err
		}
		key, err = scanKey(tx.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM signing_keys ORDER BY created_at, id LIMIT 1`))
		return err
	})
	return key, err
}

func (s *Store) SigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	keys, err := queryAll(ctx, s.reader, `SELECT `+keyColumns+` FROM signing_keys ORDER BY created_at DESC, id DESC`, nil, scanKey)
	return keys, s.fail("signing keys", err)
}
