package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/postgres"
	"github.com/orgscope/orgscope/store/postgres/pgtest"
	"github.com/orgscope/orgscope/store/storetest"
)

func TestConformance(t *testing.T) {
	pgtest.URL(t) // skip once here rather than in every subtest
	storetest.Run(t, func(t *testing.T) store.Store { return pgtest.Open(t) })
}

// openIn opens a store in schema with opts (nil: defaults), closed when the
// test ends. Several stores opened in one schema are separate pools, as
// separate replicas would have.
func openIn(t *testing.T, schema string, opts *postgres.Options) *postgres.Store {
	t.Helper()
	s, err := open(t, pgtest.URL(t), schema, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// open opens a store at dsn in schema; the caller closes it.
func open(t *testing.T, dsn, schema string, opts *postgres.Options) (*postgres.Store, error) {
	var o postgres.Options
	if opts != nil {
		o = *opts
	}
	o.Schema = schema
	return postgres.Open(t.Context(), dsn, &o)
}

// migrationFiles lists the embedded migrations as the source tree holds
// them.
func migrationFiles(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// appliedMigrations returns the schema_migrations table as "version name
// applied_at" lines.
func appliedMigrations(t *testing.T, s *postgres.Store) []string {
	t.Helper()
	rows, err := s.Pool().Query(t.Context(), `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var (
			version int
			name    string
			at      time.Time
		)
		err := r.Scan(&version, &name, &at)
		return fmt.Sprintf("%d %s %s", version, name, at.UTC().Format(time.RFC3339Nano)), err
	})
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

func TestReopen(t *testing.T) {
	ctx := t.Context()
	schema := pgtest.Schema(t)
	s, err := open(t, pgtest.URL(t), schema, nil)
	if err != nil {
		t.Fatal(err)
	}
	files := migrationFiles(t)
	applied := appliedMigrations(t, s)
	if len(applied) != len(files) || !strings.HasPrefix(applied[0], "1 0001_init.sql ") {
		t.Fatalf("schema_migrations = %q, want one row for each of %q", applied, files)
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

	s = openIn(t, schema, nil)
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

// TestConcurrentOpen opens one fresh schema from several pools at the same
// instant, as replicas starting together would: every Open succeeds and
// each migration is applied once.
func TestConcurrentOpen(t *testing.T) {
	url, schema := pgtest.URL(t), pgtest.Schema(t)
	stores := make([]*postgres.Store, 4)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() {
			<-start
			s, err := open(t, url, schema, nil)
			if err != nil {
				t.Errorf("Open %d: %v", i, err)
				return
			}
			t.Cleanup(func() { s.Close() })
			stores[i] = s
		})
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		return
	}
	if got, files := appliedMigrations(t, stores[0]), migrationFiles(t); len(got) != len(files) {
		t.Fatalf("schema_migrations = %q, want one row for each of %q", got, files)
	}
	for i, s := range stores {
		if _, err := s.CreateOrg(t.Context(), store.Org{Code: fmt.Sprintf("org_%d", i)}); err != nil {
			t.Errorf("store %d: CreateOrg: %v", i, err)
		}
	}
}

// race runs fn(i) for i in [0, n) at the same instant, each in a goroutine
// of its own, and returns their errors.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// TestAcrossPools checks the promises that must hold across replicas with
// two stores (two pools, as two processes would have) on one schema.
func TestAcrossPools(t *testing.T) {
	pgtest.URL(t) // skip once here rather than in every subtest
	const racers = 16
	pools := func(t *testing.T) [2]*postgres.Store {
		schema := pgtest.Schema(t)
		return [2]*postgres.Store{openIn(t, schema, nil), openIn(t, schema, nil)}
	}
	// count tallies errors: nil under "ok", others under the store error
	// they carry, anything else fails the test.
	count := func(t *testing.T, errs []error) map[error]int {
		n := map[error]int{}
		for i, err := range errs {
			switch {
			case err == nil:
				n[nil]++
			case errors.Is(err, store.ErrConflict):
				n[store.ErrConflict]++
			case errors.Is(err, store.ErrReplayed):
				n[store.ErrReplayed]++
			case errors.Is(err, store.ErrNotFound):
				n[store.ErrNotFound]++
			default:
				t.Fatalf("racer %d: %v", i, err)
			}
		}
		return n
	}

	t.Run("EnsureSigningKey", func(t *testing.T) {
		ss := pools(t)
		keys := make([]store.SigningKey, racers)
		errs := race(racers, func(i int) error {
			var err error
			keys[i], err = ss[i%2].EnsureSigningKey(t.Context(), store.SigningKey{ID: fmt.Sprintf("k%d", i), Algorithm: "RS256", PrivateKey: []byte{byte(i)}})
			return err
		})
		if n := count(t, errs); n[nil] != racers {
			t.Fatalf("errors: %v", errs)
		}
		for i, k := range keys {
			if k.ID != keys[0].ID {
				t.Fatalf("racer %d got key %s, racer 0 got %s", i, k.ID, keys[0].ID)
			}
		}
		for i, s := range ss {
			stored, err := s.SigningKeys(t.Context())
			if err != nil || len(stored) != 1 || stored[0].ID != keys[0].ID {
				t.Fatalf("store %d: SigningKeys = %+v, %v; want only %s", i, stored, err, keys[0].ID)
			}
		}
	})

	t.Run("CreateUser", func(t *testing.T) {
		ss := pools(t)
		if _, err := ss[0].CreateOrg(t.Context(), store.Org{Code: "org_a"}); err != nil {
			t.Fatal(err)
		}
		errs := race(racers, func(i int) error {
			u := store.User{ID: store.NewID(store.UserIDPrefix), OrgCode: "org_a", Email: "ANN@x.io"}
			if i%2 == 1 {
				u.Email = "ann@X.IO" // the same email in another case
			}
			_, err := ss[i%2].CreateUser(t.Context(), u)
			return err
		})
		if n := count(t, errs); n[nil] != 1 || n[store.ErrConflict] != racers-1 {
			t.Fatalf("%d creates succeeded, %d conflicted; want 1 and %d (errors %v)", n[nil], n[store.ErrConflict], racers-1, errs)
		}
	})

	t.Run("RotateRefreshToken", func(t *testing.T) {
		ss := pools(t)
		future := time.Now().Add(time.Hour)
		if err := ss[0].CreateGrant(t.Context(), store.Grant{ID: "grt_1"}); err != nil {
			t.Fatal(err)
		}
		if err := ss[0].CreateRefreshToken(t.Context(), store.RefreshToken{TokenHash: "t1", GrantID: "grt_1", ExpiresAt: future}); err != nil {
			t.Fatal(err)
		}
		errs := race(racers, func(i int) error {
			_, err := ss[i%2].RotateRefreshToken(t.Context(), "t1", store.RefreshToken{TokenHash: fmt.Sprintf("next%d", i), ExpiresAt: future}, 0)
			return err
		})
		if n := count(t, errs); n[nil] != 1 || n[store.ErrReplayed] == 0 || n[store.ErrConflict] != 0 {
			t.Fatalf("%d rotations succeeded, %d replays: want 1 and some (errors %v)", n[nil], n[store.ErrReplayed], errs)
		}
		if g, err := ss[1].GetGrant(t.Context(), "grt_1"); err != nil || !g.Revoked() {
			t.Fatalf("grant after replays = %+v, %v; want revoked", g, err)
		}
	})

	t.Run("RedeemAuthCode", func(t *testing.T) {
		ss := pools(t)
		if err := ss[0].CreateAuthCode(t.Context(), store.AuthCode{CodeHash: "c1"}); err != nil {
			t.Fatal(err)
		}
		if err := ss[0].CreateGrant(t.Context(), store.Grant{ID: "grt_winner"}); err != nil {
			t.Fatal(err)
		}
		errs := race(racers, func(i int) error {
			_, err := ss[i%2].RedeemAuthCode(t.Context(), "c1", "grt_winner")
			return err
		})
		if n := count(t, errs); n[nil] != 1 || n[store.ErrReplayed] != racers-1 {
			t.Fatalf("%d redemptions succeeded, %d replays: want 1 and %d (errors %v)", n[nil], n[store.ErrReplayed], racers-1, errs)
		}
	})

	t.Run("CreateClientWithin", func(t *testing.T) {
		ss := pools(t)
		const callers, limit = 64, 20
		errs := race(callers, func(i int) error {
			_, err := ss[i%2].CreateClientWithin(t.Context(), store.Client{ID: fmt.Sprintf("dcr_%02d", i), Kind: store.ClientRegistered}, limit)
			return err
		})
		created, refused := 0, 0
		for i, err := range errs {
			switch {
			case err == nil:
				created++
			case errors.Is(err, store.ErrLimitReached):
				refused++
			default:
				t.Fatalf("caller %d: %v", i, err)
			}
		}
		n, err := ss[1].CountClients(t.Context(), store.ClientRegistered)
		if err != nil || created != limit || refused != callers-limit || n != limit {
			t.Fatalf("%d created, %d refused, %d stored (%v); want %d, %d, %d", created, refused, n, err, limit, callers-limit, limit)
		}
	})

	t.Run("ConsumeAuthRequest", func(t *testing.T) {
		ss := pools(t)
		if err := ss[0].CreateAuthRequest(t.Context(), store.AuthRequest{HandleHash: "h1"}); err != nil {
			t.Fatal(err)
		}
		errs := race(racers, func(i int) error {
			_, err := ss[i%2].ConsumeAuthRequest(t.Context(), "h1")
			return err
		})
		if n := count(t, errs); n[nil] != 1 || n[store.ErrNotFound] != racers-1 {
			t.Fatalf("%d consumed, %d not found: want 1 and %d (errors %v)", n[nil], n[store.ErrNotFound], racers-1, errs)
		}
	})
}

// withParam returns the connection string dsn with one more parameter,
// whichever of the two forms (URL or key=value) it has.
func withParam(t *testing.T, dsn, key, value string) string {
	t.Helper()
	if !strings.Contains(dsn, "://") {
		return dsn + " " + key + "=" + value
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("test database URL: %v", err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// terminate ends every server process serving application app, as an
// administrator (or a failover) would, and waits until they are gone.
func terminate(t *testing.T, admin *postgres.Store, app string) {
	t.Helper()
	ctx := t.Context()
	var n int
	err := admin.Pool().QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n)
	if err != nil || n == 0 {
		t.Fatalf("terminated %d backends: %v", n, err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		err := admin.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d backends still running", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRecoversAfterOutage terminates every connection of a store, then
// checks that the store serves the next call, or the one after: a call on
// a connection that broke fails with store.ErrUnavailable (and resets the
// pool), and no call panics or hangs. It runs twice: right after the
// outage (the broken connections look fresh) and after they have idled
// past pgxpool's liveness-check threshold (one second).
func TestRecoversAfterOutage(t *testing.T) {
	schema := pgtest.Schema(t)
	app := "orgscope_" + schema // so that only this store's backends are terminated
	s, err := open(t, withParam(t, pgtest.URL(t), "application_name", app), schema, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	admin := openIn(t, schema, nil)
	if _, err := s.CreateOrg(t.Context(), store.Org{Code: "org_a"}); err != nil {
		t.Fatal(err)
	}

	for _, idle := range []time.Duration{0, 1500 * time.Millisecond} {
		// Fill the pool with several connections, all of which will break.
		errs := race(8, func(int) error { _, err := s.GetOrg(t.Context(), "org_a"); return err })
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		terminate(t, admin, app)
		time.Sleep(idle)

		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		failures := 0
		for {
			_, err := s.GetOrg(ctx, "org_a")
			if err == nil {
				break
			}
			if !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("idle %v: GetOrg after the outage: %v, want ErrUnavailable or success", idle, err)
			}
			if failures++; failures > 1 {
				t.Fatalf("idle %v: GetOrg failed twice after the outage: %v", idle, err)
			}
		}
		cancel()
		t.Logf("idle %v: %d failed call(s) before recovery", idle, failures)
		if err := s.Ping(t.Context()); err != nil {
			t.Fatalf("Ping after recovery: %v", err)
		}
	}
}

// TestStatementTimeout holds a row lock from another pool, so that an
// update waits for it: the statement timeout ends the wait, and the store
// reports store.ErrUnavailable.
func TestStatementTimeout(t *testing.T) {
	schema := pgtest.Schema(t)
	s := openIn(t, schema, &postgres.Options{StatementTimeout: 200 * time.Millisecond})
	other := openIn(t, schema, nil)
	ctx := t.Context()
	if _, err := s.CreateOrg(ctx, store.Org{Code: "org_a", Name: "A"}); err != nil {
		t.Fatal(err)
	}
	tx, err := other.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `SELECT 1 FROM orgs WHERE code = 'org_a' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	_, err = s.UpdateOrg(ctx, "org_a", store.OrgUpdate{Name: new("B")})
	if elapsed := time.Since(start); !errors.Is(err, store.ErrUnavailable) || elapsed > 3*time.Second {
		t.Fatalf("UpdateOrg of a locked row: %v after %v; want ErrUnavailable after about 200ms", err, elapsed)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateOrg(ctx, "org_a", store.OrgUpdate{Name: new("B")}); err != nil {
		t.Fatalf("UpdateOrg once the lock is gone: %v", err)
	}
}

// TestConnectionSettings checks what Open sets on every connection.
func TestConnectionSettings(t *testing.T) {
	schema := pgtest.Schema(t)
	for _, c := range []struct {
		name    string
		opts    *postgres.Options
		timeout string
	}{
		{"defaults", nil, "5s"},
		{"timeout", &postgres.Options{StatementTimeout: 1500 * time.Millisecond}, "1500ms"},
		{"no timeout", &postgres.Options{StatementTimeout: -1}, "0"},
	} {
		s := openIn(t, schema, c.opts)
		var current, timeout, app string
		err := s.Pool().QueryRow(t.Context(), `SELECT current_schema(), current_setting('statement_timeout'), current_setting('application_name')`).Scan(&current, &timeout, &app)
		if err != nil {
			t.Fatal(err)
		}
		if current != schema || timeout != c.timeout || app != postgres.DefaultApplicationName {
			t.Errorf("%s: schema %q, statement_timeout %q, application_name %q; want %q, %q, %q",
				c.name, current, timeout, app, schema, c.timeout, postgres.DefaultApplicationName)
		}
	}
	var tables int
	s := openIn(t, schema, nil)
	err := s.Pool().QueryRow(t.Context(), `SELECT count(*) FROM information_schema.tables WHERE table_schema = $1`, schema).Scan(&tables)
	if want := len(createdTables(t)) + 1; err != nil || tables != want { // and schema_migrations
		t.Errorf("%d tables in %s (%v), want %d", tables, schema, err, want)
	}
}

// createdTables returns the tables the migrations create (none is dropped).
func createdTables(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for _, f := range migrationFiles(t) {
		b, err := os.ReadFile(filepath.Join("migrations", f))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`(?m)^CREATE (?:UNLOGGED )?TABLE (\w+)`).FindAllStringSubmatch(string(b), -1) {
			names[m[1]] = true
		}
	}
	return names
}

// TestOptionsNow checks that the injected clock stamps records and decides
// expiry.
func TestOptionsNow(t *testing.T) {
	now := time.Date(2030, 6, 1, 12, 0, 0, 123456789, time.UTC)
	s := openIn(t, pgtest.Schema(t), &postgres.Options{Now: func() time.Time { return now }})
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

func TestClosed(t *testing.T) {
	s, err := open(t, pgtest.URL(t), pgtest.Schema(t), nil)
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

// TestQueryPlans checks, on a few thousand rows the planner has statistics
// for, that keyset listings walk an index in order: no sort, no scan of
// other orgs, so the cost is the page size at any depth.
func TestQueryPlans(t *testing.T) {
	s := openIn(t, pgtest.Schema(t), nil)
	ctx := t.Context()
	var users []store.User
	for _, org := range []string{"org_a", "org_b", "org_c"} {
		if _, err := s.CreateOrg(ctx, store.Org{Code: org}); err != nil {
			t.Fatal(err)
		}
		for i := range 2000 {
			users = append(users, store.User{ID: store.NewID(store.UserIDPrefix), OrgCode: org, Email: fmt.Sprintf("u%d@%s.io", i, org)})
		}
		err := s.InTx(ctx, func(tx store.Tx) error {
			for i := range 2000 {
				if err := tx.AppendAuditEvent(ctx, store.AuditEvent{OrgCode: org, ClientID: fmt.Sprintf("c%d", i%40), Action: "x"}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateUsers(ctx, users); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool().Exec(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, query string
		args        []any
		want        string
	}{
		{"users", `SELECT * FROM users WHERE org_code = $1 AND id > $2 ORDER BY id LIMIT $3`,
			[]any{"org_b", users[2100].ID, 21}, "Index Scan using users_pkey on users"},
		{"audit", `SELECT * FROM audit_events WHERE org_code = $1 AND (time, id) < ($2, $3) ORDER BY time DESC, id DESC LIMIT $4`,
			[]any{"org_b", time.Now(), "evt_z", 21}, "Index Scan Backward using audit_events_pkey on audit_events"},
		{"audit by client", `SELECT * FROM audit_events WHERE org_code = $1 AND (time, id) < ($2, $3) AND client_id = $4
			ORDER BY time DESC, id DESC LIMIT $5`,
			[]any{"org_b", time.Now(), "evt_z", "c7", 21}, "Index Scan Backward using audit_events_client on audit_events"},
		{"audit export", `SELECT * FROM audit_events WHERE (time, id) > ($1, $2) AND time >= $3 ORDER BY time, id LIMIT $4`,
			[]any{time.Now().Add(-time.Hour), "evt_", time.Now().Add(-time.Hour), 21}, "Index Scan using audit_events_time on audit_events"},
		{"credentials", `SELECT * FROM users WHERE email_lower = $1`,
			[]any{"u1@org_a.io"}, "users_email"},
	} {
		rows, err := s.Pool().Query(ctx, `EXPLAIN `+c.query, c.args...)
		if err != nil {
			t.Fatalf("EXPLAIN %s: %v", c.name, err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		plan := strings.Join(lines, "\n")
		if !strings.Contains(plan, c.want) || strings.Contains(plan, "Sort") {
			t.Errorf("%s: plan\n%s\nwant %q and no sort", c.name, plan, c.want)
		}
	}
}

// schemaAt makes a schema at migration version n (its first n
// migrations applied and recorded, as a server of that version left it),
// runs statements in it, and returns its name.
func schemaAt(t *testing.T, n int, statements ...string) string {
	t.Helper()
	ctx := t.Context()
	url, schema := pgtest.URL(t), pgtest.Schema(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	setup := []string{
		`CREATE SCHEMA ` + pgx.Identifier{schema}.Sanitize(),
		`SET search_path TO ` + pgx.Identifier{schema}.Sanitize(),
		`CREATE TABLE schema_migrations (version integer NOT NULL PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`,
	}
	for i, name := range migrationFiles(t)[:n] {
		body, err := os.ReadFile("migrations/" + name)
		if err != nil {
			t.Fatal(err)
		}
		setup = append(setup, string(body), fmt.Sprintf(`INSERT INTO schema_migrations VALUES (%d, '%s', now())`, i+1, name))
	}
	for _, statement := range append(setup, statements...) {
		if _, err := conn.Exec(ctx, statement); err != nil {
			t.Fatalf("%s: %v", statement, err)
		}
	}
	return schema
}

// TestMigrateAuditEvents builds a schema at version 2 with audit events in
// the old form, opens it, and checks what the events become.
func TestMigrateAuditEvents(t *testing.T) {
	ctx := t.Context()
	schema := schemaAt(t, 2, `INSERT INTO audit_events (org_code, id, time, subject, client_id, action, target, outcome, detail) VALUES
		('org_a', 'evt_0', '2025-01-02T03:04:05.000006Z', 'usr_1', 'c1', 'update_user', 'usr_2', 'ok', ''),
		('', 'evt_1', '2025-01-02T03:04:05.000006Z', 'usr_1', 'c1', 'update_user', 'usr_2', 'error', 'tool failed')`)
	at := time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC)

	s := openIn(t, schema, nil)
	if got := appliedMigrations(t, s); len(got) != len(migrationFiles(t)) {
		t.Fatalf("schema_migrations = %q", got)
	}
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

// TestMigrateSigningKeys opens a schema at version 4 with the key the
// issuer made then, and checks that it reads as a key that has signed
// since it was made, stored clear.
func TestMigrateSigningKeys(t *testing.T) {
	ctx := t.Context()
	schema := schemaAt(t, 4, `INSERT INTO signing_keys (id, algorithm, private_key, created_at) VALUES ('k1', 'RS256', '\x3082', '2025-01-02T03:04:05.000006Z')`)
	at := time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC)

	keys, err := openIn(t, schema, nil).SigningKeys(ctx)
	want := []store.SigningKey{{ID: "k1", Algorithm: "RS256", PrivateKey: []byte{0x30, 0x82}, CreatedAt: at, ActivateAt: at}}
	if err != nil || !reflect.DeepEqual(keys, want) {
		t.Fatalf("keys after the migration = %+v, %v; want %+v", keys, err, want)
	}
}
