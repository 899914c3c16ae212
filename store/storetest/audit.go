package storetest

import (
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
	{"AuditBadCursor", testAuditBadCursor},
}

func event(org string, i int) store.AuditEvent {
	return store.AuditEvent{
		ID:       store.NewID(store.EventIDPrefix),
		OrgCode:  org,
		Time:     past.Add(time.Duration(i) * time.Second),
		Subject:  "usr_1",
		ClientID: "dcr_1",
		Action:   "update_user",
		Target:   fmt.Sprintf("usr_%d", i),
		Outcome:  "ok",
		Detail:   fmt.Sprintf("event %d of %s", i, org),
	}
}

func testAuditAppendList(t *testing.T, s store.Store) {
	var a []store.AuditEvent
	for i := range 25 {
		e := event("org_a", i)
		ok(t, s.AppendAuditEvent(t.Context(), e), "AppendAuditEvent")
		a = append(a, e)
		ok(t, s.AppendAuditEvent(t.Context(), event("org_b", i)), "AppendAuditEvent")
	}
	newestFirst := slices.Clone(a)
	slices.SortFunc(newestFirst, func(x, y store.AuditEvent) int { return strings.Compare(y.ID, x.ID) })

	page, next, err := s.ListAuditEvents(t.Context(), "org_a", store.Page{Limit: 10})
	ok(t, err, "ListAuditEvents")
	equal(t, "first page", page, newestFirst[:10])
	if next == "" {
		t.Fatal("no next cursor after the first page")
	}
	for _, limit := range []int{10, 1, 25, 0} {
		equal(t, fmt.Sprintf("events listed with limit %d", limit), allEvents(t, s, "org_a", limit), newestFirst)
	}
	if n := len(allEvents(t, s, "org_nope", 10)); n != 0 {
		t.Fatalf("%d events listed for an org without any", n)
	}
}

func testAuditDefaults(t *testing.T, s store.Store) {
	ok(t, s.AppendAuditEvent(t.Context(), store.AuditEvent{OrgCode: "org_a", Action: "whoami", Outcome: "ok"}), "AppendAuditEvent")
	events := allEvents(t, s, "org_a", 10)
	if len(events) != 1 {
		t.Fatalf("%d events, want 1", len(events))
	}
	e := events[0]
	if !strings.HasPrefix(e.ID, store.EventIDPrefix) || !isStamped(e.Time) {
		t.Fatalf("event ID %q, Time %v: want a %s ID and the current time", e.ID, e.Time, store.EventIDPrefix)
	}
	equal(t, "event", e, store.AuditEvent{ID: e.ID, OrgCode: "org_a", Time: e.Time, Action: "whoami", Outcome: "ok"})
}

func testAuditBadCursor(t *testing.T, s store.Store) {
	for i := range 3 {
		ok(t, s.AppendAuditEvent(t.Context(), event("org_a", i)), "AppendAuditEvent")
	}
	createOrg(t, s, "org_a")
	createOrg(t, s, "org_b")
	_, orgCursor, err := s.ListOrgs(t.Context(), store.Page{Limit: 1})
	ok(t, err, "ListOrgs")
	seedUsers(t, s, "org_a", 2)
	_, userCursor, err := s.ListUsers(t.Context(), "org_a", store.UserFilter{}, store.Page{Limit: 1})
	ok(t, err, "ListUsers")
	for _, c := range []string{"garbage", orgCursor, userCursor} {
		_, _, err := s.ListAuditEvents(t.Context(), "org_a", store.Page{Cursor: c})
		wantErr(t, err, store.ErrInvalidCursor, fmt.Sprintf("ListAuditEvents cursor %q", c))
	}
}
