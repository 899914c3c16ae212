package sqlstore

import (
	"context"

	"github.com/orgscope/orgscope/store"
)

const orgColumns = `code, name, properties, created_at, updated_at`

var orgInsertColumns = []string{"code", "name", "properties", "created_at", "updated_at"}

func (q *Queries) scanOrg(r Row) (store.Org, error) {
	var o store.Org
	err := r.Scan(&o.Code, &o.Name, q.d.MapDest(&o.Properties), q.d.TimeDest(&o.CreatedAt), q.d.TimeDest(&o.UpdatedAt))
	return o, err
}

func (q *Queries) orgArgs(o store.Org) []any {
	return []any{o.Code, o.Name, q.d.Map(o.Properties), q.d.Time(o.CreatedAt), q.d.Time(o.UpdatedAt)}
}

// newOrg fills the timestamps of an org about to be created and puts its
// fields in stored form, so that what CreateOrg returns is what GetOrg will.
func (q *Queries) newOrg(o store.Org) store.Org {
	q.stampCreated(&o.CreatedAt, &o.UpdatedAt)
	if len(o.Properties) == 0 {
		o.Properties = nil
	}
	return o
}

func (q *Queries) CreateOrg(ctx context.Context, org store.Org) (store.Org, error) {
	return call(q, ctx, "create org", func(ctx context.Context) (store.Org, error) {
		org = q.newOrg(org)
		_, err := q.exec(ctx, q.write, `INSERT INTO orgs (`+orgColumns+`) VALUES (?, ?, ?, ?, ?)`, q.orgArgs(org)...)
		return org, err
	})
}

// CreateOrgs loads every org in one transaction (Dialect.BulkInsert).
func (q *Queries) CreateOrgs(ctx context.Context, orgs []store.Org) error {
	return q.runBulk(ctx, "create orgs", len(orgs), func(ctx context.Context) error {
		return q.atomically(ctx, func(tx *Queries) error {
			return tx.d.BulkInsert(ctx, tx.write, "orgs", orgInsertColumns, len(orgs), func(i int) []any {
				return tx.orgArgs(tx.newOrg(orgs[i]))
			})
		})
	})
}

func (q *Queries) GetOrg(ctx context.Context, code string) (store.Org, error) {
	return call(q, ctx, "get org", func(ctx context.Context) (store.Org, error) {
		return q.getOrg(ctx, q.read, code, "")
	})
}

// getOrg reads one org; lock is "" or a Dialect.RowLock clause.
func (q *Queries) getOrg(ctx context.Context, c Conn, code, lock string) (store.Org, error) {
	return q.scanOrg(q.queryRow(ctx, c, `SELECT `+orgColumns+` FROM orgs WHERE code = ? `+lock, code))
}

func (q *Queries) ListOrgs(ctx context.Context, page store.Page) ([]store.Org, string, error) {
	return list(q, ctx, "list orgs", func(ctx context.Context) ([]store.Org, string, error) {
		after, err := store.DecodeCursor(page.Cursor, store.ListOrgs, "")
		if err != nil {
			return nil, "", err
		}
		query, args := `SELECT `+orgColumns+` FROM orgs`, []any{}
		if after != "" {
			query, args = query+` WHERE code > ?`, append(args, after)
		}
		query, args = query+` ORDER BY code LIMIT ?`, append(args, page.Size()+1)
		orgs, err := queryAll(ctx, q, q.read, query, args, q.scanOrg)
		if err != nil {
			return nil, "", err
		}
		orgs, last := store.TrimPage(orgs, page.Size(), func(o store.Org) string { return o.Code })
		return orgs, store.EncodeCursor(store.ListOrgs, "", last), nil
	})
}

// UpdateOrg reads the org locked, so that concurrent updates of its
// properties apply one after the other instead of losing one.
func (q *Queries) UpdateOrg(ctx context.Context, code string, update store.OrgUpdate) (store.Org, error) {
	return call(q, ctx, "update org", func(ctx context.Context) (org store.Org, err error) {
		err = q.atomically(ctx, func(tx *Queries) error {
			if org, err = tx.getOrg(ctx, tx.write, code, tx.d.RowLock("UPDATE")); err != nil {
				return err
			}
			org = update.Apply(org)
			org.UpdatedAt = tx.nowUTC()
			_, err = tx.exec(ctx, tx.write, `UPDATE orgs SET name = ?, properties = ?, updated_at = ? WHERE code = ?`,
				org.Name, tx.d.Map(org.Properties), tx.d.Time(org.UpdatedAt), code)
			return err
		})
		return org, err
	})
}
