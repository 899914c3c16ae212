package app

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orgscope/orgscope/policy"
)

const examples = "../../../policy/examples/"

// TestPolicyTestExitCode: `orgscope policy test` passes (exit 0) when every
// expectation holds and fails CI (exit 1) when one does not, naming the
// case and the difference; a broken test file is an error too.
func TestPolicyTestExitCode(t *testing.T) {
	code, out, errOut := run(t, nil, "policy", "test", "--policy", examples+"custom.cedar", examples+"custom_tests.json")
	if code != 0 || !strings.Contains(out, "9 passed, 0 failed") {
		t.Fatalf("the example tests: exit %d\n%s%s", code, out, errOut)
	}
	// The operand may come before the flag, too.
	if code, out, _ := run(t, nil, "policy", "test", examples+"custom_tests.json", "--policy", examples+"custom.cedar"); code != 0 {
		t.Fatalf("operand first: exit %d\n%s", code, out)
	}

	dir := t.TempDir()
	wrong := filepath.Join(dir, "wrong.json")
	os.WriteFile(wrong, []byte(`{"tests": [
		{"name": "reads its users", "principal": {"client_id": "a", "org": "org_acme", "scopes": ["read:users"]},
		 "tool": "list_users", "expect": "allow"},
		{"name": "a wrong expectation", "principal": {"client_id": "a", "org": "org_acme", "scopes": ["read:users"]},
		 "tool": "delete_user", "args": {"user_id": "usr_0123456789abcdef0123456789abcdef"}, "expect": "allow"}
	]}`), 0o644)
	code, out, errOut = run(t, nil, "policy", "test", wrong)
	if code != 1 {
		t.Fatalf("a failing case: exit %d, want 1\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"FAIL  a wrong expectation", "expected allow, got deny", "1 passed, 1 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not say %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "1 of 2 policy tests failed") || strings.Contains(out, "reads its users") {
		t.Errorf("stderr %q; passing cases are printed only with -v:\n%s", errOut, out)
	}

	misspelt := filepath.Join(dir, "misspelt.json")
	os.WriteFile(misspelt, []byte(`{"tests": [{"name": "x", "principal": {"client_id": "a", "scopes": []}, "tool": "whoami", "expected": "allow"}]}`), 0o644)
	if code, _, errOut := run(t, nil, "policy", "test", misspelt); code != 1 || !strings.Contains(errOut, `unknown field "expected"`) {
		t.Errorf("a misspelt member: exit %d, %s", code, errOut)
	}
	if code, _, errOut := run(t, nil, "policy", "test"); code != 2 || !strings.Contains(errOut, "name the test file") {
		t.Errorf("no test file: exit %d, %s", code, errOut)
	}
}

// TestPolicyValidate: a good file is ok; a broken one exits 1 with the
// file, line and column of each problem; without a file the built-in
// policy is checked.
func TestPolicyValidate(t *testing.T) {
	if code, out, _ := run(t, nil, "policy", "validate"); code != 0 || !strings.HasPrefix(out, "builtin.cedar: ok,") {
		t.Errorf("the built-in policy: exit %d, %q", code, out)
	}
	if code, out, _ := run(t, nil, "policy", "validate", examples+"custom.cedar"); code != 0 || !strings.Contains(out, "custom.cedar: ok, 16 policies") {
		t.Errorf("the example: exit %d, %q", code, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.cedar")
	os.WriteFile(bad, []byte("@id(\"a\")\npermit (principal, action, resource);\n\n@id(\"b\")\nforbid (principal, action == OrgScope::Action::\"set_feature_flag\", resource)\nwhen { context.args.key == 3 };\n"), 0o644)
	code, _, errOut := run(t, nil, "policy", "validate", bad)
	if code != 1 || !strings.Contains(errOut, "orgscope: "+bad+":4:1: policy \"b\": ") {
		t.Errorf("a policy comparing a String with a Long: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := run(t, nil, "policy", "validate", "a.cedar", "b.cedar"); code != 2 || !strings.Contains(errOut, `unexpected argument "b.cedar"`) {
		t.Errorf("two files: exit %d, %s", code, errOut)
	}
}

// TestPolicyPrints: default prints the built-in policy, schema the schema.
func TestPolicyPrints(t *testing.T) {
	if _, out, _ := run(t, nil, "policy", "default"); out != string(policy.Builtin()) {
		t.Error("policy default is not the built-in policy")
	}
	if _, out, _ := run(t, nil, "policy", "schema"); out != string(policy.Schema()) || !strings.Contains(out, "namespace OrgScope") {
		t.Error("policy schema is not the schema")
	}
	if code, _, errOut := run(t, nil, "policy", "nope"); code != 2 || !strings.Contains(errOut, `unknown command "nope"`) {
		t.Errorf("an unknown command: %d %s", code, errOut)
	}
}

// TestPolicyExplain: explain decodes the token's claims and shows every
// stage's decision with the policies, their place and reason.
func TestPolicyExplain(t *testing.T) {
	claims, _ := json.Marshal(map[string]any{"sub": "c1", "client_id": "c1", "org_code": "org_acme",
		"scope": "write:flags", "gty": []string{"client_credentials"}})
	token := "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(claims) + ".c2ln"
	code, out, errOut := run(t, nil, "policy", "explain", "--policy", examples+"custom.cedar", "--token", token,
		"--tool", "set_feature_flag", "--args", `{"key":"billing_plan","value":"gold"}`)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	for _, want := range []string{
		`principal: OrgScope::Client::"c1" (machine, bound to org_acme)`,
		"list: ALLOW (without the arguments",
		"call: DENY",
		`forbid "no-billing-flags" at ` + examples + `custom.cedar:`,
		"billing flags are changed by the billing system",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("explain does not say %q:\n%s", want, out)
		}
	}
	if code, _, errOut := run(t, nil, "policy", "explain", "--token", "nope", "--tool", "whoami"); code != 2 || !strings.Contains(errOut, "not a JWT") {
		t.Errorf("a bad token: %d %s", code, errOut)
	}
}
