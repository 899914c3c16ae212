package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/orgscope/orgscope/store"
)

const (
	flagColumns = `d.key, d.type, d.default_value, d.description, d.created_at, d.updated_at`
	// effectiveFlagSQL joins each definition with the override of the org
	// given as the first argument; the override's org_code is NULL when it
	// has none.
	effectiveFlagSQL = `SELECT ` + flagColumns + `, o.org_code, o.value, o.updated_at
		FROM flag_definitions d LEFT JOIN flag_overrides o ON o.key = d.key AND o.org_code = ?`
)

func scanFlag(r scanner) (store.FlagDefinition, error) {
	var d store.FlagDefinition
	err := r.Scan(&d.Key, &d.Type, rawDest{&d.DefaultValue}, &d.Description,
		timeDest{&d.CreatedAt}, timeDest{&d.UpdatedAt})
	return d, err
}

func scanEffectiveFlag(r scanner) (store.EffectiveFlag, error) {
	var (
		f  store.EffectiveFlag
		d  = &f.Definition
		o  store.FlagOverride
		ok sql.NullString // the override's org_code: NULL when there is none
	)
	err := r.Scan(&d.Key, &d.Type, rawDest{&d.DefaultValue}, &d.Description,
		timeDest{&d.CreatedAt}, timeDest{&d.UpdatedAt}, &ok, rawDest{&o.Value}, timeDest{&o.UpdatedAt})
	if err == nil && ok.Valid {
		o.OrgCode, o.Key = ok.String, d.Key
		f.Override = &o
	}
	return f, err
}

func (s *Store) CreateFlag(ctx context.Context, def store.FlagDefinition) (store.FlagDefinition, error) {
	s.stampCreated(&def.CreatedAt, &def.UpdatedAt)
	err := s.write(ctx, "create flag", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO flag_definitions
			(key, type, default_value, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
			def.Key, string(def.Type), string(def.DefaultValue), def.Description,
			timeValue(def.CreatedAt), timeValue(def.UpdatedAt))
		return err
	})
	if err != nil {
		return store.FlagDefinition{}, err
	}
	return def, nil
}

func (s *Store) GetFlag(ctx context.Context, key string) (store.FlagDefinition, error) {
	d, err := scanFlag(s.reader.QueryRowContext(ctx, `SELECT `+flagColumns+` FROM flag_definitions d WHERE d.key = ?`, key))
	return d, s.fail("get flag", err)
}

// DeleteFlag relies on ON DELETE CASCADE to remove every org's override.
func (s *Store) DeleteFlag(ctx context.Context, key string) error {
	return s.write(ctx, "delete flag", func(tx *sql.Tx) error {
		return mustAffect(tx.ExecContext(ctx, `DELETE FROM flag_definitions WHERE key = ?`, key))
	})
}

func (s *Store) ListEffectiveFlags(ctx context.Context, orgCode string, page store.Page) ([]store.EffectiveFlag, string, error) {
	after, err := store.DecodeCursor(page.Cursor, store.ListFlags, orgCode)
	if err != nil {
		return nil, "", s.fail("list flags", err)
	}
	if err := orgExists(ctx, s.reader, orgCode); err != nil {
		return nil, "", s.fail("list flags", err)
	}
	query, args := effectiveFlagSQL, []any{orgCode}
	if after != "" {
		query, args = query+` WHERE d.key > ?`, append(args, after)
	}
	query, args = query+` ORDER BY d.key LIMIT ?`, append(args, page.Size()+1)
	flags, err := queryAll(ctx, s.reader, query, args, scanEffectiveFlag)
	if err != nil {
		return nil, "", s.fail("list flags", err)
	}
	flags, last := store.TrimPage(flags, page.Size(), func(f store.EffectiveFlag) string { return f.Definition.Key })
	return flags, store.EncodeCursor(store.ListFlags, orgCode, last), nil
}

func (s *Store) GetEffectiveFlag(ctx context.Context, orgCode, key string) (store.EffectiveFlag, error) {
	if err := orgExists(ctx, s.reader, orgCode); err != nil {
		return store.EffectiveFlag{}, s.fail("get effective flag", err)
	}
	f, err := scanEffectiveFlag(s.reader.QueryRowContext(ctx, effectiveFlagSQL+` WHERE d.key = ?`, orgCode, key))
	return f, s.fail("get effective flag", err)
}

// SetFlagOverride upserts; the foreign keys turn a missing org or flag into
// store.ErrNotFound.
func (s *Store) SetFlagOverride(ctx context.Context, orgCode, key string, value json.RawMessage) (store.FlagOverride, error) {
	o := store.FlagOverride{OrgCode: orgCode, Key: key, Value: value, UpdatedAt: s.nowUTC()}
	err := s.write(ctx, "set flag override", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO flag_overrides (org_code, key, value, updated_at)
			VALUES (?, ?, ?, ?)
			ON CONFLICT (org_code, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
			orgCode, key, string(value), timeValue(o.UpdatedAt))
		return err
	})
	if err != nil {
		return store.FlagOverride{}, err
	}
	return o, nil
}

func (s *Store) DeleteFlagOverride(ctx context.Context, orgCode, key string) (bool, error) {
	var deleted bool
	err := s.write(ctx, "delete flag override", func(tx *sql.Tx) error {
		if err := orgExists(ctx, tx, orgCode); err != nil {
			return err
		}
		if err := flagExists(ctx, tx, key); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM flag_overrides WHERE org_code = ? AND key = ?`, orgCode, key)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		deleted = n > 0
		return err
	})
	return deleted, err
}

// orgExists returns store.ErrNotFound unless the org exists.
func orgExists(ctx context.Context, q querier, orgCode string) error {
	return exists(ctx, q, `SELECT count(*) FROM orgs WHERE code = ?`, orgCode)
}

// flagExists returns store.ErrNotFound unless the flag is defined.
func flagExists(ctx context.Context, q querier, key string) error {
	return exists(ctx, q, `SELECT count(*) FROM flag_definitions WHERE key = ?`, key)
}

// exists returns store.ErrNotFound unless the count query counts a row.
func exists(ctx context.Context, q querier, countQuery string, arg any) error {
	var n int
	if err := q.QueryRowContext(ctx, countQuery, arg).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}
