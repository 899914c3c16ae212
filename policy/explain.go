package policy

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/cedar-policy/cedar-go"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authz"
)

// Explanation is how a set decides one call at each stage, for `orgscope
// policy explain`.
type Explanation struct {
	Tool      string
	Org       string
	Principal *auth.Principal
	Stages    []StageExplanation
}

// StageExplanation is one stage's decision and what made it.
type StageExplanation struct {
	Stage    string
	Decision authz.Decision
	// Rules: the tool is not in the schema and OrgScope's built-in rules
	// decided. Partial: decided without the arguments (or organization).
	Rules, Partial bool
	// Policies are the deciding policies, with where they are.
	Policies []PolicyRef
	// Errors are policies that could not be evaluated.
	Errors []string
}

// PolicyRef names a policy and where it is.
type PolicyRef struct {
	ID, Effect, Reason, Refusal string
	Approval                    bool
	File                        string
	Line, Column                int
}

// Explain decides a call of tool by p with args at every stage.
func (s *Set) Explain(ctx context.Context, p *auth.Principal, tool, org string, rawArgs []byte, now time.Time) (Explanation, error) {
	a, ok := authz.Lookup(tool)
	if !ok || a.OperatorOnly {
		return Explanation{}, fmt.Errorf("tool %q is not one of OrgScope's tools", tool)
	}
	args, err := jsonArgs(rawArgs)
	if err != nil {
		return Explanation{}, err
	}
	org = resolveOrg(p, a, org, args)
	x := Explanation{Tool: tool, Org: org, Principal: p}
	for _, st := range []struct {
		name  string
		stage authz.Stage
	}{{"list", authz.StageList}, {"request", authz.StageRequest}, {"call", authz.StageCall}} {
		req := authz.Request{Principal: p, Action: a, Stage: st.stage}
		if st.stage == authz.StageCall {
			req.Org, req.Args = org, args
		}
		d, tr := s.decide(ctx, req, now)
		se := StageExplanation{Stage: st.name, Decision: d, Rules: tr.rules, Partial: tr.partial}
		for _, id := range tr.reasons {
			se.Policies = append(se.Policies, s.ref(id))
		}
		for _, e := range tr.errors {
			se.Errors = append(se.Errors, fmt.Sprintf("%s (%s:%d): %s", e.PolicyID, e.Position.Filename, e.Position.Line, e.Message))
		}
		slices.Sort(se.Errors)
		x.Stages = append(x.Stages, se)
	}
	return x, nil
}

func (s *Set) ref(id cedar.PolicyID) PolicyRef {
	info := s.info[id]
	effect := "permit"
	if info.forbid {
		effect = "forbid"
	}
	return PolicyRef{ID: string(id), Effect: effect, Reason: info.reason, Refusal: info.refusal, Approval: info.approval,
		File: info.position.Filename, Line: info.position.Line, Column: info.position.Column}
}

// Write prints the explanation for a person.
func (x Explanation) Write(w io.Writer) {
	p := x.Principal
	who := "global"
	if !p.Global() {
		who = "bound to " + p.OrgCode
	}
	fmt.Fprintf(w, "principal: OrgScope::Client::%q (%s, %s), scopes: %s\n", principalEntity(p).UID.ID, kindOf(p), who, strings.Join(p.Scopes, " "))
	if kindOf(p) == KindAgent {
		role := p.PersonRole
		if role == "" {
			role = "role unknown"
		}
		fmt.Fprintf(w, "acts for:  %s (%s)\n", p.Subject, role)
	}
	org := x.Org
	if org == "" {
		org = "(none)"
	}
	fmt.Fprintf(w, "tool:      %s, organization %s\n", x.Tool, org)
	for _, st := range x.Stages {
		d := st.Decision
		verdict := "DENY"
		switch {
		case d.Allow && d.NeedsApproval:
			verdict = "ALLOW once a person approves"
		case d.Allow:
			verdict = "ALLOW"
		}
		how := ""
		switch {
		case st.Rules:
			how = " (built-in rules: not a tool of the schema)"
		case st.Partial:
			how = " (without the arguments: policies that read them are set aside)"
		}
		fmt.Fprintf(w, "\n%s: %s%s\n", st.Stage, verdict, how)
		if !d.Allow {
			fmt.Fprintf(w, "  reason:  %s\n  message: %s\n", d.Reason, d.Message)
			if len(d.Missing) > 0 {
				fmt.Fprintf(w, "  missing scopes: %s (answered with HTTP 403 before the tool runs)\n", strings.Join(d.Missing, " "))
			}
		}
		for _, r := range st.Policies {
			fmt.Fprintf(w, "  %s %q at %s:%d:%d", r.Effect, r.ID, r.File, r.Line, r.Column)
			if r.Reason != "" {
				fmt.Fprintf(w, ": %s", r.Reason)
			}
			if r.Approval {
				fmt.Fprint(w, " [approval required]")
			}
			fmt.Fprintln(w)
		}
		if len(st.Policies) == 0 && !st.Rules && !d.Allow {
			fmt.Fprintln(w, "  no policy matched: nothing permits the call (default deny)")
		}
		for _, e := range st.Errors {
			fmt.Fprintf(w, "  could not be evaluated: %s\n", e)
		}
	}
}
