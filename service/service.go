package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authz"
	"github.com/orgscope/orgscope/internal/credential"
	"github.com/orgscope/orgscope/internal/request"
	"github.com/orgscope/orgscope/store"
)

// Options configures New.
type Options struct {
	// Store is where everything is kept. Required.
	Store store.Store
	// Authorizer is the decision point. Nil means authz.Rules; any other is
	// held within them (authz.Bounded): a policy narrows, never widens.
	Authorizer authz.Authorizer
	// PasswordCost is the bcrypt cost of passwords the service sets; zero
	// means credential.DefaultPasswordCost.
	PasswordCost int
	// SigningKeys makes and retires the embedded issuer's signing keys for
	// RotateSigningKey and RetireSigningKey; nil refuses both.
	SigningKeys SigningKeyManager
	// Logger receives failures that are not the caller's (a store error);
	// nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// LongestTokenTTL is the longest an access token may live: how long a
	// disabled or deleted client's tokens stay cut off. Zero means
	// DefaultLongestTokenTTL.
	LongestTokenTTL time.Duration
	// CutOff, when set, is told of every client cutoff the service makes
	// (disabling or deleting a client) once it is committed: the resource
	// server of this process then refuses the client's tokens at once,
	// ahead of its next poll of the store.
	CutOff func(store.ClientCutoff)
	// ApprovalURL returns the address of the page where a person decides
	// approval id. Nil means there is no such page (an external issuer
	// signs people in): a call the policy lets run only with a person's
	// approval is then refused, saying so.
	ApprovalURL func(id string) string
	// ApprovalTTL is how long an approval can be decided and then used;
	// zero means DefaultApprovalTTL.
	ApprovalTTL time.Duration
	// MaxPendingApprovals bounds the approvals one client may have waiting
	// in one organization; zero means DefaultMaxPendingApprovals.
	MaxPendingApprovals int
	// ConsoleIdle ends a console session unused for this long; zero means
	// DefaultConsoleIdle. ConsoleLifetime ends it this long after sign-in,
	// however active; zero means DefaultConsoleLifetime.
	ConsoleIdle, ConsoleLifetime time.Duration
}

// DefaultLongestTokenTTL is Options.LongestTokenTTL when zero: the longest
// access-token lifetime the server accepts without
// --allow-long-token-ttl.
const DefaultLongestTokenTTL = 24 * time.Hour

// Defaults of Options.
const (
	DefaultApprovalTTL         = 15 * time.Minute
	DefaultMaxPendingApprovals = 20
	DefaultConsoleIdle         = 30 * time.Minute
	DefaultConsoleLifetime     = 12 * time.Hour
)

// Service performs OrgScope's operations. It is safe for concurrent use;
// Close stops its audit writer.
type Service struct {
	store        store.Store
	authz        authz.Authorizer
	audit        *auditWriter
	log          *slog.Logger
	now          func() time.Time
	passwordCost int
	signingKeys  SigningKeyManager
	longestTTL   time.Duration
	cutOff       func(store.ClientCutoff)
	approvals    approvalOptions
	console      consoleOptions
}

// New returns a service over opts.Store.
func New(opts Options) *Service {
	if opts.Store == nil {
		panic("service.New: Options.Store is required")
	}
	s := &Service{store: opts.Store, authz: authz.Bounded(opts.Authorizer), log: opts.Logger, now: opts.Now, passwordCost: opts.PasswordCost,
		signingKeys: opts.SigningKeys, longestTTL: opts.LongestTokenTTL, cutOff: opts.CutOff}
	if s.longestTTL <= 0 {
		s.longestTTL = DefaultLongestTokenTTL
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.passwordCost == 0 {
		s.passwordCost = credential.DefaultPasswordCost
	}
	s.approvals = approvalOptions{url: opts.ApprovalURL, ttl: opts.ApprovalTTL, maxPending: opts.MaxPendingApprovals}
	if s.approvals.ttl <= 0 {
		s.approvals.ttl = DefaultApprovalTTL
	}
	if s.approvals.maxPending <= 0 {
		s.approvals.maxPending = DefaultMaxPendingApprovals
	}
	s.console = consoleOptions{idle: opts.ConsoleIdle, lifetime: opts.ConsoleLifetime}
	if s.console.idle <= 0 {
		s.console.idle = DefaultConsoleIdle
	}
	if s.console.lifetime <= 0 {
		s.console.lifetime = DefaultConsoleLifetime
	}
	s.audit = newAuditWriter(opts.Store, s.log)
	return s
}

// Close waits for the audit events being written and stops the writer.
// Operations after Close fail.
func (s *Service) Close() { s.audit.close() }

// Authorizer returns the decision point the service asks.
func (s *Service) Authorizer() authz.Authorizer { return s.authz }

// Via names the way a request came in.
type Via string

// The ways in.
const (
	ViaMCP     Via = "mcp"
	ViaCLI     Via = "cli"
	ViaConsole Via = "console"
)

// Caller is who asks for an operation, and through which way in.
type Caller struct {
	Principal *auth.Principal
	Via       Via
	// Command names the command-line command ("orgs create") when Via is
	// ViaCLI; the audit action is then cli:<command>.
	Command string
	// RequestID and TraceID tie the audit event to the logs and traces.
	RequestID, TraceID string
	// ApprovalID names a person's approval of this call, for a call the
	// policy lets run only with one (a tool call's
	// _meta["orgscope/approval_id"], or the requestState of a call retried
	// after a URL-mode elicitation of the approval page). It is only a
	// handle: the approval is checked as for any other.
	ApprovalID string
}

// MCPCaller is the caller of a tool call: the verified principal, and the
// request's ids from its record.
func MCPCaller(ctx context.Context, p *auth.Principal) Caller {
	c := Caller{Principal: p, Via: ViaMCP}
	if rec := request.From(ctx); rec != nil {
		c.RequestID, c.TraceID = rec.ID, rec.TraceID
	}
	return c
}

// auditAction is the action an event records.
func (c Caller) auditAction(op string) string {
	switch c.Via {
	case ViaCLI:
		return "cli:" + c.Command
	case ViaConsole:
		return "console:" + op
	}
	return "tools/call:" + op
}

// Kind classifies an Error.
type Kind int

// The kinds of Error.
const (
	// KindInvalid: the input breaks a rule; the message says which.
	KindInvalid Kind = iota + 1
	// KindDenied: the decision point refused.
	KindDenied
	// KindNotFound: the record does not exist or is not the caller's to see.
	KindNotFound
	// KindConflict: a uniqueness rule would be broken.
	KindConflict
	// KindUnavailable: the database cannot be reached; retry later.
	KindUnavailable
	// KindInternal: something failed that is not the caller's fault.
	KindInternal
)

// Error is an operation's refusal or failure. Message is safe to show the
// caller and says what to do; nothing was changed.
type Error struct {
	Kind    Kind
	Message string
	// Reason is what the audit trail records (authz reasons, validation).
	Reason string
	// Missing are the scopes a KindDenied for insufficient scope lacks.
	Missing []string
	// Policies are the ids of the policies that decided a KindDenied.
	Policies []string
	// Approval, on a refusal for want of a person's approval, says where
	// the person gives it and which approval to name when calling again.
	Approval *ApprovalTicket
	Err      error
}

func (e *Error) Error() string { return e.Message }

func (e *Error) Unwrap() error { return e.Err }

// invalid is a KindInvalid error.
func invalid(format string, a ...any) *Error {
	return &Error{Kind: KindInvalid, Reason: authz.ReasonValidation, Message: fmt.Sprintf(format, a...)}
}

func notFound(format string, a ...any) *Error {
	return &Error{Kind: KindNotFound, Reason: "not_found", Message: fmt.Sprintf(format, a...)}
}

func conflict(format string, a ...any) *Error {
	return &Error{Kind: KindConflict, Reason: "conflict", Message: fmt.Sprintf(format, a...)}
}

// storeError maps a store failure that the operation did not explain
// itself.
func (s *Service) storeError(ctx context.Context, err error) *Error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, store.ErrInvalidCursor):
		return invalid("cursor is not valid for this listing: pass the next_cursor of the previous page unchanged, or omit it for the first page")
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		s.log.WarnContext(ctx, "database unavailable", "err", err)
		return &Error{Kind: KindUnavailable, Reason: "unavailable", Message: "the database is unavailable right now; retry shortly", Err: err}
	case errors.Is(err, store.ErrNotFound):
		return notFound("not found")
	}
	s.log.ErrorContext(ctx, "store failure", "err", err)
	return &Error{Kind: KindInternal, Reason: "internal", Message: "internal error while reading or writing data; nothing was changed", Err: err}
}

// operation is one thing the service does.
type operation[In, Out any] struct {
	name string
	// org returns the organization the input names ("" when it names none).
	org func(*In) string
	// orgOptional, for a tenant action, lets a global principal name no
	// organization (the action is then platform-wide).
	orgOptional func(*In) bool
	// check validates the input, normalising it in place.
	check func(*In) error
	// do performs the operation on org. A write runs in the transaction
	// that records its audit event.
	do    func(ctx context.Context, q store.Tx, org string, in *In) (Out, error)
	write bool
	// target names the record acted on, for the audit event.
	target func(*In, *Out) string
	// recordIn, when set, names the organization a global principal's
	// event belongs in when it named none: that of the record it acted on
	// (a client found by its id).
	recordIn func(*Out) string
}

// run is every operation's life: check, resolve the organization, decide,
// do, record.
func run[In, Out any](ctx context.Context, s *Service, c Caller, op *operation[In, Out], in In) (Out, error) {
	var zero Out
	action, ok := authz.Lookup(op.name)
	if !ok {
		panic("service: " + op.name + " is not an action of the catalog")
	}
	ev := s.newEvent(c, op.name)
	_, hash, received := canonicalArgs(in)
	ev.ParamsSHA256 = hash
	if c.Principal == nil {
		return zero, s.refuse(ctx, ev, &Error{Kind: KindDenied, Reason: authz.ReasonNoPrincipal, Message: "this call carries no verified principal"})
	}
	if op.target != nil {
		ev.Target = op.target(&in, &zero)
	}
	if action.OperatorOnly {
		if err := wayIn(c, action); err != nil {
			ev.OrgCode = c.Principal.OrgCode
			return zero, s.refuse(ctx, ev, err)
		}
	}

	// Whether the principal may ask at all (its scopes, a global-only
	// action) is told before what is wrong with its arguments.
	if d := s.authz.Authorize(ctx, authz.Request{Principal: c.Principal, Action: action, Stage: authz.StageRequest}); !d.Allow {
		ev.OrgCode, ev.Policies = c.Principal.OrgCode, d.Policies
		return zero, s.refuse(ctx, ev, &Error{Kind: KindDenied, Reason: d.Reason, Message: d.Message,
			Missing: d.Missing, Policies: d.Policies})
	}
	org, err := s.resolveOrg(c.Principal, action, op, &in)
	ev.OrgCode = recordedIn(c.Principal, org, err)
	if err == nil {
		err = checkText(in)
	}
	if err == nil && op.check != nil {
		err = op.check(&in)
	}
	if err != nil {
		return zero, s.refuse(ctx, ev, err)
	}
	// The policy reads the arguments as checked (trimmed, normalised):
	// what it decides about is what runs.
	args, _, _ := canonicalArgs(in)
	d := s.authz.Authorize(ctx, authz.Request{Principal: c.Principal, Action: action, Org: org, Args: args, Stage: authz.StageCall})
	ev.Policies = d.Policies
	if !d.Allow {
		if d.Reason == authz.ReasonTenant {
			// Recorded in the principal's own org, where it may see its
			// refusals; the org it named is the target.
			ev.OrgCode, ev.Target = c.Principal.OrgCode, org
		}
		return zero, s.refuse(ctx, ev, &Error{Kind: KindDenied, Reason: d.Reason, Message: d.Message,
			Missing: d.Missing, Policies: d.Policies})
	}

	// A call the policy lets run only with a person's approval asks for one,
	// or runs with the approval it names, which it then uses up.
	var approval *store.ApprovalKey
	if d.NeedsApproval {
		key := store.ApprovalKey{OrgCode: org, ClientID: c.Principal.ClientID, Subject: c.Principal.Subject,
			Tool: op.name, ParamsSHA256: hash}
		if c.ApprovalID == "" {
			return zero, s.askApproval(ctx, c, ev, key, received, d)
		}
		approval = &key
	}

	ev.Decision = "allow"
	var out Out
	if op.write {
		err = s.store.InTx(ctx, func(tx store.Tx) error {
			if err := orgExists(ctx, tx, c.Principal, action, org); err != nil {
				return err
			}
			if approval != nil {
				if err := s.useApproval(ctx, tx, *approval, c.ApprovalID); err != nil {
					return err
				}
				ev.Reason = "approved:" + c.ApprovalID
			}
			var err error
			if out, err = op.do(ctx, tx, org, &in); err != nil {
				return err
			}
			if op.target != nil {
				ev.Target = op.target(&in, &out)
			}
			if op.recordIn != nil && c.Principal.Global() && org == "" {
				ev.OrgCode = op.recordIn(&out)
			}
			ev.Outcome = "ok"
			return tx.AppendAuditEvent(ctx, ev)
		})
	} else {
		err = orgExists(ctx, s.store, c.Principal, action, org)
		if err == nil && approval != nil {
			if err = s.useApproval(ctx, s.store, *approval, c.ApprovalID); err == nil {
				ev.Reason = "approved:" + c.ApprovalID
			}
		}
		if err == nil {
			out, err = op.do(ctx, s.store, org, &in)
		}
		if err == nil && op.target != nil {
			ev.Target = op.target(&in, &out)
		}
		if err == nil && op.recordIn != nil && c.Principal.Global() && org == "" {
			ev.OrgCode = op.recordIn(&out)
		}
	}
	if err != nil {
		e := s.storeError(ctx, err)
		if e.Kind == KindInvalid || e.Kind == KindDenied {
			// A rule the operation could only check against what it read
			// (a flag value of the wrong type): a refusal like any other.
			return zero, s.refuse(ctx, ev, e)
		}
		ev.Outcome, ev.Reason = "error", e.Reason
		s.record(ctx, ev, e)
		return zero, e
	}
	if !op.write {
		ev.Outcome = "ok"
		if aerr := s.audit.record(ctx, ev); aerr != nil {
			// An answer is given only once its record is written.
			e := s.storeError(ctx, aerr)
			report(ctx, ev, e)
			return zero, e
		}
	}
	report(ctx, ev, nil)
	return out, nil
}

// ReasonOperatorOnly is the audit reason of an operator-only action asked
// for by a way in that may not perform it.
const ReasonOperatorOnly = "operator_only"

// wayIn checks that the way a request came in may perform an operator-only
// action: the command line, as the operator, may perform every one; the
// console those the catalog marks Console, for the person signed in (whose
// principal carries their authority: the service found it in the store
// when it read the session); a tool call none, whatever its token says —
// no tool offers them, and this holds even if one ever did by mistake.
func wayIn(c Caller, a authz.Action) *Error {
	switch {
	case c.Via == ViaCLI && c.Principal.Issuer == operatorIssuer:
		return nil
	case c.Via == ViaConsole && a.Console:
		return nil
	}
	where := "at the command line"
	if a.Console {
		where = "at the command line or by an administrator signed in to the console"
	}
	return &Error{Kind: KindDenied, Reason: ReasonOperatorOnly,
		Message: fmt.Sprintf("%s is not a tool: it is performed %s", a.Name, where)}
}

// refuse records a denial and returns it.
func (s *Service) refuse(ctx context.Context, ev store.AuditEvent, err error) error {
	e := s.storeError(ctx, err)
	if e.Kind == KindInvalid {
		e.Reason = authz.ReasonValidation
	}
	ev.Decision, ev.Reason, ev.Outcome = "deny", e.Reason, "error"
	if ev.Policies == nil {
		ev.Policies = e.Policies
	}
	s.record(ctx, ev, e)
	return e
}

// record writes an event outside a transaction (a refusal, a failed
// write) and reports the outcome to the request record. The event of a
// call the store failed is handed to the audit writer without waiting for
// it: the store has already used up the call's deadline, and the answer
// (503) must not wait for a second one. The writer writes it once the
// store answers again (see auditWriter).
func (s *Service) record(ctx context.Context, ev store.AuditEvent, e *Error) {
	if e != nil && e.Kind == KindUnavailable {
		s.audit.detach(ev)
		report(ctx, ev, e)
		return
	}
	if err := s.audit.record(ctx, ev); err != nil {
		s.log.WarnContext(ctx, "audit event not recorded", "action", ev.Action, "decision", ev.Decision, "err", err)
	}
	report(ctx, ev, e)
}

// report tells the request record (the access log, the metrics) what
// became of a tool call; a database outage makes the call a 503.
func report(ctx context.Context, ev store.AuditEvent, e *Error) {
	rec := request.From(ctx)
	if rec == nil {
		return
	}
	if e != nil && e.Kind == KindUnavailable {
		rec.MarkUnavailable()
	}
	tool := ev.Action
	if len(tool) > len("tools/call:") && tool[:len("tools/call:")] == "tools/call:" {
		tool = tool[len("tools/call:"):]
	}
	rec.Report(request.Outcome{Tool: tool, Org: ev.OrgCode, Decision: ev.Decision, Reason: ev.Reason, Result: ev.Outcome})
}

// resolveOrg picks the organization a tenant action acts on: an
// org-scoped principal's own unless it names another (which the decision
// point then refuses as another tenant's); the one a global principal
// names, which it must.
func (s *Service) resolveOrg(p *auth.Principal, a authz.Action, op orgNamer, in any) (string, error) {
	named := op.orgOf(in)
	if named != "" {
		if err := auth.CheckOrgCode(named); err != nil {
			return named, invalid("org_code: %v", err)
		}
	}
	if !a.Tenant {
		return named, nil
	}
	if named == "" {
		switch {
		case !p.Global():
			return p.OrgCode, nil
		case op.platformWide(in):
			return "", nil
		}
		return "", invalid("org_code is required with a global token: name the organization to act on")
	}
	return named, nil
}

// orgNamer is the part of an operation resolveOrg reads.
type orgNamer interface {
	orgOf(in any) string
	platformWide(in any) bool
}

func (op *operation[In, Out]) orgOf(in any) string {
	if op.org == nil {
		return ""
	}
	return op.org(in.(*In))
}

func (op *operation[In, Out]) platformWide(in any) bool {
	return op.orgOptional != nil && op.orgOptional(in.(*In))
}

// orgExists checks, for a global principal, that the organization it names
// exists: an org-scoped principal's own org does by construction.
func orgExists(ctx context.Context, q store.Tx, p *auth.Principal, a authz.Action, org string) error {
	if !a.Tenant || !p.Global() || org == "" {
		return nil
	}
	if _, err := q.GetOrg(ctx, org); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound("%s", authz.OrgNotFound(org))
		}
		return err
	}
	return nil
}

// recordedIn is the organization an event is recorded in: an org-scoped
// principal's own, whatever it named (it may see its refusals there and
// nowhere else); for a global principal the one it acts on, or none when
// what it named is not an organization code.
func recordedIn(p *auth.Principal, org string, err error) string {
	switch {
	case !p.Global():
		return p.OrgCode
	case err != nil && auth.CheckOrgCode(org) != nil:
		return ""
	}
	return org
}

// newEvent starts the audit event of an operation.
func (s *Service) newEvent(c Caller, op string) store.AuditEvent {
	ev := store.AuditEvent{
		ID:        store.NewID(store.EventIDPrefix),
		Time:      s.now().UTC(),
		Action:    c.auditAction(op),
		RequestID: c.RequestID,
		TraceID:   c.TraceID,
	}
	if p := c.Principal; p != nil {
		ev.ClientID, ev.Subject, ev.GrantID = p.ClientID, p.Subject, p.GrantID
		ev.ActorChain, ev.Purpose = p.ActorChain, p.Purpose
	}
	return ev
}

// RecordDenial records a refusal made before the service was reached: the
// HTTP layer's 403 for a token that lacks a tool's scopes. arguments are
// the call's, raw.
func (s *Service) RecordDenial(ctx context.Context, p *auth.Principal, action string, arguments []byte, d authz.Decision) {
	ev := s.newEvent(MCPCaller(ctx, p), action)
	ev.ParamsSHA256 = HashArguments(arguments)
	ev.OrgCode = ""
	if p != nil {
		ev.OrgCode = p.OrgCode
	}
	ev.Decision, ev.Reason, ev.Outcome, ev.Policies = "deny", d.Reason, "error", d.Policies
	s.record(ctx, ev, nil)
}

// RefuseInput records the refusal of arguments a way in could not decode
// (a wrong type, an unknown member) before any operation could check them,
// and returns the error to answer. paramsSHA256 identifies the arguments
// as received.
func (s *Service) RefuseInput(ctx context.Context, c Caller, action, paramsSHA256 string, err error) error {
	return s.refuseCall(ctx, c, action, paramsSHA256, "", invalid("%v", err))
}

// RefuseDeclined records the refusal of a call whose approval the person
// the client acts for declined to give (a client's elicitation of the
// approval page, answered decline or cancel), and returns the error to
// answer. The call does not run; the approval c.ApprovalID names, which
// the event records as its target, is left as it is.
func (s *Service) RefuseDeclined(ctx context.Context, c Caller, action, paramsSHA256 string) error {
	return s.refuseCall(ctx, c, action, paramsSHA256, c.ApprovalID, &Error{Kind: KindDenied, Reason: ReasonApprovalDeclined,
		Message: fmt.Sprintf("%s was not run: your user declined to open the approval page of approval %q. Do not "+
			"repeat the call unless your user asks you to.", action, c.ApprovalID)})
}

// refuseCall records the refusal of a call refused before its operation
// could run, in the principal's organization, and returns it.
func (s *Service) refuseCall(ctx context.Context, c Caller, action, paramsSHA256, target string, refusal *Error) error {
	ev := s.newEvent(c, action)
	ev.ParamsSHA256, ev.Target = paramsSHA256, target
	if c.Principal != nil {
		ev.OrgCode = c.Principal.OrgCode
	}
	// As in run: whether the principal may ask at all is told first.
	if a, ok := authz.Lookup(action); ok && c.Principal != nil {
		if d := s.authz.Authorize(ctx, authz.Request{Principal: c.Principal, Action: a, Stage: authz.StageRequest}); !d.Allow {
			ev.Policies = d.Policies
			return s.refuse(ctx, ev, &Error{Kind: KindDenied, Reason: d.Reason, Message: d.Message, Missing: d.Missing, Policies: d.Policies})
		}
	}
	return s.refuse(ctx, ev, refusal)
}
