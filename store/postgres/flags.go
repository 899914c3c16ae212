package postgres

import (
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/orgscope/orgscope/store"
)

const (
	flagColumns = `d.key, d.type, d.default_value, d.description, d.created_at, d.updated_at`
	// effectiveFlagSQL joins each definition with the override of the org
	// given as $1; the override's org_code is NULL when it has none.
	effectiveFlagSQL = `SELECT ` + flagColumns + `, o.org_code, o.value, o.updated_at
		FROM flag_definitions d LEFT JOIN flag_overrides o ON o.key = d.key AND o.org_code = $1`
)

func scanFlag(r scanner) (store.FlagDefinition, error) {
	var d store.FlagDefinition
	err := r.Scan(&d.Key, &d.Type, rawDest(&d.DefaultValue), &d.Description,
		timeDest{&d.CreatedAt}, timeDest{&d.UpdatedAt})
	return d, err
}

func scanEffectiveFlag(r scanner) (store.EffectiveFlag, error) {
	var (
		f  store.EffectiveFlag
		d  = &f.Definition
		o  store.FlagOverride
		ok pgtype.Text // the override's org_code: NULL when there is none
	)
	err := r.Scan(&d.Key, &d.Type, rawDest(&d.DefaultValue), &d.Description,
		timeDest{&d.CreatedAt}, timeDest{&d.UpdatedAt}, &ok, rawDest(&o.Value), timeDest{&o.UpdatedAt})
	if err == nil && ok.Valid {
		o.OrgCode, o.Key = ok.String, d.Key
		f.Override = &o
	}
	return f, err
}

func (s *Store) CreateFlag(ctx context.Context, def store.FlagDefinition) (store.FlagDefinition, error) {
	s.stampCreated(&def.CreatedAt, &def.UpdatedAt)
	_, err := s.pool.Exec(ctx, `INSERT INTO flag_definitions
		(key, type, default_value, description, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		def.Key, string(def.Type), def.DefaultValue, def.Description,
		timeValue(def.CreatedAt), timeValue(def.UpdatedAt))
	if err != nil {
		return store.FlagDefinition{}, s.fail("create flag", err)
	}
	return def, nil
}

func (s *Store) GetFlag(ctx context.Context, key string) (store.FlagDefinition, error) {
	d, err := scanFlag(s.pool.QueryRow(ctx, `SELECT `+flagColumns+` FROM flag_definitions d WHERE d.key = $1`, key))
	return d, s.fail("get flag", err)
}

// DeleteFlag relies on ON DELETE CASCADE to remove every org's override.
func (s *Store) DeleteFlag(ctx context.Context, key string) error {
	return s.fail("delete flag", mustAffect(s.pool.Exec(ctx, `DELETE FROM flag_definitions WHERE key = $1`, key)))
}

func (s *Store) ListEffectiveFlags(ctx context.Context, orgCode string, page store.Page) ([]store.EffectiveFlag, string, error) {
	after, err := store.DecodeCursor(page.Cursor, store.ListFlags, orgCode)
	if err != nil {
		return nil, "", s.fail("list flags", err)
	}
	if err := orgExists(ctx, s.pool, orgCode); err != nil {
		return nil, "", s.fail("list flags", err)
	}
	args := params{orgCode}
	query := effectiveFlagSQL
	if after != "" {
		query += ` WHERE d.key > ` + args.add(after)
	}
	query += ` ORDER BY d.key LIMIT ` + args.add(page.Size()+1)
	flags, err := queryAll(ctx, s.pool, query, args, scanEffectiveFlag)
	if err != nil {
		return nil, "", s.fail("list flags", err)
	}
	flags, last := store.TrimPage(flags, page.Size(), func(f store.EffectiveFlag) string { return f.Definition.Key })
	return flags, store.EncodeCursor(store.ListFlags, orgCode, last), nil
}

func (s *Store) GetEffectiveFlag(ctx context.Context, orgCode, key string) (store.EffectiveFlag, error) {
	if err := orgExists(ctx, s.pool, orgCode); err != nil {
		return store.EffectiveFlag{}, s.fail("get effective flag", err)
	}
	f, err := scanEffectiveFlag(s.pool.QueryRow(ctx, effectiveFlagSQL+` WHERE d.key = $2`, orgCode, key))
	return f, s.fail("get effective flag", err)
}

// SetFlagOverride upserts; the foreign keys turn a missing org or flag into
// store.ErrNotFound.
func (s *Store) SetFlagOverride(ctx context.Context, orgCode, key string, value json.RawMessage) (store.FlagOverride, error) {
	o := store.FlagOverride{OrgCode: orgCode, Key: key, Value: value, UpdatedAt: s.nowUTC()}
	_, err := s.pool.Exec(ctx, `INSERT INTO flag_overrides (org_code, key, value, updated_at)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (org_code, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		orgCode, key, value, timeValue(o.UpdatedAt))
	if err != nil {
		return store.FlagOverride{}, s.fail("set flag override", err)
	}
	return o, nil
}

// DeleteFlagOverride checks the org and the flag first, only to tell "no
// such org or flag" (store.ErrNotFound) from "no override" (false).
func (s *Store) DeleteFlagOverride(ctx context.Context, orgCode, key string) (bool, error) {
	if err := orgExists(ctx, s.pool, orgCode); err != nil {
		return false, s.fail("delete flag override", err)
	}
	if err := flagExists(ctx, s.pool, key); err != nil {
		return false, s.fail("delete flag override", err)
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM flag_overrides WHERE org_code = $1 AND key = $2`, orgCode, key)
	if err != nil {
		return false, s.fail("delete flag override", err)
	}
	return tag.RowsAffected() > 0, nil
}

// orgExists returns store.ErrNotFound unless the org exists.
func orgExists(ctx context.Context, q querier, orgCode string) error {
	return exists(ctx, q, `SELECT EXISTS (SELECT 1 FROM orgs WHERE code = $1)`, orgCode)
}

// flagExists returns store.ErrNotFound unless the flag is defined.
func flagExists(ctx context.Context, q querier, key string) error {
	return exists(ctx, q, `SELECT EXISTS (SELECT 1 FROM flag_definitions WHERE key = $1)`, key)
}

// exists returns store.ErrNotFound unless the EXISTS query is true.
func exists(ctx context.Context, q querier, existsQuery string, arg any) error {
	var ok bool
	if err := q.QueryRow(ctx, existsQuery, arg).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return store.ErrNotFound
	}
	return nil
}
