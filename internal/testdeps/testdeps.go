package testdeps

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orgscope/orgscope/store/postgres/pgtest"
)

// Group is one group of tests with a dependency beyond Go.
type Group struct {
	// Name is what the notice calls the group.
	Name string
	// Enable says how to make the dependency available.
	Enable string
}

var (
	Postgres = Group{Name: "PostgreSQL",
		Enable: "start PostgreSQL on 127.0.0.1:5432 (trust authentication, a database named test), or set " +
			pgtest.EnvURL + "=postgres://…"}
	Node = Group{Name: "Node",
		Enable: "run `npm ci --prefix e2e/idp && npm ci --prefix e2e/tsclient` (needs npm; each brings its own Node 22)"}
	Chromium = Group{Name: "Chromium",
		Enable: "install chromium (apt-get install chromium) or put it on the PATH"}
)

// inCI reports whether missing dependencies must fail rather than skip.
func inCI() bool { return os.Getenv("CI") == "true" }

// Missing stops tb because g's dependency is missing (problem says how):
// in CI it fails; otherwise it tells the terminal and skips.
func Missing(tb testing.TB, g Group, problem string) {
	tb.Helper()
	if inCI() {
		tb.Fatalf("%s tests cannot run: %s. To run them, %s (CI=true: a missing dependency fails instead of skipping)", g.Name, problem, g.Enable)
	}
	notify(g, problem)
	tb.Skipf("%s tests skipped: %s; to run them, %s", g.Name, problem, g.Enable)
}

var notified sync.Map // group name -> struct{}

// notify writes the skip notice to the terminal, once per group in this
// test binary, and keeps the run out of the test cache.
func notify(g Group, problem string) {
	if _, done := notified.LoadOrStore(g.Name, struct{}{}); done {
		return
	}
	pkg := strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
	msg := fmt.Sprintf("%s: skipped the %s tests: %s; to run them, %s\n", pkg, g.Name, problem, g.Enable)
	uncacheable(g)
	if testing.Verbose() {
		return // the skip message is in the output already
	}
	// go test hides a passing package's output; the terminal is the one
	// place a notice still reaches the person who ran it. Without one (an
	// IDE, a pipe) there is nobody to tell, and -v shows the skips.
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		tty.WriteString(msg)
		tty.Close()
	}
}

// uncacheable keeps this run's result out of go test's cache, so the
// notice is printed again next time and a dependency installed meanwhile
// is found. A cached result depends on the files the test opened inside
// the module (by size and modification time), and go test does not cache
// a run that opened such a file modified less than two seconds before the
// run ended (it cannot tell whether the file changed within its clock's
// granularity). So the test opens a marker in the package's
// testdata/artifacts (ignored by git) whose modification time is set
// ahead. If go test ever caches such a run, the only loss is the repeated
// notice.
func uncacheable(g Group) {
	dir := filepath.Join("testdata", "artifacts") // go test runs in the package directory
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return
	}
	marker := filepath.Join(dir, "skipped-"+strings.ToLower(g.Name))
	if err := os.WriteFile(marker, []byte(g.Enable+"\n"), 0o644); err != nil {
		return
	}
	ahead := time.Now().Add(time.Hour)
	os.Chtimes(marker, ahead, ahead)
	if f, err := os.Open(marker); err == nil { // the open is what go test records
		f.Close()
	}
}

var postgres struct {
	once sync.Once
	url  string
	why  string
}

// probeURL is where PostgresURL looks for a server when nothing is set.
var probeURL = pgtest.CIURL

// PostgresURL returns the URL of the test database, or "" and why there
// is none. It is ORGSCOPE_TEST_DATABASE_URL when set, pgtest.CIURL in CI,
// and otherwise pgtest.CIURL if a server answers there (tests use fresh
// schemas and drop them) — in which case it also sets
// ORGSCOPE_TEST_DATABASE_URL for the rest of the test binary, so that
// pgtest uses the same database.
func PostgresURL() (url, problem string) {
	postgres.once.Do(func() {
		if u := os.Getenv(pgtest.EnvURL); u != "" {
			postgres.url = u
			return
		}
		if inCI() {
			postgres.url = pgtest.CIURL
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, probeURL)
		if err == nil {
			err = conn.Ping(ctx)
			conn.Close(ctx)
		}
		if err != nil {
			postgres.why = fmt.Sprintf("%s is not set and %s does not answer (%v)", pgtest.EnvURL, probeURL, err)
			return
		}
		postgres.url = probeURL
		os.Setenv(pgtest.EnvURL, probeURL)
	})
	return postgres.url, postgres.why
}

// RequirePostgres returns the test database's URL, or stops tb as Missing
// does.
func RequirePostgres(tb testing.TB) string {
	tb.Helper()
	url, problem := PostgresURL()
	if url == "" {
		Missing(tb, Postgres, problem)
	}
	return pgtest.URL(tb)
}
