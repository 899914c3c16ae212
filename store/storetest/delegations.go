package storetest

import (
	"testing"
	"time"

	"github.com/orgscope/orgscope/store"
)

var delegationTests = []test{
	{"GrantList", testGrantList},
	{"DelegationRecordList", testDelegationRecordList},
	{"DelegationRefused", testDelegationRefused},
	{"DelegationExpiry", testDelegationExpiry},
}

// personGrant stores a grant of user (in the user's org) to client.
func personGrant(t *testing.T, s store.Store, u store.User, client string) store.Grant {
	t.Helper()
	g := store.Grant{ID: store.NewID(store.GrantIDPrefix), ClientID: client, OrgCode: u.OrgCode, UserID: u.ID,
		Scopes: []string{"read:users", "write:grants"}, Resource: "https://mcp.example/mcp", CreatedAt: past}
	ok(t, s.CreateGrant(t.Context(), g), "CreateGrant")
	return g
}

func grantIDs(views []store.GrantView) []string {
	var ids []string
	for _, v := range views {
		ids = append(ids, v.Grant.ID)
	}
	return ids
}

func testGrantList(t *testing.T, s store.Store) {
	ctx := t.Context()
	createOrg(t, s, "org_a")
	createOrg(t, s, "org_b")
	ann := createUser(t, s, "org_a", "Ann@A.example", "Ann", "A")
	bob := createUser(t, s, "org_a", "bob@a.example", "Bob", "A")
	cat := createUser(t, s, "org_b", "cat@b.example", "Cat", "B")
	_, err := s.CreateClient(ctx, store.Client{ID: "dcr_named", Name: "Desktop agent", Kind: store.ClientRegistered,
		GrantTypes: []string{"authorization_code"}, TokenEndpointAuthMethod: "none"})
	ok(t, err, "CreateClient")

	a1 := personGrant(t, s, ann, "dcr_named")
	b1 := personGrant(t, s, bob, "https://client.example/metadata.json")
	a2 := personGrant(t, s, ann, "dcr_named")
	c1 := personGrant(t, s, cat, "dcr_named")
	revoked := personGrant(t, s, ann, "dcr_named")
	ok(t, s.RevokeGrant(ctx, revoked.ID), "RevokeGrant")

	all := func(org string, f store.GrantFilter) []store.GrantView {
		t.Helper()
		return traverse(t, 2, func(p store.Page) ([]store.GrantView, string, error) { return s.ListGrants(ctx, org, f, p) })
	}
	got := all("org_a", store.GrantFilter{})
	equal(t, "org_a's standing grants", grantIDs(got), []string{a1.ID, b1.ID, a2.ID})
	want := store.GrantView{Grant: a1, Email: "Ann@A.example", ClientName: "Desktop agent"}
	want.Grant.CreatedAt = normalized(want.Grant.CreatedAt)
	equal(t, "a listed grant", got[0], want)
	equal(t, "a client not in the store has no name", got[1].ClientName, "")
	equal(t, "org_a with revoked grants", grantIDs(all("org_a", store.GrantFilter{IncludeRevoked: true})),
		[]string{a1.ID, b1.ID, a2.ID, revoked.ID})
	equal(t, "one person's", grantIDs(all("org_a", store.GrantFilter{UserID: ann.ID})), []string{a1.ID, a2.ID})
	equal(t, "by email, in another case", grantIDs(all("org_a", store.GrantFilter{Email: "ann@a.EXAMPLE"})), []string{a1.ID, a2.ID})
	equal(t, "every org's", grantIDs(all("", store.GrantFilter{})), []string{a1.ID, b1.ID, a2.ID, c1.ID})
	equal(t, "another org's person in org_a", len(all("org_a", store.GrantFilter{UserID: cat.ID})), 0)
	equal(t, "org_b's", grantIDs(all("org_b", store.GrantFilter{})), []string{c1.ID})

	// A cursor belongs to its listing: another org's, or another filter's,
	// is refused.
	_, next, err := s.ListGrants(ctx, "org_a", store.GrantFilter{}, store.Page{Limit: 1})
	ok(t, err, "ListGrants first page")
	_, _, err = s.ListGrants(ctx, "org_b", store.GrantFilter{}, store.Page{Cursor: next, Limit: 1})
	wantErr(t, err, store.ErrInvalidCursor, "a cursor of org_a for org_b")
	_, _, err = s.ListGrants(ctx, "org_a", store.GrantFilter{UserID: ann.ID}, store.Page{Cursor: next, Limit: 1})
	wantErr(t, err, store.ErrInvalidCursor, "a cursor of another filter")

	// A person who no longer exists has no standing grant.
	ok(t, s.DeleteUser(ctx, "org_a", bob.ID), "DeleteUser")
	equal(t, "after bob's deletion", grantIDs(all("org_a", store.GrantFilter{})), []string{a1.ID, a2.ID})
}

func delegation(g store.Grant, token string, created, expires time.Time, chain ...string) store.Delegation {
	return store.Delegation{TokenID: token, GrantID: g.ID, OrgCode: g.OrgCode, UserID: g.UserID, ClientID: chain[0],
		ActorChain: chain, SubjectTokenID: "jti-subject-" + token, Scopes: []string{"read:users"},
		Purpose: "triage ticket 42", CreatedAt: created, ExpiresAt: expires}
}

func testDelegationRecordList(t *testing.T, s store.Store) {
	ctx := t.Context()
	createOrg(t, s, "org_a")
	ann := createUser(t, s, "org_a", "ann@a.example", "Ann", "A")
	g1, g2, g3 := personGrant(t, s, ann, "dcr_1"), personGrant(t, s, ann, "dcr_1"), personGrant(t, s, ann, "dcr_1")
	now := time.Now().UTC().Truncate(time.Microsecond)
	ds := []store.Delegation{
		delegation(g1, "d1", now.Add(-3*time.Minute), now.Add(10*time.Minute), "agent_a"),
		delegation(g1, "d2", now.Add(-2*time.Minute), now.Add(10*time.Minute), "agent_b", "agent_a"),
		delegation(g1, "d3", now.Add(-time.Minute), now.Add(10*time.Minute), "agent_a"),
		delegation(g1, "d-gone", now.Add(-time.Hour), now.Add(-time.Minute), "agent_a"),
		delegation(g2, "e1", now.Add(-time.Minute), now.Add(time.Minute), "agent_c"),
		delegation(g3, "f1", now.Add(-time.Minute), now.Add(time.Minute), "agent_c"),
	}
	for _, d := range ds {
		ok(t, s.CreateDelegation(ctx, d), "CreateDelegation "+d.TokenID)
	}
	list := func(ids []string, per int) []store.Delegation {
		t.Helper()
		got, err := s.ListDelegations(ctx, ids, now, per)
		ok(t, err, "ListDelegations")
		return got
	}
	tokens := func(ds []store.Delegation) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.TokenID)
		}
		return out
	}
	got := list([]string{g2.ID, g1.ID}, 10)
	equal(t, "live delegations, grants in the order named, newest first", tokens(got), []string{"e1", "d3", "d2", "d1"})
	equal(t, "a recorded delegation", got[2], ds[1])
	equal(t, "two per grant", tokens(list([]string{g1.ID, g2.ID, g3.ID}, 2)), []string{"d3", "d2", "e1", "f1"})
	equal(t, "no grants named", len(list(nil, 10)), 0)
	equal(t, "a grant with none", len(list([]string{"grt_none"}, 10)), 0)

	// Inside a transaction the record commits or rolls back with the rest.
	err := s.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateDelegation(ctx, delegation(g3, "f-rolled-back", now, now.Add(time.Minute), "agent_c")); err != nil {
			return err
		}
		return errRollback
	})
	wantErr(t, err, errRollback, "InTx returning an error")
	equal(t, "after a rollback", tokens(list([]string{g3.ID}, 10)), []string{"f1"})
}

func testDelegationRefused(t *testing.T, s store.Store) {
	ctx := t.Context()
	createOrg(t, s, "org_a")
	ann := createUser(t, s, "org_a", "ann@a.example", "Ann", "A")
	g := personGrant(t, s, ann, "dcr_1")
	d := delegation(g, "d1", past, future, "agent_a")
	ok(t, s.CreateDelegation(ctx, d), "CreateDelegation")
	wantErr(t, s.CreateDelegation(ctx, d), store.ErrConflict, "CreateDelegation of a recorded token")
	orphan := d
	orphan.TokenID, orphan.GrantID = "d2", "grt_missing"
	wantErr(t, s.CreateDelegation(ctx, orphan), store.ErrNotFound, "CreateDelegation of a grant that does not exist")
}

func testDelegationExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	createOrg(t, s, "org_a")
	ann := createUser(t, s, "org_a", "ann@a.example", "Ann", "A")
	kept, swept := personGrant(t, s, ann, "dcr_1"), personGrant(t, s, ann, "dcr_1")
	now := time.Now().UTC().Truncate(time.Microsecond)
	for _, d := range []store.Delegation{
		delegation(kept, "live", now, now.Add(time.Hour), "agent_a"),
		delegation(kept, "expired", past, now.Add(-time.Hour), "agent_a"),
		delegation(swept, "of-a-revoked-grant", now, now.Add(time.Hour), "agent_a"),
	} {
		ok(t, s.CreateDelegation(ctx, d), "CreateDelegation "+d.TokenID)
	}
	// The refresh tokens keep both grants; revoking one makes it go at the
	// sweep, and its delegations with it.
	createToken(t, s, "rt-kept", kept.ID, future)
	createToken(t, s, "rt-swept", swept.ID, future)
	ok(t, s.RevokeGrant(ctx, swept.ID), "RevokeGrant")
	_, err := s.DeleteExpired(ctx, now.Add(time.Minute))
	ok(t, err, "DeleteExpired")
	got, err := s.ListDelegations(ctx, []string{kept.ID, swept.ID}, now.Add(-2*time.Hour), 10)
	ok(t, err, "ListDelegations")
	if len(got) != 1 || got[0].TokenID != "live" {
		t.Fatalf("after DeleteExpired: %s, want only the live delegation of the kept grant", show(got))
	}
}
