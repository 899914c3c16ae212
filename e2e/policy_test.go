package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/orgscope/orgscope/cmd/orgscope/app"
	"github.com/orgscope/orgscope/policy"
	"github.com/orgscope/orgscope/store"
)

// Policies of an operator's own, added to the built-in ones.
const (
	noDeletesPolicy = `
@id("no-deletes")
@reason("agents do not delete users here")
forbid (principal, action == OrgScope::Action::"delete_user", resource);
`
	noBillingPolicy = `
@id("no-billing-flags")
@reason("billing flags are changed by the billing system, not by agents")
forbid (principal, action in [OrgScope::Action::"set_feature_flag", OrgScope::Action::"reset_feature_flag"], resource)
when { context.args.key like "billing_*" };
`
)

// writePolicy writes the built-in policy followed by extra to path, by
// renaming a new file over it, as deployment tools do.
func writePolicy(t *testing.T, path string, text []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, text, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func builtinWith(extra ...string) []byte {
	return append(policy.Builtin(), []byte("\n"+strings.Join(extra, "\n"))...)
}

// startWithPolicy runs a server with the policy file, checked for changes
// every poll (negative: only on SIGHUP), its log in logs.
func startWithPolicy(t *testing.T, file string, poll time.Duration, logs *syncBuffer) *testServer {
	t.Helper()
	return startServer(t, serverOptions{config: func(c *app.Config) {
		c.PolicyFile, c.PolicyPollInterval = file, poll
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}})
}

// listTools returns the names tools/list shows token.
func (s *testServer) listTools(t *testing.T, token string) []string {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
	req, _ := http.NewRequest(http.MethodPost, s.Resource, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Result struct {
			Tools []struct {
				Name string `json:"name"`
			} `json:"tools"`
		} `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("tools/list: HTTP %d %v", resp.StatusCode, err)
	}
	var names []string
	for _, tool := range out.Result.Tools {
		names = append(names, tool.Name)
	}
	return names
}

// metric returns the /metrics line that starts with prefix.
func (s *testServer) metric(t *testing.T, prefix string) string {
	t.Helper()
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, prefix) {
			return line
		}
	}
	return ""
}

// eventually polls cond until it holds, or fails after d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
	}
}

const missingUser = "usr_0123456789abcdef0123456789abcdef"

// TestPolicyFromFile runs the server with an operator's policy: a forbid
// that hides a tool from tools/list and refuses it naming the policy, an
// argument-level forbid, a reload that changes both without a restart
// (and tells a listening client), and a broken file that a reload ignores.
func TestPolicyFromFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "policy.cedar")
	writePolicy(t, file, builtinWith(noDeletesPolicy, noBillingPolicy))
	logs := &syncBuffer{}
	s := startWithPolicy(t, file, 50*time.Millisecond, logs)
	token := s.token(t, s.Clients["org_acme"])
	st := s.openStore(t)

	t.Run("a forbid hides the tool at list time", func(t *testing.T) {
		names := s.listTools(t, token)
		if slices.Contains(names, "delete_user") || !slices.Contains(names, "set_feature_flag") || !slices.Contains(names, "list_users") {
			t.Errorf("tools/list with delete_user forbidden: %v", names)
		}
	})

	t.Run("a call the scopes allow and the policy forbids names the policy", func(t *testing.T) {
		r := s.tool(t, token, "delete_user", map[string]any{"user_id": missingUser})
		want := `delete_user is refused by policy "no-deletes": agents do not delete users here`
		if r.Result == nil || !r.Result.IsError || r.text() != want {
			t.Fatalf("delete_user: %+v, want the tool error %q", r.Result, want)
		}
		evs, _, err := st.ListAuditEvents(t.Context(), "org_acme", store.AuditFilter{Action: "tools/call:delete_user"}, store.Page{})
		if err != nil || len(evs) != 1 {
			t.Fatalf("audit events of delete_user: %d %v", len(evs), err)
		}
		if e := evs[0]; e.Decision != "deny" || e.Reason != "policy" || !slices.Equal(e.Policies, []string{"no-deletes"}) {
			t.Errorf("audit event %+v", e)
		}
	})

	t.Run("an argument-level forbid", func(t *testing.T) {
		r := s.tool(t, token, "set_feature_flag", map[string]any{"key": "billing_plan", "value": "enterprise"})
		if r.Result == nil || !r.Result.IsError || !strings.Contains(r.text(), `policy "no-billing-flags": billing flags are changed`) {
			t.Fatalf("billing flag: %+v %q", r.Result, r.text())
		}
		if r := s.tool(t, token, "set_feature_flag", map[string]any{"key": "dark_mode", "value": false}); r.Result == nil || r.Result.IsError {
			t.Fatalf("dark_mode: %q", r.text())
		}
		evs, _, err := st.ListAuditEvents(t.Context(), "org_acme", store.AuditFilter{Action: "tools/call:set_feature_flag"}, store.Page{})
		if err != nil || len(evs) != 2 || evs[1].Decision != "deny" || !slices.Equal(evs[1].Policies, []string{"no-billing-flags"}) ||
			evs[0].Decision != "allow" || !slices.Equal(evs[0].Policies, []string{"allow-tools"}) {
			t.Errorf("audit events of set_feature_flag: %+v %v", evs, err)
		}
	})

	t.Run("a reload changes the decision without a restart, and listening clients hear of it", func(t *testing.T) {
		changed := make(chan struct{}, 8)
		acme := s.Clients["org_acme"]
		cc := clientcredentials.Config{ClientID: acme.ID, ClientSecret: acme.Secret, TokenURL: s.URL + "/oauth2/token",
			EndpointParams: map[string][]string{"resource": {s.Resource}}}
		client := mcp.NewClient(&mcp.Implementation{Name: "listener", Version: "1"}, &mcp.ClientOptions{
			ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { changed <- struct{}{} },
		})
		session, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: s.Resource,
			HTTPClient: oauth2.NewClient(t.Context(), cc.TokenSource(t.Context()))}, &mcp.ClientSessionOptions{ProtocolVersion: "2026-07-28"})
		if err != nil {
			t.Fatal(err)
		}
		defer session.Close()

		writePolicy(t, file, builtinWith(noBillingPolicy))
		eventually(t, 10*time.Second, "delete_user listed after the reload", func() bool {
			return slices.Contains(s.listTools(t, token), "delete_user")
		})
		r := s.tool(t, token, "delete_user", map[string]any{"user_id": missingUser})
		if r.Result == nil || !r.Result.IsError || !strings.Contains(r.text(), "not found") {
			t.Errorf("delete_user after the reload reaches the store: %q", r.text())
		}
		select {
		case <-changed:
		case <-time.After(10 * time.Second):
			t.Error("no notifications/tools/list_changed within 10s of the reload")
		}
		if line := s.metric(t, `orgscope_policy_reloads_total{result="ok"}`); !strings.HasSuffix(line, " 1") {
			t.Errorf("reload metric: %q", line)
		}
	})

	t.Run("a broken file is ignored on reload", func(t *testing.T) {
		writePolicy(t, file, builtinWith(noBillingPolicy, "\n@id(\"broken\")\nforbid (principal, action, resource) when { principal.no_such_attribute };\n"))
		eventually(t, 10*time.Second, "the refused reload counted", func() bool {
			return strings.HasSuffix(s.metric(t, `orgscope_policy_reloads_total{result="refused"}`), " 1")
		})
		if !strings.Contains(logs.String(), "policy file refused") || !strings.Contains(logs.String(), `policy \"broken\"`) {
			t.Errorf("the refusal is not in the log:\n%s", logs.String())
		}
		if !slices.Contains(s.listTools(t, token), "delete_user") {
			t.Error("the broken file changed the tool list")
		}
		r := s.tool(t, token, "set_feature_flag", map[string]any{"key": "billing_plan", "value": "x"})
		if r.Result == nil || !strings.Contains(r.text(), "no-billing-flags") {
			t.Errorf("the last good policy is not in force: %q", r.text())
		}
		if r := s.tool(t, token, "list_users", map[string]any{"limit": 1}); r.Result == nil || r.Result.IsError {
			t.Errorf("list_users under the last good policy: %q", r.text())
		}
	})
}

// TestPolicyReloadOnSIGHUP: with polling off, SIGHUP reloads the policy.
func TestPolicyReloadOnSIGHUP(t *testing.T) {
	file := filepath.Join(t.TempDir(), "policy.cedar")
	writePolicy(t, file, builtinWith(noDeletesPolicy))
	s := startWithPolicy(t, file, -1, &syncBuffer{})
	token := s.token(t, s.Clients["org_acme"])
	if slices.Contains(s.listTools(t, token), "delete_user") {
		t.Fatal("delete_user listed under no-deletes")
	}
	writePolicy(t, file, policy.Builtin())
	time.Sleep(200 * time.Millisecond)
	if slices.Contains(s.listTools(t, token), "delete_user") {
		t.Fatal("the file was reloaded without SIGHUP although polling is off")
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "delete_user listed after SIGHUP", func() bool {
		return slices.Contains(s.listTools(t, token), "delete_user")
	})
}

// TestPolicyRefusedAtStart: a policy that does not validate stops the
// server from starting, naming the file, line and problem; exit code 1.
func TestPolicyRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "policy.cedar")
	writePolicy(t, file, []byte("// a typo on line 3\n@id(\"typo\")\nforbid (principal, action, resource) when { principal.scope.contains(\"read:users\") };\n"))
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	code := app.Main(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "o.db"), "--policy", file}, &stdout, &stderr)
	if code != 1 || ctx.Err() != nil {
		t.Fatalf("exit code %d (context %v), want 1\nstderr: %s", code, ctx.Err(), stderr.String())
	}
	for _, want := range []string{"--policy (ORGSCOPE_POLICY) refused", file + ":2:1: policy \"typo\"", "scope"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr.String())
		}
	}
}
