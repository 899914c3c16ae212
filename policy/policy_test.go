package policy_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authz"
	"github.com/orgscope/orgscope/policy"
)

// withBuiltin returns the built-in policy followed by extra.
func withBuiltin(extra string) []byte {
	return append(policy.Builtin(), []byte("\n"+extra)...)
}

func compile(t *testing.T, src string) *policy.Set {
	t.Helper()
	s, err := policy.Compile("test.cedar", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var acme = &auth.Principal{ClientID: "acme-agent", Subject: "acme-agent", GrantType: "client_credentials",
	OrgCode: "org_acme", Scopes: auth.AllScopes}

func decide(t *testing.T, s *policy.Set, p *auth.Principal, tool string, stage authz.Stage, args map[string]any) authz.Decision {
	t.Helper()
	req := authz.Request{Principal: p, Action: mustAction(t, tool), Stage: stage}
	if stage == authz.StageCall {
		req.Org, req.Args = p.OrgCode, args
	}
	return s.Authorize(t.Context(), req)
}

// TestCompileProblems: a file that does not parse or validate is refused
// with the file, line and column of each problem.
func TestCompileProblems(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"syntax", "@id(\"a\")\npermit (principal, action, resource)\nwhen { context.args == };\n",
			[]string{"bad.cedar:3:", "does not parse"}},
		{"no id", "permit (principal, action, resource);\n", []string{"bad.cedar:1:1", "no @id"}},
		{"duplicate id", "@id(\"a\") permit (principal, action, resource);\n@id(\"a\") forbid (principal, action, resource);\n",
			[]string{"bad.cedar:2:1", `policy "a"`, "used twice"}},
		{"misspelt attribute", "\n\n@id(\"typo\")\nforbid (principal, action, resource) when { principal.scope.contains(\"x\") };\n",
			[]string{"bad.cedar:3:1", `policy "typo"`, "scope"}},
		{"argument of another tool", "@id(\"k\")\nforbid (principal, action, resource) when { context.args.key == \"x\" };\n",
			[]string{"bad.cedar:1:1", "key"}},
		{"unknown action", "@id(\"u\") forbid (principal, action == OrgScope::Action::\"drop_tables\", resource);\n",
			[]string{"bad.cedar:1:1", `policy "u"`}},
		{"optional read without has", "@id(\"o\") forbid (principal, action == OrgScope::Action::\"list_users\", resource) when { context.args.limit > 5 };\n",
			[]string{"bad.cedar:1:1", "limit"}},
		{"refusal on a permit", "@id(\"r\") @refusal(\"tenant\") permit (principal, action, resource);\n", []string{"@refusal belongs on a forbid"}},
		{"unknown refusal", "@id(\"r\") @refusal(\"nope\") forbid (principal, action, resource) when { false };\n", []string{`@refusal("nope")`}},
		{"approval on a forbid", "@id(\"a\") @approval(\"required\") forbid (principal, action, resource) when { false };\n", []string{"@approval belongs on a permit"}},
		{"approval value", "@id(\"a\") @approval(\"yes\") permit (principal, action, resource);\n", []string{`"required"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := policy.Compile("bad.cedar", []byte(tc.src))
			var le *policy.LoadError
			if !errors.As(err, &le) || len(le.Problems) == 0 {
				t.Fatalf("got %v, want a *LoadError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if p := le.Problems[0]; p.File != "bad.cedar" || (p.Line == 0 && !strings.Contains(tc.name, "syntax")) {
				t.Errorf("problem without a place: %+v", p)
			}
		})
	}
}

// TestListTimeIsPossiblyAllowed: without the arguments, a forbid that reads
// them does not hide a tool, and neither does a permit that needs them;
// with them, both decide. A forbid that does not read them hides the tool.
func TestListTimeIsPossiblyAllowed(t *testing.T) {
	s := compile(t, string(withBuiltin(`
@id("no-billing") @reason("billing flags are off limits")
forbid (principal, action == OrgScope::Action::"set_feature_flag", resource) when { context.args.key like "billing_*" };
@id("no-deletes")
forbid (principal, action == OrgScope::Action::"delete_user", resource);
`)))
	for _, stage := range []authz.Stage{authz.StageList, authz.StageRequest} {
		if d := decide(t, s, acme, "set_feature_flag", stage, nil); !d.Allow {
			t.Errorf("stage %d: set_feature_flag hidden: %+v", stage, d)
		}
		if d := decide(t, s, acme, "delete_user", stage, nil); d.Allow || !slices.Equal(d.Policies, []string{"no-deletes"}) {
			t.Errorf("stage %d: delete_user not refused by no-deletes: %+v", stage, d)
		}
	}
	d := decide(t, s, acme, "set_feature_flag", authz.StageCall, map[string]any{"key": "billing_plan", "value": "gold"})
	if d.Allow || d.Reason != authz.ReasonPolicy || !slices.Equal(d.Policies, []string{"no-billing"}) ||
		d.Message != `set_feature_flag is refused by policy "no-billing": billing flags are off limits` {
		t.Errorf("billing flag: %+v", d)
	}
	if d := decide(t, s, acme, "set_feature_flag", authz.StageCall, map[string]any{"key": "dark_mode", "value": true}); !d.Allow {
		t.Errorf("dark_mode: %+v", d)
	}

	// A permit that depends on the arguments shows the tool at list time.
	only := compile(t, `@id("small-pages") permit (principal, action == OrgScope::Action::"list_users", resource)
when { context.args has limit && context.args.limit <= 10 };`)
	if d := decide(t, only, acme, "list_users", authz.StageList, nil); !d.Allow {
		t.Errorf("list_users hidden at list time: %+v", d)
	}
	if d := decide(t, only, acme, "list_users", authz.StageCall, map[string]any{"limit": json.Number("50")}); d.Allow {
		t.Errorf("limit 50 allowed: %+v", d)
	}
	if d := decide(t, only, acme, "list_users", authz.StageCall, map[string]any{"limit": json.Number("5")}); !d.Allow {
		t.Errorf("limit 5 refused: %+v", d)
	}
	if d := decide(t, only, acme, "get_user", authz.StageList, nil); d.Allow || d.Message != "get_user is refused: no policy permits it" {
		t.Errorf("get_user with no permit: %+v", d)
	}
}

// TestGlobalPrincipalBeforeTheOrgIsKnown: a global principal names the
// organization in its arguments, so before the call a policy about the
// resource cannot hide a tool; the call decides.
func TestGlobalPrincipalBeforeTheOrgIsKnown(t *testing.T) {
	s := compile(t, string(withBuiltin(`
@id("hands-off-beta") forbid (principal, action, resource == OrgScope::Org::"org_beta");`)))
	global := &auth.Principal{ClientID: "admin", Subject: "admin", GrantType: "client_credentials", Scopes: auth.AllScopes}
	if d := decide(t, s, global, "list_users", authz.StageList, nil); !d.Allow {
		t.Errorf("list time: %+v", d)
	}
	call := func(org string) authz.Decision {
		return s.Authorize(t.Context(), authz.Request{Principal: global, Action: mustAction(t, "list_users"), Stage: authz.StageCall,
			Org: org, Args: map[string]any{"org_code": org}})
	}
	if d := call("org_beta"); d.Allow || !slices.Equal(d.Policies, []string{"hands-off-beta"}) {
		t.Errorf("org_beta: %+v", d)
	}
	if d := call("org_acme"); !d.Allow {
		t.Errorf("org_acme: %+v", d)
	}
}

// TestApproval: a call needs approval when every permit that allowed it
// asks for one; another permit that allows it without one wins.
func TestApproval(t *testing.T) {
	s := compile(t, `
@id("reads") permit (principal, action in OrgScope::Action::"read", resource);
@id("deletes") @approval("required") permit (principal, action == OrgScope::Action::"delete_user", resource);
@id("flags") @approval("required") permit (principal, action == OrgScope::Action::"set_feature_flag", resource);
@id("small-flags") permit (principal, action == OrgScope::Action::"set_feature_flag", resource) when { context.args.key == "dark_mode" };
`)
	args := map[string]any{"user_id": "usr_0123456789abcdef0123456789abcdef"}
	if d := decide(t, s, acme, "delete_user", authz.StageCall, args); !d.Allow || !d.NeedsApproval || !slices.Equal(d.Policies, []string{"deletes"}) {
		t.Errorf("delete_user: %+v", d)
	}
	if d := decide(t, s, acme, "delete_user", authz.StageRequest, nil); !d.Allow || d.NeedsApproval {
		t.Errorf("delete_user before dispatch: %+v (approval is decided with the arguments)", d)
	}
	if d := decide(t, s, acme, "set_feature_flag", authz.StageCall, map[string]any{"key": "theme", "value": "x"}); !d.NeedsApproval {
		t.Errorf("theme: %+v", d)
	}
	if d := decide(t, s, acme, "set_feature_flag", authz.StageCall, map[string]any{"key": "dark_mode", "value": true}); !d.Allow || d.NeedsApproval {
		t.Errorf("dark_mode: %+v", d)
	}
	if d := decide(t, s, acme, "list_users", authz.StageCall, map[string]any{}); !d.Allow || d.NeedsApproval {
		t.Errorf("list_users: %+v", d)
	}
}

// TestContext: what a policy can read about the principal and the call.
func TestContext(t *testing.T) {
	s := compile(t, string(withBuiltin(`
@id("enterprise-only") forbid (principal, action == OrgScope::Action::"create_user", resource)
unless { principal.hasTag("plan") && principal.getTag("plan") == "enterprise" };
@id("no-delegated-deletes") forbid (principal, action == OrgScope::Action::"delete_user", resource)
when { context.actor_chain.contains("bot-7") };
@id("support-purpose") forbid (principal, action == OrgScope::Action::"update_user", resource)
when { context.purpose == "support" && principal.kind == "agent" };
@id("raw-scopes") forbid (principal, action == OrgScope::Action::"list_users", resource)
unless { context.scopes.contains("read:users") };
`)))
	create := map[string]any{"email": "a@acme.example"}
	enterprise := *acme
	enterprise.Properties = map[string]string{"plan": "enterprise"}
	if d := decide(t, s, acme, "create_user", authz.StageCall, create); d.Allow {
		t.Errorf("no plan: %+v", d)
	}
	if d := decide(t, s, &enterprise, "create_user", authz.StageCall, create); !d.Allow {
		t.Errorf("enterprise plan: %+v", d)
	}
	delegated := &auth.Principal{ClientID: "bot-7", Subject: "usr_ann", OrgCode: "org_acme", Scopes: auth.AllScopes,
		ActorChain: []string{"bot-7"}, Purpose: "support", GrantType: "urn:ietf:params:oauth:grant-type:token-exchange"}
	user := map[string]any{"user_id": "usr_0123456789abcdef0123456789abcdef"}
	if d := decide(t, s, delegated, "delete_user", authz.StageCall, user); d.Allow {
		t.Errorf("delegated delete: %+v", d)
	}
	if d := decide(t, s, delegated, "update_user", authz.StageCall, user); d.Allow || !slices.Equal(d.Policies, []string{"support-purpose"}) {
		t.Errorf("support purpose: %+v", d)
	}
	// principal.scopes has the hierarchy, context.scopes what the token says.
	writer := *acme
	writer.Scopes = []string{"write:users"}
	if d := decide(t, s, &writer, "get_user", authz.StageCall, user); !d.Allow {
		t.Errorf("write:users reading a user: %+v", d)
	}
	if d := decide(t, s, &writer, "list_users", authz.StageCall, map[string]any{}); d.Allow || !slices.Equal(d.Policies, []string{"raw-scopes"}) {
		t.Errorf("raw scopes: %+v", d)
	}
}

// TestArguments: arguments become the types the schema declares; a value
// of another type refuses the call rather than guessing.
func TestArguments(t *testing.T) {
	s := compile(t, string(withBuiltin(`
@id("no-true") forbid (principal, action == OrgScope::Action::"set_feature_flag", resource) when { context.args.value == "true" };
@id("json-props") forbid (principal, action == OrgScope::Action::"update_organization", resource)
when { context.args has properties && context.args.properties like "*\"tier\":*" };
@id("big-pages") forbid (principal, action == OrgScope::Action::"list_users", resource) when { context.args has limit && context.args.limit > 50 };
@id("one-user") forbid (principal, action == OrgScope::Action::"get_user", resource) when { context.args.user_id == "usr_x" };
`)))
	if d := decide(t, s, acme, "set_feature_flag", authz.StageCall, map[string]any{"key": "dark_mode", "value": true}); d.Allow {
		t.Errorf("a JSON true is the text true: %+v", d)
	}
	if d := decide(t, s, acme, "update_organization", authz.StageCall,
		map[string]any{"properties": map[string]any{"tier": "gold", "a": nil}}); d.Allow {
		t.Errorf("properties as JSON text: %+v", d)
	}
	if d := decide(t, s, acme, "list_users", authz.StageCall, map[string]any{"limit": json.Number("99")}); d.Allow {
		t.Errorf("limit 99: %+v", d)
	}
	for _, bad := range []any{json.Number("2.5"), json.Number("1e400"), "50", true} {
		d := decide(t, s, acme, "list_users", authz.StageCall, map[string]any{"limit": bad})
		if d.Allow || d.Reason != authz.ReasonPolicy || !strings.Contains(d.Message, "args.limit") {
			t.Errorf("limit %#v: %+v", bad, d)
		}
	}
	if d := decide(t, s, acme, "get_user", authz.StageCall, map[string]any{}); d.Allow || !strings.Contains(d.Message, "args.user_id is missing") {
		t.Errorf("a required argument missing: %+v", d)
	}
	// Where no policy reads the arguments, they are not looked at.
	if d := decide(t, s, acme, "get_organization", authz.StageCall, map[string]any{"org_code": true}); !d.Allow {
		t.Errorf("arguments no policy reads: %+v", d)
	}
}

// TestBrokenForbidRefuses: a forbid that cannot be evaluated refuses the
// call instead of letting it through.
func TestBrokenForbidRefuses(t *testing.T) {
	// Integer overflow is a runtime error the validator cannot see.
	s := compile(t, string(withBuiltin(`
@id("overflow") forbid (principal, action == OrgScope::Action::"list_users", resource)
when { context.args has limit && context.args.limit * 9223372036854775807 > 0 };
`)))
	d := decide(t, s, acme, "list_users", authz.StageCall, map[string]any{"limit": json.Number("3")})
	if d.Allow || !slices.Equal(d.Policies, []string{"overflow"}) || !strings.Contains(d.Message, "could not be evaluated") {
		t.Errorf("a forbid in error: %+v", d)
	}
	if d := decide(t, s, acme, "list_users", authz.StageCall, map[string]any{}); !d.Allow {
		t.Errorf("the forbid's condition false: %+v", d)
	}
}

// TestOperatorActionsFollowTheRules: actions that are not tools (the
// command line's, the approval page's) are not in the schema, and the
// built-in rules decide them whatever the file says.
func TestOperatorActionsFollowTheRules(t *testing.T) {
	s := compile(t, `@id("nothing") forbid (principal, action, resource);`)
	person := &auth.Principal{ClientID: "console", Subject: "usr_ann", OrgCode: "org_acme", GrantID: "grt_1", PersonRole: "admin"}
	d := s.Authorize(t.Context(), authz.Request{Principal: person, Action: mustAction(t, "approve_call"), Stage: authz.StageCall, Org: "org_acme"})
	if !d.Allow {
		t.Errorf("approve_call: %+v", d)
	}
	if d := decide(t, s, acme, "whoami", authz.StageCall, map[string]any{}); d.Allow {
		t.Errorf("whoami under forbid-everything: %+v", d)
	}
}
