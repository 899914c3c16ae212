package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// expireSQL are DeleteExpired's statements, in an order that lets the
// last one see which grants lost their refresh tokens.
var expireSQL = []string{
	`DELETE FROM auth_requests WHERE expires_at < ?1`,
	`DELETE FROM auth_codes WHERE expires_at < ?1`,
	`DELETE FROM refresh_tokens WHERE expires_at < ?1`,
	`DELETE FROM grants WHERE revoked_at < ?1
	    OR (created_at < ?1 AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = grants.id))`,
}

func (s *Store) DeleteExpired(ctx context.Context, cutoff time.Time) (int, error) {
	var n int64
	err := s.write(ctx, "delete expired", func(tx *sql.Tx) error {
		for _, q := range expireSQL {
			res, err := tx.ExecContext(ctx, q, timeValue(cutoff))
			if err != nil {
				return err
			}
			affected, _ := res.RowsAffected()
			n += affected
		}
		return nil
	})
	return int(n), err
}
