package testdeps

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orgscope/orgscope/store/postgres/pgtest"
)

// The helper tests run only in a child process started by the tests
// below, which set ORGSCOPE_TESTDEPS_HELPER.
const helperEnv = "ORGSCOPE_TESTDEPS_HELPER"

func TestHelperMissing(t *testing.T) {
	if os.Getenv(helperEnv) != "missing" {
		t.Skip("helper")
	}
	Missing(t, Chromium, "chromium is nowhere to be seen")
	t.Error("Missing returned")
}

func TestHelperPostgresURL(t *testing.T) {
	if os.Getenv(helperEnv) != "postgresurl" {
		t.Skip("helper")
	}
	if p := os.Getenv("PROBE_URL"); p != "" {
		probeURL = p
	}
	url, problem := PostgresURL()
	fmt.Printf("url=%s\nproblem=%s\nexported=%s\n", url, problem, os.Getenv(pgtest.EnvURL))
}

// child runs one helper test in a child process in dir, with env added to
// a CI-free environment, and returns its exit code and output.
func child(t *testing.T, dir, helper string, env ...string) (int, string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestHelper"+helper+"$", "-test.v")
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CI=") && !strings.HasPrefix(kv, pgtest.EnvURL+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, append(env, helperEnv+"="+strings.ToLower(helper))...)
	out, err := cmd.CombinedOutput()
	if exit, ok := err.(*exec.ExitError); ok {
		return exit.ExitCode(), string(out)
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// TestMissing: outside CI a missing dependency skips, saying how to enable
// the group, and leaves a marker that keeps the run out of go test's cache;
// in CI it fails.
func TestMissing(t *testing.T) {
	dir := t.TempDir()
	code, out := child(t, dir, "Missing")
	if code != 0 || !strings.Contains(out, "--- SKIP: TestHelperMissing") ||
		!strings.Contains(out, "Chromium tests skipped: chromium is nowhere to be seen; to run them, install chromium") {
		t.Errorf("outside CI: exit %d\n%s", code, out)
	}
	fi, err := os.Stat(filepath.Join(dir, "testdata", "artifacts", "skipped-chromium"))
	if err != nil || !fi.ModTime().After(time.Now()) {
		t.Errorf("no cache-defeating marker (%v)", err)
	}

	code, out = child(t, t.TempDir(), "Missing", "CI=true")
	if code != 1 || !strings.Contains(out, "--- FAIL: TestHelperMissing") ||
		!strings.Contains(out, "Chromium tests cannot run: chromium is nowhere to be seen") || strings.Contains(out, "Missing returned") {
		t.Errorf("in CI: exit %d\n%s", code, out)
	}
}

// TestPostgresURL: the variable wins, CI means the CI database, and
// otherwise a server is looked for and, when found, exported for pgtest.
func TestPostgresURL(t *testing.T) {
	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "postgres://postgres@" + ln.Addr().String() + "/test?sslmode=disable"
	ln.Close()

	for _, tc := range []struct {
		name string
		env  []string
		want []string
	}{
		{"variable", []string{pgtest.EnvURL + "=postgres://elsewhere/db", "PROBE_URL=" + closed},
			[]string{"url=postgres://elsewhere/db\n", "problem=\n"}},
		{"CI", []string{"CI=true", "PROBE_URL=" + closed}, []string{"url=" + pgtest.CIURL + "\n"}},
		{"nothing answers", []string{"PROBE_URL=" + closed},
			[]string{"url=\n", "problem=" + pgtest.EnvURL + " is not set and " + closed + " does not answer (", "exported=\n"}},
	} {
		code, out := child(t, t.TempDir(), "PostgresURL", tc.env...)
		for _, want := range tc.want {
			if code != 0 || !strings.Contains(out, want) {
				t.Errorf("%s: exit %d, no %q in:\n%s", tc.name, code, want, out)
			}
		}
	}

	// A server that answers is found and exported.
	real, _ := PostgresURL()
	if real == "" {
		Missing(t, Postgres, "no test database to find")
	}
	code, out := child(t, t.TempDir(), "PostgresURL", "PROBE_URL="+real)
	if code != 0 || !strings.Contains(out, "url="+real+"\n") || !strings.Contains(out, "exported="+real+"\n") {
		t.Errorf("answering server: exit %d\n%s", code, out)
	}
}
