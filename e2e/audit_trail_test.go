package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/user"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/orgscope/orgscope/cmd/orgscope/app"
	"github.com/orgscope/orgscope/store"
)

// TestEveryWayInRefusesAlike: the tool and the command line go through
// the same service, so the same bad organization code is refused with the
// same words, and both refusals are in the audit trail.
func TestEveryWayInRefusesAlike(t *testing.T) {
	s := startServer(t, serverOptions{})
	admin := s.token(t, s.Clients["global"], "write:orgs", "write:clients")
	for _, code := range []string{"org has space", "-org", "org/acme", strings.Repeat("x", 65)} {
		r := s.tool(t, admin, "create_organization", map[string]any{"org_code": code, "name": "X"})
		if r.Result == nil || !r.Result.IsError {
			t.Fatalf("create_organization %q was not refused: %+v", code, r)
		}
		toolMsg := r.text()

		var stdout, stderr bytes.Buffer
		rc := app.Main(t.Context(), []string{"orgs", "create", "--code", code, "--name", "X", "--db", s.DBPath}, &stdout, &stderr)
		cliMsg := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(stderr.String()), "orgscope: "))
		if rc != 1 || cliMsg != toolMsg {
			t.Errorf("org code %q:\n  tool: %s\n  cli (exit %d): %s", code, toolMsg, rc, cliMsg)
		}
		stderr.Reset()
		rc = app.Main(t.Context(), []string{"clients", "create", "--name", "agent", "--org", code, "--scopes", "read:users", "--db", s.DBPath}, &stdout, &stderr)
		if msg := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(stderr.String()), "orgscope: ")); rc != 1 || msg != toolMsg {
			t.Errorf("clients create --org %q (exit %d): %s, want %s", code, rc, msg, toolMsg)
		}
	}

	// Both ways in are in the trail: the tool's refusals under the global
	// client, the command line's under cli:<command> and the operator.
	st := s.openStore(t)
	var tool, cli int
	for page := (store.Page{Limit: store.MaxPageSize}); ; {
		evs, next, err := st.ExportAuditEvents(t.Context(), nil, time.Time{}, page)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			switch {
			case e.Action == "tools/call:create_organization" && e.Decision == "deny" && e.Reason == "validation":
				tool++
			case (e.Action == "cli:orgs create" || e.Action == "cli:clients create") && e.Decision == "deny" && e.Reason == "validation":
				cli++
				if e.ClientID != "orgscope-cli" || e.Subject == "" {
					t.Errorf("a command-line event without its operator: %+v", e)
				}
			}
		}
		if page.Cursor = next; next == "" {
			break
		}
	}
	if tool != 4 || cli != 8 {
		t.Errorf("the trail holds %d tool and %d command-line refusals, want 4 and 8", tool, cli)
	}
}

// TestCommandLineChangesAreAudited: a change made at the command line is
// recorded as cli:<command>, with the operator as subject, and the trail
// exports as JSON lines with every field of the contract.
func TestCommandLineChangesAreAudited(t *testing.T) {
	s := startServer(t, serverOptions{})
	var stdout, stderr bytes.Buffer
	if rc := app.Main(t.Context(), []string{"orgs", "create", "--code", "org_delta", "--name", "Delta LLC", "--db", s.DBPath}, &stdout, &stderr); rc != 0 {
		t.Fatalf("orgs create: %d %s", rc, stderr.String())
	}
	stdout.Reset()
	if rc := app.Main(t.Context(), []string{"audit", "export", "--org", "org_delta", "--format", "jsonl", "--db", s.DBPath}, &stdout, &stderr); rc != 0 {
		t.Fatalf("audit export: %d %s", rc, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("export of org_delta: %q", stdout.String())
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"id", "time", "org_code", "client_id", "subject", "actor_chain", "action", "target",
		"params_sha256", "decision", "outcome"} {
		if _, ok := ev[field]; !ok {
			t.Errorf("exported event lacks %s: %s", field, lines[0])
		}
	}
	me, _ := user.Current()
	if ev["action"] != "cli:orgs create" || ev["target"] != "org_delta" || ev["decision"] != "allow" || ev["outcome"] != "ok" ||
		ev["client_id"] != "orgscope-cli" || (me != nil && ev["subject"] != me.Username) {
		t.Errorf("exported event: %s", lines[0])
	}
	// A bad --since and a bad --format are refused as usage errors.
	for _, args := range [][]string{{"--since", "yesterday", "--format", "jsonl"}, {"--format", "csv"}} {
		if rc := app.Main(t.Context(), append([]string{"audit", "export", "--db", s.DBPath}, args...), &stdout, &stderr); rc != 2 {
			t.Errorf("audit export %v: exit %d", args, rc)
		}
	}
}

// TestDenialsCarryEveryField: one refusal of each kind — a scope the token
// lacks (the HTTP layer's 403), another tenant, invalid arguments — is in
// the trail with every field the contract names, tied to the request's id
// and trace.
func TestDenialsCarryEveryField(t *testing.T) {
	s := startServer(t, serverOptions{})
	readOnly := s.token(t, s.Clients["org_acme"], "read:users", "read:audit")
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	calls := []struct {
		reqID, tool string
		args        map[string]any
		status      int
		reason      string
		target      string
	}{
		{"req-scope-1", "create_user", map[string]any{"email": "x@acme.example"}, http.StatusForbidden, "insufficient_scope", ""},
		{"req-tenant-1", "list_users", map[string]any{"org_code": "org_beta"}, http.StatusOK, "tenant", "org_beta"},
		{"req-valid-1", "list_users", map[string]any{"limit": 1000}, http.StatusOK, "validation", ""},
	}
	for _, c := range calls {
		resp, body := s.callTool(t, readOnly, c.tool, c.args, "X-Request-Id", c.reqID,
			"Traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
		if resp.StatusCode != c.status {
			t.Fatalf("%s: %d %s", c.reqID, resp.StatusCode, body)
		}
	}
	st := s.openStore(t)
	events, _, err := st.ListAuditEvents(t.Context(), "org_acme", store.AuditFilter{Decision: "deny"}, store.Page{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	byRequest := map[string]store.AuditEvent{}
	for _, e := range events {
		byRequest[e.RequestID] = e
	}
	hex64 := regexp.MustCompile(`^[0-9a-f]{64}$`)
	for _, c := range calls {
		e, ok := byRequest[c.reqID]
		if !ok {
			t.Errorf("no denial recorded for %s; denials: %+v", c.reqID, events)
			continue
		}
		raw, _ := json.Marshal(e)
		var fields map[string]any
		json.Unmarshal(raw, &fields)
		for _, f := range []string{"id", "time", "org_code", "client_id", "subject", "actor_chain", "action",
			"params_sha256", "decision", "reason", "outcome", "request_id", "trace_id"} {
			if _, ok := fields[f]; !ok {
				t.Errorf("%s: the event lacks %s: %s", c.reqID, f, raw)
			}
		}
		want := fmt.Sprintf("tools/call:%s deny %s error org_acme %s %s", c.tool, c.reason, s.Clients["org_acme"].ID, traceID)
		got := fmt.Sprintf("%s %s %s %s %s %s %s", e.Action, e.Decision, e.Reason, e.Outcome, e.OrgCode, e.ClientID, e.TraceID)
		if got != want || !hex64.MatchString(e.ParamsSHA256) || e.Target != c.target || e.Subject == "" ||
			!strings.HasPrefix(e.ID, store.EventIDPrefix) || time.Since(e.Time) > time.Minute {
			t.Errorf("%s: %s\n  want %s, target %q", c.reqID, raw, want, c.target)
		}
	}

	// The principal sees its own refusals through the tool.
	r := s.tool(t, readOnly, "list_audit_events", map[string]any{"decision": "deny"})
	var page struct {
		Events []store.AuditEvent `json:"events"`
	}
	if r.Result == nil || json.Unmarshal(r.Result.StructuredContent, &page) != nil || len(page.Events) != 3 {
		t.Errorf("list_audit_events decision=deny: %+v", r)
	}
}

// TestInteractiveCallsRecordTheirGrant: a call made with an access token of
// the authorization-code flow is recorded with the grant the token
// descends from — a read, a write, a call that failed and the HTTP layer's
// 403 alike — so an auditor can tie it to the person's consent (and revoke
// that). A machine client's call records none.
func TestInteractiveCallsRecordTheirGrant(t *testing.T) {
	s := startServer(t, serverOptions{})
	st := s.openStore(t)
	ada := s.Users["ada@acme.example"]
	clientID := publicClient(t, s, redirect)
	f := newFlow(t, s, clientID)
	status, tok := f.exchange(f.code(ada).Get("code"), nil)
	if status != http.StatusOK {
		t.Fatalf("code exchange: %d %v", status, tok)
	}
	token := tok["access_token"].(string)
	_, claims := decodeJWT(t, token)
	grantID, _ := claims["grant_id"].(string)
	if grantID == "" {
		t.Fatalf("the interactive token carries no grant_id: %v", claims)
	}
	grant, err := st.GetGrant(t.Context(), grantID)
	if err != nil || grant.ClientID != clientID || grant.UserID != claims["sub"] || grant.OrgCode != "org_acme" {
		t.Fatalf("grant %s: %+v %v", grantID, grant, err)
	}

	betaUser := userIDs(t, st, "org_beta")[0]
	calls := []struct {
		tool   string
		args   map[string]any
		status int
	}{
		{"list_users", map[string]any{}, http.StatusOK},                                 // a read
		{"create_user", map[string]any{"email": "granted@acme.example"}, http.StatusOK}, // a write
		{"get_user", map[string]any{"user_id": betaUser}, http.StatusOK},                // answered "not found"
		{"delete_user", map[string]any{"user_id": betaUser}, http.StatusForbidden},      // refused for its scope
	}
	for _, c := range calls {
		if resp, body := s.callTool(t, token, c.tool, c.args); resp.StatusCode != c.status {
			t.Fatalf("%s: %d %s", c.tool, resp.StatusCode, body)
		}
	}
	machine := s.token(t, s.Clients["org_acme"], "read:users")
	if resp, body := s.callTool(t, machine, "list_users", map[string]any{}); resp.StatusCode != http.StatusOK {
		t.Fatalf("list_users as a machine client: %d %s", resp.StatusCode, body)
	}

	events, _, err := st.ListAuditEvents(t.Context(), "org_acme", store.AuditFilter{}, store.Page{Limit: store.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	byAction := map[string]store.AuditEvent{}
	for _, ev := range events {
		if ev.ClientID == clientID {
			byAction[ev.Action] = ev
		}
		if ev.ClientID == s.Clients["org_acme"].ID && ev.GrantID != "" {
			t.Errorf("a machine client's event records grant %q", ev.GrantID)
		}
	}
	for _, c := range calls {
		ev, ok := byAction["tools/call:"+c.tool]
		if !ok {
			t.Errorf("no event for %s: %+v", c.tool, events)
			continue
		}
		if ev.GrantID != grantID || ev.Subject != grant.UserID {
			t.Errorf("%s recorded grant %q subject %q, want %q %q: %+v", c.tool, ev.GrantID, ev.Subject, grantID, grant.UserID, ev)
		}
	}
	if ev := byAction["tools/call:delete_user"]; ev.Decision != "deny" {
		t.Errorf("delete_user recorded as %+v, want a denial", ev)
	}

	// The export carries it too, under its contract name.
	var out, errOut bytes.Buffer
	if rc := app.Main(t.Context(), []string{"audit", "export", "--org", "org_acme", "--format", "jsonl", "--db", s.DBPath}, &out, &errOut); rc != 0 {
		t.Fatalf("audit export: %d %s", rc, errOut.String())
	}
	if n := strings.Count(out.String(), `"grant_id":"`+grantID+`"`); n != len(calls) {
		t.Errorf("%d exported events carry the grant, want %d", n, len(calls))
	}
}
