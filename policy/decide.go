package policy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/x/exp/batch"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authz"
)

var _ authz.Authorizer = (*Set)(nil)

// Authorize implements authz.Authorizer with the set alone, at the
// current time.
func (s *Set) Authorize(ctx context.Context, req authz.Request) authz.Decision {
	d, _ := s.decide(ctx, req, time.Now())
	return d
}

// trace is how a decision came about, for `policy explain` and the tests.
type trace struct {
	// rules: the action is not a tool, and OrgScope's built-in rules
	// (authz.Rules) decided.
	rules bool
	// partial: decided without the arguments (or, for a global principal,
	// without the organization), by partial evaluation.
	partial bool
	cedar   cedar.Decision
	// reasons are the policies that determined the decision (forbids that
	// matched, or else permits), sorted.
	reasons []cedar.PolicyID
	// errors are the policies that could not be evaluated.
	errors []cedar.DiagnosticError
}

// decide answers req at time now.
//
// A decision's slices (Missing, Policies) may be shared with other
// decisions: callers do not modify them.
func (s *Set) decide(ctx context.Context, req authz.Request, now time.Time) (decision authz.Decision, tr trace) {
	p, a := req.Principal, req.Action
	if p == nil {
		return authz.NoPrincipal(), trace{}
	}
	tp, ok := s.byTool[a.Name]
	if !ok {
		// Not a tool: the command line's and the approval page's own
		// operations follow the built-in rules.
		return authz.Rules{}.Authorize(ctx, req), trace{rules: true}
	}
	if req.Stage == authz.StageCall && !tp.readsArgs && !p.Global() && req.Org == p.OrgCode {
		// No policy of this tool reads the arguments, and the organization
		// is the one a decision without them assumes: the call is decided
		// exactly as before dispatch (and that answer is kept for the
		// second). Only approval is a question for the call alone.
		before := req
		before.Stage, before.Args = authz.StageRequest, nil
		d, tr := s.decide(ctx, before, now)
		if d.Allow {
			d = s.withApproval(d, tr.reasons)
		}
		return d, tr
	}
	view := viewOf(p)
	var slot *atomic.Pointer[decided]
	if req.Stage != authz.StageCall {
		// Without the arguments, a list-time and a before-dispatch decision
		// are the same question.
		slot = view.remembered(s, tp.tool.index, now)
		if d := slot.Load(); d != nil {
			return d.decision, d.trace
		}
	}
	principal := view.entity
	ents := &entityStore{principal: principal, actions: s.schema.actions}

	var context cedar.Record
	if req.Stage == authz.StageCall {
		args, err := cedarArgs(tp.tool.args, req.Args)
		if err != nil {
			return authz.Decision{Reason: authz.ReasonPolicy, Message: fmt.Sprintf(
				"%s is refused: its arguments cannot be given to the access policy (%v)", a.Name, err)}, trace{}
		}
		context = view.contextRecord(args, now)
	}
	// Before the call, the organization of a global principal is not
	// known yet (it names one in the arguments); an org-scoped principal's
	// is its own.
	var resource cedar.Value = orgUID(req.Org)
	resourceKnown := true
	if req.Stage != authz.StageCall {
		resource = orgUID(p.OrgCode)
		resourceKnown = !p.Global()
	}

	var diag cedar.Diagnostic
	if req.Stage == authz.StageCall || (!tp.readsArgs && (resourceKnown || !tp.readsResource)) {
		// Nothing the policies read is unknown: an exact evaluation.
		if req.Stage != authz.StageCall {
			context = view.contextWithoutArgs(now)
		}
		tr.cedar, diag = cedar.Authorize(tp.policies, ents, cedar.Request{
			Principal: principal.UID, Action: tp.tool.uid, Resource: resource.(cedar.EntityUID), Context: context,
		})
	} else {
		// A policy reads what is not known yet: it is ignored where it
		// would decide, so a permit that depends on it counts as matching
		// and a forbid as not matching — "possibly allowed". The call is
		// decided again with everything known.
		tr.partial = true
		var args cedar.Value = emptyArgs
		if tp.readsArgs {
			args = batch.Ignore()
		}
		policies := tp.policies
		if !resourceKnown {
			resource, policies = batch.Ignore(), tp.unscoped
		}
		got := false
		err := batch.Authorize(ctx, policies, ents, batch.Request{
			Principal: principal.UID, Action: tp.tool.uid, Resource: resource, Context: view.contextRecord(args, now),
		}, func(r batch.Result) error {
			tr.cedar, got = r.Decision, true
			diag = cedar.Diagnostic{Reasons: slices.Clone(r.Diagnostic.Reasons), Errors: slices.Clone(r.Diagnostic.Errors)}
			return nil
		})
		if err != nil || !got {
			return authz.Decision{Reason: authz.ReasonPolicy, Message: fmt.Sprintf(
				"%s is refused: the access policy could not be evaluated (%v)", a.Name, err)}, tr
		}
	}
	for _, r := range diag.Reasons {
		tr.reasons = append(tr.reasons, r.PolicyID)
	}
	slices.Sort(tr.reasons)
	tr.reasons = slices.Compact(tr.reasons)
	tr.errors = diag.Errors
	decision = s.interpret(req, tr)
	if slot != nil {
		slot.Store(&decided{decision: decision, trace: tr})
	}
	return decision, tr
}

// interpret turns Cedar's answer into OrgScope's decision.
func (s *Set) interpret(req authz.Request, tr trace) authz.Decision {
	p, a := req.Principal, req.Action
	ids := make([]string, len(tr.reasons))
	for i, id := range tr.reasons {
		ids[i] = string(id)
	}
	// A forbid that could not be evaluated refuses: failing open on a
	// broken rule would let through what it was written to stop.
	var broken []string
	for _, e := range tr.errors {
		if s.info[e.PolicyID].forbid && !slices.Contains(broken, string(e.PolicyID)) {
			broken = append(broken, string(e.PolicyID))
		}
	}
	slices.Sort(broken)
	if tr.cedar == cedar.Allow {
		if len(broken) > 0 {
			return authz.Decision{Reason: authz.ReasonPolicy, Policies: broken, Message: fmt.Sprintf(
				"%s is refused: policy %s could not be evaluated for this call (%s)",
				a.Name, quoteAll(broken), s.errorText(tr.errors))}
		}
		d := authz.Decision{Allow: true, Reason: authz.ReasonAllowed, Policies: ids}
		if req.Stage == authz.StageCall {
			d = s.withApproval(d, tr.reasons)
		}
		return d
	}
	if len(ids) == 0 {
		msg := fmt.Sprintf("%s is refused: no policy permits it", a.Name)
		if len(tr.errors) > 0 {
			msg += fmt.Sprintf(" (and some could not be evaluated: %s)", s.errorText(tr.errors))
		}
		return authz.Decision{Reason: authz.ReasonPolicy, Policies: broken, Message: msg}
	}
	has := func(refusal string) bool {
		return slices.ContainsFunc(tr.reasons, func(id cedar.PolicyID) bool { return s.info[id].refusal == refusal })
	}
	var d authz.Decision
	missing := auth.Missing(p.Scopes, a.Scopes)
	switch {
	case has("insufficient_scope") && len(missing) > 0:
		d = authz.InsufficientScope(a, missing)
	case has("global_only") && !p.Global():
		d = authz.GlobalOnly(a, p)
	case has("tenant") && !p.Global():
		d = authz.Tenant(req.Org)
	default:
		d = authz.Decision{Reason: authz.ReasonPolicy, Message: fmt.Sprintf("%s is refused by %s", a.Name, s.describe(tr.reasons))}
	}
	d.Policies = ids
	return d
}

// withApproval marks an allow at call time that needs a person's approval:
// every permit that allowed it asks for one. Its message then says which,
// and why.
func (s *Set) withApproval(d authz.Decision, permits []cedar.PolicyID) authz.Decision {
	d.NeedsApproval = len(permits) > 0
	for _, id := range permits {
		d.NeedsApproval = d.NeedsApproval && s.info[id].approval
	}
	if d.NeedsApproval {
		d.Message = s.describe(permits)
	}
	return d
}

// describe names policies with their reasons: policy "a": why; policy "b".
func (s *Set) describe(ids []cedar.PolicyID) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf("policy %q", id)
		if r := s.info[id].reason; r != "" {
			parts[i] += ": " + r
		}
	}
	return strings.Join(parts, "; ")
}

func quoteAll(ids []string) string {
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = fmt.Sprintf("%q", id)
	}
	return strings.Join(q, ", ")
}

func (s *Set) errorText(errs []cedar.DiagnosticError) string {
	var parts []string
	for _, e := range errs {
		parts = append(parts, fmt.Sprintf("%s: %s", e.PolicyID, e.Message))
	}
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}

// entityStore holds a request's entities: the principal, and the action
// entities (with their groups), built once from the schema.
type entityStore struct {
	principal cedar.Entity
	actions   cedar.EntityMap
}

func (e *entityStore) Get(uid cedar.EntityUID) (cedar.Entity, bool) {
	if uid == e.principal.UID {
		return e.principal, true
	}
	ent, ok := e.actions[uid]
	return ent, ok
}

func orgUID(code string) cedar.EntityUID { return cedar.NewEntityUID(OrgType, cedar.String(code)) }
