package sqlstore

import (
	"context"
	"time"

	"github.com/orgscope/orgscope/store"
)

// RevokeToken inserts the token unless it is listed already, keeping the
// first RevokedAt.
func (q *Queries) RevokeToken(ctx context.Context, t store.RevokedToken) error {
	return q.run(ctx, "revoke token", func(ctx context.Context) error {
		_, err := q.exec(ctx, q.write, `INSERT INTO revoked_tokens (token_id, client_id, expires_at, revoked_at)
			VALUES (?, ?, ?, ?) ON CONFLICT (token_id) DO NOTHING`,
			t.TokenID, t.ClientID, q.d.Time(normTime(t.ExpiresAt)), q.d.Time(q.nowUTC()))
		return err
	})
}

// RevokedTokensSince reads the revoked_tokens_revoked index from since on
// (a zero since reads it all).
func (q *Queries) RevokedTokensSince(ctx context.Context, since time.Time) ([]store.RevokedToken, error) {
	return call(q, ctx, "revoked tokens since", func(ctx context.Context) ([]store.RevokedToken, error) {
		query := `SELECT token_id, client_id, expires_at, revoked_at FROM revoked_tokens
			WHERE (expires_at IS NULL OR expires_at > ?)`
		args := []any{q.d.Time(q.nowUTC())}
		if !since.IsZero() {
			query, args = query+` AND revoked_at >= ?`, append(args, q.d.Time(normTime(since)))
		}
		query += ` ORDER BY revoked_at, token_id`
		return queryAll(ctx, q, q.read, query, args, func(r Row) (store.RevokedToken, error) {
			var t store.RevokedToken
			err := r.Scan(&t.TokenID, &t.ClientID, q.d.TimeDest(&t.ExpiresAt), q.d.TimeDest(&t.RevokedAt))
			return t, err
		})
	})
}
