package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orgscope/orgscope/store"
)

// This file keeps the first half of the interactive flow: pending
// authorization requests and the codes issued when they complete. Expiry is
// the caller's to check (the records carry ExpiresAt); the store only makes
// each one single-use.

const requestColumns = `handle_hash, client_id, redirect_uri, state, scopes, resource,
	code_challenge, code_challenge_method, csrf_hash, org_code, user_id, created_at, expires_at`

func scanRequest(row scanner) (store.AuthRequest, error) {
	var r store.AuthRequest
	err := row.Scan(&r.HandleHash, &r.ClientID, &r.RedirectURI, &r.State, &r.Scopes, &r.Resource,
		&r.CodeChallenge, &r.CodeChallengeMethod, &r.CSRFHash, &r.OrgCode, &r.UserID,
		timeDest{&r.CreatedAt}, timeDest{&r.ExpiresAt})
	return r, err
}

func (s *Store) CreateAuthRequest(ctx context.Context, r store.AuthRequest) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO auth_requests (`+requestColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		r.HandleHash, r.ClientID, r.RedirectURI, r.State, listValue(r.Scopes), r.Resource,
		r.CodeChallenge, r.CodeChallengeMethod, r.CSRFHash, r.OrgCode, r.UserID,
		timeValue(s.stamp(r.CreatedAt)), timeValue(normTime(r.ExpiresAt)))
	return s.fail("create auth request", err)
}

func (s *Store) GetAuthRequest(ctx context.Context, handleHash string) (store.AuthRequest, error) {
	const query = `SELECT ` + requestColumns + ` FROM auth_requests WHERE handle_hash = $1`
	r, err := scanRequest(s.pool.QueryRow(ctx, query, handleHash))
	return r, s.fail("get auth request", err)
}

func (s *Store) SetAuthRequestUser(ctx context.Context, handleHash, orgCode, userID string) error {
	return s.fail("set auth request user", mustAffect(s.pool.Exec(ctx,
		`UPDATE auth_requests SET org_code = $1, user_id = $2 WHERE handle_hash = $3`, orgCode, userID, handleHash)))
}

// ConsumeAuthRequest deletes and returns the request in one statement: of
// two concurrent callers, in any process, the second finds no row.
func (s *Store) ConsumeAuthRequest(ctx context.Context, handleHash string) (store.AuthRequest, error) {
	const query = `DELETE FROM auth_requests WHERE handle_hash = $1 RETURNING ` + requestColumns
	r, err := scanRequest(s.pool.QueryRow(ctx, query, handleHash))
	return r, s.fail("consume auth request", err)
}

const codeColumns = `code_hash, client_id, org_code, user_id, redirect_uri, resource, scopes,
	code_challenge, created_at, expires_at, used_at, grant_id`

func scanCode(r scanner) (store.AuthCode, error) {
	var c store.AuthCode
	err := r.Scan(&c.CodeHash, &c.ClientID, &c.OrgCode, &c.UserID, &c.RedirectURI, &c.Resource,
		&c.Scopes, &c.CodeChallenge, timeDest{&c.CreatedAt}, timeDest{&c.ExpiresAt},
		timeDest{&c.UsedAt}, &c.GrantID)
	return c, err
}

func (s *Store) CreateAuthCode(ctx context.Context, c store.AuthCode) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO auth_codes (`+codeColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		c.CodeHash, c.ClientID, c.OrgCode, c.UserID, c.RedirectURI, c.Resource,
		listValue(c.Scopes), c.CodeChallenge, timeValue(s.stamp(c.CreatedAt)), timeValue(normTime(c.ExpiresAt)),
		timeValue(normTime(c.UsedAt)), c.GrantID)
	return s.fail("create auth code", err)
}

// RedeemAuthCode locks the code's row (FOR UPDATE) and marks a fresh code
// used: of concurrent redeemers, in any process, the first wins and the
// others wait for its commit, then read the code used. On a used code it
// revokes the grant recorded at first use and commits that before
// reporting store.ErrReplayed: the revocation is the point of detecting the
// replay.
func (s *Store) RedeemAuthCode(ctx context.Context, codeHash, grantID string) (store.AuthCode, error) {
	var (
		code     store.AuthCode
		replayed bool
	)
	err := s.write(ctx, "redeem auth code", func(tx pgx.Tx) error {
		var err error
		const query = `SELECT ` + codeColumns + ` FROM auth_codes WHERE code_hash = $1 FOR UPDATE`
		if code, err = scanCode(tx.QueryRow(ctx, query, codeHash)); err != nil {
			return err
		}
		now := s.nowUTC()
		if !code.UsedAt.IsZero() {
			replayed = true
			return revokeGrant(ctx, tx, code.GrantID, now)
		}
		code.UsedAt, code.GrantID = now, grantID
		_, err = tx.Exec(ctx, `UPDATE auth_codes SET used_at = $1, grant_id = $2 WHERE code_hash = $3`,
			timeValue(now), grantID, codeHash)
		return err
	})
	if err != nil {
		return store.AuthCode{}, err
	}
	if replayed {
		return store.AuthCode{}, fmt.Errorf("postgres: redeem auth code: %w", store.ErrReplayed)
	}
	return code, nil
}

// expired reports whether a record expiring at exp (zero: never) has
// expired at now.
func expired(exp, now time.Time) bool {
	return !exp.IsZero() && !now.Before(exp)
}
