package sqlite

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/storetest"
)

// BenchmarkStore runs the store benchmarks both backends share.
func BenchmarkStore(b *testing.B) {
	storetest.Benchmark(b, func(tb testing.TB) store.Store {
		s, err := Open(tb.Context(), filepath.Join(tb.TempDir(), "bench.db"), nil)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { s.Close() })
		return s
	}, nil)
}

// TestMillionUsers checks the scale promises (storetest.MillionUsers); it
// takes a while, so it runs only when ORGSCOPE_SQLITE_1M is set.
func TestMillionUsers(t *testing.T) {
	if os.Getenv("ORGSCOPE_SQLITE_1M") == "" {
		t.Skip("set ORGSCOPE_SQLITE_1M=1 to run")
	}
	storetest.MillionUsers(t, openTemp(t, nil))
}
