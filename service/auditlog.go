package service

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authz"
	"github.com/orgscope/orgscope/store"
)

// ListAuditInput selects a page of audit events.
type ListAuditInput struct {
	OrgArg
	Cursor   string    `json:"cursor,omitempty" jsonschema:"The next_cursor of the previous page; omit for the first page."`
	Limit    int       `json:"limit,omitempty" jsonschema:"Events per page, 1 to 100 (default 20)."`
	Since    time.Time `json:"since,omitzero" jsonschema:"Only events at or after this time (RFC 3339)."`
	Until    time.Time `json:"until,omitzero" jsonschema:"Only events before this time (RFC 3339)."`
	ClientID string    `json:"client_id,omitempty" jsonschema:"Only events of this client."`
	Subject  string    `json:"subject,omitempty" jsonschema:"Only events of this subject (a person's user id, or a client)."`
	Action   string    `json:"action,omitempty" jsonschema:"Only events of this action, e.g. tools/call:create_user or cli:orgs create."`
	Decision string    `json:"decision,omitempty" jsonschema:"Only allowed or only denied calls."`
}

// ListAuditOutput is a page of audit events, newest first.
type ListAuditOutput struct {
	Events     []store.AuditEvent `json:"events"`
	NextCursor string             `json:"next_cursor,omitempty"`
}

var listAudit = &operation[ListAuditInput, ListAuditOutput]{
	name: "list_audit_events",
	org:  orgOf[ListAuditInput],
	check: func(in *ListAuditInput) error {
		if err := checkLimit(in.Limit); err != nil {
			return err
		}
		if err := checkCursor(in.Cursor); err != nil {
			return err
		}
		if in.Decision != "" && in.Decision != "allow" && in.Decision != "deny" {
			return invalid("decision %q is not valid (want allow or deny)", in.Decision)
		}
		if !in.Since.IsZero() && !in.Until.IsZero() && !in.Since.Before(in.Until) {
			return invalid("since must be before until")
		}
		for field, v := range map[string]string{"client_id": in.ClientID, "subject": in.Subject, "action": in.Action} {
			if _, err := plainText(field, v, 256); err != nil {
				return err
			}
		}
		return nil
	},
	do: func(ctx context.Context, q store.Tx, org string, in *ListAuditInput) (ListAuditOutput, error) {
		events, next, err := q.ListAuditEvents(ctx, org, store.AuditFilter{
			Since: in.Since, Until: in.Until, ClientID: in.ClientID, Subject: in.Subject,
			Action: in.Action, Decision: in.Decision,
		}, store.Page{Cursor: in.Cursor, Limit: in.Limit})
		if events == nil {
			events = []store.AuditEvent{}
		}
		return ListAuditOutput{Events: events, NextCursor: next}, err
	},
}

// ListAuditEvents pages through an organization's audit trail, newest
// first.
func (s *Service) ListAuditEvents(ctx context.Context, c Caller, in ListAuditInput) (ListAuditOutput, error) {
	return run(ctx, s, c, listAudit, in)
}

// ExportAuditInput selects the trail to export.
type ExportAuditInput struct {
	// OrgCode limits the export to one organization (an org-scoped
	// principal's own when empty); AllOrgs exports every organization's
	// events and the platform-wide ones, for a global principal.
	OrgCode string    `json:"org_code,omitempty"`
	AllOrgs bool      `json:"all_orgs,omitempty"`
	Since   time.Time `json:"since,omitzero"`
	// Until, ClientID, Subject, Action and Decision narrow the export as
	// they narrow ListAuditInput.
	Until    time.Time `json:"until,omitzero"`
	ClientID string    `json:"client_id,omitempty"`
	Subject  string    `json:"subject,omitempty"`
	Action   string    `json:"action,omitempty"`
	Decision string    `json:"decision,omitempty"`
}

// matches reports whether e is one of the events the input selects
// (besides the organization and since, which the store selects).
func (in *ExportAuditInput) matches(e store.AuditEvent) bool {
	return (in.Until.IsZero() || e.Time.Before(in.Until)) && (in.ClientID == "" || e.ClientID == in.ClientID) &&
		(in.Subject == "" || e.Subject == in.Subject) && (in.Action == "" || e.Action == in.Action) &&
		(in.Decision == "" || e.Decision == in.Decision)
}

var exportAudit = &operation[ExportAuditInput, struct{}]{
	name:        "export_audit_events",
	org:         func(in *ExportAuditInput) string { return in.OrgCode },
	orgOptional: func(in *ExportAuditInput) bool { return in.AllOrgs },
	check: func(in *ExportAuditInput) error {
		if in.AllOrgs && in.OrgCode != "" {
			return invalid("name an org_code or export every organization's events, not both")
		}
		if in.Decision != "" && in.Decision != "allow" && in.Decision != "deny" {
			return invalid("decision %q is not valid (want allow or deny)", in.Decision)
		}
		if !in.Since.IsZero() && !in.Until.IsZero() && !in.Since.Before(in.Until) {
			return invalid("since must be before until")
		}
		for field, v := range map[string]string{"client_id": in.ClientID, "subject": in.Subject, "action": in.Action} {
			if _, err := plainText(field, v, 256); err != nil {
				return err
			}
		}
		return nil
	},
}

// ExportAuditEvents hands every event the input selects, oldest first, to
// emit; an error from emit stops the export. The export itself is one
// audited decision.
func (s *Service) ExportAuditEvents(ctx context.Context, c Caller, in ExportAuditInput, emit func(store.AuditEvent) error) error {
	op := *exportAudit
	op.do = func(ctx context.Context, q store.Tx, org string, in *ExportAuditInput) (struct{}, error) {
		var orgCode *string
		switch {
		case in.AllOrgs && org != "":
			// An org-scoped principal's own organization stands in for
			// the one it did not name: it may not export the others'.
			return struct{}{}, &Error{Kind: KindDenied, Reason: authz.ReasonGlobalOnly,
				Message: "only a global principal may export every organization's events; this one is bound to " + org}
		case !in.AllOrgs:
			orgCode = &org
		}
		page := store.Page{Limit: store.MaxPageSize}
		for {
			events, next, err := q.ExportAuditEvents(ctx, orgCode, in.Since, page)
			if err != nil {
				return struct{}{}, err
			}
			for _, e := range events {
				if !in.matches(e) {
					continue
				}
				if err := emit(e); err != nil {
					return struct{}{}, &Error{Kind: KindInternal, Reason: "export", Message: "writing the export failed: " + err.Error(), Err: err}
				}
			}
			if next == "" {
				return struct{}{}, nil
			}
			page.Cursor = next
		}
	}
	_, err := run(ctx, s, c, &op, in)
	return err
}

// DeleteAuditEventsBefore removes events older than cutoff (retention).
func (s *Service) DeleteAuditEventsBefore(ctx context.Context, cutoff time.Time) (int, error) {
	return s.store.DeleteAuditEventsBefore(ctx, cutoff)
}

// WhoamiOutput describes the caller's access token.
type WhoamiOutput struct {
	Issuer     string    `json:"issuer"`
	Subject    string    `json:"subject"`
	ClientID   string    `json:"client_id"`
	OrgCode    string    `json:"org_code,omitempty" jsonschema:"The organization the token is bound to; absent for global tokens."`
	Global     bool      `json:"global" jsonschema:"True for administration tokens not bound to one organization."`
	Scopes     []string  `json:"scopes"`
	GrantType  string    `json:"grant_type,omitempty"`
	TokenID    string    `json:"token_id,omitempty"`
	ActorChain []string  `json:"actor_chain,omitempty" jsonschema:"The clients acting for the subject, outermost first, when the token was delegated."`
	Purpose    string    `json:"purpose,omitempty" jsonschema:"What the delegation was for, when the token was delegated."`
	ExpiresAt  time.Time `json:"expires_at"`
	ExpiresIn  int64     `json:"expires_in_seconds"`
	// EffectiveScopes are what the decision point lets the token use when
	// its person's role or its agents allow less than it carries.
	EffectiveScopes []string `json:"effective_scopes,omitempty" jsonschema:"The scopes this token may use when the person's role or the acting agents allow less than it carries (person ∩ agent)."`
	// Delegation describes who acts for whom, for a delegated token.
	Delegation *WhoamiDelegation `json:"delegation,omitempty" jsonschema:"For a delegated token: the person it acts for, the agents acting, the client the person signed in with, and the purpose."`
	Tools      []string          `json:"tools" jsonschema:"The tools this token may call."`
}

// WhoamiDelegation says who a delegated token acts for, and through whom.
type WhoamiDelegation struct {
	// Summary is one line: "agent X acting for ada@acme.example, via client
	// Y, purpose …".
	Summary string `json:"summary"`
	// Person is the subject: the person whose authority the token carries.
	PersonID    string `json:"person_user_id"`
	PersonEmail string `json:"person_email,omitempty"`
	// Actors are the acting clients, the current one first.
	Actors []ActorInfo `json:"actors"`
	// Via is the client the person signed in with and gave the grant to.
	Via     *ActorInfo `json:"via,omitempty"`
	GrantID string     `json:"grant_id,omitempty"`
	Purpose string     `json:"purpose,omitempty"`
}

// ActorInfo names a client.
type ActorInfo struct {
	ClientID string `json:"client_id"`
	Name     string `json:"name,omitempty"`
}

// describeDelegation reads what a delegated principal's ids name: the
// person's email, the clients' names, the grant's client. What cannot be
// read is left out (an external issuer's actors are not in the store).
func describeDelegation(ctx context.Context, q store.Tx, p *auth.Principal) *WhoamiDelegation {
	d := &WhoamiDelegation{PersonID: p.Subject, GrantID: p.GrantID, Purpose: p.Purpose, Actors: []ActorInfo{}}
	if u, err := q.GetUser(ctx, p.OrgCode, p.Subject); err == nil && p.OrgCode != "" {
		d.PersonEmail = u.Email
	}
	name := func(id string) ActorInfo {
		a := ActorInfo{ClientID: id}
		if c, err := q.GetClient(ctx, id); err == nil {
			a.Name = c.Name
		}
		return a
	}
	for _, id := range p.ActorChain {
		d.Actors = append(d.Actors, name(id))
	}
	if p.GrantID != "" {
		if g, err := q.GetGrant(ctx, p.GrantID); err == nil {
			via := name(g.ClientID)
			d.Via = &via
		}
	}
	label := func(a ActorInfo) string {
		if a.Name != "" {
			return fmt.Sprintf("%q (%s)", a.Name, a.ClientID)
		}
		return a.ClientID
	}
	var b strings.Builder
	fmt.Fprintf(&b, "agent %s acting for %s", label(d.Actors[0]), cmp.Or(d.PersonEmail, d.PersonID))
	for _, a := range d.Actors[1:] {
		fmt.Fprintf(&b, ", through agent %s", label(a))
	}
	if d.Via != nil {
		fmt.Fprintf(&b, ", via client %s", label(*d.Via))
	}
	if d.Purpose != "" {
		fmt.Fprintf(&b, ", purpose %q", d.Purpose)
	}
	d.Summary = b.String()
	return d
}

// WhoamiInput is empty: whoami describes the caller.
type WhoamiInput struct{}

// Whoami describes the caller's principal and the tools it may call.
func (s *Service) Whoami(ctx context.Context, c Caller) (WhoamiOutput, error) {
	op := &operation[WhoamiInput, WhoamiOutput]{
		name: "whoami",
		do: func(ctx context.Context, q store.Tx, _ string, _ *WhoamiInput) (WhoamiOutput, error) {
			p := c.Principal
			out := WhoamiOutput{
				Issuer: p.Issuer, Subject: p.Subject, ClientID: p.ClientID, OrgCode: p.OrgCode, Global: p.Global(),
				Scopes: append([]string{}, p.Scopes...), GrantType: p.GrantType, TokenID: p.TokenID,
				ActorChain: p.ActorChain, Purpose: p.Purpose,
				ExpiresAt: p.Expiry, ExpiresIn: int64(p.Expiry.Sub(s.now()).Round(time.Second) / time.Second),
				Tools: append([]string{}, authz.Visible(ctx, s.authz, p)...),
			}
			if effective := authz.EffectiveScopes(p); len(p.Bounds) > 0 && !slices.Equal(effective, auth.Narrow(p.Scopes, auth.AllScopes)) {
				out.EffectiveScopes = append([]string{}, effective...)
			}
			if p.Delegated() {
				out.Delegation = describeDelegation(ctx, q, p)
			}
			return out, nil
		},
	}
	return run(ctx, s, c, op, WhoamiInput{})
}

// Operator is the principal of the command line: whoever can run it can
// open the database, so it may do everything; its actions are audited as
// cli:<command> with subject name (the operating-system user).
func Operator(name string) *auth.Principal {
	if name == "" {
		name = "operator"
	}
	return &auth.Principal{Issuer: "orgscope-cli", Subject: name, ClientID: "orgscope-cli", Scopes: auth.AllScopes}
}
