package sqlstore

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/orgscope/orgscope/store"
)

const (
	flagColumns = `d.key, d.type, d.default_value, d.description, d.created_at, d.updated_at`
	// effectiveFlagSQL joins each definition with the override of an org
	// (the override's org_code is NULL when it has none) and says whether
	// that org exists — in the statement the tools and the token endpoint
	// run anyway, rather than in one more. Its arguments are the org code,
	// twice.
	effectiveFlagSQL = `SELECT ` + flagColumns + `, o.org_code, o.value, o.updated_at,
		EXISTS (SELECT 1 FROM orgs WHERE code = ?)
		FROM flag_definitions d LEFT JOIN flag_overrides o ON o.key = d.key AND o.org_code = ?`
)

// scanEffectiveFlag scans a row of effectiveFlagSQL; orgFound is set to
// whether the org exists.
func (q *Queries) scanEffectiveFlag(r Row, orgFound *bool) (store.EffectiveFlag, error) {
	var f store.EffectiveFlag
	d := &f.Definition
	o := &store.FlagOverride{}
	err := r.Scan(&d.Key, &d.Type, q.d.JSONDest(&d.DefaultValue), &d.Description,
		q.d.TimeDest(&d.CreatedAt), q.d.TimeDest(&d.UpdatedAt), q.d.TextDest(&o.OrgCode),
		q.d.JSONDest(&o.Value), q.d.TimeDest(&o.UpdatedAt), orgFound)
	if o.OrgCode != "" {
		o.Key = d.Key
		f.Override = o
	}
	return f, err
}

func (q *Queries) CreateFlag(ctx context.Context, def store.FlagDefinition) (store.FlagDefinition, error) {
	return call(q, ctx, "create flag", func(ctx context.Context) (store.FlagDefinition, error) {
		q.stampCreated(&def.CreatedAt, &def.UpdatedAt)
		_, err := q.exec(ctx, q.write, `INSERT INTO flag_definitions
			(key, type, default_value, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
			def.Key, string(def.Type), q.d.JSON(def.DefaultValue), def.Description,
			q.d.Time(def.CreatedAt), q.d.Time(def.UpdatedAt))
		return def, err
	})
}

// DeleteFlag relies on ON DELETE CASCADE to remove every org's override.
func (q *Queries) DeleteFlag(ctx context.Context, key string) error {
	return q.run(ctx, "delete flag", func(ctx context.Context) error {
		return mustAffect(q.exec(ctx, q.write, `DELETE FROM flag_definitions WHERE key = ?`, key))
	})
}

func (q *Queries) ListEffectiveFlags(ctx context.Context, orgCode string, page store.Page) ([]store.EffectiveFlag, string, error) {
	return list(q, ctx, "list flags", func(ctx context.Context) ([]store.EffectiveFlag, string, error) {
		after, err := store.DecodeCursor(page.Cursor, store.ListFlags, orgCode)
		if err != nil {
			return nil, "", err
		}
		// Whether the organization exists comes with every row (the
		// token endpoint lists an org's flags for every token); an empty
		// page asks on its own.
		query, args := effectiveFlagSQL, []any{orgCode, orgCode}
		if after != "" {
			query, args = query+` WHERE d.key > ?`, append(args, after)
		}
		query, args = query+` ORDER BY d.key LIMIT ?`, append(args, page.Size()+1)
		orgFound := false
		flags, err := queryAll(ctx, q, q.read, query, args, func(r Row) (store.EffectiveFlag, error) {
			return q.scanEffectiveFlag(r, &orgFound)
		})
		switch {
		case err != nil:
			return nil, "", err
		case len(flags) == 0:
			if err := q.orgExists(ctx, q.read, orgCode); err != nil {
				return nil, "", err
			}
		case !orgFound:
			return nil, "", store.ErrNotFound
		}
		flags, last := store.TrimPage(flags, page.Size(), func(f store.EffectiveFlag) string { return f.Definition.Key })
		return flags, store.EncodeCursor(store.ListFlags, orgCode, last), nil
	})
}

func (q *Queries) GetEffectiveFlag(ctx context.Context, orgCode, key string) (store.EffectiveFlag, error) {
	return call(q, ctx, "get effective flag", func(ctx context.Context) (store.EffectiveFlag, error) {
		// Only when the flag is missing is the organization asked about
		// on its own, to say which of the two is.
		var orgFound bool
		f, err := q.scanEffectiveFlag(q.queryRow(ctx, q.read, effectiveFlagSQL+` WHERE d.key = ?`, orgCode, orgCode, key), &orgFound)
		switch {
		case err != nil && errors.Is(q.d.Classify(err), store.ErrNotFound):
			if err := q.orgExists(ctx, q.read, orgCode); err != nil {
				return store.EffectiveFlag{}, err
			}
			return store.EffectiveFlag{}, err
		case err != nil:
			return store.EffectiveFlag{}, err
		case !orgFound:
			return store.EffectiveFlag{}, store.ErrNotFound
		}
		return f, nil
	})
}

// SetFlagOverride upserts; the foreign keys turn a missing org or flag into
// store.ErrNotFound.
func (q *Queries) SetFlagOverride(ctx context.Context, orgCode, key string, value json.RawMessage) (store.FlagOverride, error) {
	return call(q, ctx, "set flag override", func(ctx context.Context) (store.FlagOverride, error) {
		o := store.FlagOverride{OrgCode: orgCode, Key: key, Value: value, UpdatedAt: q.nowUTC()}
		_, err := q.exec(ctx, q.write, `INSERT INTO flag_overrides (org_code, key, value, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (org_code, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
			orgCode, key, q.d.JSON(value), q.d.Time(o.UpdatedAt))
		return o, err
	})
}

// DeleteFlagOverride checks the org and the flag in the same transaction,
// to tell "no such org or flag" (store.ErrNotFound) from "no override"
// (false).
func (q *Queries) DeleteFlagOverride(ctx context.Context, orgCode, key string) (bool, error) {
	return call(q, ctx, "delete flag override", func(ctx context.Context) (deleted bool, err error) {
		err = q.atomically(ctx, func(tx *Queries) error {
			if err := tx.orgExists(ctx, tx.write, orgCode); err != nil {
				return err
			}
			if err := tx.exists(ctx, tx.write, `SELECT EXISTS (SELECT 1 FROM flag_definitions WHERE key = ?)`, key); err != nil {
				return err
			}
			n, err := tx.exec(ctx, tx.write, `DELETE FROM flag_overrides WHERE org_code = ? AND key = ?`, orgCode, key)
			deleted = n > 0
			return err
		})
		return deleted, err
	})
}

// orgExists returns store.ErrNotFound unless the org exists.
func (q *Queries) orgExists(ctx context.Context, c Conn, orgCode string) error {
	return q.exists(ctx, c, `SELECT EXISTS (SELECT 1 FROM orgs WHERE code = ?)`, orgCode)
}
