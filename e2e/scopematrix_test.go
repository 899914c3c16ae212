package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/orgscope/orgscope/authz"
	"github.com/orgscope/orgscope/store"
)

// matrixScopes are the first ten scopes, spelled out: every one of their
// 1,024 sets is tried. The grants scopes (matrixGrantScopes) are held by a
// rule over the other bits, so that every combination of the two occurs
// 256 times without making the matrix four times as long.
var matrixScopes = []string{
	"read:users", "write:users", "delete:users", "read:orgs", "write:orgs", "read:flags", "write:flags", "read:audit",
	"read:clients", "write:clients",
}

// matrixGrantScopes are read:grants, held when exactly one of read:users
// and write:clients is, and write:grants, held when exactly one of
// read:orgs and write:flags is: each independent of every single scope of
// the set, and of each other.
var matrixGrantScopes = []struct {
	scope string
	a, b  int // bits of the set
}{{"read:grants", 0, 9}, {"write:grants", 3, 6}}

// TestScopeMatrix calls every tool with every one of the 1,024 sets of scopes,
// as an org-scoped and as a global principal, through the HTTP stack. Each
// call must be exactly one of: refused with 403 insufficient_scope naming
// the tool's scope (when the set does not grant it, under the hierarchy),
// or let through to the tool (200) — where a global-only tool still
// refuses an org-scoped principal, with a tool error. tools/list must show
// each principal exactly the tools it may call. The expectations come from
// toolScopes and grants in this package, not from tools.Catalog.
func TestScopeMatrix(t *testing.T) {
	var names []string
	for _, s := range authz.Tools() {
		names = append(names, s.Name)
	}
	var tableNames []string
	for _, ts := range toolScopes {
		tableNames = append(tableNames, ts.name)
	}
	if !slices.Equal(names, tableNames) {
		t.Fatalf("the catalog lists %v; this test knows %v", names, tableNames)
	}

	f := newInproc(t, "")
	ctx := t.Context()
	for _, code := range []string{"org_acme", "org_beta"} {
		if _, err := f.store.CreateOrg(ctx, store.Org{Code: code, Name: code}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.store.CreateFlag(ctx, store.FlagDefinition{Key: "dark_mode", Type: store.FlagBoolean, DefaultValue: json.RawMessage(`false`)}); err != nil {
		t.Fatal(err)
	}
	// Arguments that pass the schema and reach the handler, but which (past
	// its scope and global-only checks) the handler refuses before writing
	// where it can: most of these calls are tool errors, and only delete_user,
	// reset_feature_flag, delete_feature_flag, rotate_client_secret and
	// disable_client take the write lock (and roll back: the client does
	// not exist).
	const missingUser = "usr_0123456789abcdef0123456789abcdef"
	const missingClient = "0123456789abcdef0123456789abcdef"
	args := map[string]map[string]any{
		"whoami":               nil,
		"list_users":           {"limit": 1},
		"get_user":             {"user_id": missingUser},
		"create_user":          {"email": "not an email"},
		"update_user":          {"user_id": missingUser, "email": "not an email"},
		"delete_user":          {"user_id": missingUser},
		"get_organization":     {},
		"update_organization":  {"name": "   "},
		"list_organizations":   {"limit": 1},
		"create_organization":  {"org_code": "org_matrix", "name": "   "},
		"list_feature_flags":   {"limit": 1},
		"get_feature_flag":     {"key": "dark_mode"},
		"set_feature_flag":     {"key": "no_such_flag", "value": true},
		"reset_feature_flag":   {"key": "dark_mode"},
		"create_feature_flag":  {"key": "matrix_flag", "type": "boolean", "default_value": "not a boolean"},
		"delete_feature_flag":  {"key": "no_such_flag"},
		"list_audit_events":    {"limit": 1},
		"list_clients":         {"limit": 1},
		"create_client":        {"name": "   ", "scopes": []string{"read:users"}},
		"rotate_client_secret": {"client_id": missingClient},
		"disable_client":       {"client_id": missingClient},
		"list_delegations":     {"limit": 1},
		"revoke_delegation":    {"grant_id": "grt_0123456789abcdef0123456789abcdef"},
	}

	type job struct {
		set    int
		global bool
	}
	var (
		calls, forbidden, allowed, globalRefused, lists atomic.Int64
		failures                                        atomic.Int64
	)
	fail := func(format string, a ...any) {
		if failures.Add(1) <= 25 {
			t.Errorf(format, a...)
		}
	}
	run := func(j job) {
		held := map[string]bool{}
		var scopes []string
		for i, s := range matrixScopes {
			if j.set&(1<<i) != 0 {
				held[s] = true
				scopes = append(scopes, s)
			}
		}
		for _, g := range matrixGrantScopes {
			if (j.set>>g.a)&1 != (j.set>>g.b)&1 {
				held[g.scope] = true
				scopes = append(scopes, g.scope)
			}
		}
		org, who := "org_acme", fmt.Sprintf("org-scoped %v", scopes)
		if j.global {
			org, who = "", fmt.Sprintf("global %v", scopes)
		}
		token := f.token(t, org, strings.Join(scopes, " "), fmt.Sprintf("matrix-%d-%v", j.set, j.global))

		var wantVisible []string
		for _, ts := range toolScopes {
			a := args[ts.name]
			if j.global && a != nil && ts.name != "whoami" && !ts.globalOnly {
				a = matrixWithOrg(a, "org_acme")
			}
			calls.Add(1)
			rec := f.callTool(token, ts.name, a)
			permitted := scopeGrants(held, ts.scope)
			if permitted && (!ts.globalOnly || j.global) {
				wantVisible = append(wantVisible, ts.name)
			}
			if !permitted {
				forbidden.Add(1)
				if rec.Code != http.StatusForbidden {
					fail("%s, %s: HTTP %d, want 403 (needs %s): %s", who, ts.name, rec.Code, ts.scope, rec.Body)
					continue
				}
				ch, err := oauthex.ParseWWWAuthenticate(rec.Header().Values("WWW-Authenticate"))
				if err != nil || len(ch) != 1 || ch[0].Scheme != "bearer" {
					fail("%s, %s: WWW-Authenticate %q (%v)", who, ts.name, rec.Header().Values("WWW-Authenticate"), err)
					continue
				}
				p := ch[0].Params
				// These calls speak the legacy protocol (no Mcp-Protocol-Version),
				// whose clients replace their scopes with the challenge's: it names
				// what the token holds and what the operation needs.
				if want := append(slices.Clone(scopes), ts.scope); p["error"] != "insufficient_scope" ||
					!sameScopes(p["scope"], want) || p["resource_metadata"] != inprocMetadataURL {
					fail("%s, %s: challenge %v, want insufficient_scope, scope=%q", who, ts.name, p, want)
				}
				if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
					fail("%s, %s: 403 with Content-Type %q", who, ts.name, ct)
				}
				continue
			}
			if rec.Code != http.StatusOK {
				fail("%s, %s: HTTP %d, want 200: %s", who, ts.name, rec.Code, rec.Body)
				continue
			}
			r, err := decodeInprocResult(rec)
			if err != nil || r.Error != nil || r.Result == nil {
				fail("%s, %s: not a tool result: %s", who, ts.name, rec.Body)
				continue
			}
			allowed.Add(1)
			text := r.text()
			if strings.Contains(text, "needs scope") || strings.Contains(text, "lacks") {
				fail("%s, %s: let through by HTTP but refused for scope by the tool: %s", who, ts.name, text)
			}
			refusedGlobal := r.Result.IsError && strings.Contains(text, "it needs a global token (one without org_code)")
			if want := ts.globalOnly && !j.global; refusedGlobal != want {
				fail("%s, %s: global-only refusal %v, want %v: %s", who, ts.name, refusedGlobal, want, text)
			}
			if refusedGlobal {
				globalRefused.Add(1)
			}
		}

		lists.Add(1)
		rec := f.post(token, map[string]any{"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
		var list struct {
			Result struct {
				Tools []struct{ Name string } `json:"tools"`
			} `json:"result"`
		}
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &list) != nil {
			fail("%s: tools/list: %d %s", who, rec.Code, rec.Body)
			return
		}
		var visible []string
		for _, tool := range list.Result.Tools {
			visible = append(visible, tool.Name)
		}
		// The go-sdk lists tools by name.
		if slices.Sort(wantVisible); !slices.Equal(visible, wantVisible) {
			fail("%s: tools/list shows %v, want %v", who, visible, wantVisible)
		}
	}

	jobs := make(chan job)
	var wg sync.WaitGroup
	for range 2 * runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for j := range jobs {
				run(j)
			}
		})
	}
	for set := range 1 << len(matrixScopes) {
		for _, global := range []bool{false, true} {
			select {
			case jobs <- job{set, global}:
			case <-ctx.Done():
			}
		}
	}
	close(jobs)
	wg.Wait()

	// 1,024 sets × 2 kinds × 23 tools. The eight tools needing read:users,
	// read:orgs, read:flags, read:clients or read:grants are refused to the
	// 256 sets holding neither read:X nor write:X; the fourteen needing
	// write:X, delete:users or read:audit to the 512 sets without that
	// scope; whoami to none.
	const wantCalls = 1024 * 2 * 23
	// Of the org-scoped principals, the 768 sets granting read:orgs reach
	// list_organizations' global check, and the 512 holding write:orgs or
	// write:flags that of the three other global-only tools.
	const wantForbidden, wantGlobalRefused = 2 * (8*256 + 14*512), 768 + 3*512
	if calls.Load() != wantCalls || forbidden.Load() != wantForbidden || globalRefused.Load() != wantGlobalRefused || lists.Load() != 2048 {
		t.Errorf("%d calls (%d forbidden, %d global-only refusals), %d lists; want %d (%d, %d), 2048",
			calls.Load(), forbidden.Load(), globalRefused.Load(), lists.Load(), wantCalls, wantForbidden, wantGlobalRefused)
	}
	t.Logf("scope matrix: %d tool calls (%d refused with 403, %d let through, of which %d refused by a global-only tool) and %d tools/list",
		calls.Load(), forbidden.Load(), allowed.Load(), globalRefused.Load(), lists.Load())
}

func matrixWithOrg(args map[string]any, org string) map[string]any {
	out := map[string]any{"org_code": org}
	for k, v := range args {
		out[k] = v
	}
	return out
}
