package authz_test

import (
	"slices"
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
	for _, s := range authz.RoleScopes("member") {
		if s[:5] != "read:" {
			t.Errorf("a member may grant %s", s)
		}
	}
}
