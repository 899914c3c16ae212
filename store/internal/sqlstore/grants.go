package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/orgscope/orgscope/store"
)

// This file keeps the interactive flow: pending authorization requests, the
// codes issued when they complete, grants and their refresh tokens. Expiry
// of requests and codes is the caller's to check (the records carry
// ExpiresAt); the store makes each one single-use.

const requestColumns = `handle_hash, client_id, redirect_uri, state, scopes, resource,
	code_challenge, code_challenge_method, csrf_hash, org_code, user_id, created_at, expires_at`

func (q *Queries) scanRequest(row Row) (store.AuthRequest, error) {
	var r store.AuthRequest
	err := row.Scan(&r.HandleHash, &r.ClientID, &r.RedirectURI, &r.State, q.d.ListDest(&r.Scopes), &r.Resource,
		&r.CodeChallenge, &r.CodeChallengeMethod, &r.CSRFHash, &r.OrgCode, &r.UserID,
		q.d.TimeDest(&r.CreatedAt), q.d.TimeDest(&r.ExpiresAt))
	return r, err
}

func (q *Queries) CreateAuthRequest(ctx context.Context, r store.AuthRequest) error {
	return q.run(ctx, "create auth request", func(ctx context.Context) error {
		_, err := q.exec(ctx, q.write, `INSERT INTO auth_requests (`+requestColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.HandleHash, r.ClientID, r.RedirectURI, r.State, q.d.List(r.Scopes), r.Resource,
			r.CodeChallenge, r.CodeChallengeMethod, r.CSRFHash, r.OrgCode, r.UserID,
			q.d.Time(q.stamp(r.CreatedAt)), q.d.Time(normTime(r.ExpiresAt)))
		return err
	})
}

func (q *Queries) GetAuthRequest(ctx context.Context, handleHash string) (store.AuthRequest, error) {
	return call(q, ctx, "get auth request", func(ctx context.Context) (store.AuthRequest, error) {
		return q.scanRequest(q.queryRow(ctx, q.read, `SELECT `+requestColumns+` FROM auth_requests WHERE handle_hash = ?`, handleHash))
	})
}

func (q *Queries) SetAuthRequestUser(ctx context.Context, handleHash, orgCode, userID string) error {
	return q.run(ctx, "set auth request user", func(ctx context.Context) error {
		return mustAffect(q.exec(ctx, q.write, `UPDATE auth_requests SET org_code = ?, user_id = ? WHERE handle_hash = ?`,
			orgCode, userID, handleHash))
	})
}

// ConsumeAuthRequest deletes and returns the request in one statement: of
// two concurrent callers, in any process, the second finds no row.
func (q *Queries) ConsumeAuthRequest(ctx context.Context, handleHash string) (store.AuthRequest, error) {
	return call(q, ctx, "consume auth request", func(ctx context.Context) (store.AuthRequest, error) {
		return q.scanRequest(q.queryRow(ctx, q.write, `DELETE FROM auth_requests WHERE handle_hash = ? RETURNING `+requestColumns, handleHash))
	})
}

const codeColumns = `code_hash, client_id, org_code, user_id, redirect_uri, resource, scopes,
	code_challenge, created_at, expires_at, used_at, grant_id`

func (q *Queries) scanCode(r Row) (store.AuthCode, error) {
	var c store.AuthCode
	err := r.Scan(&c.CodeHash, &c.ClientID, &c.OrgCode, &c.UserID, &c.RedirectURI, &c.Resource,
		q.d.ListDest(&c.Scopes), &c.CodeChallenge, q.d.TimeDest(&c.CreatedAt), q.d.TimeDest(&c.ExpiresAt),
		q.d.TimeDest(&c.UsedAt), &c.GrantID)
	return c, err
}

func (q *Queries) CreateAuthCode(ctx context.Context, c store.AuthCode) error {
	return q.run(ctx, "create auth code", func(ctx context.Context) error {
		_, err := q.exec(ctx, q.write, `INSERT INTO auth_codes (`+codeColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.CodeHash, c.ClientID, c.OrgCode, c.UserID, c.RedirectURI, c.Resource,
			q.d.List(c.Scopes), c.CodeChallenge, q.d.Time(q.stamp(c.CreatedAt)), q.d.Time(normTime(c.ExpiresAt)),
			q.d.Time(normTime(c.UsedAt)), c.GrantID)
		return err
	})
}

// RedeemAuthCode reads the code locked and marks a fresh one used: of
// concurrent redeemers, in any process, the first wins and the others wait
// for its commit, then read the code used. On a used code it revokes the
// grant recorded at first use and commits that before reporting
// store.ErrReplayed: the revocation is the point of detecting the replay.
func (q *Queries) RedeemAuthCode(ctx context.Context, codeHash, grantID string) (store.AuthCode, error) {
	return call(q, ctx, "redeem auth code", func(ctx context.Context) (code store.AuthCode, err error) {
		replayed := false
		err = q.atomically(ctx, func(tx *Queries) error {
			query := `SELECT ` + codeColumns + ` FROM auth_codes WHERE code_hash = ? ` + tx.d.RowLock("UPDATE")
			if code, err = tx.scanCode(tx.queryRow(ctx, tx.write, query, codeHash)); err != nil {
				return err
			}
			now := tx.nowUTC()
			if !code.UsedAt.IsZero() {
				replayed = true
				return tx.revokeGrant(ctx, code.GrantID, now)
			}
			code.UsedAt, code.GrantID = now, grantID
			_, err = tx.exec(ctx, tx.write, `UPDATE auth_codes SET used_at = ?, grant_id = ? WHERE code_hash = ?`,
				tx.d.Time(now), grantID, codeHash)
			return err
		})
		if err == nil && replayed {
			err = store.ErrReplayed
		}
		return code, err
	})
}

// Column lists name their table's alias (g, t) so that they can be joined.
const (
	grantColumns = `g.id, g.client_id, g.org_code, g.user_id, g.scopes, g.resource, g.created_at, g.revoked_at`
	tokenColumns = `t.token_hash, t.grant_id, t.created_at, t.expires_at, t.rotated_at`
)

func (q *Queries) grantDest(g *store.Grant) []any {
	return []any{&g.ID, &g.ClientID, &g.OrgCode, &g.UserID, q.d.ListDest(&g.Scopes), &g.Resource,
		q.d.TimeDest(&g.CreatedAt), q.d.TimeDest(&g.RevokedAt)}
}

func (q *Queries) tokenDest(t *store.RefreshToken) []any {
	return []any{&t.TokenHash, &t.GrantID, q.d.TimeDest(&t.CreatedAt), q.d.TimeDest(&t.ExpiresAt), q.d.TimeDest(&t.RotatedAt)}
}

func (q *Queries) CreateGrant(ctx context.Context, g store.Grant) error {
	return q.run(ctx, "create grant", func(ctx context.Context) error {
		_, err := q.exec(ctx, q.write, `INSERT INTO grants
			(id, client_id, org_code, user_id, scopes, resource, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			g.ID, g.ClientID, g.OrgCode, g.UserID, q.d.List(g.Scopes), g.Resource,
			q.d.Time(q.stamp(g.CreatedAt)), q.d.Time(normTime(g.RevokedAt)))
		return err
	})
}

func (q *Queries) GetGrant(ctx context.Context, id string) (store.Grant, error) {
	return call(q, ctx, "get grant", func(ctx context.Context) (store.Grant, error) {
		return q.getGrant(ctx, q.read, id, "")
	})
}

// getGrant reads one grant; lock is "" or a Dialect.RowLock clause.
func (q *Queries) getGrant(ctx context.Context, c Conn, id, lock string) (store.Grant, error) {
	var g store.Grant
	err := q.queryRow(ctx, c, `SELECT `+grantColumns+` FROM grants g WHERE g.id = ? `+lock, id).Scan(q.grantDest(&g)...)
	return g, err
}

// RevokeGrant keeps the first revocation time when called again; a grant
// that does not exist matches no row.
func (q *Queries) RevokeGrant(ctx context.Context, id string) error {
	return q.run(ctx, "revoke grant", func(ctx context.Context) error {
		return mustAffect(q.exec(ctx, q.write, `UPDATE grants SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`,
			q.d.Time(q.nowUTC()), id))
	})
}

// revokeGrant marks the grant revoked at now unless it is already; a
// missing grant is left alone.
func (q *Queries) revokeGrant(ctx context.Context, id string, now time.Time) error {
	_, err := q.exec(ctx, q.write, `UPDATE grants SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, q.d.Time(now), id)
	return err
}

func (q *Queries) CreateRefreshToken(ctx context.Context, t store.RefreshToken) error {
	return q.run(ctx, "create refresh token", func(ctx context.Context) error {
		return q.insertRefreshToken(ctx, t)
	})
}

// insertRefreshToken stores t; the foreign key to grants turns a missing
// grant into store.ErrNotFound.
func (q *Queries) insertRefreshToken(ctx context.Context, t store.RefreshToken) error {
	_, err := q.exec(ctx, q.write, `INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at, rotated_at)
		VALUES (?, ?, ?, ?, ?)`,
		t.TokenHash, t.GrantID, q.d.Time(q.stamp(t.CreatedAt)), q.d.Time(normTime(t.ExpiresAt)), q.d.Time(normTime(t.RotatedAt)))
	return err
}

// RotateRefreshToken checks, retires and replaces the token in one
// transaction that first locks the token's row, then its grant's. Of
// concurrent callers presenting the same token, in any process, exactly one
// rotates it; the others wait for the row, then read it rotated: a retry
// within reuseWindow, which gets a successor too, or a replay, which
// revokes the grant. Locking the grant orders the rotation against a
// concurrent RevokeGrant: a revocation committed first is seen, one
// committed after finds the new token in a revoked grant. Every path locks
// a token before its grant, so the locks cannot deadlock.
func (q *Queries) RotateRefreshToken(ctx context.Context, oldHash string, next store.RefreshToken, reuseWindow time.Duration) (store.Grant, error) {
	return call(q, ctx, "rotate refresh token", func(ctx context.Context) (grant store.Grant, err error) {
		replayed := false
		err = q.atomically(ctx, func(tx *Queries) error {
			var old store.RefreshToken
			lockToken := `SELECT ` + tokenColumns + ` FROM refresh_tokens t WHERE t.token_hash = ? ` + tx.d.RowLock("UPDATE")
			if err := tx.queryRow(ctx, tx.write, lockToken, oldHash).Scan(tx.tokenDest(&old)...); err != nil {
				return err
			}
			if grant, err = tx.getGrant(ctx, tx.write, old.GrantID, tx.d.RowLock("NO KEY UPDATE")); err != nil {
				return err
			}
			now := tx.nowUTC()
			rotated := !old.RotatedAt.IsZero()
			retry := rotated && reuseWindow > 0 && now.Sub(old.RotatedAt) < reuseWindow
			switch {
			case rotated && !retry:
				replayed = true
				return tx.revokeGrant(ctx, old.GrantID, now)
			case expired(old.ExpiresAt, now):
				return fmt.Errorf("refresh token expired: %w", store.ErrNotFound)
			case grant.Revoked():
				return fmt.Errorf("grant revoked: %w", store.ErrNotFound)
			}
			if !rotated { // a retry keeps the first rotation's time: the window does not slide
				_, err := tx.exec(ctx, tx.write, `UPDATE refresh_tokens SET rotated_at = ? WHERE token_hash = ?`, tx.d.Time(now), oldHash)
				if err != nil {
					return err
				}
			}
			next.GrantID, next.RotatedAt = old.GrantID, time.Time{}
			return tx.insertRefreshToken(ctx, next)
		})
		if err == nil && replayed {
			err = store.ErrReplayed
		}
		return grant, err
	})
}

func (q *Queries) LookupRefreshToken(ctx context.Context, hash string) (store.RefreshToken, store.Grant, error) {
	var t store.RefreshToken
	g, err := call(q, ctx, "lookup refresh token", func(ctx context.Context) (g store.Grant, err error) {
		query := `SELECT ` + tokenColumns + `, ` + grantColumns + ` FROM refresh_tokens t JOIN grants g ON g.id = t.grant_id WHERE t.token_hash = ?`
		err = q.queryRow(ctx, q.read, query, hash).Scan(append(q.tokenDest(&t), q.grantDest(&g)...)...)
		return g, err
	})
	if err != nil {
		return store.RefreshToken{}, store.Grant{}, err
	}
	return t, g, nil
}
