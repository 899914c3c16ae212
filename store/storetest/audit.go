package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orgscope/orgscope/store"
)

var auditTests = []test{
	{"AuditAppendList", testAuditAppendList},
	{"AuditDefaults", testAuditDefaults},
	{"AuditJSON", testAuditJSON},
	{"AuditSameTime", testAuditSameTime},
	{"AuditFilters", testAuditFilters},
	{"AuditPlatformWide", testAuditPlatformWide},
	{"AuditExport", testAuditExport},
	{"AuditRetention", testAuditRetention},
	{"AuditBadCursor", testAuditBadCursor},
}

// event returns the i-th event of org: every field set, one second apart,
// alternating clients, subjects, actions and decisions.
func event(org string, i int) store.AuditEvent {
	e := store.AuditEvent{
		ID:           store.NewID(store.EventIDPrefix),
		Time:         past.Add(time.Duration(i) * time.Second),
		OrgCode:      org,
		ClientID:     fmt.Sprintf("client_%d", i%3),
		Subject:      fmt.Sprintf("usr_%d", i%2),
		ActorChain:   []string{"agent_outer", "agent_inner"},
		GrantID:      "grt_1",
		Action:       "tools/call:update_user",
		Target:       fmt.Sprintf("usr_%d", i),
		ParamsSHA256: strings.Repeat("ab", 32),
		Decision:     store.DecisionAllow,
		Outcome:      store.OutcomeOK,
		RequestID:    fmt.Sprintf("req-%d", i),
		TraceID:      "4bf92f3577b34da6a3ce929d0e0e4736",
		Purpose:      "support ticket 42",
		Policies:     []string{"default-permit"},
	}
	if i%4 == 3 {
		e.Action, e.Decision, e.Reason, e.Outcome = "tools/call:delete_user", store.DecisionDeny, "forbid-deletes", store.OutcomeError
		e.ActorChain, e.Policies = nil, nil
	}
	return e
}

// appendEvents stores n events of org (event(org, 0) to event(org, n-1))
// and returns them newest first.
func appendEvents(t *testing.T, s store.Store, org string, n int) []store.AuditEvent {
	t.Helper()
	var events []store.AuditEvent
	for i := range n {
		e := event(org, i)
		ok(t, s.AppendAuditEvent(t.Context(), e), "AppendAuditEvent")
		events = append(events, e)
	}
	slices.Reverse(events)
	return events
}

func listEvents(t *testing.T, s store.Store, org string, f store.AuditFilter, limit int) []store.AuditEvent {
	t.Helper()
	return traverse(t, limit, func(p store.Page) ([]store.AuditEvent, string, error) {
		return s.ListAuditEvents(t.Context(), org, f, p)
	})
}

func exportEvents(t *testing.T, s store.Store, org *string, since time.Time, limit int) []store.AuditEvent {
	t.Helper()
	return traverse(t, limit, func(p store.Page) ([]store.AuditEvent, string, error) {
		return s.ExportAuditEvents(t.Context(), org, since, p)
	})
}

func testAuditAppendList(t *testing.T, s store.Store) {
	a := appendEvents(t, s, "org_a", 25)
	appendEvents(t, s, "org_b", 25)

	page, next, err := s.ListAuditEvents(t.Context(), "org_a", store.AuditFilter{}, store.Page{Limit: 10})
	ok(t, err, "ListAuditEvents")
	equal(t, "first page", page, a[:10])
	if next == "" {
		t.Fatal("no next cursor after the first page")
	}
	for _, limit := range []int{10, 1, 25, 0} {
		equal(t, fmt.Sprintf("events listed with limit %d", limit), allEvents(t, s, "org_a", limit), a)
	}
	if n := len(allEvents(t, s, "org_nope", 10)); n != 0 {
		t.Fatalf("%d events listed for an org without any", n)
	}
}

func testAuditDefaults(t *testing.T, s store.Store) {
	ok(t, s.AppendAuditEvent(t.Context(), store.AuditEvent{OrgCode: "org_a", Action: "tools/call:whoami",
		Decision: store.DecisionAllow, Outcome: store.OutcomeOK, ActorChain: []string{}, Policies: []string{}}), "AppendAuditEvent")
	events := allEvents(t, s, "org_a", 10)
	if len(events) != 1 {
		t.Fatalf("%d events, want 1", len(events))
	}
	e := events[0]
	if !strings.HasPrefix(e.ID, store.EventIDPrefix) || !isStamped(e.Time) {
		t.Fatalf("event ID %q, Time %v: want a %s ID and the current time", e.ID, e.Time, store.EventIDPrefix)
	}
	equal(t, "event", e, store.AuditEvent{ID: e.ID, OrgCode: "org_a", Time: e.Time, Action: "tools/call:whoami",
		Decision: store.DecisionAllow, Outcome: store.OutcomeOK})
}

// testAuditJSON pins the JSON names, which are a contract, and that
// actor_chain is an array even when nil.
func testAuditJSON(t *testing.T, s store.Store) {
	full := event("org_a", 0)
	ok(t, s.AppendAuditEvent(t.Context(), full), "AppendAuditEvent")
	bare := store.AuditEvent{ID: store.NewID(store.EventIDPrefix), Time: past.Add(time.Hour), Action: "cli:orgs create",
		Decision: store.DecisionAllow, Outcome: store.OutcomeOK}
	ok(t, s.AppendAuditEvent(t.Context(), bare), "AppendAuditEvent")

	fields := func(e store.AuditEvent) map[string]any {
		t.Helper()
		b, err := json.Marshal(e)
		ok(t, err, "Marshal")
		var m map[string]any
		ok(t, json.Unmarshal(b, &m), "Unmarshal")
		return m
	}
	stored := allEvents(t, s, "org_a", 10)[0]
	equal(t, "JSON of a full event", fields(stored), map[string]any{
		"id": full.ID, "time": "2020-01-02T03:04:05.000006Z", "org_code": "org_a", "client_id": "client_0",
		"subject": "usr_0", "actor_chain": []any{"agent_outer", "agent_inner"}, "grant_id": "grt_1",
		"action": "tools/call:update_user", "target": "usr_0", "params_sha256": strings.Repeat("ab", 32),
		"decision": "allow", "outcome": "ok", "request_id": "req-0", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
		"purpose": "support ticket 42", "policies": []any{"default-permit"},
	})
	stored = allEvents(t, s, "", 10)[0]
	equal(t, "JSON of a bare platform-wide event", fields(stored), map[string]any{
		"id": bare.ID, "time": "2020-01-02T04:04:05.000006Z", "org_code": "", "client_id": "", "subject": "",
		"actor_chain": []any{}, "action": "cli:orgs create", "decision": "allow", "outcome": "ok",
	})
}

// testAuditSameTime: times keep microseconds, and events of the same
// microsecond are ordered by ID, each listed once across pages.
func testAuditSameTime(t *testing.T, s store.Store) {
	at := time.Date(2024, 2, 3, 4, 5, 6, 789123456, time.FixedZone("X", 3600))
	var want []store.AuditEvent
	for i := range 7 {
		e := event("org_a", i)
		e.Time = at
		ok(t, s.AppendAuditEvent(t.Context(), e), "AppendAuditEvent")
		e.Time = time.Date(2024, 2, 3, 3, 5, 6, 789123000, time.UTC)
		want = append(want, e)
	}
	slices.SortFunc(want, func(x, y store.AuditEvent) int { return strings.Compare(y.ID, x.ID) })
	for _, limit := range []int{1, 2, 3, 7} {
		equal(t, fmt.Sprintf("events of one instant, limit %d", limit), allEvents(t, s, "org_a", limit), want)
	}
}

func testAuditFilters(t *testing.T, s store.Store) {
	all := appendEvents(t, s, "org_a", 24) // newest first
	appendEvents(t, s, "org_b", 24)
	where := func(keep func(e store.AuditEvent) bool) []store.AuditEvent {
		var out []store.AuditEvent
		for _, e := range all {
			if keep(e) {
				out = append(out, e)
			}
		}
		return out
	}
	since, until := past.Add(5*time.Second), past.Add(17*time.Second)
	for _, c := range []struct {
		name   string
		filter store.AuditFilter
		keep   func(e store.AuditEvent) bool
	}{
		{"since", store.AuditFilter{Since: since}, func(e store.AuditEvent) bool { return !e.Time.Before(since) }},
		{"until", store.AuditFilter{Until: until}, func(e store.AuditEvent) bool { return e.Time.Before(until) }},
		{"since and until", store.AuditFilter{Since: since, Until: until},
			func(e store.AuditEvent) bool { return !e.Time.Before(since) && e.Time.Before(until) }},
		{"client", store.AuditFilter{ClientID: "client_1"}, func(e store.AuditEvent) bool { return e.ClientID == "client_1" }},
		{"client and time", store.AuditFilter{ClientID: "client_2", Since: since, Until: until},
			func(e store.AuditEvent) bool {
				return e.ClientID == "client_2" && !e.Time.Before(since) && e.Time.Before(until)
			}},
		{"subject", store.AuditFilter{Subject: "usr_1"}, func(e store.AuditEvent) bool { return e.Subject == "usr_1" }},
		{"action", store.AuditFilter{Action: "tools/call:delete_user"}, func(e store.AuditEvent) bool { return e.Action == "tools/call:delete_user" }},
		{"decision", store.AuditFilter{Decision: store.DecisionDeny}, func(e store.AuditEvent) bool { return e.Decision == store.DecisionDeny }},
		{"subject and decision", store.AuditFilter{Subject: "usr_1", Decision: store.DecisionAllow},
			func(e store.AuditEvent) bool { return e.Subject == "usr_1" && e.Decision == store.DecisionAllow }},
		{"nothing matches", store.AuditFilter{ClientID: "client_nope"}, func(store.AuditEvent) bool { return false }},
	} {
		want := where(c.keep)
		if len(want) == len(all) {
			t.Fatalf("%s: the filter keeps every event; the test proves nothing", c.name)
		}
		for _, limit := range []int{1, 5, 100} {
			equal(t, fmt.Sprintf("%s, limit %d", c.name, limit), listEvents(t, s, "org_a", c.filter, limit), want)
		}
	}
}

// testAuditPlatformWide: events of no org are listed under "" only, and
// never under an org.
func testAuditPlatformWide(t *testing.T, s store.Store) {
	platform := appendEvents(t, s, "", 3)
	org := appendEvents(t, s, "org_a", 2)
	equal(t, "platform-wide events", allEvents(t, s, "", 2), platform)
	equal(t, "org events", allEvents(t, s, "org_a", 2), org)
}

func testAuditExport(t *testing.T, s store.Store) {
	var all []store.AuditEvent
	for _, org := range []string{"org_a", "org_b", ""} {
		all = append(all, appendEvents(t, s, org, 9)...)
	}
	slices.SortFunc(all, func(x, y store.AuditEvent) int {
		if c := x.Time.Compare(y.Time); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	ofOrg := func(org string, since time.Time) []store.AuditEvent {
		var out []store.AuditEvent
		for _, e := range all {
			if (e.OrgCode == org || org == "*") && !e.Time.Before(since) {
				out = append(out, e)
			}
		}
		return out
	}
	since := past.Add(4 * time.Second)
	for _, limit := range []int{1, 4, 100} {
		equal(t, fmt.Sprintf("every org, limit %d", limit), exportEvents(t, s, nil, time.Time{}, limit), all)
		equal(t, fmt.Sprintf("every org since, limit %d", limit), exportEvents(t, s, nil, since, limit), ofOrg("*", since))
		equal(t, fmt.Sprintf("org_b, limit %d", limit), exportEvents(t, s, ptr("org_b"), time.Time{}, limit), ofOrg("org_b", time.Time{}))
		equal(t, fmt.Sprintf("org_a since, limit %d", limit), exportEvents(t, s, ptr("org_a"), since, limit), ofOrg("org_a", since))
		equal(t, fmt.Sprintf("platform-wide, limit %d", limit), exportEvents(t, s, ptr(""), time.Time{}, limit), ofOrg("", time.Time{}))
	}
	if n := len(exportEvents(t, s, ptr("org_nope"), time.Time{}, 10)); n != 0 {
		t.Fatalf("%d events exported for an org without any", n)
	}
}

// testAuditRetention removes more events than one batch holds, and only
// those older than the cutoff.
func testAuditRetention(t *testing.T, s store.Store) {
	ctx := t.Context()
	const old = 2100
	err := s.InTx(ctx, func(tx store.Tx) error {
		for i := range old {
			e := event(fmt.Sprintf("org_%d", i%3), i)
			e.Time = past.Add(time.Duration(i) * time.Millisecond)
			if err := tx.AppendAuditEvent(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	ok(t, err, "append old events")
	cutoff := past.Add(time.Hour)
	var kept []store.AuditEvent
	for i, org := range []string{"org_0", "", "org_1"} {
		e := event(org, i)
		e.Time = cutoff.Add(time.Duration(i) * time.Microsecond) // the first exactly at the cutoff
		ok(t, s.AppendAuditEvent(ctx, e), "AppendAuditEvent")
		kept = append(kept, e)
	}

	n, err := s.DeleteAuditEventsBefore(ctx, cutoff)
	ok(t, err, "DeleteAuditEventsBefore")
	equal(t, "events removed", n, old)
	equal(t, "events left", exportEvents(t, s, nil, time.Time{}, 100), kept)
	n, err = s.DeleteAuditEventsBefore(ctx, cutoff)
	ok(t, err, "DeleteAuditEventsBefore again")
	equal(t, "events removed the second time", n, 0)
}

func testAuditBadCursor(t *testing.T, s store.Store) {
	ctx := t.Context()
	appendEvents(t, s, "org_a", 3)
	createOrg(t, s, "org_a")
	createOrg(t, s, "org_b")
	_, orgCursor, err := s.ListOrgs(ctx, store.Page{Limit: 1})
	ok(t, err, "ListOrgs")
	seedUsers(t, s, "org_a", 2)
	_, userCursor, err := s.ListUsers(ctx, "org_a", store.UserFilter{}, store.Page{Limit: 1})
	ok(t, err, "ListUsers")
	_, listCursor, err := s.ListAuditEvents(ctx, "org_a", store.AuditFilter{}, store.Page{Limit: 1})
	ok(t, err, "ListAuditEvents")
	_, exportCursor, err := s.ExportAuditEvents(ctx, ptr("org_a"), time.Time{}, store.Page{Limit: 1})
	ok(t, err, "ExportAuditEvents")
	_, exportAllCursor, err := s.ExportAuditEvents(ctx, nil, time.Time{}, store.Page{Limit: 1})
	ok(t, err, "ExportAuditEvents")
	forged := []string{
		store.EncodeCursor(store.ListAudit, "org_a", "evt_1"),        // no time
		store.EncodeCursor(store.ListAudit, "org_a", "x evt_1"),      // a time that is no number
		store.EncodeCursor(store.ListAudit, "org_a", "1577934245 "),  // no ID
		store.EncodeCursor(store.ListAuditExport, "=org_a", "evt_1"), // an export cursor without time
	}

	for _, c := range []string{"garbage", orgCursor, userCursor, exportCursor, forged[0], forged[1], forged[2]} {
		_, _, err := s.ListAuditEvents(ctx, "org_a", store.AuditFilter{}, store.Page{Cursor: c})
		wantErr(t, err, store.ErrInvalidCursor, fmt.Sprintf("ListAuditEvents cursor %q", c))
	}
	for _, c := range []string{"garbage", listCursor, exportAllCursor, forged[3]} {
		_, _, err := s.ExportAuditEvents(ctx, ptr("org_a"), time.Time{}, store.Page{Cursor: c})
		wantErr(t, err, store.ErrInvalidCursor, fmt.Sprintf("ExportAuditEvents(org_a) cursor %q", c))
	}
	for _, c := range []string{exportCursor, listCursor} {
		_, _, err := s.ExportAuditEvents(ctx, nil, time.Time{}, store.Page{Cursor: c})
		wantErr(t, err, store.ErrInvalidCursor, fmt.Sprintf("ExportAuditEvents(every org) cursor %q", c))
	}
}
