package postgres

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// This file converts between Go values and the stored forms described in
// the package doc, and holds the row-scanning plumbing shared by every
// table.

// scanner is a pgx.Row or pgx.Rows.
type scanner interface{ Scan(dest ...any) error }

// querier is the pool or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// queryAll runs a query and scans every row with scan. No rows is a nil
// slice.
func queryAll[T any](ctx context.Context, q querier, query string, args []any, scan func(scanner) (T, error)) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// params collects the arguments of a query built piece by piece and names
// their placeholders: p.add(v) appends v and returns "$n".
type params []any

func (p *params) add(v any) string {
	*p = append(*p, v)
	return "$" + strconv.Itoa(len(*p))
}

// mustAffect turns an UPDATE or DELETE that matched no row into
// store.ErrNotFound (through pgx.ErrNoRows, which fail classifies).
func mustAffect(tag pgconn.CommandTag, err error) error {
	if err == nil && tag.RowsAffected() == 0 {
		return pgx.ErrNoRows
	}
	return err
}

// timeValue is the stored form of t: a timestamptz, NULL for the zero time.
// Callers pass times already in stored form (normTime or stamp).
func timeValue(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// normTime is t in stored form (UTC, whole microseconds); zero stays zero.
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

// timeDest scans a timestamptz column into UTC (pgx returns local time);
// NULL reads as the zero time.
type timeDest struct{ t *time.Time }

func (d timeDest) ScanTimestamptz(v pgtype.Timestamptz) error {
	*d.t = time.Time{}
	if v.Valid {
		*d.t = v.Time.UTC()
	}
	return nil
}

// textValue stores s, with NULL for "" (for nullable foreign keys and
// optional secrets).
func textValue(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// textDest scans a nullable text column (NULL reads as "").
type textDest struct{ s *string }

func (d textDest) ScanText(v pgtype.Text) error {
	*d.s = v.String // "" when NULL
	return nil
}

// listValue stores a list as text[], NULL when empty.
func listValue(l []string) any {
	if len(l) == 0 {
		return nil
	}
	return l
}

// nilIfEmpty returns l, or nil when it is empty: stored lists do not keep
// the difference.
func nilIfEmpty(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	return l
}

// mapValue stores a map as jsonb, NULL when empty. (A map scans back from
// jsonb directly; NULL leaves it nil.)
func mapValue(m map[string]string) any {
	if len(m) == 0 {
		return nil
	}
	b, _ := json.Marshal(m) // a map[string]string always marshals
	return b
}

// rawDest is where a json column holding a flag value scans to: the bytes
// as stored, in a slice of their own.
func rawDest(p *json.RawMessage) *[]byte { return (*[]byte)(p) }
