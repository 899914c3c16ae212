package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/orgscope/orgscope/store"
)

// Console sessions are keyed by the hash of the browser's token; every
// lookup is one read of the primary key.
const consoleSessionColumns = `token_hash, id, org_code, user_id, client_id, created_at, last_seen_at, expires_at`

func (q *Queries) scanConsoleSession(r Row) (store.ConsoleSession, error) {
	var s store.ConsoleSession
	err := r.Scan(&s.TokenHash, &s.ID, &s.OrgCode, &s.UserID, &s.ClientID,
		q.d.TimeDest(&s.CreatedAt), q.d.TimeDest(&s.LastSeenAt), q.d.TimeDest(&s.ExpiresAt))
	return s, err
}

// CreateConsoleSession is one INSERT: the primary key and the unique id
// make a taken hash or id store.ErrConflict.
func (q *Queries) CreateConsoleSession(ctx context.Context, s store.ConsoleSession) (store.ConsoleSession, error) {
	return call(q, ctx, "create console session", func(ctx context.Context) (store.ConsoleSession, error) {
		if s.TokenHash == "" || s.ID == "" || s.ExpiresAt.IsZero() {
			return store.ConsoleSession{}, errors.New("a console session needs a token hash, an id and an expiry")
		}
		s.CreatedAt, s.ExpiresAt = q.stamp(s.CreatedAt), normTime(s.ExpiresAt)
		if s.LastSeenAt.IsZero() {
			s.LastSeenAt = s.CreatedAt
		}
		s.LastSeenAt = normTime(s.LastSeenAt)
		_, err := q.exec(ctx, q.write, `INSERT INTO console_sessions (`+consoleSessionColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			s.TokenHash, s.ID, s.OrgCode, s.UserID, s.ClientID,
			q.d.Time(s.CreatedAt), q.d.Time(s.LastSeenAt), q.d.Time(s.ExpiresAt))
		return s, err
	})
}

func (q *Queries) GetConsoleSession(ctx context.Context, tokenHash string) (store.ConsoleSession, error) {
	return call(q, ctx, "get console session", func(ctx context.Context) (store.ConsoleSession, error) {
		return q.scanConsoleSession(q.queryRow(ctx, q.read,
			`SELECT `+consoleSessionColumns+` FROM console_sessions WHERE token_hash = ?`, tokenHash))
	})
}

// TouchConsoleSession writes only when the recorded use is older than
// store.TouchInterval before t, and never moves it back.
func (q *Queries) TouchConsoleSession(ctx context.Context, tokenHash string, t time.Time) error {
	return q.run(ctx, "touch console session", func(ctx context.Context) error {
		t = normTime(t)
		_, err := q.exec(ctx, q.write, `UPDATE console_sessions SET last_seen_at = ?
			WHERE token_hash = ? AND last_seen_at <= ?`,
			q.d.Time(t), tokenHash, q.d.Time(t.Add(-store.TouchInterval)))
		return err
	})
}

func (q *Queries) DeleteConsoleSession(ctx context.Context, tokenHash string) (bool, error) {
	return call(q, ctx, "delete console session", func(ctx context.Context) (bool, error) {
		n, err := q.exec(ctx, q.write, `DELETE FROM console_sessions WHERE token_hash = ?`, tokenHash)
		return n > 0, err
	})
}

// ListApprovals reads a range of approvals_status when a status is given,
// of the primary key otherwise.
func (q *Queries) ListApprovals(ctx context.Context, orgCode string, filter store.ApprovalFilter, limit int) ([]store.Approval, error) {
	return call(q, ctx, "list approvals", func(ctx context.Context) ([]store.Approval, error) {
		query, args := `SELECT `+approvalColumns+` FROM approvals WHERE org_code = ?`, []any{orgCode}
		if filter.Status != "" {
			query, args = query+` AND status = ?`, append(args, string(filter.Status))
		}
		if !filter.LiveAt.IsZero() {
			query, args = query+` AND expires_at > ?`, append(args, q.d.Time(normTime(filter.LiveAt)))
		}
		query += ` ORDER BY created_at DESC, id DESC LIMIT ?`
		return queryAll(ctx, q, q.read, query, append(args, store.Page{Limit: limit}.Size()), q.scanApproval)
	})
}
