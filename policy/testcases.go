package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authz"
)

// TestFile is a file of expected decisions, run by `orgscope policy test`
// (and by go test for the examples). It is JSON:
//
//	{"tests": [
//	  {"name": "an agent may not touch billing flags",
//	   "principal": {"client_id": "agent-1", "org": "org_acme", "scopes": ["write:flags"]},
//	   "tool": "set_feature_flag", "args": {"key": "billing_plan", "value": "\"gold\""},
//	   "expect": "deny", "policies": ["no-billing-flags"]}
//	]}
//
// See TestCase for every member.
type TestFile struct {
	Tests []TestCase `json:"tests"`
}

// TestCase is one expected decision.
type TestCase struct {
	// Name says what the case checks; failures are reported by it.
	Name      string        `json:"name"`
	Principal TestPrincipal `json:"principal"`
	// Tool is the tool called (an action of the schema).
	Tool string `json:"tool"`
	// Args are the tool's arguments, as a client sends them.
	Args json.RawMessage `json:"args,omitempty"`
	// Org is the organization acted on. Empty means the one args.org_code
	// names, else the principal's own for tools that act on one.
	Org string `json:"org,omitempty"`
	// Stage is when the decision is asked: "call" (the default: with the
	// arguments, just before the tool runs), "request" (before dispatch,
	// without the arguments) or "list" (tools/list).
	Stage string `json:"stage,omitempty"`
	// Time is when the call is decided (RFC 3339); the default is
	// 2026-01-07T12:00:00Z, a Wednesday at noon UTC.
	Time string `json:"time,omitempty"`
	// Expect is "allow", "deny", or "approval" (allowed once a person
	// approves it).
	Expect string `json:"expect"`
	// Policies, when given, are the ids of the policies expected to decide
	// (the forbids that refuse, or the permits that allow), in any order.
	Policies []string `json:"policies,omitempty"`
	// Reason, when given, is the expected reason of the decision:
	// allowed, insufficient_scope, global_only, tenant or policy.
	Reason string `json:"reason,omitempty"`
}

// TestPrincipal describes who calls.
type TestPrincipal struct {
	ClientID string `json:"client_id"`
	// Org binds the principal to an organization; empty makes it global.
	Org    string   `json:"org,omitempty"`
	Scopes []string `json:"scopes"`
	// Kind is "machine" (the default: client credentials) or "agent" (acts
	// for a person, Subject).
	Kind    string `json:"kind,omitempty"`
	Subject string `json:"subject,omitempty"`
	// Role is the role of the person an agent acts for: admin or member.
	Role       string            `json:"role,omitempty"`
	Properties map[string]string `json:"properties,omitempty"`
	ActorChain []string          `json:"actor_chain,omitempty"`
	Purpose    string            `json:"purpose,omitempty"`
}

// DefaultTestTime is when a test case is decided unless it says.
var DefaultTestTime = time.Date(2026, 1, 7, 12, 0, 0, 0, time.UTC)

// ParseTests reads a test file, strictly: an unknown member (a misspelt
// "expect") is an error, not a case that checks nothing.
func ParseTests(data []byte) (TestFile, error) {
	var f TestFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return TestFile{}, fmt.Errorf("not a test file: %w", err)
	}
	if len(f.Tests) == 0 {
		return TestFile{}, errors.New(`no test cases: the file must be {"tests": [ … ]}`)
	}
	for i, tc := range f.Tests {
		if _, _, err := tc.request(); err != nil {
			return TestFile{}, fmt.Errorf("test %d (%q): %w", i+1, tc.Name, err)
		}
	}
	return f, nil
}

// Principal returns the auth.Principal the case describes.
func (tp TestPrincipal) principal() (*auth.Principal, error) {
	if tp.ClientID == "" {
		return nil, errors.New("principal.client_id is required")
	}
	p := &auth.Principal{ClientID: tp.ClientID, OrgCode: tp.Org, Scopes: tp.Scopes, Properties: tp.Properties,
		ActorChain: tp.ActorChain, Purpose: tp.Purpose}
	switch tp.Kind {
	case "", KindMachine:
		if tp.Role != "" {
			return nil, errors.New("principal.role is the role of the person an agent acts for: set kind to agent")
		}
		p.GrantType, p.Subject = "client_credentials", tp.ClientID
	case KindAgent:
		p.GrantType, p.Subject, p.PersonRole = "authorization_code", tp.Subject, tp.Role
		if p.Subject == "" || p.Subject == tp.ClientID {
			return nil, errors.New("principal.subject names the person an agent acts for: required, and not the client id")
		}
	default:
		return nil, fmt.Errorf("principal.kind %q: want machine or agent", tp.Kind)
	}
	return p, nil
}

// request builds the decision the case asks for.
func (tc TestCase) request() (authz.Request, time.Time, error) {
	var zero authz.Request
	p, err := tc.Principal.principal()
	if err != nil {
		return zero, time.Time{}, err
	}
	a, ok := authz.Lookup(tc.Tool)
	if !ok || a.OperatorOnly {
		return zero, time.Time{}, fmt.Errorf("tool %q is not one of OrgScope's tools", tc.Tool)
	}
	args, err := jsonArgs(tc.Args)
	if err != nil {
		return zero, time.Time{}, err
	}
	req := authz.Request{Principal: p, Action: a, Args: args, Org: resolveOrg(p, a, tc.Org, args)}
	switch tc.Stage {
	case "", "call":
		req.Stage = authz.StageCall
	case "request":
		req.Stage, req.Args = authz.StageRequest, nil
	case "list":
		req.Stage, req.Args = authz.StageList, nil
	default:
		return zero, time.Time{}, fmt.Errorf("stage %q: want call, request or list", tc.Stage)
	}
	switch tc.Expect {
	case "allow", "deny", "approval":
	default:
		return zero, time.Time{}, fmt.Errorf("expect %q: want allow, deny or approval", tc.Expect)
	}
	at := DefaultTestTime
	if tc.Time != "" {
		if at, err = time.Parse(time.RFC3339, tc.Time); err != nil {
			return zero, time.Time{}, fmt.Errorf("time %q is not RFC 3339", tc.Time)
		}
	}
	return req, at, nil
}

// resolveOrg picks the organization acted on as the service does: the one
// named (org, else args.org_code), else an org-scoped principal's own for
// a tool that acts on one organization.
func resolveOrg(p *auth.Principal, a authz.Action, org string, args map[string]any) string {
	if org != "" {
		return org
	}
	if named, ok := args["org_code"].(string); ok && named != "" {
		return named
	}
	if a.Tenant {
		return p.OrgCode
	}
	return ""
}

// TestResult is the outcome of one case.
type TestResult struct {
	Case     TestCase
	Decision authz.Decision
	// Failure says how the decision differs from the expectation; empty
	// when the case passed.
	Failure string
}

// RunTests decides every case with s and compares.
func RunTests(ctx context.Context, s *Set, f TestFile) []TestResult {
	out := make([]TestResult, 0, len(f.Tests))
	for _, tc := range f.Tests {
		r := TestResult{Case: tc}
		req, at, err := tc.request()
		if err != nil {
			r.Failure = err.Error()
			out = append(out, r)
			continue
		}
		r.Decision, _ = s.decide(ctx, req, at)
		r.Failure = compare(tc, r.Decision)
		out = append(out, r)
	}
	return out
}

// outcomeOf names a decision the way test cases do.
func outcomeOf(d authz.Decision) string {
	switch {
	case d.Allow && d.NeedsApproval:
		return "approval"
	case d.Allow:
		return "allow"
	}
	return "deny"
}

func compare(tc TestCase, d authz.Decision) string {
	var diffs []string
	if got := outcomeOf(d); got != tc.Expect {
		diffs = append(diffs, fmt.Sprintf("expected %s, got %s", tc.Expect, got))
	}
	if tc.Policies != nil {
		want, got := slices.Sorted(slices.Values(tc.Policies)), slices.Sorted(slices.Values(d.Policies))
		if !slices.Equal(want, got) {
			diffs = append(diffs, fmt.Sprintf("expected policies [%s], got [%s]", strings.Join(want, " "), strings.Join(got, " ")))
		}
	}
	if tc.Reason != "" && tc.Reason != d.Reason {
		diffs = append(diffs, fmt.Sprintf("expected reason %s, got %s", tc.Reason, d.Reason))
	}
	if len(diffs) == 0 {
		return ""
	}
	msg := strings.Join(diffs, "; ")
	if !d.Allow && d.Message != "" {
		msg += " (" + d.Message + ")"
	}
	return msg
}
