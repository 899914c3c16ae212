package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// This file converts between Go values and the stored forms described in
// the package doc, and holds the row-scanning plumbing shared by every
// table.

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// querier is a *sql.DB or *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// queryAll runs a query and scans every row with scan.
func queryAll[T any](ctx context.Context, q querier, query string, args []any, scan func(scanner) (T, error)) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
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

// timeValue is the stored form of t: unix microseconds, NULL for the zero
// time.
func timeValue(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// normTime is t in stored form (UTC, whole microseconds); zero stays zero.
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

// timeDest scans a time column (NULL reads as the zero time).
type timeDest struct{ t *time.Time }

func (d timeDest) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*d.t = time.Time{}
	case int64:
		*d.t = time.UnixMicro(v).UTC()
	default:
		return fmt.Errorf("time column holds %T", v)
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

func (d textDest) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*d.s = ""
	case string:
		*d.s = v
	case []byte:
		*d.s = string(v)
	default:
		return fmt.Errorf("text column holds %T", v)
	}
	return nil
}

// listValue stores a list as JSON, NULL when empty.
func listValue(l []string) any {
	if len(l) == 0 {
		return nil
	}
	b, _ := json.Marshal(l) // a []string always marshals
	return string(b)
}

// nilIfEmpty returns l, or nil when it is empty: stored lists do not keep
// the difference.
func nilIfEmpty(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	return l
}

// mapValue stores a map as JSON, NULL when empty.
func mapValue(m map[string]string) any {
	if len(m) == 0 {
		return nil
	}
	b, _ := json.Marshal(m) // a map[string]string always marshals
	return string(b)
}

// jsonDest scans a JSON column into the list or map p points to; NULL
// leaves it nil.
type jsonDest struct{ p any }

func (d jsonDest) Scan(v any) error {
	var b []byte
	switch v := v.(type) {
	case nil:
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("JSON column holds %T", v)
	}
	return json.Unmarshal(b, d.p)
}

// rawDest scans a JSON value kept verbatim (a flag value) into a
// json.RawMessage of its own.
type rawDest struct{ p *json.RawMessage }

func (d rawDest) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*d.p = nil
	case string:
		*d.p = json.RawMessage(v)
	case []byte:
		*d.p = append(json.RawMessage(nil), v...)
	default:
		return fmt.Errorf("JSON column holds %T", v)
	}
	return nil
}
