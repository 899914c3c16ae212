package app

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/sqlite"
)

// failingLastClient is a store whose transactions fail at the demo's last
// write before its audit event — the global admin client — as a first
// start killed in the middle of seeding would.
type failingLastClient struct{ store.Store }

var errInterrupted = errors.New("interrupted")

func (s failingLastClient) InTx(ctx context.Context, fn func(tx store.Tx) error) error {
	return s.Store.InTx(ctx, func(tx store.Tx) error { return fn(failingTx{tx}) })
}

type failingTx struct{ store.Tx }

func (tx failingTx) CreateClient(ctx context.Context, c store.Client) (store.Client, error) {
	if c.OrgCode == "" { // the global admin, made after every tenant's client
		return store.Client{}, errInterrupted
	}
	return tx.Tx.CreateClient(ctx, c)
}

// TestInterruptedSeedLeavesNothing: demo seeding is one transaction, so a
// first start that fails before the end leaves no organization, person,
// client, flag or event behind, and the next start seeds everything.
func TestInterruptedSeedLeavesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.db")
	st, err := sqlite.Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	if _, err := seedDemo(t.Context(), failingLastClient{st}, true, 4); !errors.Is(err, errInterrupted) {
		t.Fatalf("interrupted seeding: err = %v, want %v", err, errInterrupted)
	}
	if rows := rowsOutsideMigrations(t, path); len(rows) != 0 {
		t.Fatalf("an interrupted seed left rows behind: %v", rows)
	}

	seed, err := seedDemo(t.Context(), st, true, 4)
	if err != nil || seed == nil {
		t.Fatalf("seeding after the interruption: %v, %v", seed, err)
	}
	rows := rowsOutsideMigrations(t, path)
	for _, table := range []string{"orgs", "users", "clients", "flag_definitions", "flag_overrides", "audit_events"} {
		if rows[table] == 0 {
			t.Errorf("after a complete seed %s is empty (rows: %v)", table, rows)
		}
	}
	if n := len(seed.clients); int64(n) != rows["clients"] {
		t.Errorf("the banner names %d clients, the database holds %d", n, rows["clients"])
	}
}

// rowsOutsideMigrations counts the rows of every table but the migrations'
// own, read straight from the database file.
func rowsOutsideMigrations(t *testing.T, path string) map[string]int64 {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	names, err := db.QueryContext(t.Context(), `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'schema_migrations'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for names.Next() {
		var name string
		if err := names.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	names.Close()
	if len(tables) < 10 {
		t.Fatalf("only %d tables found: %v", len(tables), tables)
	}
	rows := map[string]int64{}
	for _, table := range tables {
		var n int64
		if err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM "`+table+`"`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			rows[table] = n
		}
	}
	return rows
}
