package sqlstore

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/orgscope/orgscope/store"
)

// This file keeps what acts for people: the grants listed per organization
// and person, and the record of each token exchange.

// ListGrants reads a range of grants_org (org_code, id) or grants_org_user
// (org_code, user_id, id), or of the primary key for every organization,
// joined with the person (whose email it shows, and without whom the grant
// stands no more) and the client.
func (q *Queries) ListGrants(ctx context.Context, orgCode string, filter store.GrantFilter, page store.Page) ([]store.GrantView, string, error) {
	return list(q, ctx, "list grants", func(ctx context.Context) ([]store.GrantView, string, error) {
		scope := orgCode + "|" + filter.UserID + "|" + store.Fold(filter.Email)
		if filter.IncludeRevoked {
			scope += "|revoked"
		}
		after, err := store.DecodeCursor(page.Cursor, store.ListGrants, scope)
		if err != nil {
			return nil, "", err
		}
		var where []string
		var args []any
		if orgCode != "" {
			where, args = append(where, `g.org_code = ?`), append(args, orgCode)
		}
		if filter.UserID != "" {
			where, args = append(where, `g.user_id = ?`), append(args, filter.UserID)
		}
		if filter.Email != "" {
			where, args = append(where, `u.email_lower = ?`), append(args, store.Fold(filter.Email))
		}
		if !filter.IncludeRevoked {
			where = append(where, `g.revoked_at IS NULL`)
		}
		if after != "" {
			where, args = append(where, `g.id > ?`), append(args, after)
		}
		query := `SELECT ` + grantColumns + `, u.email, COALESCE(c.name, '')
			FROM grants g JOIN users u ON u.org_code = g.org_code AND u.id = g.user_id
			LEFT JOIN clients c ON c.id = g.client_id`
		if len(where) > 0 {
			query += ` WHERE ` + strings.Join(where, ` AND `)
		}
		query, args = query+` ORDER BY g.id LIMIT ?`, append(args, page.Size()+1)
		grants, err := queryAll(ctx, q, q.read, query, args, func(r Row) (store.GrantView, error) {
			var v store.GrantView
			err := r.Scan(append(q.grantDest(&v.Grant), &v.Email, &v.ClientName)...)
			return v, err
		})
		if err != nil {
			return nil, "", err
		}
		grants, last := store.TrimPage(grants, page.Size(), func(v store.GrantView) string { return v.Grant.ID })
		return grants, store.EncodeCursor(store.ListGrants, scope, last), nil
	})
}

const delegationColumns = `token_id, grant_id, org_code, user_id, client_id, actor_chain, subject_token_id,
	scopes, purpose, created_at, expires_at`

func (q *Queries) scanDelegation(r Row) (store.Delegation, error) {
	var d store.Delegation
	err := r.Scan(&d.TokenID, &d.GrantID, &d.OrgCode, &d.UserID, &d.ClientID, q.d.ListDest(&d.ActorChain),
		&d.SubjectTokenID, q.d.ListDest(&d.Scopes), &d.Purpose, q.d.TimeDest(&d.CreatedAt), q.d.TimeDest(&d.ExpiresAt))
	return d, err
}

// CreateDelegation inserts the record; the foreign key to grants turns a
// missing grant into store.ErrNotFound.
func (q *Queries) CreateDelegation(ctx context.Context, d store.Delegation) error {
	return q.run(ctx, "create delegation", func(ctx context.Context) error {
		_, err := q.exec(ctx, q.write, `INSERT INTO delegations (`+delegationColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.TokenID, d.GrantID, d.OrgCode, d.UserID, d.ClientID, q.d.List(d.ActorChain), d.SubjectTokenID,
			q.d.List(d.Scopes), d.Purpose, q.d.Time(q.stamp(d.CreatedAt)), q.d.Time(normTime(d.ExpiresAt)))
		return err
	})
}

// ListDelegations numbers each grant's live delegations, newest first, in
// one query over delegations_grant, and keeps the first perGrant of each.
func (q *Queries) ListDelegations(ctx context.Context, grantIDs []string, liveAt time.Time, perGrant int) ([]store.Delegation, error) {
	if len(grantIDs) == 0 || perGrant <= 0 {
		return nil, nil
	}
	return call(q, ctx, "list delegations", func(ctx context.Context) ([]store.Delegation, error) {
		args := []any{q.d.Time(normTime(liveAt))}
		for _, id := range grantIDs {
			args = append(args, id)
		}
		args = append(args, perGrant)
		query := `SELECT ` + delegationColumns + ` FROM (
				SELECT ` + delegationColumns + `,
					ROW_NUMBER() OVER (PARTITION BY grant_id ORDER BY created_at DESC, token_id) AS n
				FROM delegations
				WHERE expires_at > ? AND grant_id IN (?` + strings.Repeat(", ?", len(grantIDs)-1) + `)
			) live WHERE n <= ? ORDER BY grant_id, created_at DESC, token_id`
		out, err := queryAll(ctx, q, q.read, query, args, q.scanDelegation)
		if err != nil {
			return nil, err
		}
		slices.SortStableFunc(out, func(a, b store.Delegation) int {
			return slices.Index(grantIDs, a.GrantID) - slices.Index(grantIDs, b.GrantID)
		})
		return out, nil
	})
}
