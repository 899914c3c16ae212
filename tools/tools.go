package tools

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authz"
	"github.com/orgscope/orgscope/internal/request"
	"github.com/orgscope/orgscope/service"
)

// Options configures Register.
type Options struct {
	// Service performs every operation. Required.
	Service *service.Service
}

// The _meta keys of approvals: a tool error for a call that needs a
// person's approval carries MetaApproval ({"id", "url", "expires_at"});
// the call repeated with MetaApproval's id as MetaApprovalID runs once the
// person has approved it.
const (
	MetaApproval   = "orgscope/approval"
	MetaApprovalID = "orgscope/approval_id"
)

// ApprovalInput is the id of the one input request of a call that needs a
// person's approval, asked of a client that can elicit a URL (protocol
// 2026-07-28 or later, declaring URL-mode elicitation): the approval page,
// in URL mode, with the approval's id as elicitationId. The result
// (input_required) also carries MetaApproval, and the approval's id as its
// requestState; the client retries the call with both, and the call runs
// with that approval as with MetaApprovalID.
const ApprovalInput = "orgscope/approval"

// Relist tells clients listening for notifications that the tools they may
// call may have changed (the access policy was reloaded). The go-sdk sends
// notifications/tools/list_changed only when a tool is added or removed,
// and has no call to send it otherwise; adding whoami again, unchanged, is
// the least intrusive way to make it send one.
func Relist(server *mcp.Server, opts Options) { registerWhoami(server, opts.Service) }

// MaxResultBytes bounds one tool answer: a larger one is refused with a
// tool error asking for a smaller page, rather than built and sent. With
// the bounded batch it bounds what one request can make the server hold.
const MaxResultBytes = 256 << 10

// Register adds every tool to server.
func Register(server *mcp.Server, opts Options) {
	if opts.Service == nil {
		panic("tools.Register: Options.Service is required")
	}
	s := opts.Service
	registerWhoami(server, s)
	registerUsers(server, s)
	registerOrgs(server, s)
	registerFlags(server, s)
	registerAudit(server, s)
	registerClients(server, s)
	registerGrants(server, s)
}

// add registers a tool: the arguments decoded strictly into In, the
// service's call, the answer (or the service's error, which also says
// what was recorded).
func add[In, Out any](server *mcp.Server, svc *service.Service, t *mcp.Tool, call func(context.Context, service.Caller, In) (Out, error)) {
	if t.InputSchema == nil {
		t.InputSchema = inputSchema[In](nil)
	}
	if t.OutputSchema == nil {
		t.OutputSchema = outputSchema[Out]()
	}
	server.AddTool(t, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if rec := request.From(ctx); rec != nil && !rec.CallsTool(t.Name) {
			// What was checked is what runs: the body was read once, and a
			// dispatch it does not name is refused.
			return errorResult("this request's body does not call " + t.Name), nil
		}
		p, err := auth.PrincipalFrom(cmp.Or(req.Extra, &mcp.RequestExtra{}).TokenInfo) // Extra is nil off HTTP
		if err != nil {
			return errorResult("this call carries no verified access token"), nil
		}
		caller := service.MCPCaller(ctx, p)
		if id, ok := req.Params.Meta[MetaApprovalID]; ok {
			if caller.ApprovalID, ok = id.(string); !ok {
				err := errors.New("_meta " + MetaApprovalID + " must be the approval's id, a string")
				return errorResult(svc.RefuseInput(ctx, caller, t.Name, service.HashArguments(req.Params.Arguments), err).Error()), nil
			}
		}
		elicit := elicitsURL(req)
		if elicit && req.Params.RequestState != "" {
			accepted, err := approvalAnswer(req.Params, &caller)
			if err != nil {
				return errorResult(svc.RefuseInput(ctx, caller, t.Name, service.HashArguments(req.Params.Arguments), err).Error()), nil
			}
			if !accepted {
				return errorResult(svc.RefuseDeclined(ctx, caller, t.Name, service.HashArguments(req.Params.Arguments)).Error()), nil
			}
		}
		var in In
		if err := decodeArguments(req.Params.Arguments, &in); err != nil {
			return errorResult(svc.RefuseInput(ctx, caller, t.Name, service.HashArguments(req.Params.Arguments), err).Error()), nil
		}
		out, err := call(ctx, caller, in)
		if err != nil {
			var e *service.Error
			if errors.As(err, &e) {
				if elicit && e.Approval != nil {
					return askApproval(e.Approval), nil
				}
				res := errorResult(e.Message)
				if e.Approval != nil && e.Reason == authz.ReasonApprovalRequired {
					// Where a person approves the call, for clients that
					// can open it; the message says the same for the model.
					res.Meta = mcp.Meta{MetaApproval: e.Approval}
				}
				return res, nil
			}
			return errorResult("internal error; nothing was changed"), nil
		}
		body, err := json.Marshal(out)
		if err != nil {
			return nil, fmt.Errorf("tools: %s: marshal output: %w", t.Name, err)
		}
		if len(body) > MaxResultBytes {
			return errorResult(fmt.Sprintf("the answer would be larger than %d KiB: ask for a smaller page (limit) or narrow the filter",
				MaxResultBytes>>10)), nil
		}
		return &mcp.CallToolResult{
			StructuredContent: json.RawMessage(body),
			Content:           []mcp.Content{&mcp.TextContent{Text: string(body)}},
		}, nil
	})
}

// elicitsURL reports whether the client of req can be asked to open a
// URL for its user in the middle of a call: it speaks protocol 2026-07-28
// or later, where a result can ask for input (input_required) and the call
// is retried with it, and declares URL-mode elicitation in this request's
// capabilities. The session's version must say so too: for any other
// client the go-sdk would try to elicit over a back channel that a
// stateless server does not have.
func elicitsURL(req *mcp.CallToolRequest) bool {
	const multiRoundTrip = "2026-07-28"
	if req.ProtocolVersion() < multiRoundTrip {
		return false
	}
	if req.Session == nil || req.Session.InitializeParams() == nil || req.Session.InitializeParams().ProtocolVersion < multiRoundTrip {
		return false
	}
	caps := req.ClientCapabilities()
	return caps != nil && caps.Elicitation != nil && caps.Elicitation.URL != nil
}

// askApproval is the answer to a call that waits for a person's approval,
// for a client that can open the approval page for its user: an
// elicitation of the page, to retry the call after.
func askApproval(t *service.ApprovalTicket) *mcp.CallToolResult {
	return &mcp.CallToolResult{
		Meta: mcp.Meta{MetaApproval: t},
		InputRequests: mcp.InputRequestMap{ApprovalInput: &mcp.ElicitParams{
			Mode: "url", URL: t.URL, ElicitationID: t.ID, Message: t.Ask,
		}},
		RequestState: t.ID,
	}
}

// approvalAnswer reads the retry of a call after askApproval: its
// requestState names the approval (only a handle: the service checks the
// approval itself), and its answer to the elicitation says whether the
// person went to the page (accept) or not (decline, cancel).
func approvalAnswer(p *mcp.CallToolParamsRaw, c *service.Caller) (accepted bool, err error) {
	if c.ApprovalID != "" && c.ApprovalID != p.RequestState {
		return false, fmt.Errorf("_meta %s and requestState name different approvals: send one", MetaApprovalID)
	}
	c.ApprovalID = p.RequestState
	r, ok := p.InputResponses[ApprovalInput].(*mcp.ElicitResult)
	if !ok {
		return false, fmt.Errorf("a call retried with requestState needs inputResponses[%q], the answer to the "+
			"elicitation of the approval page", ApprovalInput)
	}
	switch r.Action {
	case "accept":
		return true, nil
	case "decline", "cancel":
		return false, nil
	}
	return false, fmt.Errorf("inputResponses[%q].action must be accept, decline or cancel", ApprovalInput)
}

// decodeArguments reads a tool's arguments: a JSON object (or nothing)
// with exactly the members In declares, matched case-sensitively, none
// twice. The go-sdk does not validate arguments for tools added this way;
// the service checks their values.
func decodeArguments(raw json.RawMessage, in any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	err := jsonv2.Unmarshal(raw, in, jsonv2.RejectUnknownMembers(true))
	if err == nil {
		return nil
	}
	var se *jsonv2.SemanticError
	if errors.As(err, &se) {
		field := strings.TrimPrefix(string(se.JSONPointer), "/")
		switch {
		case se.Err != nil && strings.Contains(se.Err.Error(), "unknown object member"):
			return fmt.Errorf("unknown argument %q: the tool's input schema lists the arguments it takes", field)
		case field == "":
			return errors.New("arguments must be a JSON object")
		case se.GoType != nil:
			return fmt.Errorf("argument %s has the wrong type: want %s", field, jsonType(se.GoType.String()))
		}
		return fmt.Errorf("argument %s is not valid", field)
	}
	return errors.New("arguments are not valid JSON (or hold the same member twice)")
}

// jsonType names the JSON type a Go type decodes from.
func jsonType(goType string) string {
	switch {
	case strings.Contains(goType, "int"):
		return "an integer"
	case strings.HasSuffix(goType, "string"):
		return "a string"
	case strings.HasSuffix(goType, "bool"):
		return "true or false"
	case strings.HasPrefix(goType, "map"):
		return "an object"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case goType == "time.Time":
		return "an RFC 3339 time"
	}
	return "a value of another type"
}

func errorResult(msg string) *mcp.CallToolResult {
	return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: msg}}}
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
	// replaces tools replace what exists with something new each time.
	replaces = &mcp.ToolAnnotations{DestructiveHint: boolPtr(true), OpenWorldHint: boolPtr(false)}
)
