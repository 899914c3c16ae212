package sqlite

import (
	"context"
	"database/sql"
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
		jsonDest{&c.Scopes}, jsonDest{&c.RedirectURIs}, jsonDest{&c.GrantTypes},
		&c.TokenEndpointAuthMethod, jsonDest{&c.Properties},
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
	err := s.write(ctx, "create client", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO clients (`+clientColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.ID, c.Name, string(c.Kind), textValue(c.OrgCode), c.SecretHash,
			listValue(c.Scopes), listValue(c.RedirectURIs), listValue(c.GrantTypes),
			c.TokenEndpointAuthMethod, mapValue(c.Properties),
			timeValue(c.CreatedAt), timeValue(c.LastUsedAt))
		return err
	})
	if err != nil {
		return store.Client{}, err
	}
	return c, nil
}

func (s *Store) GetClient(ctx context.Context, id string) (store.Client, error) {
	c, err := scanClient(s.reader.QueryRowContext(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = ?`, id))
	return c, s.fail("get client", err)
}

func (s *Store) TouchClient(ctx context.Context, id string, t time.Time) error {
	return s.write(ctx, "touch client", func(tx *sql.Tx) error {
		return mustAffect(tx.ExecContext(ctx, `UPDATE clients SET last_used_at = ? WHERE id = ?`, timeValue(normTime(t)), id))
	})
}

func (s *Store) CountClients(ctx context.Context, kind store.ClientKind) (int, error) {
	var n int
	err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM clients WHERE kind = ?`, string(kind)).Scan(&n)
	return n, s.fail("count clients", err)
}

func (s *Store) DeleteIdleClients(ctx context.Context, kind store.ClientKind, cutoff time.Time) (int, error) {
	var n int64
	err := s.write(ctx, "delete idle clients", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM clients WHERE kind = ? AND `+idleSince+` < ?`,
			string(kind), cutoff.UnixMicro())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
