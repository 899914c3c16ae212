package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/orgscope/orgscope/store"
)

const (
	orgColumns   = `code, name, properties, created_at, updated_at`
	insertOrgSQL = `INSERT INTO orgs (` + orgColumns + `) VALUES (?, ?, ?, ?, ?)`
)

func scanOrg(r scanner) (store.Org, error) {
	var o store.Org
	err := r.Scan(&o.Code, &o.Name, jsonDest{&o.Properties}, timeDest{&o.CreatedAt}, timeDest{&o.UpdatedAt})
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
	err := s.write(ctx, "create org", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, insertOrgSQL, orgArgs(org)...)
		return err
	})
	if err != nil {
		return store.Org{}, err
	}
	return org, nil
}

func (s *Store) CreateOrgs(ctx context.Context, orgs []store.Org) error {
	return s.write(ctx, "create orgs", func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, insertOrgSQL)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i, o := range orgs {
			if _, err := stmt.ExecContext(ctx, orgArgs(s.newOrg(o))...); err != nil {
				return fmt.Errorf("org %d (%q): %w", i, o.Code, err)
			}
		}
		return nil
	})
}

func (s *Store) GetOrg(ctx context.Context, code string) (store.Org, error) {
	o, err := getOrg(ctx, s.reader, code)
	return o, s.fail("get org", err)
}

func getOrg(ctx context.Context, q querier, code string) (store.Org, error) {
	return scanOrg(q.QueryRowContext(ctx, `SELECT `+orgColumns+` FROM orgs WHERE code = ?`, code))
}

func (s *Store) ListOrgs(ctx context.Context, page store.Page) ([]store.Org, string, error) {
	after, err := store.DecodeCursor(page.Cursor, store.ListOrgs, "")
	if err != nil {
		return nil, "", s.fail("list orgs", err)
	}
	query, args := `SELECT `+orgColumns+` FROM orgs`, []any{}
	if after != "" {
		query, args = query+` WHERE code > ?`, append(args, after)
	}
	query, args = query+` ORDER BY code LIMIT ?`, append(args, page.Size()+1)
	orgs, err := queryAll(ctx, s.reader, query, args, scanOrg)
	if err != nil {
		return nil, "", s.fail("list orgs", err)
	}
	orgs, last := store.TrimPage(orgs, page.Size(), func(o store.Org) string { return o.Code })
	return orgs, store.EncodeCursor(store.ListOrgs, "", last), nil
}

func (s *Store) UpdateOrg(ctx context.Context, code string, update store.OrgUpdate) (store.Org, error) {
	var org store.Org
	err := s.write(ctx, "update org", func(tx *sql.Tx) error {
		var err error
		if org, err = getOrg(ctx, tx, code); err != nil {
			return err
		}
		org = update.Apply(org)
		org.UpdatedAt = s.nowUTC()
		_, err = tx.ExecContext(ctx, `UPDATE orgs SET name = ?, properties = ?, updated_at = ? WHERE code = ?`,
			org.Name, mapValue(org.Properties), timeValue(org.UpdatedAt), code)
		return err
	})
	if err != nil {
		return store.Org{}, err
	}
	return org, nil
}
