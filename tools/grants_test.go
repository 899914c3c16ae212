package tools_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authz"
	"github.com/orgscope/orgscope/service"
	"github.com/orgscope/orgscope/store"
)

// people is acme's admin Ann and member Bob, beta's Cat, and their grants
// to a desktop app: Ann one, Bob two (an agent acts for him through the
// first), Cat one.
type people struct {
	ann, bob, cat            store.User
	annG, bobG1, bobG2, catG store.Grant
	agent                    store.Client
}

func (e *env) addPeople() people {
	e.t.Helper()
	ctx := e.t.Context()
	var p people
	p.ann, p.bob, p.cat = e.addUser(acme, "ann@acme.example"), e.addUser(acme, "Bob@acme.example"), e.addUser(beta, "cat@beta.example")
	admin := store.RoleAdmin
	if _, err := e.st.UpdateUser(ctx, acme, p.ann.ID, store.UserUpdate{Role: &admin}); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.st.CreateClient(ctx, store.Client{ID: "dcr_desktop", Name: "Desktop app", Kind: store.ClientRegistered,
		GrantTypes: []string{"authorization_code"}, TokenEndpointAuthMethod: "none"}); err != nil {
		e.t.Fatal(err)
	}
	grant := func(u store.User) store.Grant {
		g := store.Grant{ID: store.NewID(store.GrantIDPrefix), ClientID: "dcr_desktop", OrgCode: u.OrgCode, UserID: u.ID,
			Scopes: []string{"read:users", "write:grants"}, Resource: "https://mcp.example/mcp"}
		if err := e.st.CreateGrant(ctx, g); err != nil {
			e.t.Fatal(err)
		}
		got, _ := e.st.GetGrant(ctx, g.ID)
		return got
	}
	p.annG, p.bobG1, p.bobG2, p.catG = grant(p.ann), grant(p.bob), grant(p.bob), grant(p.cat)
	p.agent, _ = e.addClient(acme, "read:users", "read:grants")
	now := time.Now()
	if err := e.st.CreateDelegation(ctx, store.Delegation{TokenID: "jti-delegated", GrantID: p.bobG1.ID, OrgCode: acme, UserID: p.bob.ID,
		ClientID: p.agent.ID, ActorChain: []string{p.agent.ID}, SubjectTokenID: "jti-bob", Scopes: []string{"read:users"},
		Purpose: "ticket 42", CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// personP is a person's principal from the sign-in flow: subject the
// user, a grant.
func personP(u store.User, g store.Grant, scopes ...string) *auth.Principal {
	p := orgP(u.OrgCode, scopes...)
	p.Subject, p.ClientID, p.GrantID, p.GrantType = u.ID, g.ClientID, g.ID, "authorization_code"
	return p
}

func grantIDsOf(out service.ListDelegationsOutput) []string {
	var ids []string
	for _, g := range out.Grants {
		ids = append(ids, g.GrantID)
	}
	return ids
}

// TestListDelegations: a person sees their own grants and what acts for
// them; an administrator, or a machine client given the scope, the
// organization's; a global principal any organization's.
func TestListDelegations(t *testing.T) {
	e := newEnv(t)
	pp := e.addPeople()
	bob := personP(pp.bob, pp.bobG1, auth.ScopeReadGrants)
	out := ok[service.ListDelegationsOutput](e, bob, "list_delegations", nil)
	if got := grantIDsOf(out); !slices.Equal(got, []string{pp.bobG1.ID, pp.bobG2.ID}) {
		t.Fatalf("Bob sees %v", got)
	}
	g := out.Grants[0]
	if g.Email != "Bob@acme.example" || g.ClientName != "Desktop app" || g.ClientID != "dcr_desktop" || g.RevokedAt != nil ||
		len(g.Delegations) != 1 || len(out.Grants[1].Delegations) != 0 {
		t.Fatalf("Bob's first grant %+v", g)
	}
	if d := g.Delegations[0]; d.ClientID != pp.agent.ID || !slices.Equal(d.ActorChain, []string{pp.agent.ID}) || d.Purpose != "ticket 42" ||
		!slices.Equal(d.Scopes, []string{"read:users"}) || d.TokenID != "jti-delegated" || time.Until(d.ExpiresAt) < 9*time.Minute {
		t.Errorf("what acts for Bob: %+v", d)
	}
	e.fails(bob, "list_delegations", map[string]any{"user_id": pp.ann.ID}, "sees only their own grants")
	if got := grantIDsOf(ok[service.ListDelegationsOutput](e, bob, "list_delegations", map[string]any{"user_id": pp.bob.ID})); len(got) != 2 {
		t.Errorf("Bob naming himself: %v", got)
	}

	// The agent acting for Bob sees what Bob sees.
	delegated := personP(pp.bob, pp.bobG1, auth.ScopeReadGrants)
	delegated.ClientID, delegated.ActorChain = pp.agent.ID, []string{pp.agent.ID}
	if got := grantIDsOf(ok[service.ListDelegationsOutput](e, delegated, "list_delegations", nil)); len(got) != 2 {
		t.Errorf("Bob's agent sees %v", got)
	}

	ann := personP(pp.ann, pp.annG, auth.ScopeReadGrants)
	if got := grantIDsOf(ok[service.ListDelegationsOutput](e, ann, "list_delegations", nil)); !slices.Equal(got, []string{pp.annG.ID, pp.bobG1.ID, pp.bobG2.ID}) {
		t.Errorf("the administrator sees %v", got)
	}
	if got := grantIDsOf(ok[service.ListDelegationsOutput](e, ann, "list_delegations", map[string]any{"email": "bob@ACME.example"})); len(got) != 2 {
		t.Errorf("the administrator asking for Bob's by email: %v", got)
	}
	machine := orgP(acme, auth.ScopeReadGrants)
	if got := grantIDsOf(ok[service.ListDelegationsOutput](e, machine, "list_delegations", map[string]any{"user_id": pp.ann.ID})); !slices.Equal(got, []string{pp.annG.ID}) {
		t.Errorf("a machine client of acme asking for Ann's: %v", got)
	}
	e.fails(machine, "list_delegations", map[string]any{"org_code": beta}, `organization "org_beta" not found`)
	global := globalP(auth.ScopeReadGrants)
	if got := grantIDsOf(ok[service.ListDelegationsOutput](e, global, "list_delegations", map[string]any{"org_code": beta})); !slices.Equal(got, []string{pp.catG.ID}) {
		t.Errorf("global, beta: %v", got)
	}
	if got := grantIDsOf(ok[service.ListDelegationsOutput](e, global, "list_delegations", nil)); len(got) != 4 {
		t.Errorf("global, every org: %v", got)
	}
	e.fails(bob, "list_delegations", map[string]any{"user_id": "usr_x"}, "user_id", "not valid")
}

// TestRevokeDelegation: a person revokes their own grant (and what was
// delegated from it), never another's; an administrator any of the
// organization's; a global principal any, recorded in the grant's org.
func TestRevokeDelegation(t *testing.T) {
	e := newEnv(t)
	pp := e.addPeople()
	bob := personP(pp.bob, pp.bobG2, auth.ScopeWriteGrants)
	before := e.dump()
	e.fails(bob, "revoke_delegation", map[string]any{"grant_id": pp.annG.ID}, "not found")
	e.fails(bob, "revoke_delegation", map[string]any{"grant_id": pp.catG.ID}, "not found")
	e.fails(orgP(beta, auth.ScopeWriteGrants), "revoke_delegation", map[string]any{"grant_id": pp.annG.ID}, "not found")
	e.fails(bob, "revoke_delegation", map[string]any{"grant_id": "grt_nope"}, "grant_id", "not valid")
	e.fails(orgP(acme, auth.ScopeReadGrants), "revoke_delegation", map[string]any{"grant_id": pp.annG.ID}, "needs scope write:grants")
	e.unchanged(before, "refused revocations")

	out := ok[service.RevokeDelegationOutput](e, bob, "revoke_delegation", map[string]any{"grant_id": pp.bobG2.ID})
	if out.AlreadyRevoked || out.Grant.RevokedAt == nil || out.Grant.GrantID != pp.bobG2.ID || out.Grant.Email != "Bob@acme.example" {
		t.Errorf("Bob revoking his own: %+v", out)
	}
	e.lastEvent(acme, bob, "revoke_delegation", pp.bobG2.ID)
	if again := ok[service.RevokeDelegationOutput](e, bob, "revoke_delegation", map[string]any{"grant_id": pp.bobG2.ID}); !again.AlreadyRevoked {
		t.Errorf("revoking again: %+v", again)
	}

	ann := personP(pp.ann, pp.annG, auth.ScopeWriteGrants)
	out = ok[service.RevokeDelegationOutput](e, ann, "revoke_delegation", map[string]any{"grant_id": pp.bobG1.ID})
	if out.Grant.RevokedAt == nil || len(out.Grant.Delegations) != 1 || out.Grant.Delegations[0].ClientID != pp.agent.ID {
		t.Errorf("the administrator revoking Bob's grant, an agent acting through it: %+v", out)
	}
	if g, _ := e.st.GetGrant(t.Context(), pp.bobG1.ID); !g.Revoked() {
		t.Error("the grant is not revoked in the store")
	}
	listed := ok[service.ListDelegationsOutput](e, ann, "list_delegations", map[string]any{"user_id": pp.bob.ID, "include_revoked": true})
	if len(listed.Grants) != 2 || listed.Grants[0].RevokedAt == nil || len(listed.Grants[0].Delegations) != 0 {
		t.Errorf("a revoked grant listed: %+v (nothing acts through it any more)", listed)
	}
	if standing := ok[service.ListDelegationsOutput](e, ann, "list_delegations", map[string]any{"user_id": pp.bob.ID}); len(standing.Grants) != 0 {
		t.Errorf("Bob's standing grants after both were revoked: %+v", standing)
	}

	global := globalP(auth.ScopeWriteGrants)
	ok[service.RevokeDelegationOutput](e, global, "revoke_delegation", map[string]any{"grant_id": pp.catG.ID})
	e.lastEvent(beta, global, "revoke_delegation", pp.catG.ID)
	if g, _ := e.st.GetGrant(t.Context(), pp.annG.ID); g.Revoked() {
		t.Error("Ann's grant was revoked along the way")
	}
}

// TestWhoamiDelegated: whoami says who a delegated token acts for, through
// which agents, via which app, for what — and what person ∩ agent leaves
// it.
func TestWhoamiDelegated(t *testing.T) {
	e := newEnv(t)
	pp := e.addPeople()
	p := personP(pp.bob, pp.bobG1, auth.ScopeWriteUsers, auth.ScopeReadGrants)
	p.ClientID, p.ActorChain, p.Purpose = pp.agent.ID, []string{pp.agent.ID, "sub-agent-x"}, "ticket 42"
	p.Bounds = []auth.Bound{{Party: auth.BoundRole, Name: "member", Scopes: authz.RoleScopes("member")},
		{Party: auth.BoundClient, Name: pp.agent.ID, Scopes: pp.agent.Scopes}}
	got := ok[service.WhoamiOutput](e, p, "whoami", nil)
	d := got.Delegation
	if d == nil || d.PersonEmail != "Bob@acme.example" || d.PersonID != pp.bob.ID || d.Via == nil || d.Via.Name != "Desktop app" ||
		len(d.Actors) != 2 || d.Actors[0].Name != "agent of org_acme" || d.Actors[1].Name != "" || d.GrantID != pp.bobG1.ID {
		t.Fatalf("delegation %+v", d)
	}
	want := `agent "agent of org_acme" (` + pp.agent.ID + `) acting for Bob@acme.example, through agent sub-agent-x, ` +
		`via client "Desktop app" (dcr_desktop), purpose "ticket 42"`
	if d.Summary != want {
		t.Errorf("summary\n got %s\nwant %s", d.Summary, want)
	}
	if !slices.Equal(got.EffectiveScopes, []string{"read:users", "read:grants"}) || !slices.Equal(got.Tools, []string{"whoami", "list_users", "get_user", "list_delegations"}) {
		t.Errorf("effective scopes %v, tools %v", got.EffectiveScopes, got.Tools)
	}
	if e.fails(p, "create_user", map[string]any{"email": "x@acme.example"}, "carries it, but the person's role member") == "" {
		t.Error("no refusal")
	}
	if plain := ok[service.WhoamiOutput](e, orgP(acme, auth.ScopeWriteUsers), "whoami", nil); plain.Delegation != nil || plain.EffectiveScopes != nil ||
		strings.Contains(string(e.call(orgP(acme), "whoami", nil).raw), "delegation") {
		t.Errorf("a token nobody acts for: %+v", plain)
	}
}
