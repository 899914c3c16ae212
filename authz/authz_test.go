package authz_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authz"
)

func action(t *testing.T, name string) authz.Action {
	t.Helper()
	a, ok := authz.Lookup(name)
	if !ok {
		t.Fatalf("no action %s", name)
	}
	return a
}

func TestRules(t *testing.T) {
	acme := &auth.Principal{ClientID: "c1", OrgCode: "org_acme", Scopes: []string{"write:users"}}
	global := &auth.Principal{ClientID: "g1", Scopes: []string{"write:orgs", "read:users"}}
	tests := []struct {
		name    string
		req     authz.Request
		allow   bool
		reason  string
		missing []string
	}{
		{"write implies read", authz.Request{Principal: acme, Action: action(t, "list_users"), Stage: authz.StageRequest}, true, authz.ReasonAllowed, nil},
		{"nothing implies delete", authz.Request{Principal: acme, Action: action(t, "delete_user"), Stage: authz.StageRequest}, false, authz.ReasonInsufficientScope, []string{"delete:users"}},
		{"whoami needs no scope", authz.Request{Principal: acme, Action: action(t, "whoami"), Stage: authz.StageList}, true, authz.ReasonAllowed, nil},
		{"org-scoped may not create orgs", authz.Request{Principal: &auth.Principal{OrgCode: "org_acme", Scopes: []string{"write:orgs"}},
			Action: action(t, "create_organization"), Stage: authz.StageRequest}, false, authz.ReasonGlobalOnly, nil},
		{"global creates orgs", authz.Request{Principal: global, Action: action(t, "create_organization"), Stage: authz.StageCall}, true, authz.ReasonAllowed, nil},
		{"own org", authz.Request{Principal: acme, Action: action(t, "create_user"), Org: "org_acme", Stage: authz.StageCall}, true, authz.ReasonAllowed, nil},
		{"other org", authz.Request{Principal: acme, Action: action(t, "create_user"), Org: "org_beta", Stage: authz.StageCall}, false, authz.ReasonTenant, nil},
		{"global names any org", authz.Request{Principal: global, Action: action(t, "list_users"), Org: "org_beta", Stage: authz.StageCall}, true, authz.ReasonAllowed, nil},
		{"no principal", authz.Request{Action: action(t, "whoami"), Stage: authz.StageRequest}, false, authz.ReasonNoPrincipal, nil},
	}
	for _, tt := range tests {
		d := authz.Rules{}.Authorize(t.Context(), tt.req)
		if d.Allow != tt.allow || d.Reason != tt.reason || !slices.Equal(d.Missing, tt.missing) {
			t.Errorf("%s: %+v, want allow=%v reason=%s missing=%v", tt.name, d, tt.allow, tt.reason, tt.missing)
		}
		if !d.Allow && d.Message == "" {
			t.Errorf("%s: a denial without a message", tt.name)
		}
	}
}

func TestVisible(t *testing.T) {
	p := &auth.Principal{OrgCode: "org_acme", Scopes: []string{"read:flags"}}
	got := authz.Visible(t.Context(), authz.Rules{}, p)
	if want := []string{"whoami", "list_feature_flags", "get_feature_flag"}; !slices.Equal(got, want) {
		t.Errorf("Visible = %v, want %v", got, want)
	}
}

func TestRoleScopes(t *testing.T) {
	if got := authz.RoleScopes("admin"); !slices.Equal(got, auth.AllScopes) {
		t.Errorf("admin: %v", got)
	}
	// A member reads, and changes nothing of the organization: the one
	// write is over their own grants (the service keeps them to their own).
	for _, s := range authz.RoleScopes("member") {
		if s[:5] != "read:" && s != auth.ScopeWriteGrants {
			t.Errorf("a member may grant %s", s)
		}
	}
}

// TestEffectiveScopes: a principal's usable scopes are its token's
// narrowed by every bound (the person's role, each acting client), under
// the hierarchy; without bounds they are the token's as issued.
func TestEffectiveScopes(t *testing.T) {
	role := func(name string) auth.Bound {
		return auth.Bound{Party: auth.BoundRole, Name: name, Scopes: authz.RoleScopes(name)}
	}
	client := func(id string, scopes ...string) auth.Bound {
		return auth.Bound{Party: auth.BoundClient, Name: id, Scopes: scopes}
	}
	for _, tc := range []struct {
		name string
		p    *auth.Principal
		want []string
	}{
		{"no bounds", &auth.Principal{Scopes: []string{"write:users", "custom:x"}}, []string{"write:users", "custom:x"}},
		{"an admin acting herself", &auth.Principal{Scopes: []string{"write:users"}, Bounds: []auth.Bound{role("admin")}},
			[]string{"read:users", "write:users"}},
		{"a member's role caps a token it once allowed", &auth.Principal{Scopes: []string{"write:users", "read:flags"},
			Bounds: []auth.Bound{role("member")}}, []string{"read:users", "read:flags"}},
		{"person ∩ agent", &auth.Principal{Scopes: []string{"write:users", "write:flags"},
			Bounds: []auth.Bound{role("admin"), client("agent", "read:users", "write:flags")}},
			[]string{"read:users", "read:flags", "write:flags"}},
		{"person ∩ agent ∩ sub-agent", &auth.Principal{Scopes: []string{"write:users", "write:flags"},
			Bounds: []auth.Bound{role("admin"), client("sub", "read:flags"), client("agent", "write:users", "write:flags")}},
			[]string{"read:flags"}},
		{"an agent allowed nothing of it", &auth.Principal{Scopes: []string{"read:users"},
			Bounds: []auth.Bound{role("admin"), client("agent", "read:orgs")}}, nil},
	} {
		if got := authz.EffectiveScopes(tc.p); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestRulesOutsideBounds: a delegated call is decided on person ∩ agent.
// A scope the token lacks is insufficient_scope (asking for another token
// may help); one the token carries but the person's role or an acting
// client does not allow is outside_bounds, naming who refuses.
func TestRulesOutsideBounds(t *testing.T) {
	p := &auth.Principal{ClientID: "agent", OrgCode: "org_acme", Scopes: []string{"write:users", "read:flags"},
		ActorChain: []string{"agent"}, Bounds: []auth.Bound{
			{Party: auth.BoundRole, Name: "member", Scopes: authz.RoleScopes("member")},
			{Party: auth.BoundClient, Name: "agent", Scopes: []string{"write:users"}},
		}}
	req := func(name string) authz.Request {
		return authz.Request{Principal: p, Action: action(t, name), Org: "org_acme", Stage: authz.StageCall}
	}
	rules := authz.Rules{}
	if d := rules.Authorize(t.Context(), req("list_users")); !d.Allow {
		t.Errorf("read:users, allowed by the token, the role and the agent: %+v", d)
	}
	d := authz.Rules{}.Authorize(t.Context(), req("create_user"))
	if d.Allow || d.Reason != authz.ReasonOutsideBounds || len(d.Missing) != 0 ||
		!strings.Contains(d.Message, "the person's role member does not allow it") || strings.Contains(d.Message, "client agent") {
		t.Errorf("write:users beyond the role: %+v", d)
	}
	d = authz.Rules{}.Authorize(t.Context(), req("get_feature_flag"))
	if d.Allow || d.Reason != authz.ReasonOutsideBounds || !strings.Contains(d.Message, "the acting client agent does not allow it") {
		t.Errorf("read:flags beyond the agent: %+v", d)
	}
	d = authz.Rules{}.Authorize(t.Context(), req("delete_user"))
	if d.Allow || d.Reason != authz.ReasonInsufficientScope || !slices.Equal(d.Missing, []string{"delete:users"}) {
		t.Errorf("a scope the token lacks: %+v", d)
	}
	if got := authz.Visible(t.Context(), authz.Rules{}, p); !slices.Equal(got, []string{"whoami", "list_users", "get_user"}) {
		t.Errorf("tools shown to the delegated principal: %v", got)
	}
}

// widening allows everything, as a policy file that permits all and
// forbids nothing would.
type widening struct{}

func (widening) Authorize(context.Context, authz.Request) authz.Decision {
	return authz.Decision{Allow: true, Reason: authz.ReasonAllowed}
}

// TestBoundedPolicyCannotWiden: whatever a policy allows, the token's
// scopes, the global-only actions and the tenant boundary hold; what the
// policy refuses stays refused.
func TestBoundedPolicyCannotWiden(t *testing.T) {
	az := authz.Bounded(widening{})
	org := &auth.Principal{ClientID: "c", Subject: "c", OrgCode: "org_acme", Scopes: []string{"read:users"}}
	for _, tc := range []struct {
		tool, org string
		reason    string
	}{
		{"create_user", "org_acme", authz.ReasonInsufficientScope},
		{"list_organizations", "", authz.ReasonInsufficientScope},
		{"list_users", "org_beta", authz.ReasonTenant},
		{"list_users", "org_acme", authz.ReasonAllowed},
	} {
		a, _ := authz.Lookup(tc.tool)
		d := az.Authorize(t.Context(), authz.Request{Principal: org, Action: a, Stage: authz.StageCall, Org: tc.org})
		if d.Reason != tc.reason || d.Allow != (tc.reason == authz.ReasonAllowed) {
			t.Errorf("%s on %q under a policy that allows all: %+v, want %s", tc.tool, tc.org, d, tc.reason)
		}
	}
	global := &auth.Principal{ClientID: "g", Subject: "g", Scopes: []string{"read:orgs"}}
	a, _ := authz.Lookup("list_organizations")
	if d := az.Authorize(t.Context(), authz.Request{Principal: global, Action: a, Stage: authz.StageCall}); !d.Allow {
		t.Errorf("list_organizations for a global token: %+v", d)
	}
	if _, ok := authz.Bounded(authz.Rules{}).(authz.Rules); !ok || authz.Bounded(authz.Bounded(widening{})) != authz.Bounded(widening{}) {
		t.Error("Bounded should neither wrap Rules nor wrap twice")
	}
	if _, ok := authz.Bounded(nil).(authz.Rules); !ok {
		t.Error("Bounded(nil) should be Rules")
	}
}
