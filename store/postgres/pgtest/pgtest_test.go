package pgtest_test

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/postgres/pgtest"
)

// schemaExists reports whether the test database has the schema.
func schemaExists(t *testing.T, url, schema string) bool {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var exists bool
	err = conn.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, schema).Scan(&exists)
	if err != nil {
		t.Fatal(err)
	}
	return exists
}

// TestOpen checks that each store starts empty: the org one test creates
// is not in the next test's store.
func TestOpen(t *testing.T) {
	for range 2 {
		t.Run("store", func(t *testing.T) {
			s := pgtest.Open(t)
			if _, err := s.CreateOrg(t.Context(), store.Org{Code: "org_a"}); err != nil {
				t.Fatalf("CreateOrg in a fresh store: %v", err)
			}
		})
	}
}

// TestSchema checks that Schema names differ and that the schema is gone
// once its test ends.
func TestSchema(t *testing.T) {
	url := pgtest.URL(t)
	var a, b string
	t.Run("names", func(t *testing.T) {
		a, b = pgtest.Schema(t), pgtest.Schema(t)
		if a == b || len(a) != len("t_")+16 {
			t.Fatalf("Schema returned %q and %q", a, b)
		}
		conn, err := pgx.Connect(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(t.Context())
		if _, err := conn.Exec(t.Context(), `CREATE SCHEMA `+pgx.Identifier{a}.Sanitize()); err != nil {
			t.Fatal(err)
		}
	})
	if schemaExists(t, url, a) {
		t.Errorf("schema %s still exists after its test", a)
	}
}
