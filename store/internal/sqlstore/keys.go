package sqlstore

import (
	"context"

	"github.com/orgscope/orgscope/store"
)

const keyColumns = `id, algorithm, private_key, created_at`

func (q *Queries) scanKey(r Row) (store.SigningKey, error) {
	var k store.SigningKey
	err := r.Scan(&k.ID, &k.Algorithm, &k.PrivateKey, q.d.TimeDest(&k.CreatedAt))
	return k, err
}

// EnsureSigningKey inserts candidate only if there is no key yet and
// returns the oldest key, in one transaction serialized with every other
// EnsureSigningKey (Dialect.Serialize), so that of racing callers, in any
// process, exactly one inserts and all return the same key. Reads of the
// keys (the JWKS) go on meanwhile.
func (q *Queries) EnsureSigningKey(ctx context.Context, candidate store.SigningKey) (store.SigningKey, error) {
	return call(q, ctx, "ensure signing key", func(ctx context.Context) (key store.SigningKey, err error) {
		candidate.CreatedAt = q.stamp(candidate.CreatedAt)
		err = q.atomically(ctx, func(tx *Queries) error {
			if err := tx.d.Serialize(ctx, tx.write, "signing_keys"); err != nil {
				return err
			}
			var some bool
			if err := tx.queryRow(ctx, tx.write, `SELECT EXISTS (SELECT 1 FROM signing_keys)`).Scan(&some); err != nil {
				return err
			}
			if !some {
				_, err := tx.exec(ctx, tx.write, `INSERT INTO signing_keys (`+keyColumns+`) VALUES (?, ?, ?, ?)`,
					candidate.ID, candidate.Algorithm, candidate.PrivateKey, tx.d.Time(candidate.CreatedAt))
				if err != nil {
					return err
				}
			}
			key, err = tx.scanKey(tx.queryRow(ctx, tx.write, `SELECT `+keyColumns+` FROM signing_keys ORDER BY created_at, id LIMIT 1`))
			return err
		})
		return key, err
	})
}

func (q *Queries) SigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	return call(q, ctx, "signing keys", func(ctx context.Context) ([]store.SigningKey, error) {
		return queryAll(ctx, q, q.read, `SELECT `+keyColumns+` FROM signing_keys ORDER BY created_at DESC, id DESC`, nil, q.scanKey)
	})
}
