package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/orgscope/orgscope/store/internal/sqlstore"
)

// dialect is PostgreSQL's sqlstore.Dialect: the stored forms described in
// the package doc, row locks (SELECT ... FOR UPDATE), transaction-level
// advisory locks to serialize, COPY for bulk loads, and SQLSTATEs and
// network errors (errors.go).
type dialect struct {
	pool   *pgxpool.Pool // reset when a connection broke
	closed *atomic.Bool
}

func (dialect) Name() string               { return "postgres" }
func (dialect) NumberedPlaceholders() bool { return true }

// Time stores t (already UTC, whole microseconds) as a timestamptz, NULL
// for the zero time.
func (dialect) Time(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func (dialect) TimeDest(t *time.Time) any { return timeDest{t} }

// List stores a list as text[], NULL when empty; it scans back directly
// (NULL leaves the list nil).
func (dialect) List(l []string) any {
	if len(l) == 0 {
		return nil
	}
	return l
}

func (dialect) ListDest(l *[]string) any { return l }

// Map stores a map as jsonb, NULL when empty; it scans back directly.
func (dialect) Map(m map[string]string) any {
	if len(m) == 0 {
		return nil
	}
	b, _ := json.Marshal(m) // a map[string]string always marshals
	return b
}

func (dialect) MapDest(m *map[string]string) any { return m }

// JSON stores a flag value in a json column, which keeps its bytes; they
// scan back into a slice of their own.
func (dialect) JSON(v json.RawMessage) any      { return v }
func (dialect) JSONDest(v *json.RawMessage) any { return (*[]byte)(v) }
func (dialect) TextDest(s *string) any          { return textDest{s} }

// RowLock locks the rows a SELECT reads: FOR UPDATE before rewriting them,
// FOR NO KEY UPDATE where a row only must not change meanwhile.
func (dialect) RowLock(strength string) string { return "FOR " + strength }

// Serialize takes a transaction-level advisory lock named by the schema
// and the scope; it is released when the transaction ends, also if the
// connection drops.
func (dialect) Serialize(ctx context.Context, c sqlstore.Conn, scope string) error {
	_, err := c.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('orgscope ' || current_schema() || ' ' || $1::text, 0))`, scope)
	return err
}

// copyChunk is how many rows one COPY statement loads. Each statement stays
// well within the statement timeout, while the transaction around them
// keeps a bulk load all-or-nothing however large it is.
const copyChunk = 10_000

// BulkInsert loads the rows with COPY (binary format, no per-row round
// trip), in statements of copyChunk rows, inside the transaction c. A
// constraint broken by any row (a duplicate key, a missing org) fails its
// statement, and the transaction then rolls every chunk back.
func (dialect) BulkInsert(ctx context.Context, c sqlstore.Conn, table string, columns []string, n int, row func(i int) []any) error {
	tx, ok := c.(conn).q.(pgx.Tx)
	if !ok {
		return fmt.Errorf("bulk insert into %s outside a transaction", table)
	}
	for start := 0; start < n; start += copyChunk {
		end := min(start+copyChunk, n)
		src := pgx.CopyFromSlice(end-start, func(i int) ([]any, error) { return row(start + i), nil })
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{table}, columns, src); err != nil {
			return fmt.Errorf("rows %d to %d: %w", start, end-1, err)
		}
	}
	return nil
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

// textDest scans a nullable text column (NULL reads as "").
type textDest struct{ s *string }

func (d textDest) ScanText(v pgtype.Text) error {
	*d.s = v.String // "" when NULL
	return nil
}
