package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orgscope/orgscope/cmd/orgscope/app"
	"github.com/orgscope/orgscope/internal/testdeps"
	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/postgres"
	"github.com/orgscope/orgscope/store/postgres/pgtest"
	"github.com/orgscope/orgscope/store/sqlite"
)

// writeLoad creates users through the MCP endpoint until stop is closed,
// recording the email of every creation the server acknowledged.
type writeLoad struct {
	mu     sync.Mutex
	acked  []string
	errors atomic.Int64
	stop   chan struct{}
	done   sync.WaitGroup
}

func startWriteLoad(s *testServer, token string, writers int) *writeLoad {
	w := &writeLoad{stop: make(chan struct{})}
	var n atomic.Int64
	for range writers {
		w.done.Go(func() {
			for {
				select {
				case <-w.stop:
					return
				default:
				}
				email := fmt.Sprintf("load%06d@acme.example", n.Add(1))
				body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/call",
					"params": map[string]any{"name": "create_user", "arguments": map[string]any{"email": email}}})
				req, _ := http.NewRequest(http.MethodPost, s.Resource, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					w.errors.Add(1)
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(`"result"`)) || bytes.Contains(b, []byte(`"isError":true`)) {
					w.errors.Add(1)
					continue
				}
				w.mu.Lock()
				w.acked = append(w.acked, email)
				w.mu.Unlock()
			}
		})
	}
	return w
}

func (w *writeLoad) snapshot() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.acked...)
}

func (w *writeLoad) finish(t *testing.T) {
	close(w.stop)
	w.done.Wait()
	if n := w.errors.Load(); n > 0 {
		t.Errorf("%d writes of the load failed", n)
	}
}

// emailsOf lists every email of org in st.
func emailsOf(t *testing.T, st store.Store, org string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	page := store.Page{Limit: store.MaxPageSize}
	for {
		users, next, err := st.ListUsers(t.Context(), org, store.UserFilter{}, page)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range users {
			out[u.Email] = true
		}
		if next == "" {
			return out
		}
		page.Cursor = next
	}
}

// TestBackupLiveSQLite: `orgscope backup` copies a running server's
// database while tool calls write to it; the copy opens, holds every write
// acknowledged before the backup began, and is readable by its owner only.
// An existing file is refused unless --force.
func TestBackupLiveSQLite(t *testing.T) {
	s := startServer(t, serverOptions{})
	load := startWriteLoad(s, s.token(t, s.Clients["org_acme"]), 3)
	for len(load.snapshot()) < 30 {
		time.Sleep(10 * time.Millisecond)
	}
	old := syscall.Umask(0o022) // a common umask: the copy must still be 0600
	defer syscall.Umask(old)
	dest := filepath.Join(t.TempDir(), "orgscope-backup.db")
	before := load.snapshot()
	var out, errOut strings.Builder
	code := app.Main(t.Context(), []string{"backup", dest, "--db", s.DBPath}, &out, &errOut)
	during := len(load.snapshot()) - len(before)
	load.finish(t)
	if code != 0 {
		t.Fatalf("backup: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "keep it as secret as the database") {
		t.Errorf("backup printed %q", out.String())
	}
	fi, err := os.Stat(dest)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	st, err := sqlite.Open(t.Context(), dest, nil)
	if err != nil {
		t.Fatalf("the backup does not open: %v", err)
	}
	defer st.Close()
	have := emailsOf(t, st, "org_acme")
	for _, email := range before {
		if !have[email] {
			t.Fatalf("%s was acknowledged before the backup began but is not in it", email)
		}
	}
	if keys, err := st.SigningKeys(t.Context()); err != nil || len(keys) == 0 {
		t.Errorf("the backup has no signing key: %v", err)
	}
	t.Logf("%d writes acknowledged before the backup, all in it; %d more acknowledged while it ran", len(before), during)

	// Not overwritten without --force; replaced with it.
	errOut.Reset()
	if code := app.Main(t.Context(), []string{"backup", "--db", s.DBPath, dest}, io.Discard, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "exists; choose another file, or --force") {
		t.Errorf("existing file: exit %d, %q", code, errOut.String())
	}
	if code := app.Main(t.Context(), []string{"backup", "--force", "--db", s.DBPath, dest}, io.Discard, io.Discard); code != 0 {
		t.Errorf("--force: exit %d", code)
	}
	if code := app.Main(t.Context(), []string{"backup"}, io.Discard, io.Discard); code != 2 {
		t.Errorf("no FILE: exit %d, want 2", code)
	}
}

// TestBackupPostgres: for PostgreSQL, `orgscope backup` prints a pg_dump
// command for OrgScope's schema (without the password) that, run while the
// server writes, makes a dump pg_restore brings back into another database.
func TestBackupPostgres(t *testing.T) {
	dbURL := testdeps.RequirePostgres(t)
	for _, tool := range []string{"pg_dump", "pg_restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is needed (apt-get install postgresql-client)", tool)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
	schema := pgtest.Schema(t)
	s := startServer(t, serverOptions{config: func(c *app.Config) { c.DatabaseURL, c.DatabaseSchema = dbURL, schema }})
	load := startWriteLoad(s, s.token(t, s.Clients["org_acme"]), 2)
	for len(load.snapshot()) < 20 {
		time.Sleep(10 * time.Millisecond)
	}
	before := load.snapshot()

	dump := filepath.Join(t.TempDir(), "orgscope.dump")
	withPassword := strings.Replace(dbURL, "postgres://postgres@", "postgres://postgres:secret-pw@", 1)
	var out strings.Builder
	if code := app.Main(t.Context(), []string{"backup", dump, "--database-url", withPassword + "&pool_max_conns=4",
		"--database-schema", schema}, &out, io.Discard); code != 0 {
		t.Fatalf("backup: exit %d", code)
	}
	printed := out.String()
	if strings.Contains(printed, "secret-pw") || !strings.Contains(printed, "PGPASSWORD") || strings.Contains(printed, "pool_max_conns") {
		t.Errorf("the printed command shows the password or pgx's parameters:\n%s", printed)
	}
	var dumpLine, restoreLine string
	for _, line := range strings.Split(printed, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "pg_dump "):
			dumpLine = line
		case strings.HasPrefix(line, "pg_restore "):
			restoreLine = line
		}
	}
	if !strings.Contains(dumpLine, "--schema="+schema) || restoreLine == "" {
		t.Fatalf("printed:\n%s", printed)
	}
	if b, err := exec.Command("sh", "-c", "umask 077; "+dumpLine).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", dumpLine, err, b)
	}
	load.finish(t)
	if fi, err := os.Stat(dump); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("dump mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}

	// Restore into a fresh database, with the printed line.
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	restoreDB := "orgscope_restore_" + strings.TrimPrefix(schema, "orgscope_test_")
	if _, err := conn.Exec(t.Context(), "CREATE DATABASE "+pgx.Identifier{restoreDB}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(t.Context(), dbURL)
		if err == nil {
			conn.Exec(t.Context(), "DROP DATABASE IF EXISTS "+pgx.Identifier{restoreDB}.Sanitize()+" WITH (FORCE)")
			conn.Close(t.Context())
		}
	})
	restoreURL := strings.Replace(dbURL, "/test?", "/"+restoreDB+"?", 1)
	restoreCmd := dbnameArg.ReplaceAllLiteralString(restoreLine, "--dbname="+shellWord(restoreURL))
	if restoreCmd == restoreLine {
		t.Fatalf("could not point %q at the restore database", restoreLine)
	}
	if b, err := exec.Command("sh", "-c", restoreCmd).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", restoreCmd, err, b)
	}
	st, err := postgres.Open(t.Context(), restoreURL, &postgres.Options{Schema: schema})
	if err != nil {
		t.Fatalf("the restored database does not open: %v", err)
	}
	defer st.Close()
	have := emailsOf(t, st, "org_acme")
	for _, email := range before {
		if !have[email] {
			t.Fatalf("%s was acknowledged before pg_dump ran but is not in the restored database", email)
		}
	}
	t.Logf("%d writes acknowledged before the dump, all restored", len(before))
}

// dbnameArg is pg_restore's --dbname argument as the backup command prints it.
var dbnameArg = regexp.MustCompile(`--dbname=('[^']*'|\S+)`)

// shellWord quotes s for sh.
func shellWord(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
