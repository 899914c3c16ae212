package sqlstore

import (
	"context"
	"time"

	"github.com/orgscope/orgscope/store"
)

const keyColumns = `id, algorithm, private_key, kek_id, public_key, created_at, activate_at, retire_previous_at`

func (q *Queries) scanKey(r Row) (store.SigningKey, error) {
	var k store.SigningKey
	err := r.Scan(&k.ID, &k.Algorithm, &k.PrivateKey, &k.KEKID, &k.PublicKey,
		q.d.TimeDest(&k.CreatedAt), q.d.TimeDest(&k.ActivateAt), q.d.TimeDest(&k.RetirePreviousAt))
	if len(k.PublicKey) == 0 {
		k.PublicKey = nil
	}
	if k.ActivateAt.IsZero() {
		k.ActivateAt = k.CreatedAt
	}
	return k, err
}

// stampKey sets what a new key gets when left zero: CreatedAt now,
// ActivateAt CreatedAt.
func (q *Queries) stampKey(k store.SigningKey) store.SigningKey {
	k.CreatedAt = q.stamp(k.CreatedAt)
	k.ActivateAt = normTime(k.ActivateAt)
	if k.ActivateAt.IsZero() {
		k.ActivateAt = k.CreatedAt
	}
	k.RetirePreviousAt = normTime(k.RetirePreviousAt)
	if len(k.PublicKey) == 0 {
		k.PublicKey = nil
	}
	return k
}

func (q *Queries) insertKey(ctx context.Context, k store.SigningKey) error {
	_, err := q.exec(ctx, q.write, `INSERT INTO signing_keys (`+keyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Algorithm, k.PrivateKey, k.KEKID, k.PublicKey,
		q.d.Time(k.CreatedAt), q.d.Time(k.ActivateAt), q.d.Time(k.RetirePreviousAt))
	return err
}

// EnsureSigningKey inserts candidate only if there is no key yet and
// returns the oldest key, in one transaction serialized with every other
// EnsureSigningKey (Dialect.Serialize), so that of racing callers, in any
// process, exactly one inserts and all return the same key. Reads of the
// keys (the JWKS) go on meanwhile.
func (q *Queries) EnsureSigningKey(ctx context.Context, candidate store.SigningKey) (store.SigningKey, error) {
	return call(q, ctx, "ensure signing key", func(ctx context.Context) (key store.SigningKey, err error) {
		candidate = q.stampKey(candidate)
		err = q.atomically(ctx, func(tx *Queries) error {
			if err := tx.d.Serialize(ctx, tx.write, "signing_keys"); err != nil {
				return err
			}
			var some bool
			if err := tx.queryRow(ctx, tx.write, `SELECT EXISTS (SELECT 1 FROM signing_keys)`).Scan(&some); err != nil {
				return err
			}
			if !some {
				if err := tx.insertKey(ctx, candidate); err != nil {
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
		return q.signingKeys(ctx, q.read)
	})
}

func (q *Queries) signingKeys(ctx context.Context, c Conn) ([]store.SigningKey, error) {
	return queryAll(ctx, q, c, `SELECT `+keyColumns+` FROM signing_keys ORDER BY created_at DESC, id DESC`, nil, q.scanKey)
}

func (q *Queries) AddSigningKey(ctx context.Context, k store.SigningKey) (store.SigningKey, error) {
	return call(q, ctx, "add signing key", func(ctx context.Context) (store.SigningKey, error) {
		k = q.stampKey(k)
		return k, q.insertKey(ctx, k)
	})
}

// RetireSigningKey reads the keys and decides under the same serialization
// as EnsureSigningKey, so that two retirements at once (of the active key
// and of the next one, say) cannot leave no key to sign with.
func (q *Queries) RetireSigningKey(ctx context.Context, id string, now time.Time, replacement func() (store.SigningKey, error)) (store.KeyRetirement, error) {
	return call(q, ctx, "retire signing key", func(ctx context.Context) (out store.KeyRetirement, err error) {
		now = normTime(now)
		err = q.atomically(ctx, func(tx *Queries) error {
			if err := tx.d.Serialize(ctx, tx.write, "signing_keys"); err != nil {
				return err
			}
			keys, err := tx.signingKeys(ctx, tx.write)
			if err != nil {
				return err
			}
			schedule := store.KeySchedule(keys, now)
			var retired *store.KeyStatus
			for i := range schedule {
				if schedule[i].Key.ID == id {
					retired = &schedule[i]
				}
			}
			if retired == nil {
				return store.ErrNotFound
			}
			if _, err := tx.exec(ctx, tx.write, `DELETE FROM signing_keys WHERE id = ?`, id); err != nil {
				return err
			}
			out.Retired = retired.Key
			if retired.State != store.KeyActive {
				return nil
			}
			// The soonest next key is the last of the next ones (newest first).
			var next *store.SigningKey
			for _, s := range schedule {
				if s.State == store.KeyNext {
					next = &s.Key
				}
			}
			if next != nil {
				if err := mustAffect(tx.exec(ctx, tx.write, `UPDATE signing_keys SET activate_at = ? WHERE id = ?`,
					tx.d.Time(now), next.ID)); err != nil {
					return err
				}
				out.Successor = *next
				out.Successor.ActivateAt = now
				return nil
			}
			k, err := replacement()
			if err != nil {
				return err
			}
			k.ActivateAt = now
			k = tx.stampKey(k)
			if err := tx.insertKey(ctx, k); err != nil {
				return err
			}
			out.Successor, out.Made = k, true
			return nil
		})
		return out, err
	})
}

func (q *Queries) DeleteRetiredSigningKeys(ctx context.Context, now time.Time) (int, error) {
	return call(q, ctx, "delete retired signing keys", func(ctx context.Context) (n int, err error) {
		err = q.atomically(ctx, func(tx *Queries) error {
			if err := tx.d.Serialize(ctx, tx.write, "signing_keys"); err != nil {
				return err
			}
			keys, err := tx.signingKeys(ctx, tx.write)
			if err != nil {
				return err
			}
			for _, s := range store.KeySchedule(keys, normTime(now)) {
				if s.State != store.KeyRetired {
					continue
				}
				if _, err := tx.exec(ctx, tx.write, `DELETE FROM signing_keys WHERE id = ?`, s.Key.ID); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		return n, err
	})
}
