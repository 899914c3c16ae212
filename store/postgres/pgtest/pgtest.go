package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orgscope/orgscope/store/postgres"
)

const (
	// EnvURL names the environment variable holding the test database's URL.
	EnvURL = "ORGSCOPE_TEST_DATABASE_URL"
	// CIURL is the URL used in CI (CI=true) when EnvURL is not set.
	CIURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
)

const (
	// connectTimeout bounds the first connection to the test database.
	connectTimeout = 10 * time.Second
	// cleanupTimeout bounds dropping a test's schema, which runs after the
	// test's context is cancelled.
	cleanupTimeout = 30 * time.Second
)

// reachable remembers whether the test database answered, so that a test
// binary tries it once.
var reachable struct {
	once sync.Once
	err  error
}

// URL returns the test database's URL: $ORGSCOPE_TEST_DATABASE_URL, else
// CIURL when CI=true. Otherwise it skips the test. When a URL is set, a
// database that cannot be reached fails the test (it is tried once per test
// binary): a configured database that is down is a failure, not a reason
// to skip. Call it from the test's goroutine, as Skip and Fatal require.
func URL(tb testing.TB) string {
	tb.Helper()
	url := os.Getenv(EnvURL)
	if url == "" && os.Getenv("CI") == "true" {
		url = CIURL
	}
	if url == "" {
		tb.Skip("PostgreSQL tests skipped: set ORGSCOPE_TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) or CI=true")
	}
	reachable.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err == nil {
			err = conn.Ping(ctx)
			conn.Close(ctx)
		}
		reachable.err = err
	})
	if reachable.err != nil {
		// pgx's message names the host, port, user and database, never
		// the password.
		tb.Fatalf("pgtest: the test database cannot be reached: %v", reachable.err)
	}
	return url
}

// Schema returns the name of a schema no other test uses, t_ and 16
// random hex digits, and drops that schema (CASCADE) when the test ends.
// It does not create it: postgres.Open does, given Options.Schema.
func Schema(tb testing.TB) string {
	tb.Helper()
	url := URL(tb)
	var b [8]byte
	rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := DropSchema(ctx, url, name); err != nil {
			tb.Errorf("pgtest: drop schema %s: %v", name, err)
		}
	})
	return name
}

// DropSchema drops schema and everything in it, if it exists. Tests use
// it through Schema; benchmarks that share a schema across a test binary
// call it themselves.
func DropSchema(ctx context.Context, url, schema string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
	return err
}

// Open opens a store in a fresh schema (see Schema) with default options,
// closes it when the test ends and then drops the schema. A database that
// cannot be reached fails the test.
func Open(tb testing.TB) *postgres.Store {
	tb.Helper()
	url := URL(tb)
	schema := Schema(tb)
	s, err := postgres.Open(tb.Context(), url, &postgres.Options{Schema: schema})
	if err != nil {
		tb.Fatalf("pgtest: open %s: %v", schema, err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}
