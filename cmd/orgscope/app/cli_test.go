package app

import (
	"bytes"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/sqlite"
)

// run runs the command line with env as the whole environment and returns
// the exit code, stdout and stderr.
func run(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	var out, errOut bytes.Buffer
	code := Main(t.Context(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestServeRefusesWhatItCannotHonour: every invalid serve setting, on the
// command line or in the environment, stops the command before it opens
// the database, with exit code 2 and a message naming the flag and its
// environment variable.
func TestServeRefusesWhatItCannotHonour(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "orgscope.db")
	certFile := filepath.Join(dir, "tls.crt")
	os.WriteFile(certFile, []byte("not a certificate"), 0o600)
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{args: []string{"--token-ttl", "-5m"}, want: "--token-ttl (ORGSCOPE_TOKEN_TTL) must be positive, got -5m"},
		{env: map[string]string{"ORGSCOPE_TOKEN_TTL": "-5m"}, want: "--token-ttl (ORGSCOPE_TOKEN_TTL) must be positive, got -5m"},
		{args: []string{"--token-ttl", "0"}, want: "--token-ttl (ORGSCOPE_TOKEN_TTL) must be positive, got 0s"},
		{args: []string{"--token-ttl", "25h"}, want: "--token-ttl (ORGSCOPE_TOKEN_TTL) is 25h, longer than 24h"},
		{args: []string{"--token-ttl", "soon"}, want: `--token-ttl (ORGSCOPE_TOKEN_TTL) must be a duration such as 30s, 15m or 1h, got "soon"`},
		{env: map[string]string{"ORGSCOPE_TOKEN_TTL": "soon"}, want: `--token-ttl (ORGSCOPE_TOKEN_TTL) must be a duration such as 30s, 15m or 1h, got "soon"`},
		{args: []string{"--rate-limit", "-1"}, want: "--rate-limit (ORGSCOPE_RATE_LIMIT) must be a number of requests per second, 0 or more"},
		{env: map[string]string{"ORGSCOPE_SIGNIN_RATE_LIMIT": "NaN"}, want: "--signin-rate-limit (ORGSCOPE_SIGNIN_RATE_LIMIT) must be a number of requests per second"},
		{env: map[string]string{"ORGSCOPE_ORG_RATE_LIMIT": "-2"}, want: "--org-rate-limit (ORGSCOPE_ORG_RATE_LIMIT) must be a number of requests per second, 0 or more"},
		{args: []string{"--rate-limit", "fast"}, want: `--rate-limit (ORGSCOPE_RATE_LIMIT) must be a number, got "fast"`},
		{args: []string{"--addr", "localhost"}, want: `--addr (ORGSCOPE_ADDR) must be host:port (like 127.0.0.1:8080 or :8080), got "localhost"`},
		{args: []string{"--addr", "127.0.0.1:99999"}, want: `--addr (ORGSCOPE_ADDR) must have a port from 0 to 65535`},
		{args: []string{"--public-url", "https://mcp.example.com/mcp"}, want: "--public-url (ORGSCOPE_PUBLIC_URL) must not have a path"},
		{args: []string{"--public-url", "https://mcp.example.com?x=1"}, want: "--public-url (ORGSCOPE_PUBLIC_URL) must not have a query"},
		{args: []string{"--public-url", "https://mcp.example.com#top"}, want: "--public-url (ORGSCOPE_PUBLIC_URL) must not have a fragment"},
		{args: []string{"--public-url", "mcp.example.com"}, want: "--public-url (ORGSCOPE_PUBLIC_URL) must be an absolute http:// or https:// URL"},
		{env: map[string]string{"ORGSCOPE_PUBLIC_URL": "ftp://mcp.example.com"}, want: "--public-url (ORGSCOPE_PUBLIC_URL) must be an http:// or https:// URL"},
		{args: []string{"--public-url", "https://ann:secret@mcp.example.com"}, want: "--public-url (ORGSCOPE_PUBLIC_URL) must not contain a user name or password"},
		{args: []string{"--db", "/nope/x.db"}, want: "--db /nope/x.db (ORGSCOPE_DB): directory /nope does not exist"},
		{args: []string{"--db", dir}, want: "is a directory; name the database file in it"},
		{args: []string{"--database-url", "mysql://root:hunter2@db/orgscope"}, want: "--database-url (ORGSCOPE_DATABASE_URL) must be a postgres:// or postgresql:// URL"},
		{args: []string{"--log-level", "loud"}, want: `--log-level (ORGSCOPE_LOG_LEVEL) must be debug, info, warn or error, got "loud"`},
		{env: map[string]string{"ORGSCOPE_LOG_FORMAT": "xml"}, want: `--log-format (ORGSCOPE_LOG_FORMAT) must be text or json, got "xml"`},
		{args: []string{"--max-connections", "0"}, want: "--max-connections (ORGSCOPE_MAX_CONNECTIONS) must be at least 1, got 0"},
		{args: []string{"--max-connections-per-address", "-1"}, want: "--max-connections-per-address (ORGSCOPE_MAX_CONNECTIONS_PER_ADDRESS) must be 0 (no limit) or more, got -1"},
		{args: []string{"--tls-cert", certFile}, want: "--tls-cert (ORGSCOPE_TLS_CERT) and --tls-key (ORGSCOPE_TLS_KEY) go together"},
		{args: []string{"--tls-cert", certFile, "--tls-key", filepath.Join(dir, "missing.key")}, want: "--tls-key (ORGSCOPE_TLS_KEY) " + filepath.Join(dir, "missing.key") + ": does not exist"},
		{args: []string{"--allowed-origins", "https://app.example.com,app.example.org"}, want: `--allowed-origins (ORGSCOPE_ALLOWED_ORIGINS) lists "app.example.org", which is not an origin`},
		{args: []string{"--issuer", "acme.kinde.com"}, want: `--issuer (ORGSCOPE_ISSUER) must be an absolute http(s) URL`},
		{args: []string{"--issuers-config", filepath.Join(dir, "issuers.json")}, want: "--issuers-config (ORGSCOPE_ISSUERS_CONFIG): open "},
		{args: []string{"--jwks-refresh", "0s"}, want: "--jwks-refresh (ORGSCOPE_JWKS_REFRESH) must be positive, got 0s"},
		{args: []string{"--store-timeout", "0"}, want: "--store-timeout (ORGSCOPE_STORE_TIMEOUT) must be from 100ms to 30s, got 0s"},
		{args: []string{"--store-timeout", "-1s"}, want: "--store-timeout (ORGSCOPE_STORE_TIMEOUT) must be from 100ms to 30s, got -1s"},
		{args: []string{"--store-timeout", "10ms"}, want: "--store-timeout (ORGSCOPE_STORE_TIMEOUT) must be from 100ms to 30s, got 10ms"},
		{env: map[string]string{"ORGSCOPE_STORE_TIMEOUT": "1h"}, want: "--store-timeout (ORGSCOPE_STORE_TIMEOUT) must be from 100ms to 30s, got 1h"},
		{env: map[string]string{"ORGSCOPE_STORE_TIMEOUT": "5"}, want: `--store-timeout (ORGSCOPE_STORE_TIMEOUT) must be a duration such as 30s, 15m or 1h, got "5"`},
		{args: []string{"--demo=maybe"}, want: `--demo (ORGSCOPE_DEMO) must be true, false or auto, got "maybe"`},
		{env: map[string]string{"ORGSCOPE_DEMO": "sometimes"}, want: `--demo (ORGSCOPE_DEMO) must be true, false or auto, got "sometimes"`},
		{args: []string{"--tenant-claim="}, want: "--tenant-claim (ORGSCOPE_TENANT_CLAIM) must name a claim"},
		{args: []string{"--no-such-flag"}, want: "unknown flag --no-such-flag"},
		{args: []string{"extra"}, want: `unexpected argument "extra"`},
	} {
		t.Run(strings.Join(tc.args, " ")+envString(tc.env), func(t *testing.T) {
			args := append([]string{"serve", "--db", db, "--addr", "127.0.0.1:0"}, tc.args...)
			code, out, errOut := run(t, tc.env, args...)
			if code != 2 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", code, errOut, tc.want)
			}
			if !strings.Contains(errOut, `run "orgscope serve -h" for the flags`) {
				t.Errorf("no hint at the help in:\n%s", errOut)
			}
			if strings.Contains(errOut, "hunter2") || strings.Contains(errOut, "secret@") {
				t.Errorf("a password was echoed:\n%s", errOut)
			}
			if out != "" {
				t.Errorf("stdout: %s", out)
			}
			if _, err := os.Stat(db); err == nil {
				t.Fatalf("the database was created although the configuration was refused")
			}
		})
	}
}

func envString(env map[string]string) string {
	var s []string
	for k, v := range env {
		s = append(s, k+"="+v)
	}
	return strings.Join(s, " ")
}

// TestServeReportsEveryProblem: all problems at once, one a line.
func TestServeReportsEveryProblem(t *testing.T) {
	code, _, errOut := run(t, map[string]string{"ORGSCOPE_RATE_LIMIT": "-1"},
		"--token-ttl", "-5m", "--db", "/nope/x.db", "--public-url", "https://x.example/mcp", "--log-level", "loud")
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if code != 2 || len(lines) != 6 {
		t.Fatalf("exit %d, want 2 and 5 problems and a hint:\n%s", code, errOut)
	}
	for _, want := range []string{"--token-ttl", "--db /nope/x.db", "--public-url", "--log-level", "--rate-limit (ORGSCOPE_RATE_LIMIT)"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("no %s in:\n%s", want, errOut)
		}
	}
}

// TestConfigAccepts: what is valid passes, including the edges.
func TestConfigAccepts(t *testing.T) {
	dir := t.TempDir()
	for _, edit := range []func(*Config){
		func(*Config) {},
		func(c *Config) { c.TokenTTL = MaxTokenTTL },
		func(c *Config) { c.TokenTTL, c.AllowLongTokenTTL = 7*24*time.Hour, true },
		func(c *Config) { c.PublicURL = "https://mcp.example.com/" },
		func(c *Config) { c.PublicURL = "http://[::1]:8080" },
		func(c *Config) { c.Addr = ":0" },
		func(c *Config) { c.MaxConnectionsPerAddress = 0 },
		func(c *Config) { c.RateLimits.PerPrincipal, c.RateLimits.PerAddress = 0, 0.5 },
		func(c *Config) { c.AllowedOrigins = []string{"*", "https://app.example.com", "http://localhost:6274"} },
		func(c *Config) { c.DatabaseURL = "postgresql://orgscope@db.internal/orgscope" },
		func(c *Config) { c.LogLevel, c.LogFormat = "DEBUG", "JSON" },
		func(c *Config) { c.StoreTimeout = MinStoreTimeout },
		func(c *Config) { c.StoreTimeout = MaxStoreTimeout },
	} {
		cfg := DefaultConfig()
		cfg.DBPath = filepath.Join(dir, "o.db")
		edit(&cfg)
		if err := cfg.validate(); err != nil {
			t.Errorf("%+v refused: %v", cfg, err)
		}
	}
}

func TestDemoFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  string
		want DemoMode
	}{
		{nil, "", DemoAuto},
		{[]string{"--demo"}, "", DemoOn},
		{[]string{"--demo=true"}, "", DemoOn},
		{[]string{"--demo=false"}, "", DemoOff},
		{[]string{"--demo=auto"}, "", DemoAuto},
		{nil, "false", DemoOff},
		{nil, "1", DemoOn},
		{[]string{"--demo=true"}, "false", DemoOn}, // the command line wins
	} {
		mode := DemoAuto
		cmd := newCommand("serve", "orgscope serve")
		cmd.fs.Var(&demoFlag{mode: &mode}, "demo", "")
		err := cmd.parse(tc.args, &bytes.Buffer{}, func(k string) string {
			if k == "ORGSCOPE_DEMO" {
				return tc.env
			}
			return ""
		})
		if err != nil || mode != tc.want {
			t.Errorf("%v with ORGSCOPE_DEMO=%q: %v (%v), want %v", tc.args, tc.env, mode, err, tc.want)
		}
	}
}

func TestBurst(t *testing.T) {
	for _, tc := range []struct {
		rate, factor float64
		want         int
	}{{50, 2, 100}, {5, 4, 20}, {0.1, 4, 1}, {0, 4, 0}, {0.3, 4, 2}} {
		if got := burst(tc.rate, tc.factor); got != tc.want {
			t.Errorf("burst(%v, %v) = %d, want %d", tc.rate, tc.factor, got, tc.want)
		}
	}
}

// TestHelp: the top-level help lists the commands, each command's help
// its flags with their environment variables; help goes to stdout and
// exits 0.
func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"-h"}, []string{"serve ", "orgs create", "clients create", "users set-password", "seed ", "version ", `"orgscope serve -h"`}},
		{[]string{"--help"}, []string{"orgs create", "clients create"}},
		{[]string{"help"}, []string{"orgs create", "clients create"}},
		{[]string{"serve", "-h"}, []string{"--max-connections  [ORGSCOPE_MAX_CONNECTIONS]", "--tls-cert  [ORGSCOPE_TLS_CERT]",
			"--allow-long-token-ttl  [ORGSCOPE_ALLOW_LONG_TOKEN_TTL]", "--demo  [ORGSCOPE_DEMO]", "loopback"}},
		{[]string{"orgs", "-h"}, []string{"orgscope orgs create"}},
		{[]string{"orgs", "create", "-h"}, []string{"--code  [ORGSCOPE_CODE]", "--db  [ORGSCOPE_DB]"}},
		{[]string{"clients", "create", "--help"}, []string{"--scopes", "--global", "--json"}},
		{[]string{"users", "set-password", "-h"}, []string{"--email", "--password"}},
		{[]string{"seed", "-h"}, []string{"--force  [ORGSCOPE_FORCE]", "--orgs"}},
		{[]string{"version", "-h"}, []string{"usage: orgscope version"}},
		{[]string{"keys", "-h"}, []string{"orgscope keys list|rotate|retire"}},
		{[]string{"keys", "rotate", "-h"}, []string{"--key-overlap  [ORGSCOPE_KEY_OVERLAP]", "--signing-algorithm  [ORGSCOPE_SIGNING_ALGORITHM]",
			"--key-encryption-key-file  [ORGSCOPE_KEY_ENCRYPTION_KEY_FILE]", "--token-ttl  [ORGSCOPE_TOKEN_TTL]", "states next, active, retiring"}},
		{[]string{"serve", "-h"}, []string{"--signing-algorithm  [ORGSCOPE_SIGNING_ALGORITHM]", "--key-encryption-key-file  [ORGSCOPE_KEY_ENCRYPTION_KEY_FILE]"}},
	} {
		code, out, errOut := run(t, nil, tc.args...)
		if code != 0 || errOut != "" {
			t.Errorf("%v: exit %d, stderr %q", tc.args, code, errOut)
		}
		for _, want := range tc.want {
			if !strings.Contains(out, want) {
				t.Errorf("%v: no %q in:\n%s", tc.args, want, out)
			}
		}
	}
	// The top-level help is not serve's.
	if _, out, _ := run(t, nil, "-h"); strings.Contains(out, "--token-ttl") {
		t.Errorf("orgscope -h shows serve's flags:\n%s", out)
	}
}

func TestUnknownCommand(t *testing.T) {
	for _, args := range [][]string{{"frobnicate"}, {"orgs", "delete"}, {"orgs"}, {"clients", "frobnicate"}, {"clients"}} {
		code, _, errOut := run(t, nil, args...)
		if code != 2 || !strings.Contains(errOut, "-h") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
}

var versionLine = regexp.MustCompile(`^orgscope \S+ \(commit \S+, built \S+, go1\.\d+\S*\)\n$`)

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		code, out, _ := run(t, nil, args...)
		if code != 0 || !versionLine.MatchString(out) {
			t.Errorf("%v: exit %d, %q", args, code, out)
		}
	}
}

// TestAdminCommandsCheckTheDatabasePath: the admin commands say which path
// is wrong, too, before opening anything.
func TestAdminCommandsCheckTheDatabasePath(t *testing.T) {
	for _, args := range [][]string{
		{"orgs", "create", "--code", "org_x", "--name", "X"},
		{"clients", "create", "--name", "a", "--global", "--scopes", "read:orgs"},
		{"users", "set-password", "--org", "org_x", "--email", "a@x.example"},
		{"seed", "--orgs", "1"},
	} {
		code, _, errOut := run(t, nil, append(args, "--db", "/nope/x.db")...)
		if code != 2 || !strings.Contains(errOut, "--db /nope/x.db (ORGSCOPE_DB): directory /nope does not exist") {
			t.Errorf("%v: exit %d, %s", args, code, errOut)
		}
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"orgscope.db":            "orgscope.db",
		"/var/lib/orgscope/o.db": "/var/lib/orgscope/o.db",
		"my data/o.db":           "'my data/o.db'",
		"it's.db":                `'it'\''s.db'`,
		"":                       "''",
		"$HOME/o.db":             "'$HOME/o.db'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestDatabaseArgs(t *testing.T) {
	for _, tc := range []struct {
		cfg    Config
		want   string
		elided bool
	}{
		{Config{DBPath: "orgscope.db"}, "--db orgscope.db", false},
		{Config{DatabaseURL: "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"},
			"--database-url 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable'", false},
		{Config{DatabaseURL: "postgres://orgscope:hunter2@db.internal/orgscope", DatabaseSchema: "os"},
			"--database-url postgres://orgscope:PASSWORD@db.internal/orgscope --database-schema os", true},
	} {
		got, elided := databaseArgs(tc.cfg)
		if got != tc.want || elided != tc.elided {
			t.Errorf("databaseArgs(%+v) = %s, %v; want %s, %v", tc.cfg, got, elided, tc.want, tc.elided)
		}
	}
}

// TestStoreTimeoutReachesTheStore: --store-timeout (or its environment
// variable) is the deadline of every call of the store the commands open:
// with another process holding SQLite's write lock, a write fails as
// unavailable after it, not after the 5 s default. An admin command
// refuses a value out of bounds as serve does.
func TestStoreTimeoutReachesTheStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "orgscope.db")
	for _, tc := range []struct {
		args []string
		env  string
	}{
		{args: []string{"--store-timeout", "300ms"}},
		{env: "300ms"},
	} {
		cfg := DefaultConfig()
		cmd := newCommand("orgs create", "orgscope orgs create")
		storeFlags(cmd.fs, &cfg)
		err := cmd.parse(append([]string{"--db", path}, tc.args...), &bytes.Buffer{}, func(k string) string {
			if k == "ORGSCOPE_STORE_TIMEOUT" {
				return tc.env
			}
			return ""
		})
		if err != nil || cfg.StoreTimeout != 300*time.Millisecond {
			t.Fatalf("%v ORGSCOPE_STORE_TIMEOUT=%q: %v, store timeout %v", tc.args, tc.env, err, cfg.StoreTimeout)
		}
		st, err := openStore(t.Context(), cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		other, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := other.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = st.CreateOrg(t.Context(), store.Org{Code: "org_a", Name: "A"})
		elapsed := time.Since(start)
		conn.ExecContext(t.Context(), "ROLLBACK")
		conn.Close()
		other.Close()
		st.Close()
		// The default would be 5 s; the margin is for a loaded machine.
		if !errors.Is(err, store.ErrUnavailable) || elapsed > 300*time.Millisecond+2*time.Second {
			t.Errorf("a write while the lock is held: %v after %v, want unavailable after about 300ms", err, elapsed)
		}
	}

	code, _, errOut := run(t, nil, "orgs", "create", "--db", path, "--code", "org_b", "--name", "B", "--store-timeout", "1m")
	if code != 2 || !strings.Contains(errOut, "--store-timeout (ORGSCOPE_STORE_TIMEOUT) must be from 100ms to 30s, got 1m") {
		t.Errorf("orgs create --store-timeout 1m: exit %d, %s", code, errOut)
	}
}

// TestSetPlatformAdmin: the operator makes a person a platform
// administrator by email, and undoes it; a missing email is a usage error,
// an unknown one a failure that says so.
func TestSetPlatformAdmin(t *testing.T) {
	db := filepath.Join(t.TempDir(), "o.db")
	st, err := sqlite.Open(t.Context(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateOrg(t.Context(), store.Org{Code: "org_x", Name: "X"}); err != nil {
		t.Fatal(err)
	}
	ann, err := st.CreateUser(t.Context(), store.User{ID: store.NewID(store.UserIDPrefix), OrgCode: "org_x", Email: "ann@x.example",
		Status: store.UserActive, Role: store.RoleMember})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := run(t, nil, "users", "set-platform-admin", "ann@x.example", "--db", db); code != 0 ||
		!strings.Contains(out, "is now a platform administrator") || !strings.Contains(out, ann.ID) {
		t.Fatalf("on: %d %q %q", code, out, errOut)
	}
	if code, out, _ := run(t, nil, "users", "set-platform-admin", "ann@x.example", "--off", "--org", "org_x", "--db", db); code != 0 ||
		!strings.Contains(out, "is no longer a platform administrator") {
		t.Fatalf("off: %d %q", code, out)
	}
	if code, _, errOut := run(t, nil, "users", "set-platform-admin", "--db", db); code != 2 || !strings.Contains(errOut, "EMAIL") {
		t.Errorf("no email: %d %q", code, errOut)
	}
	if code, _, errOut := run(t, nil, "users", "set-platform-admin", "bob@x.example", "--db", db); code != 1 || !strings.Contains(errOut, "no user bob@x.example") {
		t.Errorf("an unknown email: %d %q", code, errOut)
	}
	st, err = sqlite.Open(t.Context(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, _ := st.GetUser(t.Context(), "org_x", ann.ID)
	events, _, _ := st.ListAuditEvents(t.Context(), "org_x", store.AuditFilter{Action: "cli:users set-platform-admin"}, store.Page{})
	if u.PlatformAdmin || len(events) != 2 {
		t.Errorf("after on and off: %+v, %d events", u, len(events))
	}
}
