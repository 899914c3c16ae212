package sqlstore

import (
	"context"
	"time"
)

// expireSQL are DeleteExpired's statements, each with as many placeholders
// for the cutoff as it has ?, in an order that lets the grants' statement
// see which grants lost their refresh tokens.
var expireSQL = []struct {
	query   string
	cutoffs int
}{
	{`DELETE FROM auth_requests WHERE expires_at < ?`, 1},
	{`DELETE FROM auth_codes WHERE expires_at < ?`, 1},
	{`DELETE FROM refresh_tokens WHERE expires_at < ?`, 1},
	{`DELETE FROM delegations WHERE expires_at < ?`, 1},
	{`DELETE FROM grants WHERE revoked_at < ?
	    OR (created_at < ? AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = grants.id))`, 2},
	{`DELETE FROM revoked_tokens WHERE expires_at < ?`, 1},
	{`DELETE FROM client_cutoffs WHERE expires_at < ?`, 1},
	{`DELETE FROM client_secrets WHERE expires_at < ?`, 1},
	{`DELETE FROM client_assertions WHERE expires_at < ?`, 1},
	{`DELETE FROM console_sessions WHERE expires_at < ?`, 1},
}

func (q *Queries) DeleteExpired(ctx context.Context, cutoff time.Time) (int, error) {
	return call(q, ctx, "delete expired", func(ctx context.Context) (int, error) {
		var total int64
		err := q.atomically(ctx, func(tx *Queries) error {
			at := tx.d.Time(normTime(cutoff))
			for _, s := range expireSQL {
				args := make([]any, s.cutoffs)
				for i := range args {
					args[i] = at
				}
				n, err := tx.exec(ctx, tx.write, s.query, args...)
				if err != nil {
					return err
				}
				total += n
			}
			// A bucket whose tat is past is full: the same as no row.
			n, err := tx.exec(ctx, tx.write, `DELETE FROM rate_buckets WHERE tat_us < ?`, normTime(cutoff).UnixMicro())
			total += n
			return err
		})
		return int(total), err
	})
}
