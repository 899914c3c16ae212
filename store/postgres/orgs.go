package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/orgscope/orgscope/store"
)

const (
	orgColumns   = `code, name, properties, created_at, updated_at`
	insertOrgSQL = `INSERT INTO orgs (` + orgColumns + `) VALUES ($1, $2, $3, $4, $5)`
)

// orgCopyColumns are orgColumns for pgx.CopyFrom.
var orgCopyColumns = []string{"code", "name", "properties", "created_at", "updated_at"}

func scanOrg(r scanner) (store.Org, error) {
	var o store.Org
	err := r.Scan(&o.Code, &o.Name, &o.Properties, timeDest{&o.CreatedAt}, timeDest{&o.UpdatedAt})
	return o, err
}

func orgArgs(o store.Org) []any {
	return []any{o.Code, o.Name, mapValue(o.Properties), timeValue(o.CreatedAt), timeValue(o.UpdatedAt)}
}

// newOrg fills the timestamps of an org about to be created and puts its
// fields in stored form, so that what CreateOrg returns is what GetOrg will.
func (s *Store) newOrg(o store.Org) store.Org {
	s.stampCreated(&o.CreatedAt, &o.UpdatedAt)
	if len(o.Properties) == 0 {
		o.Properties = nil
	}
	return o
}

func (s *Store) CreateOrg(ctx context.Context, org store.Org) (store.Org, error) {
	org = s.newOrg(org)
	if _, err := s.pool.Exec(ctx, insertOrgSQL, orgArgs(org)...); err != nil {
		return store.Org{}, s.fail("create org", err)
	}
	return org, nil
}

// CreateOrgs loads every org with COPY in one transaction (see copyRows).
func (s *Store) CreateOrgs(ctx context.Context, orgs []store.Org) error {
	return s.write(ctx, "create orgs", func(tx pgx.Tx) error {
		return copyRows(ctx, tx, "orgs", orgCopyColumns, len(orgs), func(i int) []any {
			return orgArgs(s.newOrg(orgs[i]))
		})
	})
}

func (s *Store) GetOrg(ctx context.Context, code string) (store.Org, error) {
	o, err := getOrg(ctx, s.pool, code, "")
	return o, s.fail("get org", err)
}

// getOrg reads one org; lock is "" or a locking clause (FOR UPDATE).
func getOrg(ctx context.Context, q querier, code, lock string) (store.Org, error) {
	return scanOrg(q.QueryRow(ctx, `SELECT `+orgColumns+` FROM orgs WHERE code = $1 `+lock, code))
}

func (s *Store) ListOrgs(ctx context.Context, page store.Page) ([]store.Org, string, error) {
	after, err := store.DecodeCursor(page.Cursor, store.ListOrgs, "")
	if err != nil {
		return nil, "", s.fail("list orgs", err)
	}
	var args params
	query := `SELECT ` + orgColumns + ` FROM orgs`
	if after != "" {
		query += ` WHERE code > ` + args.add(after)
	}
	query += ` ORDER BY code LIMIT ` + args.add(page.Size()+1)
	orgs, err := queryAll(ctx, s.pool, query, args, scanOrg)
	if err != nil {
		return nil, "", s.fail("list orgs", err)
	}
	orgs, last := store.TrimPage(orgs, page.Size(), func(o store.Org) string { return o.Code })
	return orgs, store.EncodeCursor(store.ListOrgs, "", last), nil
}

// UpdateOrg reads the org FOR UPDATE, so that concurrent updates of its
// properties apply one after the other instead of losing one.
func (s *Store) UpdateOrg(ctx context.Context, code string, update store.OrgUpdate) (store.Org, error) {
	var org store.Org
	err := s.write(ctx, "update org", func(tx pgx.Tx) error {
		var err error
		if org, err = getOrg(ctx, tx, code, "FOR UPDATE"); err != nil {
			return err
		}
		org = update.Apply(org)
		org.UpdatedAt = s.nowUTC()
		_, err = tx.Exec(ctx, `UPDATE orgs SET name = $1, properties = $2, updated_at = $3 WHERE code = $4`,
			org.Name, mapValue(org.Properties), timeValue(org.UpdatedAt), code)
		return err
	})
	if err != nil {
		return store.Org{}, err
	}
	return org, nil
}
