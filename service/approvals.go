package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/orgscope/orgscope/authz"
	"github.com/orgscope/orgscope/store"
)

// approvalOptions are the service's settings for approvals.
type approvalOptions struct {
	url        func(id string) string
	ttl        time.Duration
	maxPending int
}

// ApprovalTicket tells an agent where a person approves its call and what
// to send when it calls again. Tools put it in the tool error's _meta as
// "orgscope/approval", and, for a client that can open a URL for its user
// (a URL-mode elicitation), in the elicitation they ask for.
type ApprovalTicket struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
	// Ask says to the person what they are asked to do on the page, for a
	// client to show them; the Error's message says it to the agent.
	Ask string `json:"-"`
}

// Audit reasons of approvals.
const (
	reasonApprovalRefused = "approval_refused"
	// ReasonApprovalDeclined: the person a client acts for declined, in
	// the client, to go to the approval page; the call did not run.
	ReasonApprovalDeclined = "approval_declined"
)

// askApproval answers a call the policy lets run only with a person's
// approval, made without one: it finds the approval already waiting for
// exactly this call, or opens one, and refuses the call with a ticket that
// says where a person decides. The refusal is recorded like any other.
func (s *Service) askApproval(ctx context.Context, c Caller, ev store.AuditEvent, key store.ApprovalKey, args []byte, d authz.Decision) error {
	refuse := func(format string, a ...any) error {
		return s.refuse(ctx, ev, &Error{Kind: KindDenied, Reason: authz.ReasonApprovalRequired, Policies: d.Policies,
			Message: fmt.Sprintf(format, a...)})
	}
	why := d.Message
	if why == "" {
		why = "the access policy asks for it"
	}
	switch {
	case s.approvals.url == nil:
		return refuse("%s needs a person's approval (%s), and this server has no approval page (people sign in "+
			"with an external issuer): it cannot run until the operator changes the policy", key.Tool, why)
	case key.OrgCode == "":
		return refuse("%s needs a person's approval (%s), but it acts on no organization whose administrators "+
			"could give it: it cannot run until the operator changes the policy", key.Tool, why)
	}
	now := s.now().UTC()
	a, err := s.store.PendingApproval(ctx, key, now)
	if errors.Is(err, store.ErrNotFound) {
		var n int
		if n, err = s.store.CountPendingApprovals(ctx, key.OrgCode, key.ClientID, now); err == nil && n >= s.approvals.maxPending {
			return refuse("%s needs a person's approval (%s), and %d of this client's calls are already waiting for one: "+
				"ask your user to decide them first, or wait until they expire", key.Tool, why, n)
		}
		if err == nil {
			a, err = s.store.CreateApproval(ctx, store.Approval{
				ID: store.NewID(store.ApprovalIDPrefix), OrgCode: key.OrgCode, ClientID: key.ClientID, Subject: key.Subject,
				ActorChain: c.Principal.ActorChain, Purpose: c.Principal.Purpose, Tool: key.Tool,
				ParamsSHA256: key.ParamsSHA256, Args: truncateText(string(args), store.MaxApprovalArgsBytes),
				Policies: d.Policies, Status: store.ApprovalPending, CreatedAt: now, ExpiresAt: now.Add(s.approvals.ttl),
			})
		}
	}
	if err != nil {
		return s.refuse(ctx, ev, s.storeError(ctx, err))
	}
	ticket := &ApprovalTicket{ID: a.ID, URL: s.approvals.url(a.ID), ExpiresAt: a.ExpiresAt,
		Ask: fmt.Sprintf("An agent asks to run %s in %s, which needs a person's approval (%s). Open the page to see "+
			"the call; an administrator of %s approves or denies it there, and an approved call runs once.",
			key.Tool, key.OrgCode, why, key.OrgCode)}
	return s.refuse(ctx, ev, &Error{Kind: KindDenied, Reason: authz.ReasonApprovalRequired, Policies: d.Policies, Approval: ticket,
		Message: fmt.Sprintf("%s needs a person's approval before it runs (%s). Ask your user to open %s and approve "+
			"this call; then repeat it unchanged, with _meta {\"orgscope/approval_id\": %q}. The approval expires at %s.",
			key.Tool, why, ticket.URL, a.ID, a.ExpiresAt.Format(time.RFC3339))})
}

// useApproval uses up the approval a call names, in q (the call's own
// transaction, for a write): it must be approved, unexpired, unused, and
// for exactly this call. Otherwise the call is refused, saying why.
func (s *Service) useApproval(ctx context.Context, q store.Tx, key store.ApprovalKey, id string) error {
	now := s.now().UTC()
	a, err := q.UseApproval(ctx, key, id, now)
	refuse := func(format string, args ...any) *Error {
		return &Error{Kind: KindDenied, Reason: reasonApprovalRefused, Message: fmt.Sprintf(format, args...)}
	}
	again := "call again without orgscope/approval_id to ask for a new approval"
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return refuse("approval %q does not exist in %s; %s", id, key.OrgCode, again)
	case !errors.Is(err, store.ErrConflict):
		return err
	case a.ClientID != key.ClientID || a.Subject != key.Subject || a.Tool != key.Tool:
		return refuse("approval %q was given for another call (%s by %s), not this one; %s", id, a.Tool, a.ClientID, again)
	case a.ParamsSHA256 != key.ParamsSHA256:
		return refuse("approval %q was given for %s with other arguments; a person approves exactly the arguments "+
			"they saw: repeat the call with those, or %s", id, a.Tool, again)
	case a.Status == store.ApprovalUsed:
		return refuse("approval %q was used already: an approval allows one call; %s", id, again)
	case a.Status == store.ApprovalDenied:
		return refuse("approval %q was denied by a person; do not repeat the call unless your user asks you to", id)
	case !now.Before(a.ExpiresAt):
		return refuse("approval %q expired at %s; %s", id, a.ExpiresAt.Format(time.RFC3339), again)
	case a.Status == store.ApprovalPending:
		if s.approvals.url == nil {
			return refuse("approval %q is still waiting for a person's decision: ask your user to decide it, then "+
				"repeat the call", id)
		}
		e := refuse("approval %q is still waiting for a person's decision: ask your user to decide it at %s, then "+
			"repeat the call", id, s.approvals.url(id))
		e.Approval = &ApprovalTicket{ID: id, URL: s.approvals.url(id), ExpiresAt: a.ExpiresAt,
			Ask: fmt.Sprintf("The approval of %s in %s is still waiting for a decision. Open the page; once an "+
				"administrator of %s has approved or denied the call there, continue.", a.Tool, a.OrgCode, a.OrgCode)}
		return e
	}
	return refuse("approval %q cannot be used (%s); %s", id, a.Status, again)
}

// truncateText cuts s to at most n bytes, on a character boundary, marking
// the cut.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…(cut)"
	s = s[:n-len(mark)]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + mark
}

// ApprovalInput names an approval of the organization.
type ApprovalInput struct {
	OrgArg
	ApprovalID string `json:"approval_id"`
}

// ApprovalView is an approval as the approval page shows it.
type ApprovalView struct {
	Approval store.Approval
	// ClientName is the name of the client that asked, when known.
	ClientName string
	// PersonEmail is the email of the person the client acts for, when it
	// acts for one of the organization's users.
	PersonEmail string
	// Expired: it can no longer be decided or used.
	Expired bool
}

func checkApprovalID(in *ApprovalInput) error {
	if !strings.HasPrefix(in.ApprovalID, store.ApprovalIDPrefix) || len(in.ApprovalID) != len(store.ApprovalIDPrefix)+32 {
		return invalid("approval id %q is not valid: approval ids are apr_ followed by 32 hex digits", in.ApprovalID)
	}
	return nil
}

// approver checks that the caller may decide the organization's approvals:
// a person signed in to the console who is an active administrator of it,
// or a platform administrator (whose global principal the service made
// from their console session, having checked the mark in the store). A
// client's own token never approves anything, its own request least of
// all.
func approver(ctx context.Context, q store.Tx, c Caller, org string) error {
	denied := func(msg string) error { return &Error{Kind: KindDenied, Reason: "not_an_approver", Message: msg} }
	p := c.Principal
	if c.Via != ViaConsole {
		return denied("approvals are decided on OrgScope's approval page, by a person who signs in")
	}
	if p.GrantID == "" {
		return denied("an approval needs a person's sign-in, not a client's token")
	}
	if p.Global() && p.Issuer == ConsoleIssuer && p.GrantType == consoleGrantType {
		return nil
	}
	u, err := q.GetUser(ctx, org, p.Subject)
	if errors.Is(err, store.ErrNotFound) {
		return denied("only an administrator of " + org + " may decide its approvals")
	}
	if err != nil {
		return err
	}
	if u.Status != store.UserActive || u.Role != store.RoleAdmin {
		return denied("only an administrator of " + org + " may decide its approvals; you are signed in as a " + string(u.Role))
	}
	return nil
}

// ListApprovalsInput selects the approvals of the organization to show.
type ListApprovalsInput struct {
	OrgArg
	Limit int `json:"limit,omitempty"`
}

// ListApprovalsOutput is the organization's pending approvals, newest
// first.
type ListApprovalsOutput struct {
	Approvals []ApprovalView `json:"approvals"`
}

// ListApprovals lists the organization's approvals waiting for a decision,
// for the people who may decide them.
func (s *Service) ListApprovals(ctx context.Context, c Caller, in ListApprovalsInput) (ListApprovalsOutput, error) {
	op := &operation[ListApprovalsInput, ListApprovalsOutput]{
		name:  "list_approvals",
		org:   orgOf[ListApprovalsInput],
		check: func(in *ListApprovalsInput) error { return checkLimit(in.Limit) },
		do: func(ctx context.Context, q store.Tx, org string, in *ListApprovalsInput) (ListApprovalsOutput, error) {
			if err := approver(ctx, q, c, org); err != nil {
				return ListApprovalsOutput{}, err
			}
			now := s.now()
			list, err := q.ListApprovals(ctx, org, store.ApprovalFilter{Status: store.ApprovalPending, LiveAt: now}, in.Limit)
			if err != nil {
				return ListApprovalsOutput{}, err
			}
			out := ListApprovalsOutput{Approvals: []ApprovalView{}}
			for _, a := range list {
				out.Approvals = append(out.Approvals, s.approvalView(ctx, q, org, a))
			}
			return out, nil
		},
	}
	return run(ctx, s, c, op, in)
}

// approvalView adds to a what the page shows of it: the client's name and
// the person's email, when known.
func (s *Service) approvalView(ctx context.Context, q store.Tx, org string, a store.Approval) ApprovalView {
	v := ApprovalView{Approval: a, Expired: !s.now().Before(a.ExpiresAt)}
	if cl, err := q.GetClient(ctx, a.ClientID); err == nil {
		v.ClientName = cl.Name
	}
	if a.Subject != a.ClientID && userIDRE.MatchString(a.Subject) {
		if u, err := q.GetUser(ctx, org, a.Subject); err == nil {
			v.PersonEmail = u.Email
		}
	}
	return v
}

// GetApproval reads an approval for the approval page.
func (s *Service) GetApproval(ctx context.Context, c Caller, in ApprovalInput) (ApprovalView, error) {
	op := &operation[ApprovalInput, ApprovalView]{
		name:   "get_approval",
		org:    orgOf[ApprovalInput],
		check:  checkApprovalID,
		target: func(in *ApprovalInput, _ *ApprovalView) string { return in.ApprovalID },
		do: func(ctx context.Context, q store.Tx, org string, in *ApprovalInput) (ApprovalView, error) {
			if err := approver(ctx, q, c, org); err != nil {
				return ApprovalView{}, err
			}
			a, err := q.GetApproval(ctx, org, in.ApprovalID)
			if errors.Is(err, store.ErrNotFound) {
				return ApprovalView{}, notFound("approval %q not found in %s", in.ApprovalID, org)
			}
			if err != nil {
				return ApprovalView{}, err
			}
			return s.approvalView(ctx, q, org, a), nil
		},
	}
	return run(ctx, s, c, op, in)
}

// ApproveCall records a person's approval: the call it names may run once.
func (s *Service) ApproveCall(ctx context.Context, c Caller, in ApprovalInput) (store.Approval, error) {
	return s.decideApproval(ctx, c, in, "approve_call", store.ApprovalApproved)
}

// DenyCall records a person's refusal of the call an approval names.
func (s *Service) DenyCall(ctx context.Context, c Caller, in ApprovalInput) (store.Approval, error) {
	return s.decideApproval(ctx, c, in, "deny_call", store.ApprovalDenied)
}

func (s *Service) decideApproval(ctx context.Context, c Caller, in ApprovalInput, name string, status store.ApprovalStatus) (store.Approval, error) {
	op := &operation[ApprovalInput, store.Approval]{
		name:   name,
		org:    orgOf[ApprovalInput],
		write:  true,
		check:  checkApprovalID,
		target: func(in *ApprovalInput, _ *store.Approval) string { return in.ApprovalID },
		do: func(ctx context.Context, q store.Tx, org string, in *ApprovalInput) (store.Approval, error) {
			if err := approver(ctx, q, c, org); err != nil {
				return store.Approval{}, err
			}
			a, err := q.GetApproval(ctx, org, in.ApprovalID)
			if errors.Is(err, store.ErrNotFound) {
				return a, notFound("approval %q not found in %s", in.ApprovalID, org)
			}
			if err != nil {
				return a, err
			}
			if a.ClientID == c.Principal.ClientID {
				return a, &Error{Kind: KindDenied, Reason: "not_an_approver", Message: "a client cannot decide its own request"}
			}
			a, err = q.DecideApproval(ctx, org, in.ApprovalID, status, c.Principal.Subject, s.now().UTC())
			if errors.Is(err, store.ErrConflict) {
				state := "was " + string(a.Status)
				if a.Status == store.ApprovalPending {
					state = "expired at " + a.ExpiresAt.Format(time.RFC3339)
				}
				return a, conflict("approval %q cannot be decided any more: it %s", in.ApprovalID, state)
			}
			return a, err
		},
	}
	return run(ctx, s, c, op, in)
}

// DeleteExpiredApprovals removes approvals that expired before cutoff.
func (s *Service) DeleteExpiredApprovals(ctx context.Context, cutoff time.Time) (int, error) {
	return s.store.DeleteApprovalsExpiredBefore(ctx, cutoff)
}
