package app

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/sqlite"
)

// lockedBuffer is a bytes.Buffer safe for the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// started is a server run by startRun.
type started struct {
	addr      string // where it listens
	out, logs *lockedBuffer
}

// startRun runs Run with cfg on a fresh loopback port until the test ends
// and waits until it answers /healthz.
func startRun(t *testing.T, cfg Config) started {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := started{addr: ln.Addr().String(), out: &lockedBuffer{}, logs: &lockedBuffer{}}
	cfg.Listener, cfg.Stdout = ln, s.out
	cfg.Logger = slog.New(slog.NewTextHandler(s.logs, nil))
	cfg.PasswordCost = bcrypt.MinCost
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-done:
			t.Fatalf("Run returned early: %v\n%s", err, s.logs)
		default:
		}
		if resp, err := http.Get("http://" + s.addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not healthy after 20s:\n%s", s.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDemoModes: unset, --demo seeds only for a loopback public URL;
// --demo=true seeds anywhere, with a warning; --demo=false never. When
// nothing is seeded and there is no machine client, the banner gives the
// exact commands that make the first ones.
func TestDemoModes(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mode      DemoMode
		publicURL string // "" derives a loopback one
		seeds     bool
		warns     bool
		why       string
	}{
		{"auto on loopback", DemoAuto, "", true, false, ""},
		{"auto on localhost", DemoAuto, "http://localhost:8080", true, false, ""},
		{"auto elsewhere", DemoAuto, "https://mcp.example.com", false, false, "no demo is seeded for a public URL that is not loopback unless --demo=true"},
		{"on elsewhere", DemoOn, "https://mcp.example.com", true, true, ""},
		{"off on loopback", DemoOff, "", false, false, "demo seeding is off (--demo=false)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "my data", "o.db")
			mkdir(t, filepath.Dir(db))
			cfg := DefaultConfig()
			cfg.DBPath, cfg.Demo = db, tc.mode
			cfg.PublicURL = tc.publicURL
			s := startRun(t, cfg)
			banner := s.out.String()
			if seeded := strings.Contains(banner, "client_secret="); seeded != tc.seeds {
				t.Errorf("seeded: %v, want %v; banner:\n%s", seeded, tc.seeds, banner)
			}
			if warned := strings.Contains(s.logs.String(), "seeded demo tenants on a server that is not on loopback"); warned != tc.warns {
				t.Errorf("warned: %v, want %v; log:\n%s", warned, tc.warns, s.logs)
			}
			if tc.seeds {
				if strings.Contains(banner, "orgscope clients create") {
					t.Errorf("first steps printed although the demo was seeded:\n%s", banner)
				}
				return
			}
			for _, want := range []string{
				"No machine client can call the tools yet: " + tc.why + ".",
				`  orgscope orgs create --db '` + db + `' --code org_example --name "Example Inc"`,
				`  orgscope clients create --db '` + db + `' --name "First agent" --org org_example --scopes "read:users read:orgs read:flags"`,
			} {
				if !strings.Contains(banner, want) {
					t.Errorf("banner lacks %q:\n%s", want, banner)
				}
			}
		})
	}
}

// TestFirstStepsFollowed: the printed commands work on the server's
// database, and once a client exists the banner no longer prints them;
// an existing organization is reused in the advice.
func TestFirstStepsFollowed(t *testing.T) {
	db := filepath.Join(t.TempDir(), "o.db")
	cfg := DefaultConfig()
	cfg.DBPath, cfg.Demo = db, DemoOff
	st, err := sqlite.Open(t.Context(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateOrg(t.Context(), store.Org{Code: "org_delta", Name: "Delta"}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	first := startRun(t, cfg).out.String()
	if strings.Contains(first, "orgscope orgs create") ||
		!strings.Contains(first, "orgscope clients create --db "+db+` --name "First agent" --org org_delta`) {
		t.Fatalf("banner:\n%s", first)
	}
	// Run the advised command, as printed.
	line := first[strings.Index(first, "orgscope clients create"):]
	line = line[:strings.Index(line, "\n")]
	args := shellWords(line)[1:]
	if code, out, errOut := run(t, nil, args...); code != 0 || !strings.Contains(out, "client_secret:") {
		t.Fatalf("%v: exit %d\n%s%s", args, code, out, errOut)
	}
	if again := startRun(t, cfg).out.String(); strings.Contains(again, "No machine client") {
		t.Errorf("first steps printed although a client exists:\n%s", again)
	}
}

// shellWords splits a command line the way a POSIX shell would, for the
// quoting shellQuote and the banner use ('…', "…" without escapes).
func shellWords(line string) []string {
	var words []string
	var word strings.Builder
	inWord := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			word.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, word.String())
	}
	return words
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestPlainHTTPWarning: a plain http public URL on a network address logs
// that tokens will cross the network in clear; loopback and https do not.
func TestPlainHTTPWarning(t *testing.T) {
	for _, tc := range []struct {
		publicURL string
		warns     bool
	}{
		{"http://10.0.0.7:8080", true},
		{"http://mcp.internal.example", true},
		{"https://mcp.example.com", false},
		{"", false}, // derived: http://127.0.0.1:port
		{"http://localhost:8080", false},
	} {
		cfg := DefaultConfig()
		cfg.DBPath, cfg.PublicURL, cfg.Demo = filepath.Join(t.TempDir(), "o.db"), tc.publicURL, DemoOff
		s := startRun(t, cfg)
		if warned := strings.Contains(s.logs.String(), "will cross the network in clear"); warned != tc.warns {
			t.Errorf("%q: warned %v, want %v:\n%s", tc.publicURL, warned, tc.warns, s.logs)
		}
	}
}
