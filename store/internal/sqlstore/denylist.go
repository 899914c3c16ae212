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

// CutOffClient upserts the client's cutoff, moving it forward only.
func (q *Queries) CutOffClient(ctx context.Context, clientID string, until time.Time) (store.ClientCutoff, error) {
	return call(q, ctx, "cut off client", func(ctx context.Context) (store.ClientCutoff, error) {
		now := q.nowUTC()
		c := store.ClientCutoff{ClientID: clientID, Cutoff: now, ExpiresAt: normTime(until), ChangedAt: now}
		err := q.atomically(ctx, func(tx *Queries) error {
			_, err := tx.exec(ctx, tx.write, `INSERT INTO client_cutoffs (client_id, cutoff, expires_at, changed_at)
				VALUES (?, ?, ?, ?)
				ON CONFLICT (client_id) DO UPDATE SET cutoff = excluded.cutoff, changed_at = excluded.changed_at,
					expires_at = CASE WHEN excluded.expires_at > client_cutoffs.expires_at
						THEN excluded.expires_at ELSE client_cutoffs.expires_at END
				WHERE excluded.cutoff > client_cutoffs.cutoff`,
				clientID, tx.d.Time(c.Cutoff), tx.d.Time(c.ExpiresAt), tx.d.Time(c.ChangedAt))
			if err != nil {
				return err
			}
			return tx.queryRow(ctx, tx.read, `SELECT cutoff, expires_at, changed_at FROM client_cutoffs WHERE client_id = ?`, clientID).
				Scan(tx.d.TimeDest(&c.Cutoff), tx.d.TimeDest(&c.ExpiresAt), tx.d.TimeDest(&c.ChangedAt))
		})
		return c, err
	})
}

// ClientCutoffsSince reads the client_cutoffs_changed index from since on.
func (q *Queries) ClientCutoffsSince(ctx context.Context, since time.Time) ([]store.ClientCutoff, error) {
	return call(q, ctx, "client cutoffs since", func(ctx context.Context) ([]store.ClientCutoff, error) {
		query := `SELECT client_id, cutoff, expires_at, changed_at FROM client_cutoffs WHERE expires_at > ?`
		args := []any{q.d.Time(q.nowUTC())}
		if !since.IsZero() {
			query, args = query+` AND changed_at >= ?`, append(args, q.d.Time(normTime(since)))
		}
		query += ` ORDER BY changed_at, client_id`
		return queryAll(ctx, q, q.read, query, args, func(r Row) (store.ClientCutoff, error) {
			var c store.ClientCutoff
			err := r.Scan(&c.ClientID, q.d.TimeDest(&c.Cutoff), q.d.TimeDest(&c.ExpiresAt), q.d.TimeDest(&c.ChangedAt))
			return c, err
		})
	})
}

// GetClientCutoff reads one row of client_cutoffs by its primary key.
func (q *Queries) GetClientCutoff(ctx context.Context, clientID string) (store.ClientCutoff, error) {
	return call(q, ctx, "get client cutoff", func(ctx context.Context) (store.ClientCutoff, error) {
		c := store.ClientCutoff{ClientID: clientID}
		err := q.queryRow(ctx, q.read, `SELECT cutoff, expires_at, changed_at FROM client_cutoffs WHERE client_id = ? AND expires_at > ?`,
			clientID, q.d.Time(q.nowUTC())).Scan(q.d.TimeDest(&c.Cutoff), q.d.TimeDest(&c.ExpiresAt), q.d.TimeDest(&c.ChangedAt))
		return c, err
	})
}

// IsTokenRevoked reads one row of revoked_tokens by its primary key.
func (q *Queries) IsTokenRevoked(ctx context.Context, tokenID string) (bool, error) {
	return call(q, ctx, "is token revoked", func(ctx context.Context) (bool, error) {
		var n int
		err := q.queryRow(ctx, q.read, `SELECT count(*) FROM revoked_tokens WHERE token_id = ? AND (expires_at IS NULL OR expires_at > ?)`,
			tokenID, q.d.Time(q.nowUTC())).Scan(&n)
		return n > 0, err
	})
}
