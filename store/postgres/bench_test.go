package postgres_test

import (
	"os"
	"testing"

	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/postgres"
	"github.com/orgscope/orgscope/store/postgres/pgtest"
	"github.com/orgscope/orgscope/store/storetest"
)

// BenchmarkStore runs the store benchmarks both backends share, in a fresh
// schema of the pgtest database.
func BenchmarkStore(b *testing.B) {
	storetest.Benchmark(b, func(tb testing.TB) store.Store { return pgtest.Open(tb) }, func(s store.Store) error {
		// Autovacuum would analyze the new rows eventually; the benchmarks
		// should not depend on when.
		_, err := s.(*postgres.Store).Pool().Exec(b.Context(), `ANALYZE`)
		return err
	})
}

// TestMillionUsers checks the scale promises (storetest.MillionUsers); it
// takes a while, so it runs only when ORGSCOPE_POSTGRES_1M is set.
func TestMillionUsers(t *testing.T) {
	if os.Getenv("ORGSCOPE_POSTGRES_1M") == "" {
		t.Skip("set ORGSCOPE_POSTGRES_1M=1 to run")
	}
	storetest.MillionUsers(t, pgtest.Open(t))
}
