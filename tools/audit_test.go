package tools_test

import (
	"testing"
	"time"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/service"
	"github.com/orgscope/orgscope/store"
)

// TestAuditEvents: every decision about a call is recorded in the org it
// concerns — writes and reads that were allowed, refusals with their
// reason, failures after an allow — and list_audit_events shows the
// principal's own org's events, newest first, filtered and paged.
func TestAuditEvents(t *testing.T) {
	e := newEnv(t)
	p := orgP(acme, all...)
	pb := orgP(beta, all...)

	ann := ok[store.User](e, p, "create_user", map[string]any{"email": "ann@a.io"})
	ok[store.User](e, p, "update_user", map[string]any{"user_id": ann.ID, "role": "admin"})
	ok[flag](e, p, "set_feature_flag", map[string]any{"key": "dark_mode", "value": true})
	ok[flag](e, p, "reset_feature_flag", map[string]any{"key": "dark_mode"})
	ok[store.Org](e, p, "update_organization", map[string]any{"name": "Acme 2"})
	ok[service.DeleteUserOutput](e, p, "delete_user", map[string]any{"user_id": ann.ID})
	zed := ok[store.User](e, pb, "create_user", map[string]any{"email": "zed@b.io"})
	ok[service.ListUsersOutput](e, p, "list_users", nil)
	ok[flag](e, p, "get_feature_flag", map[string]any{"key": "theme"})
	e.fails(p, "create_user", map[string]any{"email": "bad"}, "not a valid address")
	e.fails(p, "delete_user", map[string]any{"user_id": zed.ID}, "not found")
	e.fails(p, "set_feature_flag", map[string]any{"key": "dark_mode", "value": 3}, "not a boolean")
	e.fails(p, "list_users", map[string]any{"org_code": beta}, `organization "org_beta" not found`)
	e.fails(orgP(acme), "delete_user", map[string]any{"user_id": zed.ID}, "needs scope delete:users")

	type row struct{ action, target, decision, reason, outcome string }
	want := []row{
		{"tools/call:delete_user", zed.ID, "deny", "insufficient_scope", "error"},
		{"tools/call:list_users", beta, "deny", "tenant", "error"},
		{"tools/call:set_feature_flag", "dark_mode", "deny", "validation", "error"},
		{"tools/call:delete_user", zed.ID, "allow", "not_found", "error"},
		{"tools/call:create_user", "", "deny", "validation", "error"},
		{"tools/call:get_feature_flag", "theme", "allow", "", "ok"},
		{"tools/call:list_users", "", "allow", "", "ok"},
		{"tools/call:delete_user", ann.ID, "allow", "", "ok"},
		{"tools/call:update_organization", acme, "allow", "", "ok"},
		{"tools/call:reset_feature_flag", "dark_mode", "allow", "", "ok"},
		{"tools/call:set_feature_flag", "dark_mode", "allow", "", "ok"},
		{"tools/call:update_user", ann.ID, "allow", "", "ok"},
		{"tools/call:create_user", ann.ID, "allow", "", "ok"},
	}
	got := e.events(acme)
	if len(got) != len(want) {
		t.Fatalf("acme has %d events, want %d: %+v", len(got), len(want), got)
	}
	for i, ev := range got {
		if r := (row{ev.Action, ev.Target, ev.Decision, ev.Reason, ev.Outcome}); r != want[i] {
			t.Errorf("event %d: %+v, want %+v", i, r, want[i])
		}
		if ev.OrgCode != acme || ev.ClientID == "" || ev.Subject == "" || len(ev.ParamsSHA256) != 64 {
			t.Errorf("event %d: %+v", i, ev)
		}
		if i > 0 && (ev.ID >= got[i-1].ID || ev.Time.After(got[i-1].Time)) {
			t.Errorf("event %d (%s, %v) is not older than the one before it (%s, %v)", i, ev.ID, ev.Time, got[i-1].ID, got[i-1].Time)
		}
	}

	// The tool shows the same trail, filtered; a listing is itself a
	// recorded decision, so each listing sees the one before it.
	reader := orgP(acme, auth.ScopeReadAudit)
	denied := ok[service.ListAuditOutput](e, reader, "list_audit_events", map[string]any{"decision": "deny"})
	if len(denied.Events) != 4 || denied.Events[0].Reason != "insufficient_scope" {
		t.Errorf("denials: %+v", denied.Events)
	}
	deletes := ok[service.ListAuditOutput](e, reader, "list_audit_events", map[string]any{"action": "tools/call:delete_user", "decision": "allow"})
	if len(deletes.Events) != 2 {
		t.Errorf("allowed deletes: %+v", deletes.Events)
	}
	mine := ok[service.ListAuditOutput](e, reader, "list_audit_events", map[string]any{"client_id": reader.ClientID})
	if len(mine.Events) != 2 || mine.Events[0].Action != "tools/call:list_audit_events" {
		t.Errorf("the reader's own events: %+v", mine.Events)
	}
	future := ok[service.ListAuditOutput](e, reader, "list_audit_events", map[string]any{"since": time.Now().Add(time.Hour).Format(time.RFC3339)})
	if len(future.Events) != 0 {
		t.Errorf("events from the future: %+v", future.Events)
	}

	// Paging walks the same events.
	var paged []string
	for cursor, n := "", 0; ; n++ {
		args := map[string]any{"limit": 4, "client_id": p.ClientID}
		if cursor != "" {
			args["cursor"] = cursor
		}
		page := ok[service.ListAuditOutput](e, reader, "list_audit_events", args)
		for _, ev := range page.Events {
			paged = append(paged, ev.Action)
		}
		if cursor = page.NextCursor; cursor == "" || n > 5 {
			break
		}
	}
	if len(paged) != len(want)-1 { // all but the scope refusal, which another client made
		t.Errorf("paged: %v", paged)
	}

	// Beta sees its own; a cursor of acme's log is refused there.
	gotB := ok[service.ListAuditOutput](e, pb, "list_audit_events", map[string]any{"action": "tools/call:create_user"})
	if len(gotB.Events) != 1 || gotB.Events[0].Target != zed.ID || gotB.Events[0].OrgCode != beta {
		t.Errorf("beta's events: %+v", gotB.Events)
	}
	acmeCursor := ok[service.ListAuditOutput](e, p, "list_audit_events", map[string]any{"limit": 1}).NextCursor
	e.fails(pb, "list_audit_events", map[string]any{"cursor": acmeCursor}, "cursor is not valid for this listing")
	e.fails(p, "list_audit_events", map[string]any{"org_code": beta}, `organization "org_beta" not found`)
	e.fails(p, "list_audit_events", map[string]any{"limit": -5}, "limit must be between 1 and 100")
	e.fails(p, "list_audit_events", map[string]any{"limit": 101}, "limit must be between 1 and 100")
	e.fails(p, "list_audit_events", map[string]any{"decision": "maybe"}, `decision "maybe" is not valid`)
	e.fails(orgP(acme, auth.ScopeWriteUsers, auth.ScopeWriteOrgs, auth.ScopeWriteFlags), "list_audit_events", nil,
		"list_audit_events needs scope read:audit, which this access token lacks")

	g := globalP(auth.ScopeReadAudit)
	e.fails(g, "list_audit_events", nil, "org_code is required with a global token")
	if got := ok[service.ListAuditOutput](e, g, "list_audit_events", map[string]any{"org_code": beta, "action": "tools/call:create_user"}); len(got.Events) != 1 || got.Events[0].Target != zed.ID {
		t.Errorf("global, beta: %+v", got.Events)
	}
}
