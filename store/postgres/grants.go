package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orgscope/orgscope/store"
)

// Column lists name their table's alias (g, t) so that they can be joined.
const (
	grantColumns = `g.id, g.client_id, g.org_code, g.user_id, g.scopes, g.resource, g.created_at, g.revoked_at`
	tokenColumns = `t.token_hash, t.grant_id, t.created_at, t.expires_at, t.rotated_at`
	// tokenWithGrantSQL reads a refresh token and its grant by token hash.
	tokenWithGrantSQL = `SELECT ` + tokenColumns + `, ` + grantColumns + `
		FROM refresh_tokens t JOIN grants g ON g.id = t.grant_id WHERE t.token_hash = $1`
)

func grantDest(g *store.Grant) []any {
	return []any{&g.ID, &g.ClientID, &g.OrgCode, &g.UserID, &g.Scopes, &g.Resource,
		timeDest{&g.CreatedAt}, timeDest{&g.RevokedAt}}
}

func tokenDest(t *store.RefreshToken) []any {
	return []any{&t.TokenHash, &t.GrantID, timeDest{&t.CreatedAt}, timeDest{&t.ExpiresAt}, timeDest{&t.RotatedAt}}
}

func (s *Store) CreateGrant(ctx context.Context, g store.Grant) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO grants
		(id, client_id, org_code, user_id, scopes, resource, created_at, revoked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		g.ID, g.ClientID, g.OrgCode, g.UserID, listValue(g.Scopes), g.Resource,
		timeValue(s.stamp(g.CreatedAt)), timeValue(normTime(g.RevokedAt)))
	return s.fail("create grant", err)
}

func (s *Store) GetGrant(ctx context.Context, id string) (store.Grant, error) {
	g, err := getGrant(ctx, s.pool, id, "")
	return g, s.fail("get grant", err)
}

// getGrant reads one grant; lock is "" or a locking clause.
func getGrant(ctx context.Context, q querier, id, lock string) (store.Grant, error) {
	var g store.Grant
	err := q.QueryRow(ctx, `SELECT `+grantColumns+` FROM grants g WHERE g.id = $1 `+lock, id).Scan(grantDest(&g)...)
	return g, err
}

// RevokeGrant keeps the first revocation time when called again; a grant
// that does not exist matches no row.
func (s *Store) RevokeGrant(ctx context.Context, id string) error {
	return s.fail("revoke grant", mustAffect(s.pool.Exec(ctx,
		`UPDATE grants SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2`, timeValue(s.nowUTC()), id)))
}

// revokeGrant marks the grant revoked at now unless it is already; a
// missing grant is left alone.
func revokeGrant(ctx context.Context, tx pgx.Tx, id string, now time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, timeValue(now), id)
	return err
}

// RevokedGrantsSince reads the grants_revoked index.
func (s *Store) RevokedGrantsSince(ctx context.Context, t time.Time) ([]string, error) {
	const query = `SELECT id FROM grants WHERE revoked_at >= $1 ORDER BY revoked_at, id`
	ids, err := queryAll(ctx, s.pool, query, []any{normTime(t)}, func(r scanner) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
	return ids, s.fail("revoked grants since", err)
}

func (s *Store) CreateRefreshToken(ctx context.Context, t store.RefreshToken) error {
	return s.fail("create refresh token", s.insertRefreshToken(ctx, s.pool, t))
}

// insertRefreshToken stores t; the foreign key to grants turns a missing
// grant into store.ErrNotFound.
func (s *Store) insertRefreshToken(ctx context.Context, q querier, t store.RefreshToken) error {
	_, err := q.Exec(ctx, `INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at, rotated_at)
		VALUES ($1, $2, $3, $4, $5)`,
		t.TokenHash, t.GrantID, timeValue(s.stamp(t.CreatedAt)), timeValue(normTime(t.ExpiresAt)), timeValue(normTime(t.RotatedAt)))
	return err
}

// RotateRefreshToken checks, retires and replaces the token in one
// transaction that first locks the token's row (FOR UPDATE), then its
// grant's (FOR NO KEY UPDATE). Of concurrent callers presenting the same
// token, in any process, exactly one rotates it; the others wait for the
// row, then read it rotated (a replay, which revokes the grant). Locking
// the grant too orders the rotation against a concurrent RevokeGrant: a
// revocation committed first is seen, one committed after finds the new
// token in a revoked grant. Every path locks a token before its grant, so
// the locks cannot deadlock.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash string, next store.RefreshToken) (store.Grant, error) {
	var (
		grant    store.Grant
		replayed bool
	)
	err := s.write(ctx, "rotate refresh token", func(tx pgx.Tx) error {
		var old store.RefreshToken
		const lockToken = `SELECT ` + tokenColumns + ` FROM refresh_tokens t WHERE t.token_hash = $1 FOR UPDATE`
		if err := tx.QueryRow(ctx, lockToken, oldHash).Scan(tokenDest(&old)...); err != nil {
			return err
		}
		var err error
		if grant, err = getGrant(ctx, tx, old.GrantID, "FOR NO KEY UPDATE"); err != nil {
			return err
		}
		now := s.nowUTC()
		switch {
		case !old.RotatedAt.IsZero():
			replayed = true
			return revokeGrant(ctx, tx, old.GrantID, now)
		case expired(old.ExpiresAt, now):
			return fmt.Errorf("refresh token expired: %w", store.ErrNotFound)
		case grant.Revoked():
			return fmt.Errorf("grant revoked: %w", store.ErrNotFound)
		}
		if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET rotated_at = $1 WHERE token_hash = $2`, timeValue(now), oldHash); err != nil {
			return err
		}
		next.GrantID, next.RotatedAt = old.GrantID, time.Time{}
		return s.insertRefreshToken(ctx, tx, next)
	})
	if err != nil {
		return store.Grant{}, err
	}
	if replayed {
		return store.Grant{}, fmt.Errorf("postgres: rotate refresh token: %w", store.ErrReplayed)
	}
	return grant, nil
}

func (s *Store) LookupRefreshToken(ctx context.Context, hash string) (store.RefreshToken, store.Grant, error) {
	var (
		t store.RefreshToken
		g store.Grant
	)
	err := s.pool.QueryRow(ctx, tokenWithGrantSQL, hash).Scan(append(tokenDest(&t), grantDest(&g)...)...)
	if err != nil {
		return store.RefreshToken{}, store.Grant{}, s.fail("lookup refresh token", err)
	}
	return t, g, nil
}
