package tools

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authz"
	"github.com/orgscope/orgscope/internal/request"
	"github.com/orgscope/orgscope/store"
)

// Store is the part of the store the tools use. It has no cross-org lookup:
// every tenant method takes the org the tool resolved from the principal.
type Store interface {
	GetOrg(ctx context.Context, code string) (store.Org, error)
	CreateOrg(ctx context.Context, org store.Org) (store.Org, error)
	ListOrgs(ctx context.Context, page store.Page) ([]store.Org, string, error)
	UpdateOrg(ctx context.Context, code string, update store.OrgUpdate) (store.Org, error)

	CreateUser(ctx context.Context, u store.User) (store.User, error)
	GetUser(ctx context.Context, orgCode, userID string) (store.User, error)
	ListUsers(ctx context.Context, orgCode string, filter store.UserFilter, page store.Page) ([]store.User, string, error)
	UpdateUser(ctx context.Context, orgCode, userID string, update store.UserUpdate) (store.User, error)
	DeleteUser(ctx context.Context, orgCode, userID string) error

	CreateFlag(ctx context.Context, def store.FlagDefinition) (store.FlagDefinition, error)
	DeleteFlag(ctx context.Context, key string) error
	ListEffectiveFlags(ctx context.Context, orgCode string, page store.Page) ([]store.EffectiveFlag, string, error)
	GetEffectiveFlag(ctx context.Context, orgCode, key string) (store.EffectiveFlag, error)
	SetFlagOverride(ctx context.Context, orgCode, key string, value json.RawMessage) (store.FlagOverride, error)
	DeleteFlagOverride(ctx context.Context, orgCode, key string) (bool, error)

	AppendAuditEvent(ctx context.Context, e store.AuditEvent) error
	ListAuditEvents(ctx context.Context, orgCode string, filter store.AuditFilter, page store.Page) ([]store.AuditEvent, string, error)
}

// Options configures Register.
type Options struct {
	// Store is where the tools read and write. Required.
	Store Store
	// Authorizer is the decision point every call asks; nil means
	// authz.Rules.
	Authorizer authz.Authorizer
	// Logger receives a line per failed store call; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// toolset carries the dependencies every handler shares.
type toolset struct {
	store Store
	authz authz.Authorizer
	log   *slog.Logger
	now   func() time.Time
}

// Register adds every tool to server.
func Register(server *mcp.Server, opts Options) {
	if opts.Store == nil {
		panic("tools.Register: Options.Store is required")
	}
	t := &toolset{store: opts.Store, authz: opts.Authorizer, log: opts.Logger, now: opts.Now}
	if t.authz == nil {
		t.authz = authz.Rules{}
	}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	if t.now == nil {
		t.now = time.Now
	}
	t.registerWhoami(server)
	t.registerUsers(server)
	t.registerOrgs(server)
	t.registerFlags(server)
	t.registerAudit(server)
}

// OrgArg is embedded in the input of every tenant tool.
type OrgArg struct {
	OrgCode string `json:"org_code,omitempty" jsonschema:"The organization to act on. Required with a global token; with an org-scoped token it may be omitted (the token's org is used) and naming another org finds nothing."`
}

func (a OrgArg) org() string { return a.OrgCode }

// caller is the verified principal of a call and, for tenant tools, the
// organization it acts on.
type caller struct {
	*auth.Principal
	org string
}

// add registers a tool whose handler runs only after the principal is
// known, holds the spec's scopes, and (for global-only tools) is global.
// The HTTP layer refuses such calls with 403 before they get here; this is
// the second line.
func add[In, Out any](s *mcp.Server, t *toolset, tool *mcp.Tool, fn func(ctx context.Context, c caller, in In) (Out, error)) {
	action, ok := authz.Lookup(tool.Name)
	if !ok {
		panic("tools: " + tool.Name + " is not in the catalog")
	}
	mcp.AddTool(s, tool, func(ctx context.Context, req *mcp.CallToolRequest, in In) (*mcp.CallToolResult, Out, error) {
		var zero Out
		if rec := request.From(ctx); rec != nil && !rec.CallsTool(tool.Name) {
			// What was checked is what runs: the body was read once, and a
			// dispatch it does not name is refused.
			return nil, zero, errors.New("this request's body does not call " + tool.Name)
		}
		p, err := auth.PrincipalFrom(cmp.Or(req.Extra, &mcp.RequestExtra{}).TokenInfo) // Extra is nil off HTTP
		if err != nil {
			return nil, zero, errors.New("this call carries no verified access token")
		}
		if d := t.authz.Authorize(ctx, authz.Request{Principal: p, Action: action, Stage: authz.StageRequest}); !d.Allow {
			return nil, zero, errors.New(d.Message)
		}
		c := caller{Principal: p}
		if oa, ok := any(in).(interface{ org() string }); ok {
			if c.org, err = t.resolveOrg(ctx, p, oa.org()); err != nil {
				report(ctx, request.Outcome{Tool: tool.Name, Org: oa.org(), Decision: "deny", Reason: authz.ReasonTenant, Result: "error"})
				return nil, zero, err
			}
		}
		out, err := fn(ctx, c, in)
		o := request.Outcome{Tool: tool.Name, Org: c.org, Decision: "allow", Result: "ok"}
		if err != nil {
			o.Result = "error"
		}
		report(ctx, o)
		return nil, out, err
	})
}

// report adds a call's outcome to the request record, if there is one.
func report(ctx context.Context, o request.Outcome) {
	if rec := request.From(ctx); rec != nil {
		rec.Report(o)
	}
}

// resolveOrg picks the org a tenant tool acts on. An org-scoped principal
// acts on its own org; an org_code naming another is "not found", the same
// answer an org that does not exist gets. A global principal must name one.
func (t *toolset) resolveOrg(ctx context.Context, p *auth.Principal, arg string) (string, error) {
	if !p.Global() {
		if arg != "" && arg != p.OrgCode {
			return "", errOrgNotFound(arg)
		}
		return p.OrgCode, nil
	}
	if arg == "" {
		return "", errors.New("org_code is required with a global token: name the organization to act on")
	}
	if _, err := t.store.GetOrg(ctx, arg); err != nil {
		return "", t.storeError(ctx, err, errOrgNotFound(arg))
	}
	return arg, nil
}

func errOrgNotFound(code string) error {
	return fmt.Errorf("organization %q not found", code)
}

// storeError turns a store failure into a message for the agent:
// notFound for ErrNotFound, a retry hint when the database is down, and a
// generic message (with the detail logged) otherwise.
func (t *toolset) storeError(ctx context.Context, err, notFound error) error {
	switch {
	case errors.Is(err, store.ErrNotFound) && notFound != nil:
		return notFound
	case errors.Is(err, store.ErrInvalidCursor):
		return errors.New("cursor is not valid for this listing: pass the next_cursor of the previous page unchanged, or omit it for the first page")
	case errors.Is(err, store.ErrUnavailable):
		t.log.WarnContext(ctx, "database unavailable", "err", err)
		if rec := request.From(ctx); rec != nil {
			rec.MarkUnavailable()
		}
		return errors.New("the database is unavailable right now; retry shortly")
	}
	t.log.ErrorContext(ctx, "store failure", "err", err)
	return errors.New("internal error while reading or writing data; nothing was changed")
}

// audit records a change. The change has happened, so a failure to record
// it is logged, not reported as a failed call.
func (t *toolset) audit(ctx context.Context, c caller, org, action, target string) {
	err := t.store.AppendAuditEvent(ctx, store.AuditEvent{
		ID:       store.NewID(store.EventIDPrefix),
		OrgCode:  org,
		Time:     t.now().UTC(),
		Subject:  c.Subject,
		ClientID: c.ClientID,
		Action:   action,
		Target:   target,
		Decision: store.DecisionAllow,
		Outcome:  store.OutcomeOK,
	})
	if err != nil {
		t.log.ErrorContext(ctx, "audit event not recorded", "action", action, "target", target, "err", err)
	}
}

func boolPtr(b bool) *bool { return &b }

// Annotations shared by the tools.
var (
	readOnly = &mcp.ToolAnnotations{ReadOnlyHint: true, IdempotentHint: true, DestructiveHint: boolPtr(false), OpenWorldHint: boolPtr(false)}
	additive = &mcp.ToolAnnotations{DestructiveHint: boolPtr(false), OpenWorldHint: boolPtr(false)}
	// overwrite and destructive tools both replace or remove what exists,
	// which is what the MCP spec calls destructive; repeating them with the
	// same arguments has no further effect.
	overwrite   = &mcp.ToolAnnotations{IdempotentHint: true, DestructiveHint: boolPtr(true), OpenWorldHint: boolPtr(false)}
	destructive = &mcp.ToolAnnotations{IdempotentHint: true, DestructiveHint: boolPtr(true), OpenWorldHint: boolPtr(false)}
)
