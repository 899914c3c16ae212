package app

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/policy"
)

const policyUsage = `usage: orgscope policy <command>

Access policy as code: Cedar policies checked against OrgScope's schema.

Commands:
  default                      print the built-in policy: copy it, edit it, serve it with --policy
  schema                       print the schema policies are checked against
  validate [FILE]              check a policy file (the built-in policy without FILE);
                               exit 1 with file:line:column of every problem
  test [--policy FILE] TESTS   decide every case of the test file TESTS with the policy (the
                               built-in one without --policy); exit 1 if any decision differs
  explain [--policy FILE] --token JWT --tool TOOL [--args JSON]
                               show how the policy decides a call, stage by stage

Run "orgscope policy <command> -h" for a command's flags.
`

// policyCommand runs orgscope policy <command>.
func (c cli) policyCommand(ctx context.Context, args []string) error {
	if len(args) == 0 || isHelp(args[0]) {
		if len(args) == 0 {
			return &usageError{err: errors.New("policy: name a command: default, schema, validate, test or explain"),
				hint: `run "orgscope policy -h" for the commands`}
		}
		fmt.Fprint(c.stdout, policyUsage)
		return nil
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "default":
		return c.printPolicyText(args, "default", "print the built-in policy", policy.Builtin())
	case "schema":
		return c.printPolicyText(args, "schema", "print the policy schema", policy.Schema())
	case "validate":
		return c.validatePolicy(args)
	case "test":
		return c.testPolicy(ctx, args)
	case "explain":
		return c.explainPolicy(ctx, args)
	}
	return &usageError{err: fmt.Errorf("policy: unknown command %q", sub), hint: `run "orgscope policy -h" for the commands`}
}

func (c cli) printPolicyText(args []string, name, about string, text []byte) error {
	cmd := newCommand("policy "+name, "orgscope policy "+name)
	cmd.about = about
	if err := cmd.parse(args, c.stdout, c.getenv); err != nil {
		return err
	}
	_, err := c.stdout.Write(text)
	return err
}

// loadPolicy compiles file, or the built-in policy when file is empty.
func loadPolicy(file string) (*policy.Set, error) {
	if file == "" {
		return policy.CompileBuiltin()
	}
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("policy file: %w", err)
	}
	return policy.Compile(file, src)
}

func (c cli) validatePolicy(args []string) error {
	cmd := newCommand("policy validate", "orgscope policy validate [FILE]")
	cmd.about = "Checks a policy file: it must parse, give every policy a unique @id, and validate against the\n" +
		"schema (orgscope policy schema). Without FILE, the built-in policy is checked."
	cmd.positional, cmd.optional = "FILE", true
	if err := cmd.parse(args, c.stdout, c.getenv); err != nil {
		return err
	}
	s, err := loadPolicy(cmd.arg)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%s: ok, %d policies\n", s.Name(), len(s.IDs()))
	return nil
}

func (c cli) testPolicy(ctx context.Context, args []string) error {
	var file string
	var verbose bool
	cmd := newCommand("policy test", "orgscope policy test [--policy FILE] TESTS")
	cmd.about = "Decides every case of the test file TESTS (JSON: {\"tests\": [...]}, see the README) with the\n" +
		"policy, and compares with the expected decision. Exit code 1 when any case fails."
	cmd.fs.StringVar(&file, "policy", "", "the policy file to test (default: the built-in policy)")
	cmd.fs.BoolVar(&verbose, "v", false, "print every case, not only the failures")
	cmd.positional, cmd.missing = "TESTS", "policy test: name the test file"
	if err := cmd.parse(args, c.stdout, c.getenv); err != nil {
		return err
	}
	s, err := loadPolicy(file)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(cmd.arg)
	if err != nil {
		return fmt.Errorf("test file: %w", err)
	}
	tests, err := policy.ParseTests(data)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd.arg, err)
	}
	failed := 0
	for _, r := range policy.RunTests(ctx, s, tests) {
		switch {
		case r.Failure != "":
			failed++
			fmt.Fprintf(c.stdout, "FAIL  %s\n      %s\n", r.Case.Name, r.Failure)
		case verbose:
			fmt.Fprintf(c.stdout, "ok    %s\n", r.Case.Name)
		}
	}
	fmt.Fprintf(c.stdout, "%s with %s: %d passed, %d failed\n", cmd.arg, s.Name(), len(tests.Tests)-failed, failed)
	if failed > 0 {
		return fmt.Errorf("%d of %d policy tests failed", failed, len(tests.Tests))
	}
	return nil
}

func (c cli) explainPolicy(ctx context.Context, args []string) error {
	var file, token, tool, rawArgs, org, role, at string
	cmd := newCommand("policy explain", "orgscope policy explain [--policy FILE] --token JWT --tool TOOL [--args JSON]")
	cmd.about = "Shows how the policy decides a call: at tools/list, before dispatch, and with the arguments.\n" +
		"The token's claims are read as OrgScope reads them; its signature and expiry are not checked."
	cmd.fs.StringVar(&file, "policy", "", "the policy file (default: the built-in policy)")
	cmd.fs.StringVar(&token, "token", "", "the access token (JWT) of the call (required)")
	cmd.fs.StringVar(&tool, "tool", "", "the tool called (required)")
	cmd.fs.StringVar(&rawArgs, "args", "{}", "the tool's arguments, a JSON object")
	cmd.fs.StringVar(&org, "org", "", "the organization acted on (default: args.org_code, else the token's)")
	cmd.fs.StringVar(&role, "role", "", "the role (admin, member) of the person the token acts for, which the token does not say")
	cmd.fs.StringVar(&at, "time", "", "when the call is decided, RFC 3339 (default: now)")
	if err := cmd.parse(args, c.stdout, c.getenv); err != nil {
		return err
	}
	if token == "" || tool == "" {
		return &usageError{err: errors.New("policy explain: need --token and --tool"), hint: cmd.hint()}
	}
	p, err := principalOfToken(token)
	if err != nil {
		return &usageError{err: fmt.Errorf("--token: %w", err), hint: cmd.hint()}
	}
	p.PersonRole = role
	now := time.Now()
	if at != "" {
		if now, err = time.Parse(time.RFC3339, at); err != nil {
			return &usageError{err: fmt.Errorf("--time %q is not RFC 3339", at), hint: cmd.hint()}
		}
	}
	s, err := loadPolicy(file)
	if err != nil {
		return err
	}
	x, err := s.Explain(ctx, p, tool, org, []byte(rawArgs), now)
	if err != nil {
		return &usageError{err: err, hint: cmd.hint()}
	}
	fmt.Fprintf(c.stdout, "policy:    %s\n", s.Name())
	x.Write(c.stdout)
	return nil
}

// principalOfToken reads a JWT's claims, unverified, into a principal as
// the resource server would map OrgScope's (and Kinde's) claims.
func principalOfToken(token string) (*auth.Principal, error) {
	parts := strings.Split(strings.TrimSpace(strings.TrimPrefix(token, "Bearer ")), ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWT (three dot-separated parts)")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, errors.New("the JWT's payload is not base64url")
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, errors.New("the JWT's payload is not a JSON object")
	}
	return auth.ClaimMapping{}.Principal(claims)
}
