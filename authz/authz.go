package authz

import (
	"context"
	"fmt"
	"strings"

	"github.com/orgscope/orgscope/auth"
)

// Stage says how much of a request is known when a decision is asked for.
type Stage int

const (
	// StageList: which tools to show a principal; no organization or
	// arguments yet. An allow means "possibly allowed": the call is decided
	// again.
	StageList Stage = iota
	// StageRequest: the HTTP layer knows the action and the principal, and
	// refuses with 403 insufficient_scope before anything is dispatched.
	StageRequest
	// StageCall: the service knows everything: the organization acted on
	// and the validated arguments.
	StageCall
)

// Request is what a decision is about.
type Request struct {
	Principal *auth.Principal
	Action    Action
	// Org is the organization acted on ("" for platform-wide actions and
	// before it is known).
	Org string
	// Args are the operation's validated arguments as canonical JSON values
	// (objects as map[string]any); nil before StageCall.
	Args  map[string]any
	Stage Stage
}

// Reasons a decision gives, as recorded in the audit trail.
const (
	ReasonAllowed           = "allowed"
	ReasonInsufficientScope = "insufficient_scope"
	ReasonGlobalOnly        = "global_only"
	ReasonTenant            = "tenant"
	ReasonPolicy            = "policy"
	ReasonValidation        = "validation"
	ReasonNoPrincipal       = "no_principal"
	// ReasonApprovalRequired: the policy allows the call only with a
	// person's approval, which it does not have (yet).
	ReasonApprovalRequired = "approval_required"
	// ReasonOutsideBounds: the token carries the scope, but a party whose
	// authority it carries does not allow it (the person's role, an acting
	// client). Asking for another token does not help.
	ReasonOutsideBounds = "outside_bounds"
)

// Decision is the answer to a Request.
type Decision struct {
	Allow bool
	// Reason is machine-readable (one of the Reason constants).
	Reason string
	// Message tells the agent what to do about a denial.
	Message string
	// Missing lists the scopes the principal lacks, for a 403 challenge.
	Missing []string
	// Policies are the ids of the policies that decided, when a policy
	// engine did: the forbids that refused, or the permits that allowed.
	Policies []string
	// NeedsApproval, on an allow at StageCall, says that the call may run
	// only with a person's approval: every policy that allowed it asks for
	// one.
	NeedsApproval bool
}

// Authorizer decides. Implementations are safe for concurrent use and do
// not block on I/O: a decision is a function of the request.
type Authorizer interface {
	Authorize(ctx context.Context, req Request) Decision
}

// Rules is the Authorizer of the catalog: an action needs its scopes, a
// global-only action a global principal, and a tenant action an
// organization the principal may act on (its own, for an org-scoped
// principal). It reads no arguments.
type Rules struct{}

var _ Authorizer = Rules{}

// Authorize implements Authorizer.
func (Rules) Authorize(_ context.Context, req Request) Decision {
	p, a := req.Principal, req.Action
	if p == nil {
		return NoPrincipal()
	}
	if missing := auth.Missing(p.Scopes, a.Scopes); len(missing) > 0 {
		return InsufficientScope(a, missing)
	}
	if missing := auth.Missing(EffectiveScopes(p), a.Scopes); len(missing) > 0 {
		return Decision{Reason: ReasonOutsideBounds,
			Message: fmt.Sprintf("%s needs scope %s: this access token carries it, but %s", a.Name,
				strings.Join(missing, " "), refusedBy(p, missing))}
	}
	if a.GlobalOnly && !p.Global() {
		return GlobalOnly(a, p)
	}
	if req.Stage == StageCall && a.Tenant && !p.Global() && req.Org != p.OrgCode {
		return Tenant(req.Org)
	}
	return Decision{Allow: true, Reason: ReasonAllowed}
}

// NoPrincipal is the refusal of a request that carries no verified
// principal.
func NoPrincipal() Decision {
	return Decision{Reason: ReasonNoPrincipal, Message: "this call carries no verified access token"}
}

// InsufficientScope is the refusal of a that lacks the scopes missing: a
// 403 before dispatch, naming them.
func InsufficientScope(a Action, missing []string) Decision {
	return Decision{Reason: ReasonInsufficientScope, Missing: missing,
		Message: fmt.Sprintf("%s needs scope %s, which this access token lacks; request a token with it",
			a.Name, strings.Join(missing, " "))}
}

// GlobalOnly is the refusal of a global-only action to an org-scoped
// principal.
func GlobalOnly(a Action, p *auth.Principal) Decision {
	return Decision{Reason: ReasonGlobalOnly,
		Message: fmt.Sprintf("%s is for administrators: it needs a global token (one without org_code); "+
			"this token is bound to %s", a.Name, p.OrgCode)}
}

// Tenant is the refusal of an organization the principal may not act on:
// the same words as for one that does not exist.
func Tenant(org string) Decision {
	return Decision{Reason: ReasonTenant, Message: OrgNotFound(org)}
}

// EffectiveScopes returns the scopes p may use: its token's, narrowed by
// every bound the records set when the call arrived — the person's role,
// and for a delegated token each acting client's allowed scopes (person ∩
// agent). The result is expanded under the hierarchy (write:users brings
// read:users) and holds known scopes only. A principal without bounds has
// its token's scopes, unchanged.
//
// Every scope check asks for these: the catalog's Rules here, and the
// service's rule that a principal gives a client only scopes it holds.
func EffectiveScopes(p *auth.Principal) []string {
	if p == nil || len(p.Bounds) == 0 {
		if p == nil {
			return nil
		}
		return p.Scopes
	}
	scopes := auth.Narrow(p.Scopes, auth.AllScopes)
	for _, b := range p.Bounds {
		scopes = auth.Narrow(b.Scopes, scopes)
	}
	return scopes
}

// refusedBy names the parties whose bounds lack one of missing.
func refusedBy(p *auth.Principal, missing []string) string {
	var parties []string
	for _, b := range p.Bounds {
		if len(auth.Missing(b.Scopes, missing)) > 0 {
			parties = append(parties, b.String())
		}
	}
	if len(parties) > 1 {
		return strings.Join(parties, " and ") + " do not allow it"
	}
	return strings.Join(parties, "") + " does not allow it"
}

// OrgNotFound is the answer to naming an organization one may not see: the
// same words as for one that does not exist.
func OrgNotFound(code string) string { return fmt.Sprintf("organization %q not found", code) }

// Visible returns the names of the actions p may possibly perform, in
// catalog order, as decided at StageList.
func Visible(ctx context.Context, az Authorizer, p *auth.Principal) []string {
	var names []string
	for _, a := range actions {
		if a.OperatorOnly {
			continue
		}
		if az.Authorize(ctx, Request{Principal: p, Action: a, Stage: StageList}).Allow {
			names = append(names, a.Name)
		}
	}
	return names
}

// RoleScopes are the scopes a signed-in person's role lets them grant a
// client, and the bound of every token acting for them: an admin
// everything, a member reading users, organization settings and flags,
// and managing their own grants (the service keeps a member to their
// own).
func RoleScopes(role string) []string {
	if role == "admin" {
		return auth.AllScopes
	}
	return []string{auth.ScopeReadUsers, auth.ScopeReadOrgs, auth.ScopeReadFlags, auth.ScopeWriteGrants}
}

// Bounded returns an Authorizer that allows what inner allows and Rules
// allow too: a policy (the Cedar engine, or any other) can narrow what the
// catalog's rules let through, never widen it. The token's scopes, the
// bounds of the person and the agents it carries, global-only actions and
// the tenant boundary hold whatever a policy file says; a refusal by inner
// stands as it is. Bounded(Rules{}) is Rules.
func Bounded(inner Authorizer) Authorizer {
	switch inner.(type) {
	case nil, Rules:
		return Rules{}
	case bounded:
		return inner
	}
	return bounded{inner: inner}
}

type bounded struct{ inner Authorizer }

func (b bounded) Authorize(ctx context.Context, req Request) Decision {
	d := b.inner.Authorize(ctx, req)
	if !d.Allow {
		return d
	}
	if rules := (Rules{}).Authorize(ctx, req); !rules.Allow {
		return rules
	}
	return d
}
