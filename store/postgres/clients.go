package postgres

import (
	"context"
	"time"

	"github.com/orgscope/orgscope/store"
)

const clientColumns = `id, name, kind, org_code, secret_hash, scopes, redirect_uris, grant_types,
	token_endpoint_auth_method, properties, created_at, last_used_at`

// idleSince is the expression the clients_idle index is built on: the last
// use of a client, or its creation if it was never used.
const idleSince = `COALESCE(last_used_at, created_at)`

func scanClient(r scanner) (store.Client, error) {
	var c store.Client
	err := r.Scan(&c.ID, &c.Name, &c.Kind, textDest{&c.OrgCode}, &c.SecretHash,
		&c.Scopes, &c.RedirectURIs, &c.GrantTypes,
		&c.TokenEndpointAuthMethod, &c.Properties,
		timeDest{&c.CreatedAt}, timeDest{&c.LastUsedAt})
	return c, err
}

// CreateClient stores c. Its lists and map read back nil when empty, and an
// empty OrgCode is stored as NULL (global or unbound), so that the foreign
// key to orgs only applies to bound clients.
func (s *Store) CreateClient(ctx context.Context, c store.Client) (store.Client, error) {
	c.CreatedAt = s.stamp(c.CreatedAt)
	c.LastUsedAt = normTime(c.LastUsedAt)
	c.Scopes, c.RedirectURIs, c.GrantTypes = nilIfEmpty(c.Scopes), nilIfEmpty(c.RedirectURIs), nilIfEmpty(c.GrantTypes)
	if len(c.Properties) == 0 {
		c.Properties = nil
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO clients (`+clientColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		c.ID, c.Name, string(c.Kind), textValue(c.OrgCode), c.SecretHash,
		listValue(c.Scopes), listValue(c.RedirectURIs), listValue(c.GrantTypes),
		c.TokenEndpointAuthMethod, mapValue(c.Properties),
		timeValue(c.CreatedAt), timeValue(c.LastUsedAt))
	if err != nil {
		return store.Client{}, s.fail("create client", err)
	}
	return c, nil
}

func (s *Store) GetClient(ctx context.Context, id string) (store.Client, error) {
	c, err := scanClient(s.pool.QueryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = $1`, id))
	return c, s.fail("get client", err)
}

func (s *Store) TouchClient(ctx context.Context, id string, t time.Time) error {
	return s.fail("touch client", mustAffect(s.pool.Exec(ctx,
		`UPDATE clients SET last_used_at = $1 WHERE id = $2`, timeValue(normTime(t)), id)))
}

func (s *Store) CountClients(ctx context.Context, kind store.ClientKind) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM clients WHERE kind = $1`, string(kind)).Scan(&n)
	return n, s.fail("count clients", err)
}

// DeleteIdleClients reads the clients_idle index.
func (s *Store) DeleteIdleClients(ctx context.Context, kind store.ClientKind, cutoff time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM clients WHERE kind = $1 AND `+idleSince+` < $2`,
		string(kind), normTime(cutoff))
	if err != nil {
		return 0, s.fail("delete idle clients", err)
	}
	return int(tag.RowsAffected()), nil
}
