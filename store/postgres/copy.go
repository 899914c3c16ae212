package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// copyChunk is how many rows one COPY statement loads. Each statement stays
// well within the statement timeout, while the transaction around them
// keeps a bulk load all-or-nothing however large it is.
const copyChunk = 10_000

// copyRows loads n rows into table with COPY (binary format, no per-row
// round trip), in statements of copyChunk rows, inside tx. A constraint
// broken by any row (a duplicate key, a missing org) fails its statement,
// and the caller's transaction then rolls every chunk back.
func copyRows(ctx context.Context, tx pgx.Tx, table string, columns []string, n int, row func(i int) []any) error {
	for start := 0; start < n; start += copyChunk {
		end := min(start+copyChunk, n)
		src := pgx.CopyFromSlice(end-start, func(i int) ([]any, error) { return row(start + i), nil })
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{table}, columns, src); err != nil {
			return fmt.Errorf("rows %d to %d: %w", start, end-1, err)
		}
	}
	return nil
}
