package sqlstore

import (
	"context"
	"time"

	"github.com/orgscope/orgscope/store"
)

// UseClientAssertion inserts the jti, or takes over the row of an expired
// assertion with the same jti that the janitor has not removed yet. One
// statement: of two replicas racing with one assertion, the primary key
// lets exactly one write a row, and the other affects none.
func (q *Queries) UseClientAssertion(ctx context.Context, clientID, jti string, expiresAt time.Time) error {
	return q.run(ctx, "use client assertion", func(ctx context.Context) error {
		n, err := q.exec(ctx, q.write, `INSERT INTO client_assertions (client_id, jti, expires_at) VALUES (?, ?, ?)
			ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = excluded.expires_at
			WHERE client_assertions.expires_at <= ?`,
			clientID, jti, q.d.Time(normTime(expiresAt)), q.d.Time(q.nowUTC()))
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrReplayed
		}
		return nil
	})
}
