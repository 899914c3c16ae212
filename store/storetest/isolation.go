package storetest

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/orgscope/orgscope/store"
)

var isolationTests = []test{
	{"IsolationOrgANeverSeesOrgB", testIsolation},
}

// tenants is two orgs with users, flag overrides and audit events each.
type tenants struct {
	a, b   store.Org
	aUsers []store.User
	bUsers []store.User
}

func seedTenants(t *testing.T, s store.Store) tenants {
	ctx := t.Context()
	var ts tenants
	ts.a, ts.b = createOrg(t, s, "org_a"), createOrg(t, s, "org_b")
	ts.aUsers = []store.User{
		createUser(t, s, "org_a", "ann@a.io", "Ann", "Alpha"),
		createUser(t, s, "org_a", "shared@x.io", "Sam", "Alpha"),
	}
	ts.bUsers = []store.User{
		createUser(t, s, "org_b", "bea@b.io", "Bea", "Beta"),
		createUser(t, s, "org_b", "SHARED@x.io", "Sam", "Beta"),
	}
	for i, u := range ts.bUsers {
		ok(t, s.SetUserPassword(ctx, "org_b", u.ID, fmt.Sprintf("hash-b%d", i)), "SetUserPassword")
	}
	for _, key := range []string{"beta_only", "both", "alpha_only"} {
		_, err := s.CreateFlag(ctx, store.FlagDefinition{Key: key, Type: store.FlagBoolean, DefaultValue: json.RawMessage("false")})
		ok(t, err, "CreateFlag")
	}
	for _, o := range []struct{ org, key, value string }{
		{"org_b", "beta_only", "true"}, {"org_b", "both", "true"}, {"org_a", "both", "false"}, {"org_a", "alpha_only", "true"},
	} {
		_, err := s.SetFlagOverride(ctx, o.org, o.key, json.RawMessage(o.value))
		ok(t, err, "SetFlagOverride")
	}
	for _, org := range []string{"org_a", "org_b", "org_a", "org_b"} {
		e := store.AuditEvent{ID: store.NewID(store.EventIDPrefix), OrgCode: org, Subject: "u", ClientID: "c", Action: "tools/call:list_users",
			Decision: store.DecisionAllow, Outcome: store.OutcomeOK}
		ok(t, s.AppendAuditEvent(ctx, e), "AppendAuditEvent")
	}
	return ts
}

// snapshotB is everything org B holds, as readable through its own code.
func snapshotB(t *testing.T, s store.Store, ts tenants) any {
	t.Helper()
	org, err := s.GetOrg(t.Context(), "org_b")
	ok(t, err, "GetOrg")
	var creds []store.UserCredential
	for _, u := range ts.bUsers {
		c, err := s.UserCredentials(t.Context(), u.Email)
		ok(t, err, "UserCredentials")
		for _, cred := range c {
			if cred.User.OrgCode == "org_b" { // the lookup spans orgs by design
				creds = append(creds, cred)
			}
		}
	}
	return []any{
		org,
		allUsers(t, s, "org_b", store.UserFilter{}, 100),
		allFlags(t, s, "org_b", 100),
		allEvents(t, s, "org_b", 100),
		creds,
	}
}

func testIsolation(t *testing.T, s store.Store) {
	ctx := t.Context()
	ts := seedTenants(t, s)
	before := snapshotB(t, s, ts)
	bUser := ts.bUsers[0]

	// Every tenant-keyed method, given org A's code and B's keys.
	_, err := s.GetUser(ctx, "org_a", bUser.ID)
	wantErr(t, err, store.ErrNotFound, "GetUser(A, B's user)")
	_, err = s.UpdateUser(ctx, "org_a", bUser.ID, store.UserUpdate{GivenName: ptr("Mallory"), Email: ptr("mallory@a.io")})
	wantErr(t, err, store.ErrNotFound, "UpdateUser(A, B's user)")
	wantErr(t, s.DeleteUser(ctx, "org_a", bUser.ID), store.ErrNotFound, "DeleteUser(A, B's user)")
	wantErr(t, s.SetUserPassword(ctx, "org_a", bUser.ID, "evil"), store.ErrNotFound, "SetUserPassword(A, B's user)")

	eff, err := s.GetEffectiveFlag(ctx, "org_a", "beta_only")
	ok(t, err, "GetEffectiveFlag(A, flag B overrides)")
	if eff.Override != nil || string(eff.Value()) != "false" {
		t.Fatalf("org A sees override %+v of flag beta_only, value %s", eff.Override, eff.Value())
	}
	deleted, err := s.DeleteFlagOverride(ctx, "org_a", "beta_only")
	ok(t, err, "DeleteFlagOverride(A, flag B overrides)")
	equal(t, "DeleteFlagOverride(A, flag B overrides) deleted", deleted, false)

	// Listings of A hold A's records only.
	equal(t, "users listed for A", keys(allUsers(t, s, "org_a", store.UserFilter{}, 1), userID), keys(ts.aUsers, userID))
	got := allUsers(t, s, "org_a", store.UserFilter{EmailPrefix: "bea"}, 10)
	equal(t, "A's users filtered by B's email", len(got), 0)
	got = allUsers(t, s, "org_a", store.UserFilter{NamePrefix: "sam"}, 10)
	equal(t, "A's users filtered by a shared name", keys(got, userID), []string{ts.aUsers[1].ID})
	flags := allFlags(t, s, "org_a", 1)
	overrides := map[string]string{}
	for _, f := range flags {
		if f.Override != nil {
			if f.Override.OrgCode != "org_a" {
				t.Fatalf("org A's listing has override of %s", f.Override.OrgCode)
			}
			overrides[f.Definition.Key] = string(f.Override.Value)
		}
	}
	equal(t, "overrides listed for A", overrides, map[string]string{"both": "false", "alpha_only": "true"})
	for _, e := range allEvents(t, s, "org_a", 1) {
		if e.OrgCode != "org_a" {
			t.Fatalf("org A's audit listing has event %s of %s", e.ID, e.OrgCode)
		}
	}

	// B's cursors do not page A's listings.
	_, userCursor, err := s.ListUsers(ctx, "org_b", store.UserFilter{}, store.Page{Limit: 1})
	ok(t, err, "ListUsers(B)")
	_, _, err = s.ListUsers(ctx, "org_a", store.UserFilter{}, store.Page{Cursor: userCursor})
	wantErr(t, err, store.ErrInvalidCursor, "ListUsers(A, B's cursor)")
	_, flagCursor, err := s.ListEffectiveFlags(ctx, "org_b", store.Page{Limit: 1})
	ok(t, err, "ListEffectiveFlags(B)")
	_, _, err = s.ListEffectiveFlags(ctx, "org_a", store.Page{Cursor: flagCursor})
	wantErr(t, err, store.ErrInvalidCursor, "ListEffectiveFlags(A, B's cursor)")
	_, eventCursor, err := s.ListAuditEvents(ctx, "org_b", store.AuditFilter{}, store.Page{Limit: 1})
	ok(t, err, "ListAuditEvents(B)")
	_, _, err = s.ListAuditEvents(ctx, "org_a", store.AuditFilter{}, store.Page{Cursor: eventCursor})
	wantErr(t, err, store.ErrInvalidCursor, "ListAuditEvents(A, B's cursor)")

	// Writes to A that name what B also has leave B alone.
	_, err = s.SetFlagOverride(ctx, "org_a", "beta_only", json.RawMessage("false"))
	ok(t, err, "SetFlagOverride(A, flag B overrides)")
	deleted, err = s.DeleteFlagOverride(ctx, "org_a", "both")
	ok(t, err, "DeleteFlagOverride(A, flag both override)")
	equal(t, "DeleteFlagOverride(A) deleted", deleted, true)
	_, err = s.UpdateUser(ctx, "org_a", ts.aUsers[1].ID, store.UserUpdate{Email: ptr("bea@b.io"), GivenName: ptr("Bea")})
	ok(t, err, "UpdateUser(A) to B's email")
	ok(t, s.DeleteUser(ctx, "org_a", ts.aUsers[0].ID), "DeleteUser(A)")
	ok(t, s.AppendAuditEvent(ctx, store.AuditEvent{OrgCode: "org_a", Action: "x", Outcome: "ok"}), "AppendAuditEvent(A)")
	_, err = s.UpdateOrg(ctx, "org_a", store.OrgUpdate{Name: ptr("A2"), Properties: map[string]*string{"k": ptr("v")}})
	ok(t, err, "UpdateOrg(A)")

	sameJSON(t, "org B", before, snapshotB(t, s, ts))
}
