package tools_test

import (
	"slices"
	"testing"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/tools"
)

// TestAuditEvents: every successful write records one event in the org it
// changed, a read or a refused write records none, and list_audit_events
// shows the principal's own org's events, newest first.
func TestAuditEvents(t *testing.T) {
	e := newEnv(t)
	p := orgP(acme, all...)
	pb := orgP(beta, all...)

	ann := ok[store.User](e, p, "create_user", map[string]any{"email": "ann@a.io"})
	ok[store.User](e, p, "update_user", map[string]any{"user_id": ann.ID, "role": "admin"})
	ok[flag](e, p, "set_feature_flag", map[string]any{"key": "dark_mode", "value": true})
	ok[flag](e, p, "reset_feature_flag", map[string]any{"key": "dark_mode"})
	ok[store.Org](e, p, "update_organization", map[string]any{"name": "Acme 2"})
	ok[tools.DeleteUserOutput](e, p, "delete_user", map[string]any{"user_id": ann.ID})
	zed := ok[store.User](e, pb, "create_user", map[string]any{"email": "zed@b.io"})

	// Reads and refusals record nothing.
	ok[tools.ListUsersOutput](e, p, "list_users", nil)
	ok[store.Org](e, p, "get_organization", nil)
	ok[flag](e, p, "get_feature_flag", map[string]any{"key": "theme"})
	ok[flagPage](e, p, "list_feature_flags", nil)
	ok[tools.WhoamiOutput](e, p, "whoami", nil)
	e.fails(p, "create_user", map[string]any{"email": "bad"}, "not a valid address")
	e.fails(p, "delete_user", map[string]any{"user_id": zed.ID}, "not found")
	e.fails(p, "set_feature_flag", map[string]any{"key": "dark_mode", "value": 3}, "not a boolean")
	e.fails(p, "reset_feature_flag", map[string]any{"key": "nope"}, "not found")

	wantActions := []string{"delete_user", "update_organization", "reset_feature_flag", "set_feature_flag", "update_user", "create_user"}
	wantTargets := []string{ann.ID, acme, "dark_mode", "dark_mode", ann.ID, ann.ID}
	got := ok[tools.ListAuditOutput](e, orgP(acme, auth.ScopeReadAudit), "list_audit_events", nil)
	var actions, targets []string
	for i, ev := range got.Events {
		actions, targets = append(actions, ev.Action), append(targets, ev.Target)
		if ev.OrgCode != acme || ev.Subject != p.Subject || ev.ClientID != p.ClientID || ev.Outcome != "ok" {
			t.Errorf("event %d: %+v", i, ev)
		}
		if i > 0 && (ev.ID >= got.Events[i-1].ID || ev.Time.After(got.Events[i-1].Time)) {
			t.Errorf("event %d (%s, %v) is not older than the one before it (%s, %v)", i, ev.ID, ev.Time, got.Events[i-1].ID, got.Events[i-1].Time)
		}
	}
	if !slices.Equal(actions, wantActions) || !slices.Equal(targets, wantTargets) || got.NextCursor != "" {
		t.Errorf("acme's events: %v %v (next %q)\nwant %v %v", actions, targets, got.NextCursor, wantActions, wantTargets)
	}

	// Paging walks the same events.
	var paged []string
	for cursor, n := "", 0; ; n++ {
		args := map[string]any{"limit": 4}
		if cursor != "" {
			args["cursor"] = cursor
		}
		page := ok[tools.ListAuditOutput](e, p, "list_audit_events", args)
		for _, ev := range page.Events {
			paged = append(paged, ev.Action)
		}
		if cursor = page.NextCursor; cursor == "" || n > 3 {
			break
		}
	}
	if !slices.Equal(paged, wantActions) {
		t.Errorf("paged: %v", paged)
	}

	// Beta sees its one event; a cursor of acme's log is refused there.
	gotB := ok[tools.ListAuditOutput](e, pb, "list_audit_events", nil)
	if len(gotB.Events) != 1 || gotB.Events[0].Action != "create_user" || gotB.Events[0].Target != zed.ID || gotB.Events[0].OrgCode != beta {
		t.Errorf("beta's events: %+v", gotB.Events)
	}
	acmeCursor := ok[tools.ListAuditOutput](e, p, "list_audit_events", map[string]any{"limit": 1}).NextCursor
	e.fails(pb, "list_audit_events", map[string]any{"cursor": acmeCursor}, "cursor is not valid for this listing")
	e.fails(p, "list_audit_events", map[string]any{"org_code": beta}, `organization "org_beta" not found`)
	e.fails(p, "list_audit_events", map[string]any{"limit": 0}, "limit", "minimum")
	e.fails(p, "list_audit_events", map[string]any{"limit": 101}, "limit", "maximum")
	e.fails(orgP(acme, auth.ScopeWriteUsers, auth.ScopeWriteOrgs, auth.ScopeWriteFlags), "list_audit_events", nil,
		"list_audit_events needs scope read:audit, which this access token lacks")

	g := globalP(auth.ScopeReadAudit)
	e.fails(g, "list_audit_events", nil, "org_code is required with a global token")
	if got := ok[tools.ListAuditOutput](e, g, "list_audit_events", map[string]any{"org_code": beta}); len(got.Events) != 1 || got.Events[0].Target != zed.ID {
		t.Errorf("global, beta: %+v", got.Events)
	}
}
