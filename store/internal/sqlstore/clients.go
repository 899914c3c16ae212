package sqlstore

import (
	"context"
	"time"

	"github.com/orgscope/orgscope/store"
)

const clientColumns = `id, name, kind, org_code, secret_hash, scopes, redirect_uris, grant_types,
	token_endpoint_auth_method, properties, created_at, last_used_at`

func (q *Queries) scanClient(r Row) (store.Client, error) {
	var c store.Client
	err := r.Scan(&c.ID, &c.Name, &c.Kind, q.d.TextDest(&c.OrgCode), &c.SecretHash,
		q.d.ListDest(&c.Scopes), q.d.ListDest(&c.RedirectURIs), q.d.ListDest(&c.GrantTypes),
		&c.TokenEndpointAuthMethod, q.d.MapDest(&c.Properties),
		q.d.TimeDest(&c.CreatedAt), q.d.TimeDest(&c.LastUsedAt))
	return c, err
}

// CreateClient stores c. Its lists and map read back nil when empty, and an
// empty OrgCode is stored as NULL (global or unbound), so that the foreign
// key to orgs only applies to bound clients.
func (q *Queries) CreateClient(ctx context.Context, c store.Client) (store.Client, error) {
	return call(q, ctx, "create client", func(ctx context.Context) (store.Client, error) {
		return q.insertClient(ctx, q.write, c)
	})
}

func (q *Queries) insertClient(ctx context.Context, conn Conn, c store.Client) (store.Client, error) {
	c.CreatedAt = q.stamp(c.CreatedAt)
	c.LastUsedAt = normTime(c.LastUsedAt)
	c.Scopes, c.RedirectURIs, c.GrantTypes = nilIfEmpty(c.Scopes), nilIfEmpty(c.RedirectURIs), nilIfEmpty(c.GrantTypes)
	if len(c.Properties) == 0 {
		c.Properties = nil
	}
	_, err := q.exec(ctx, conn, `INSERT INTO clients (`+clientColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Name, string(c.Kind), textValue(c.OrgCode), c.SecretHash,
		q.d.List(c.Scopes), q.d.List(c.RedirectURIs), q.d.List(c.GrantTypes),
		c.TokenEndpointAuthMethod, q.d.Map(c.Properties), q.d.Time(c.CreatedAt), q.d.Time(c.LastUsedAt))
	return c, err
}

// CreateClientWithin counts and inserts in one transaction that first
// serializes with every other CreateClientWithin of the same kind
// (Dialect.Serialize), so that the count it reads is the one it inserts
// after, in any process.
func (q *Queries) CreateClientWithin(ctx context.Context, c store.Client, limit int) (store.Client, error) {
	return call(q, ctx, "create client within limit", func(ctx context.Context) (created store.Client, err error) {
		err = q.atomically(ctx, func(tx *Queries) error {
			if err := tx.d.Serialize(ctx, tx.write, "clients "+string(c.Kind)); err != nil {
				return err
			}
			n, err := tx.countClients(ctx, tx.write, c.Kind)
			if err != nil {
				return err
			}
			if n >= limit {
				return store.ErrLimitReached
			}
			created, err = tx.insertClient(ctx, tx.write, c)
			return err
		})
		return created, err
	})
}

func (q *Queries) GetClient(ctx context.Context, id string) (store.Client, error) {
	return call(q, ctx, "get client", func(ctx context.Context) (store.Client, error) {
		return q.scanClient(q.queryRow(ctx, q.read, `SELECT `+clientColumns+` FROM clients WHERE id = ?`, id))
	})
}

func (q *Queries) TouchClient(ctx context.Context, id string, t time.Time) error {
	return q.run(ctx, "touch client", func(ctx context.Context) error {
		return mustAffect(q.exec(ctx, q.write, `UPDATE clients SET last_used_at = ? WHERE id = ?`, q.d.Time(normTime(t)), id))
	})
}

func (q *Queries) CountClients(ctx context.Context, kind store.ClientKind) (int, error) {
	return call(q, ctx, "count clients", func(ctx context.Context) (int, error) {
		return q.countClients(ctx, q.read, kind)
	})
}

func (q *Queries) countClients(ctx context.Context, c Conn, kind store.ClientKind) (int, error) {
	var n int
	err := q.queryRow(ctx, c, `SELECT count(*) FROM clients WHERE kind = ?`, string(kind)).Scan(&n)
	return n, err
}

// DeleteIdleClients deletes the two kinds of idle clients with one
// statement each, both a range of the clients_idle index (kind,
// last_used_at, created_at).
func (q *Queries) DeleteIdleClients(ctx context.Context, kind store.ClientKind, neverUsedBefore, idleBefore time.Time) (int, error) {
	return call(q, ctx, "delete idle clients", func(ctx context.Context) (int, error) {
		var total int64
		err := q.atomically(ctx, func(tx *Queries) error {
			n, err := tx.exec(ctx, tx.write, `DELETE FROM clients WHERE kind = ? AND last_used_at IS NULL AND created_at < ?`,
				string(kind), tx.d.Time(normTime(neverUsedBefore)))
			if err != nil {
				return err
			}
			m, err := tx.exec(ctx, tx.write, `DELETE FROM clients WHERE kind = ? AND last_used_at < ?`,
				string(kind), tx.d.Time(normTime(idleBefore)))
			total = n + m
			return err
		})
		return int(total), err
	})
}
