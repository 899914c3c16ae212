package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/orgscope/orgscope/store"
)

// Column lists name their table's alias (g, t) so that they can be joined.
const (
	grantColumns = `g.id, g.client_id, g.org_code, g.user_id, g.scopes, g.resource, g.created_at, g.revoked_at`
	tokenColumns = `t.token_hash, t.grant_id, t.created_at, t.expires_at, t.rotated_at`
	// tokenWithGrantSQL reads a refresh token and its grant by token hash.
	tokenWithGrantSQL = `SELECT ` + tokenColumns + `, ` + grantColumns + `
		FROM refresh_tokens t JOIN grants g ON g.id = t.grant_id WHERE t.token_hash = ?`
)

func grantDest(g *store.Grant) []any {
	return []any{&g.ID, &g.ClientID, &g.OrgCode, &g.UserID, jsonDest{&g.Scopes}, &g.Resource,
		timeDest{&g.CreatedAt}, timeDest{&g.RevokedAt}}
}

func tokenDest(t *store.RefreshToken) []any {
	return []any{&t.TokenHash, &t.GrantID, timeDest{&t.CreatedAt}, timeDest{&t.ExpiresAt}, timeDest{&t.RotatedAt}}
}

func (s *Store) CreateGrant(ctx context.Context, g store.Grant) error {
	return s.write(ctx, "create grant", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO grants
			(id, client_id, org_code, user_id, scopes, resource, created_at, revoked_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			g.ID, g.ClientID, g.OrgCode, g.UserID, listValue(g.Scopes), g.Resource,
			timeValue(s.stamp(g.CreatedAt)), timeValue(normTime(g.RevokedAt)))
		return err
	})
}

func (s *Store) GetGrant(ctx context.Context, id string) (store.Grant, error) {
	g, err := getGrant(ctx, s.reader, id)
	return g, s.fail("get grant", err)
}

func getGrant(ctx context.Context, q querier, id string) (store.Grant, error) {
	var g store.Grant
	err := q.QueryRowContext(ctx, `SELECT `+grantColumns+` FROM grants g WHERE g.id = ?`, id).Scan(grantDest(&g)...)
	return g, err
}

// RevokeGrant keeps the first revocation time when called again.
func (s *Store) RevokeGrant(ctx context.Context, id string) error {
	return s.write(ctx, "revoke grant", func(tx *sql.Tx) error {
		if _, err := getGrant(ctx, tx, id); err != nil {
			return err
		}
		return revokeGrant(ctx, tx, id, s.nowUTC())
	})
}

// revokeGrant marks the grant revoked at now unless it is already; a
// missing grant is left alone.
func revokeGrant(ctx context.Context, tx *sql.Tx, id string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE grants SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, timeValue(now), id)
	return err
}

func (s *Store) RevokedGrantsSince(ctx context.Context, t time.Time) ([]string, error) {
	const query = `SELECT id FROM grants WHERE revoked_at >= ? ORDER BY revoked_at, id`
	ids, err := queryAll(ctx, s.reader, query, []any{t.UnixMicro()}, func(r scanner) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
	return ids, s.fail("revoked grants since", err)
}

func (s *Store) CreateRefreshToken(ctx context.Context, t store.RefreshToken) error {
	return s.write(ctx, "create refresh token", func(tx *sql.Tx) error {
		return s.insertRefreshToken(ctx, tx, t)
	})
}

// insertRefreshToken stores t; the foreign key to grants turns a missing
// grant into store.ErrNotFound.
func (s *Store) insertRefreshToken(ctx context.Context, tx *sql.Tx, t store.RefreshToken) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at, rotated_at)
		VALUES (?, ?, ?, ?, ?)`,
		t.TokenHash, t.GrantID, timeValue(s.stamp(t.CreatedAt)), timeValue(normTime(t.ExpiresAt)), timeValue(normTime(t.RotatedAt)))
	return err
}

// RotateRefreshToken checks, retires and replaces the token in one write
// transaction, so of concurrent callers presenting the same token exactly
// one rotates it and the others see it rotated (a replay, which revokes
// the grant).
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash string, next store.RefreshToken) (store.Grant, error) {
	var (
		grant    store.Grant
		replayed bool
	)
	err := s.write(ctx, "rotate refresh token", func(tx *sql.Tx) error {
		var old store.RefreshToken
		if err := tx.QueryRowContext(ctx, tokenWithGrantSQL, oldHash).Scan(append(tokenDest(&old), grantDest(&grant)...)...); err != nil {
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
		if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET rotated_at = ? WHERE token_hash = ?`, timeValue(now), oldHash); err != nil {
			return err
		}
		next.GrantID, next.RotatedAt = old.GrantID, time.Time{}
		return s.insertRefreshToken(ctx, tx, next)
	})
	if err != nil {
		return store.Grant{}, err
	}
	if replayed {
		return store.Grant{}, fmt.Errorf("sqlite: rotate refresh token: %w", store.ErrReplayed)
	}
	return grant, nil
}

func (s *Store) LookupRefreshToken(ctx context.Context, hash string) (store.RefreshToken, store.Grant, error) {
	var (
		t store.RefreshToken
		g store.Grant
	)
	err := s.reader.QueryRowContext(ctx, tokenWithGrantSQL, hash).Scan(append(tokenDest(&t), grantDest(&g)...)...)
	if err != nil {
		return store.RefreshToken{}, store.Grant{}, s.fail("lookup refresh token", err)
	}
	return t, g, nil
}
