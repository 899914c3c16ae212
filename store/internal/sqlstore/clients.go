package sqlstore

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/orgscope/orgscope/store"
)

const clientColumns = `id, name, kind, org_code, scopes, redirect_uris, grant_types,
	token_endpoint_auth_method, properties, token_ttl_seconds, delegate, disabled_at, created_at, last_used_at,
	jwks, jwks_uri`

// scanClient scans clientColumns, then the columns more names.
func (q *Queries) scanClient(r Row, more ...any) (store.Client, error) {
	var c store.Client
	var ttl int64
	var jwks string
	err := r.Scan(append([]any{&c.ID, &c.Name, &c.Kind, q.d.TextDest(&c.OrgCode),
		q.d.ListDest(&c.Scopes), q.d.ListDest(&c.RedirectURIs), q.d.ListDest(&c.GrantTypes),
		&c.TokenEndpointAuthMethod, q.d.MapDest(&c.Properties), &ttl, &c.Delegate,
		q.d.TimeDest(&c.DisabledAt), q.d.TimeDest(&c.CreatedAt), q.d.TimeDest(&c.LastUsedAt),
		q.d.TextDest(&jwks), q.d.TextDest(&c.JWKSURI)}, more...)...)
	c.TokenTTL = time.Duration(ttl) * time.Second
	if jwks != "" {
		c.JWKS = json.RawMessage(jwks)
	}
	return c, err
}

// clientValues are the stored forms of c's columns, in clientColumns'
// order.
func (q *Queries) clientValues(c store.Client) []any {
	return []any{c.ID, c.Name, string(c.Kind), textValue(c.OrgCode),
		q.d.List(c.Scopes), q.d.List(c.RedirectURIs), q.d.List(c.GrantTypes),
		c.TokenEndpointAuthMethod, q.d.Map(c.Properties), int64(c.TokenTTL / time.Second), c.Delegate,
		q.d.Time(c.DisabledAt), q.d.Time(c.CreatedAt), q.d.Time(c.LastUsedAt),
		textValue(string(c.JWKS)), textValue(c.JWKSURI)}
}

// normClient puts c in the form it reads back in: lists and maps nil when
// empty, times in stored form, the token lifetime in whole seconds, the
// secrets that have not expired newest first.
func (q *Queries) normClient(c store.Client) store.Client {
	c.CreatedAt = q.stamp(c.CreatedAt)
	c.LastUsedAt, c.DisabledAt = normTime(c.LastUsedAt), normTime(c.DisabledAt)
	c.TokenTTL = c.TokenTTL.Truncate(time.Second)
	c.Scopes, c.RedirectURIs, c.GrantTypes = nilIfEmpty(c.Scopes), nilIfEmpty(c.RedirectURIs), nilIfEmpty(c.GrantTypes)
	if len(c.Properties) == 0 {
		c.Properties = nil
	}
	if len(c.JWKS) == 0 {
		c.JWKS = nil
	}
	var secrets []store.ClientSecret
	for _, s := range c.Secrets {
		if s.CreatedAt.IsZero() {
			s.CreatedAt = c.CreatedAt
		}
		s.CreatedAt, s.ExpiresAt = normTime(s.CreatedAt), normTime(s.ExpiresAt)
		secrets = append(secrets, s)
	}
	c.Secrets = q.liveSecrets(secrets)
	return c
}

// liveSecrets returns the secrets that have not expired, newest first (ties
// by hash, as the queries order them), nil when there are none.
func (q *Queries) liveSecrets(secrets []store.ClientSecret) []store.ClientSecret {
	now := q.nowUTC()
	var out []store.ClientSecret
	for _, s := range secrets {
		if !expired(s.ExpiresAt, now) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b store.ClientSecret) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), strings.Compare(a.Hash, b.Hash))
	})
	return out
}

// CreateClient stores c and its secrets in one transaction. Its lists and
// map read back nil when empty, and an empty OrgCode is stored as NULL
// (global or unbound), so that the foreign key to orgs only applies to
// bound clients.
func (q *Queries) CreateClient(ctx context.Context, c store.Client) (store.Client, error) {
	return call(q, ctx, "create client", func(ctx context.Context) (created store.Client, err error) {
		err = q.atomically(ctx, func(tx *Queries) error {
			created, err = tx.insertClient(ctx, tx.write, c)
			return err
		})
		return created, err
	})
}

// insertClient inserts c and every secret it has (expired ones too: the
// janitor removes them), inside a transaction.
func (q *Queries) insertClient(ctx context.Context, conn Conn, c store.Client) (store.Client, error) {
	secrets := c.Secrets
	c = q.normClient(c)
	_, err := q.exec(ctx, conn, `INSERT INTO clients (`+clientColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		q.clientValues(c)...)
	if err != nil {
		return c, err
	}
	for _, s := range secrets {
		if err := q.insertSecret(ctx, conn, c.ID, s, c.CreatedAt); err != nil {
			return c, err
		}
	}
	return c, nil
}

func (q *Queries) insertSecret(ctx context.Context, conn Conn, clientID string, s store.ClientSecret, created time.Time) error {
	if s.CreatedAt.IsZero() {
		s.CreatedAt = created
	}
	_, err := q.exec(ctx, conn, `INSERT INTO client_secrets (client_id, hash, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		clientID, s.Hash, q.d.Time(normTime(s.CreatedAt)), q.d.Time(normTime(s.ExpiresAt)))
	return err
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
		return q.getClient(ctx, q.read, id, "")
	})
}

// getClient reads one client and its live secrets; lock is "" or a
// Dialect.RowLock clause.
func (q *Queries) getClient(ctx context.Context, conn Conn, id, lock string) (store.Client, error) {
	// The cutoff comes in the same statement: the token endpoint reads
	// both for every token.
	var cutoff time.Time
	c, err := q.scanClient(q.queryRow(ctx, conn, `SELECT `+clientColumns+`,
		(SELECT cutoff FROM client_cutoffs WHERE client_id = clients.id AND expires_at > ?)
		FROM clients WHERE id = ? `+lock, q.d.Time(q.nowUTC()), id),
		q.d.TimeDest(&cutoff))
	if err != nil {
		return c, err
	}
	c.Cutoff = cutoff
	clients := []store.Client{c}
	err = q.loadSecrets(ctx, conn, clients)
	return clients[0], err
}

// loadSecrets reads the live secrets of clients with one query.
func (q *Queries) loadSecrets(ctx context.Context, conn Conn, clients []store.Client) error {
	if len(clients) == 0 {
		return nil
	}
	at := map[string]int{}
	args := []any{q.d.Time(q.nowUTC())}
	for i, c := range clients {
		at[c.ID] = i
		args = append(args, c.ID)
	}
	query := `SELECT client_id, hash, created_at, expires_at FROM client_secrets
		WHERE (expires_at IS NULL OR expires_at > ?) AND client_id IN (?` + strings.Repeat(", ?", len(clients)-1) + `)
		ORDER BY client_id, created_at DESC, hash`
	type row struct {
		client string
		secret store.ClientSecret
	}
	rows, err := queryAll(ctx, q, conn, query, args, func(r Row) (row, error) {
		var x row
		err := r.Scan(&x.client, &x.secret.Hash, q.d.TimeDest(&x.secret.CreatedAt), q.d.TimeDest(&x.secret.ExpiresAt))
		return x, err
	})
	for _, x := range rows {
		c := &clients[at[x.client]]
		c.Secrets = append(c.Secrets, x.secret)
	}
	return err
}

// ListClients reads one range of the primary key, or of clients_org for
// one org (org_code, id).
func (q *Queries) ListClients(ctx context.Context, filter store.ClientFilter, page store.Page) ([]store.Client, string, error) {
	return list(q, ctx, "list clients", func(ctx context.Context) ([]store.Client, string, error) {
		scope := string(filter.Kind) + "|" + filter.OrgCode
		if filter.Global {
			scope += "|global"
		}
		after, err := store.DecodeCursor(page.Cursor, store.ListClients, scope)
		if err != nil {
			return nil, "", err
		}
		var where []string
		var args []any
		if filter.Kind != "" {
			where, args = append(where, `kind = ?`), append(args, string(filter.Kind))
		}
		switch {
		case filter.Global:
			where = append(where, `org_code IS NULL`)
		case filter.OrgCode != "":
			where, args = append(where, `org_code = ?`), append(args, filter.OrgCode)
		}
		if after != "" {
			where, args = append(where, `id > ?`), append(args, after)
		}
		query := `SELECT ` + clientColumns + ` FROM clients`
		if len(where) > 0 {
			query += ` WHERE ` + strings.Join(where, ` AND `)
		}
		query, args = query+` ORDER BY id LIMIT ?`, append(args, page.Size()+1)
		clients, err := queryAll(ctx, q, q.read, query, args, func(r Row) (store.Client, error) { return q.scanClient(r) })
		if err != nil {
			return nil, "", err
		}
		clients, last := store.TrimPage(clients, page.Size(), func(c store.Client) string { return c.ID })
		if err := q.loadSecrets(ctx, q.read, clients); err != nil {
			return nil, "", err
		}
		return clients, store.EncodeCursor(store.ListClients, scope, last), nil
	})
}

// UpdateClient reads the client locked, so that concurrent updates of its
// properties apply one after the other instead of losing one.
func (q *Queries) UpdateClient(ctx context.Context, id string, update store.ClientUpdate) (store.Client, error) {
	return call(q, ctx, "update client", func(ctx context.Context) (c store.Client, err error) {
		err = q.atomically(ctx, func(tx *Queries) error {
			if c, err = tx.getClient(ctx, tx.write, id, tx.d.RowLock("UPDATE")); err != nil {
				return err
			}
			c = tx.normClient(update.Apply(c))
			_, err = tx.exec(ctx, tx.write, `UPDATE clients SET name = ?, scopes = ?, properties = ?, token_ttl_seconds = ?,
				delegate = ?, disabled_at = ?, jwks = ?, jwks_uri = ? WHERE id = ?`,
				c.Name, tx.d.List(c.Scopes), tx.d.Map(c.Properties), int64(c.TokenTTL/time.Second), c.Delegate,
				tx.d.Time(c.DisabledAt), textValue(string(c.JWKS)), textValue(c.JWKSURI), id)
			return err
		})
		return c, err
	})
}

// DeleteClient deletes the client row; its secrets go with it (ON DELETE
// CASCADE).
func (q *Queries) DeleteClient(ctx context.Context, id string) error {
	return q.run(ctx, "delete client", func(ctx context.Context) error {
		return mustAffect(q.exec(ctx, q.write, `DELETE FROM clients WHERE id = ?`, id))
	})
}

// RotateClientSecret locks the client, shortens its other secrets and adds
// the new one, in one transaction.
func (q *Queries) RotateClientSecret(ctx context.Context, id string, next store.ClientSecret, previousUntil time.Time) (store.Client, error) {
	return call(q, ctx, "rotate client secret", func(ctx context.Context) (c store.Client, err error) {
		err = q.atomically(ctx, func(tx *Queries) error {
			if c, err = tx.getClient(ctx, tx.write, id, tx.d.RowLock("NO KEY UPDATE")); err != nil {
				return err
			}
			until := tx.d.Time(normTime(previousUntil))
			_, err = tx.exec(ctx, tx.write, `UPDATE client_secrets SET expires_at = ?
				WHERE client_id = ? AND (expires_at IS NULL OR expires_at > ?)`, until, id, until)
			if err != nil {
				return err
			}
			if next.CreatedAt.IsZero() {
				next.CreatedAt = tx.nowUTC()
			}
			if err := tx.insertSecret(ctx, tx.write, id, next, c.CreatedAt); err != nil {
				return err
			}
			c, err = tx.getClient(ctx, tx.write, id, "")
			return err
		})
		return c, err
	})
}

// TouchClient writes only when the recorded use is older than
// store.TouchInterval before t: the condition is in the statement, so
// replicas racing to record a use write it once.
func (q *Queries) TouchClient(ctx context.Context, id string, t time.Time) error {
	return q.run(ctx, "touch client", func(ctx context.Context) error {
		t = normTime(t)
		_, err := q.exec(ctx, q.write, `UPDATE clients SET last_used_at = ?
			WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)`,
			q.d.Time(t), id, q.d.Time(t.Add(-store.TouchInterval)))
		return err
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
