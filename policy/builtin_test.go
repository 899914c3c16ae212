package policy_test

import (
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authz"
	"github.com/orgscope/orgscope/policy"
)

func builtin(t testing.TB) *policy.Set {
	t.Helper()
	s, err := policy.CompileBuiltin()
	if err != nil {
		t.Fatalf("the built-in policy: %v", err)
	}
	return s
}

// TestBuiltinIsTheRules: the built-in policy decides every tool exactly as
// the compiled rules (authz.Rules) do — allow or deny, reason, message and
// missing scopes — for every set of the tools' scopes (with write scopes
// implying read ones), for org-scoped and global principals, at list time,
// before dispatch, and at call time on the principal's own organization,
// another one and none. An agent acting for an admin is decided the same
// way too.
func TestBuiltinIsTheRules(t *testing.T) {
	s := builtin(t)
	scopes := auth.AllScopes
	compared := 0
	for set := range 1 << len(scopes) {
		var held []string
		for i, sc := range scopes {
			if set&(1<<i) != 0 {
				held = append(held, sc)
			}
		}
		principals := []*auth.Principal{
			{ClientID: "m1", Subject: "m1", GrantType: "client_credentials", OrgCode: "org_acme", Scopes: held},
			{ClientID: "g1", Subject: "g1", GrantType: "client_credentials", Scopes: held},
			{ClientID: "agent", Subject: "usr_ann", GrantType: "authorization_code", OrgCode: "org_acme", Scopes: held, PersonRole: "admin"},
		}
		for _, p := range principals {
			for _, a := range authz.Tools() {
				reqs := []authz.Request{
					{Principal: p, Action: a, Stage: authz.StageList},
					{Principal: p, Action: a, Stage: authz.StageRequest},
					{Principal: p, Action: a, Stage: authz.StageCall, Org: "org_acme", Args: map[string]any{}},
					{Principal: p, Action: a, Stage: authz.StageCall, Org: "org_beta", Args: map[string]any{}},
					{Principal: p, Action: a, Stage: authz.StageCall, Org: "", Args: map[string]any{}},
				}
				for _, req := range reqs {
					req.Args = argsFor(a.Name)
					if req.Stage != authz.StageCall {
						req.Args = nil
					}
					want := authz.Rules{}.Authorize(t.Context(), req)
					got := s.Authorize(t.Context(), req)
					compared++
					if got.Allow != want.Allow || got.Reason != want.Reason || got.Message != want.Message ||
						!slices.Equal(got.Missing, want.Missing) || got.NeedsApproval {
						t.Fatalf("%s by %s %v at stage %d on %q:\n got  %+v\n want %+v", a.Name, p.ClientID, held, req.Stage, req.Org, got, want)
					}
				}
			}
		}
	}
	t.Logf("%d decisions compared", compared)
}

// argsFor gives each tool arguments that satisfy its schema's required
// members.
func argsFor(tool string) map[string]any {
	switch tool {
	case "get_user", "delete_user", "update_user":
		return map[string]any{"user_id": "usr_0123456789abcdef0123456789abcdef"}
	case "create_user":
		return map[string]any{"email": "a@b.example"}
	case "create_organization":
		return map[string]any{"org_code": "org_new", "name": "New"}
	case "get_feature_flag", "reset_feature_flag", "delete_feature_flag":
		return map[string]any{"key": "dark_mode"}
	case "set_feature_flag":
		return map[string]any{"key": "dark_mode", "value": true}
	case "create_feature_flag":
		return map[string]any{"key": "k", "type": "boolean", "default_value": false}
	case "create_client":
		return map[string]any{"name": "Agent", "scopes": []any{"read:users"}}
	case "rotate_client_secret", "disable_client":
		return map[string]any{"client_id": "c1"}
	case "revoke_delegation":
		return map[string]any{"grant_id": "grt_0123456789abcdef0123456789abcdef"}
	}
	return map[string]any{}
}

// TestBuiltinMemberCap: an agent acting for a member is held to what a
// member may consent to. With a token capped at consent (the usual case)
// that is exactly the rules' answer; with a token that still carries more
// (the person was demoted since), the built-in policy refuses the rest.
func TestBuiltinMemberCap(t *testing.T) {
	s := builtin(t)
	capped := &auth.Principal{ClientID: "agent", Subject: "usr_m", GrantType: "authorization_code", OrgCode: "org_acme",
		Scopes: authz.RoleScopes("member"), PersonRole: "member"}
	for _, a := range authz.Tools() {
		req := authz.Request{Principal: capped, Action: a, Stage: authz.StageCall, Org: "org_acme", Args: argsFor(a.Name)}
		want, got := authz.Rules{}.Authorize(t.Context(), req), s.Authorize(t.Context(), req)
		if got.Allow != want.Allow || got.Reason != want.Reason || !slices.Equal(got.Missing, want.Missing) {
			t.Errorf("%s for a member: got %+v, want %+v", a.Name, got, want)
		}
	}
	demoted := *capped
	demoted.Scopes = auth.AllScopes
	d := s.Authorize(t.Context(), authz.Request{Principal: &demoted, Action: mustAction(t, "delete_user"), Stage: authz.StageCall,
		Org: "org_acme", Args: argsFor("delete_user")})
	if d.Allow || d.Reason != authz.ReasonPolicy || !slices.Equal(d.Policies, []string{"member-reads-only"}) {
		t.Errorf("delete_user for a demoted admin's token: %+v", d)
	}
}

func mustAction(t testing.TB, name string) authz.Action {
	t.Helper()
	a, ok := authz.Lookup(name)
	if !ok {
		t.Fatalf("no action %s", name)
	}
	return a
}

// TestExampleTests runs the example test files against their policies, as
// `orgscope policy test` would; every expectation must hold.
func TestExampleTests(t *testing.T) {
	for _, ex := range []struct{ policy, tests string }{
		{"", "builtin_tests.json"},
		{"examples/custom.cedar", "examples/custom_tests.json"},
	} {
		t.Run(ex.tests, func(t *testing.T) {
			s := builtin(t)
			if ex.policy != "" {
				src, err := os.ReadFile(ex.policy)
				if err != nil {
					t.Fatal(err)
				}
				if s, err = policy.Compile(ex.policy, src); err != nil {
					t.Fatal(err)
				}
			}
			data, err := os.ReadFile(ex.tests)
			if err != nil {
				t.Fatal(err)
			}
			f, err := policy.ParseTests(data)
			if err != nil {
				t.Fatal(err)
			}
			results := policy.RunTests(t.Context(), s, f)
			if len(results) != len(f.Tests) || len(results) < 5 {
				t.Fatalf("%d results for %d cases", len(results), len(f.Tests))
			}
			for _, r := range results {
				if r.Failure != "" {
					t.Errorf("%s: %s", r.Case.Name, r.Failure)
				}
			}
		})
	}
}

// TestBuiltinPoliciesAreNamed: every policy of the built-in file has an id
// and a reason, so that a refusal can name both.
func TestBuiltinPoliciesAreNamed(t *testing.T) {
	s := builtin(t)
	if ids := s.IDs(); len(ids) < 10 {
		t.Fatalf("only %d policies: %v", len(ids), ids)
	}
	d := s.Authorize(t.Context(), authz.Request{Principal: &auth.Principal{ClientID: "m", Subject: "m", OrgCode: "org_acme"},
		Action: mustAction(t, "list_users"), Stage: authz.StageCall, Org: "org_acme", Args: map[string]any{}})
	if d.Allow || fmt.Sprint(d.Policies) != "[scope-read-users]" {
		t.Errorf("list_users without scopes: %+v", d)
	}
}
