package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t, nil) })
}

// openTemp opens a store in a fresh file, closed when the test ends.
func openTemp(t *testing.T, opts *Options) *Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "test.db"), opts)
}

func openAt(t *testing.T, path string, opts *Options) *Store {
	t.Helper()
	s, err := Open(t.Context(), path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPragmas(t *testing.T) {
	s := openTemp(t, nil)
	for _, c := range []struct{ pragma, want string }{
		{"journal_mode", "wal"},
		{"foreign_keys", "1"},
		{"synchronous", "1"}, // NORMAL
		{"busy_timeout", "5000"},
	} {
		var got string
		if err := s.writer.db.QueryRowContext(t.Context(), "PRAGMA "+c.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", c.pragma, err)
		}
		if got != c.want {
			t.Errorf("writer PRAGMA %s = %q, want %q", c.pragma, got, c.want)
		}
	}
	var mode string
	if err := s.reader.db.QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("reader journal_mode = %q, %v; want wal", mode, err)
	}
	if _, err := s.reader.db.ExecContext(t.Context(), `INSERT INTO orgs (code, name, created_at, updated_at) VALUES ('x', 'x', 0, 0)`); err == nil {
		t.Error("the reader pool accepted a write")
	}
}

// appliedMigrations returns the schema_migrations table as "version name
// applied_at" lines.
func appliedMigrations(t *testing.T, s *Store) []string {
	t.Helper()
	rows, err := s.reader.db.QueryContext(t.Context(), `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var (
			version, at int64
			name        string
		)
		if err := rows.Scan(&version, &name, &at); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d %s %d", version, name, at))
	}
	return out
}

func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "orgscope.db")
	s, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	steps, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	applied := appliedMigrations(t, s)
	if len(applied) != len(steps) || !strings.HasPrefix(applied[0], "1 0001_init.sql ") {
		t.Fatalf("schema_migrations = %q, want one row per %d migrations", applied, len(steps))
	}
	org, err := s.CreateOrg(ctx, store.Org{Code: "org_a", Name: "A", Properties: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	key, err := s.EnsureSigningKey(ctx, store.SigningKey{ID: "k1", Algorithm: "RS256", PrivateKey: []byte{1, 2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openAt(t, path, nil)
	if got := appliedMigrations(t, s); strings.Join(got, "\n") != strings.Join(applied, "\n") {
		t.Fatalf("schema_migrations after re-open = %q, want %q", got, applied)
	}
	got, err := s.GetOrg(ctx, "org_a")
	if err != nil || got.Name != org.Name || !got.CreatedAt.Equal(org.CreatedAt) || got.Properties["k"] != "v" {
		t.Fatalf("org after re-open = %+v, %v; want %+v", got, err, org)
	}
	again, err := s.EnsureSigningKey(ctx, store.SigningKey{ID: "k2", Algorithm: "RS256", PrivateKey: []byte{4}})
	if err != nil || again.ID != key.ID || string(again.PrivateKey) != string(key.PrivateKey) {
		t.Fatalf("signing key after re-open = %+v, %v; want %+v", again, err, key)
	}
}

// TestConcurrentOpen opens one fresh file from several goroutines at once,
// as replicas sharing a volume would: each migration must apply once.
func TestConcurrentOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	stores := make([]*Store, 4)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() {
			s, err := Open(t.Context(), path, nil)
			if err != nil {
				t.Errorf("Open %d: %v", i, err)
				return
			}
			t.Cleanup(func() { s.Close() })
			stores[i] = s
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	steps, _ := migrations()
	if got := appliedMigrations(t, stores[0]); len(got) != len(steps) {
		t.Fatalf("schema_migrations = %q, want %d rows", got, len(steps))
	}
}

func TestClosed(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "test.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.Ping(t.Context()); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Ping after Close: %v, want ErrUnavailable", err)
	}
	if _, err := s.GetOrg(t.Context(), "org_a"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("GetOrg after Close: %v, want ErrUnavailable", err)
	}
	if _, err := s.CreateOrg(t.Context(), store.Org{Code: "org_a"}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("CreateOrg after Close: %v, want ErrUnavailable", err)
	}
}

func TestOpenRefused(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file:x.db", "x.db?mode=ro"} {
		if s, err := Open(t.Context(), path, nil); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", path)
		}
	}
	notDB := filepath.Join(t.TempDir(), "not.db")
	if err := os.WriteFile(notDB, []byte(strings.Repeat("not a database ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(t.Context(), notDB, nil); !errors.Is(err, store.ErrUnavailable) {
		if s != nil {
			s.Close()
		}
		t.Errorf("Open of a file that is not a database: %v, want ErrUnavailable", err)
	}
}

// TestOptionsNow checks that the injected clock stamps records and decides
// expiry.
func TestOptionsNow(t *testing.T) {
	now := time.Date(2030, 6, 1, 12, 0, 0, 123456789, time.UTC)
	s := openTemp(t, &Options{Now: func() time.Time { return now }})
	ctx := t.Context()
	org, err := s.CreateOrg(ctx, store.Org{Code: "org_a"})
	if err != nil {
		t.Fatal(err)
	}
	if want := now.Truncate(time.Microsecond); !org.CreatedAt.Equal(want) || !org.UpdatedAt.Equal(want) {
		t.Fatalf("CreatedAt %v, UpdatedAt %v; want %v", org.CreatedAt, org.UpdatedAt, want)
	}
	if err := s.CreateGrant(ctx, store.Grant{ID: "g"}); err != nil {
		t.Fatal(err)
	}
	for hash, expires := range map[string]time.Time{"dead": now, "live": now.Add(time.Second)} {
		if err := s.CreateRefreshToken(ctx, store.RefreshToken{TokenHash: hash, GrantID: "g", ExpiresAt: expires}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.RotateRefreshToken(ctx, "dead", store.RefreshToken{TokenHash: "n1"}, 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rotate a token expiring now: %v, want ErrNotFound", err)
	}
	if _, err := s.RotateRefreshToken(ctx, "live", store.RefreshToken{TokenHash: "n2"}, 0); err != nil {
		t.Errorf("rotate a token expiring in a second: %v", err)
	}
}

// TestQueryPlans checks that keyset listings walk an index in order: no
// sort, no scan of other orgs, so the cost is the page size at any depth.
// The queries are those sqlstore builds, with their placeholders.
func TestQueryPlans(t *testing.T) {
	s := openTemp(t, nil)
	const events = `SELECT * FROM audit_events WHERE `
	for _, c := range []struct {
		name, query string
		args        []any
		want        string
	}{
		{"users", `SELECT * FROM users WHERE org_code = ? AND id > ? ORDER BY id LIMIT ?`,
			[]any{"org_a", "usr_", 21}, "SEARCH users USING PRIMARY KEY (org_code=? AND id>?)"},
		{"orgs", `SELECT * FROM orgs WHERE code > ? ORDER BY code LIMIT ?`,
			[]any{"org_a", 21}, "SEARCH orgs USING INDEX sqlite_autoindex_orgs_1 (code>?)"},
		{"credentials", `SELECT * FROM users WHERE email_lower = ?`,
			[]any{"a@b.c"}, "SEARCH users USING INDEX users_email (email_lower=?)"},
		{"audit", events + `org_code = ? AND (time, id) < (?, ?) ORDER BY time DESC, id DESC LIMIT ?`,
			[]any{"org_a", 1, "evt_", 21}, "SEARCH audit_events USING INDEX sqlite_autoindex_audit_events_1 (org_code=? AND (time,id)<(?,?))"},
		{"audit by time", events + `org_code = ? AND time >= ? AND time < ? ORDER BY time DESC, id DESC LIMIT ?`,
			[]any{"org_a", 1, 2, 21}, "SEARCH audit_events USING INDEX sqlite_autoindex_audit_events_1 (org_code=? AND time>? AND time<?)"},
		{"audit by client", events + `org_code = ? AND (time, id) < (?, ?) AND client_id = ? ORDER BY time DESC, id DESC LIMIT ?`,
			[]any{"org_a", 1, "evt_", "c", 21}, "SEARCH audit_events USING INDEX audit_events_client (org_code=? AND client_id=? AND (time,id)<(?,?))"},
		{"audit export", events + `(time, id) > (?, ?) AND time >= ? ORDER BY time, id LIMIT ?`,
			[]any{1, "evt_", 0, 21}, "SEARCH audit_events USING INDEX audit_events_time ((time,id)>(?,?))"},
		{"audit retention", `SELECT org_code, time, id FROM audit_events WHERE time < ? ORDER BY time LIMIT ?`,
			[]any{1, 1000}, "SEARCH audit_events USING INDEX audit_events_time (time<?)"},
		{"never used clients", `DELETE FROM clients WHERE kind = ? AND last_used_at IS NULL AND created_at < ?`,
			[]any{"registered", 0}, "SEARCH clients USING COVERING INDEX clients_idle (kind=? AND last_used_at=? AND created_at<?)"},
		{"idle clients", `DELETE FROM clients WHERE kind = ? AND last_used_at < ?`,
			[]any{"registered", 0}, "SEARCH clients USING COVERING INDEX clients_idle (kind=? AND last_used_at<?)"},
		{"denylist", `SELECT * FROM revoked_tokens WHERE (expires_at IS NULL OR expires_at > ?) AND revoked_at >= ? ORDER BY revoked_at, token_id`,
			[]any{0, 0}, "SEARCH revoked_tokens USING INDEX revoked_tokens_revoked (revoked_at>?)"},
	} {
		plan := explain(t, s, c.query, c.args...)
		if !strings.Contains(plan, c.want) || strings.Contains(plan, "TEMP B-TREE FOR ORDER BY") && c.name != "denylist" {
			t.Errorf("%s: plan\n%s\nwant %q and no temporary sort", c.name, plan, c.want)
		}
	}
}

func explain(t *testing.T, s *Store, query string, args ...any) string {
	t.Helper()
	rows, err := s.reader.db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("EXPLAIN %s: %v", query, err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, detail)
	}
	return strings.Join(lines, "\n")
}

// TestFileMode checks that a new database file and the -wal and -shm files
// SQLite creates beside it can be read by their owner only, even under a
// umask that would allow more: the file holds the signing key.
func TestFileMode(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "orgscope.db")
	s := openAt(t, path, nil)
	if _, err := s.CreateOrg(t.Context(), store.Org{Code: "org_a"}); err != nil { // so that the WAL has a frame
		t.Fatal(err)
	}
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		info, err := os.Stat(name)
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(name), err)
		}
		if mode := info.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %v, want -rw-------", filepath.Base(name), mode)
		}
	}
}

// TestQueryTimeout holds the write lock from another connection, with a
// busy timeout far longer than the query timeout: a write gives up at the
// query timeout with store.ErrUnavailable, and succeeds once the lock is
// gone.
func TestQueryTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "orgscope.db")
	const timeout = 300 * time.Millisecond
	s := openAt(t, path, &Options{QueryTimeout: timeout, BusyTimeout: time.Minute})
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	_, err = s.CreateOrg(t.Context(), store.Org{Code: "org_a"})
	if elapsed := time.Since(start); !errors.Is(err, store.ErrUnavailable) || elapsed > timeout+5*time.Second {
		t.Fatalf("CreateOrg while another process holds the write lock: %v after %v; want ErrUnavailable after about %v", err, elapsed, timeout)
	}
	start = time.Now()
	err = s.InTx(t.Context(), func(tx store.Tx) error { _, err := tx.CreateOrg(t.Context(), store.Org{Code: "org_a"}); return err })
	if elapsed := time.Since(start); !errors.Is(err, store.ErrUnavailable) || elapsed > timeout+5*time.Second {
		t.Fatalf("InTx while another process holds the write lock: %v after %v; want ErrUnavailable", err, elapsed)
	}
	if _, err := conn.ExecContext(t.Context(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateOrg(t.Context(), store.Org{Code: "org_a"}); err != nil {
		t.Fatalf("CreateOrg once the lock is gone: %v", err)
	}
}

// databaseAt makes a database file at migration version n (its first n
// migrations applied and recorded, as a server of that version left it)
// and returns its path and a handle, with foreign keys on, to write the
// rows such a server wrote; the test closes it before opening the store.
func databaseAt(t *testing.T, n int) (string, *sql.DB) {
	t.Helper()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("v%d.db", n))
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	steps, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, m := range steps {
		if m.Version > n {
			break
		}
		if err := inTx(ctx, db, func(tx *sql.Tx) error { return apply(ctx, tx, m, time.Now()) }); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
	}
	return path, db
}

// TestMigrateAuditEvents opens a database whose schema is at version 2,
// with audit events in the old form, and checks what they become.
func TestMigrateAuditEvents(t *testing.T) {
	ctx := t.Context()
	path, db := databaseAt(t, 2)
	at := time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC)
	for i, row := range []struct{ org, outcome, detail string }{{"org_a", "ok", ""}, {"", "error", "tool failed"}} {
		_, err := db.ExecContext(ctx, `INSERT INTO audit_events (org_code, id, time, subject, client_id, action, target, outcome, detail)
			VALUES (?, ?, ?, 'usr_1', 'c1', 'update_user', 'usr_2', ?, ?)`, row.org, fmt.Sprintf("evt_%d", i), at.UnixMicro(), row.outcome, row.detail)
		if err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s := openAt(t, path, nil)
	old := store.AuditEvent{ID: "evt_0", Time: at, OrgCode: "org_a", ClientID: "c1", Subject: "usr_1", Action: "update_user",
		Target: "usr_2", Decision: store.DecisionAllow, Outcome: store.OutcomeOK}
	failed := store.AuditEvent{ID: "evt_1", Time: at, ClientID: "c1", Subject: "usr_1", Action: "update_user",
		Target: "usr_2", Decision: store.DecisionAllow, Reason: "tool failed", Outcome: store.OutcomeError}
	for org, want := range map[string]store.AuditEvent{"org_a": old, "": failed} {
		got, _, err := s.ListAuditEvents(ctx, org, store.AuditFilter{}, store.Page{})
		if err != nil || len(got) != 1 || !reflect.DeepEqual(got[0], want) {
			t.Errorf("events of %q after the migration = %+v, %v; want %+v", org, got, err, want)
		}
	}
}

// TestMigrateSigningKeys opens a database whose schema is at version 4
// with the key the issuer made then, and checks that it reads as a key
// that has signed since it was made, stored clear.
func TestMigrateSigningKeys(t *testing.T) {
	ctx := t.Context()
	path, db := databaseAt(t, 4)
	at := time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC)
	if _, err := db.ExecContext(ctx, `INSERT INTO signing_keys (id, algorithm, private_key, created_at) VALUES ('k1', 'RS256', x'3082', ?)`, at.UnixMicro()); err != nil {
		t.Fatal(err)
	}
	db.Close()

	keys, err := openAt(t, path, nil).SigningKeys(ctx)
	want := []store.SigningKey{{ID: "k1", Algorithm: "RS256", PrivateKey: []byte{0x30, 0x82}, CreatedAt: at, ActivateAt: at}}
	if err != nil || !reflect.DeepEqual(keys, want) {
		t.Fatalf("keys after the migration = %+v, %v; want %+v", keys, err, want)
	}
}

// TestClientSecretsMigration: a database written before client secrets had
// a table of their own keeps every client's secret, and clients without
// one (public registered clients) keep none.
func TestClientSecretsMigration(t *testing.T) {
	ctx := t.Context()
	path, db := databaseAt(t, 6)
	if _, err := db.ExecContext(ctx, `INSERT INTO clients (id, name, kind, org_code, secret_hash, scopes, grant_types,
		token_endpoint_auth_method, created_at) VALUES
		('m2m', 'Agent', 'machine', NULL, 'abc123', '["read:users"]', '["client_credentials"]', 'client_secret_basic', 1700000000000000),
		('dcr', 'App', 'registered', NULL, '', NULL, '["authorization_code"]', 'none', 1700000000000000)`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s := openAt(t, path, nil)
	m2m, err := s.GetClient(ctx, "m2m")
	if err != nil {
		t.Fatal(err)
	}
	created := time.UnixMicro(1700000000000000).UTC()
	if want := []store.ClientSecret{{Hash: "abc123", CreatedAt: created}}; !reflect.DeepEqual(m2m.Secrets, want) ||
		m2m.TokenTTL != 0 || m2m.Delegate || m2m.Disabled() {
		t.Errorf("machine client after the migration: %+v", m2m)
	}
	dcr, err := s.GetClient(ctx, "dcr")
	if err != nil || dcr.Secrets != nil {
		t.Errorf("public client after the migration: %+v, %v", dcr, err)
	}
}
