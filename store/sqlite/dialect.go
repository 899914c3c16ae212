package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/internal/sqlstore"
)

// dialect is SQLite's sqlstore.Dialect: the stored forms described in the
// package doc, no row locks (write transactions begin IMMEDIATE and so run
// one at a time, across processes too), bulk loading through one prepared
// statement, and SQLite's result codes.
type dialect struct{ closed *atomic.Bool }

func (dialect) Name() string               { return "sqlite" }
func (dialect) NumberedPlaceholders() bool { return false }

// Time stores t as unix microseconds, NULL for the zero time.
func (dialect) Time(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func (dialect) TimeDest(t *time.Time) any        { return timeDest{t} }
func (dialect) List(l []string) any              { return jsonValue(len(l), l) }
func (dialect) ListDest(l *[]string) any         { return jsonDest{l} }
func (dialect) Map(m map[string]string) any      { return jsonValue(len(m), m) }
func (dialect) MapDest(m *map[string]string) any { return jsonDest{m} }
func (dialect) JSON(v json.RawMessage) any       { return string(v) }
func (dialect) JSONDest(v *json.RawMessage) any  { return rawDest{v} }
func (dialect) TextDest(s *string) any           { return textDest{s} }
func (dialect) RowLock(string) string            { return "" }

// Serialize has nothing to do: the transaction began IMMEDIATE and holds
// the file's write lock.
func (dialect) Serialize(context.Context, sqlstore.Conn, string) error { return nil }

// BulkInsert runs one prepared INSERT per row (the transaction's statement
// cache prepares it once).
func (dialect) BulkInsert(ctx context.Context, c sqlstore.Conn, table string, columns []string, n int, row func(i int) []any) error {
	query := `INSERT INTO ` + table + ` (` + strings.Join(columns, ", ") + `) VALUES (?` +
		strings.Repeat(", ?", len(columns)-1) + `)`
	for i := range n {
		if _, err := c.Exec(ctx, query, row(i)...); err != nil {
			return fmt.Errorf("row %d: %w", i, err)
		}
	}
	return nil
}

// Classify: a unique or primary-key violation is store.ErrConflict, a
// foreign-key violation (the org, flag or grant a write names does not
// exist) and a missing row store.ErrNotFound, and a closed store, a lock
// that outlasted the busy timeout or an unreadable file
// store.ErrUnavailable.
func (d dialect) Classify(err error) error {
	if d.closed.Load() || errors.Is(err, sql.ErrConnDone) {
		return store.ErrUnavailable
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return nil
	}
	switch e.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return store.ErrConflict
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return store.ErrNotFound
	}
	return unreachable(e.Code())
}

// unavailableIfUnreachable marks err as store.ErrUnavailable when SQLite
// says the file cannot be used at all (used by Open, before a Store exists).
func unavailableIfUnreachable(err error) error {
	var e *sqlite.Error
	if errors.As(err, &e) && unreachable(e.Code()) != nil {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// unreachable maps the SQLite result codes that mean "the database cannot
// be used right now" to store.ErrUnavailable. Only the primary code (the low
// byte of an extended code) matters here.
func unreachable(code int) error {
	switch code & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN,
		sqlite3.SQLITE_IOERR, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT,
		sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM:
		return store.ErrUnavailable
	}
	return nil
}

// isBusy reports whether err is SQLite's "database is locked".
func isBusy(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_BUSY
}

// jsonValue stores a list or map as TEXT JSON, NULL when it has no element.
func jsonValue(n int, v any) any {
	if n == 0 {
		return nil
	}
	b, _ := json.Marshal(v) // lists of strings and maps of strings always marshal
	return string(b)
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
