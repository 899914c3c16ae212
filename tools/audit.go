package tools

import (
	"context"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/orgscope/orgscope/service"
)

func registerAudit(s *mcp.Server, svc *service.Service) {
	add(s, svc, &mcp.Tool{
		Name:  "list_audit_events",
		Title: "List audit events",
		Description: "List the organization's audit trail, newest first: every decision about a tool call or an " +
			"administrative change, allowed or refused — who (client and subject), which action, on what, the " +
			"decision and its reason, the outcome. Filter by time, client, subject, action and decision.",
		InputSchema: inputSchema[service.ListAuditInput](map[string]func(*jsonschema.Schema){
			"org_code": orgCodeConstraint, "limit": pageLimit, "cursor": cursorConstraint, "decision": decisionEnum,
			"since": format("date-time", 64), "until": format("date-time", 64),
		}),
		Annotations: readOnly,
	}, svc.ListAuditEvents)
}

func registerWhoami(s *mcp.Server, svc *service.Service) {
	add(s, svc, &mcp.Tool{
		Name:  "whoami",
		Title: "Who am I",
		Description: "Describe the access token of this call: client, subject, the organization it is bound to " +
			"(or that it is a global administration token), its scopes, its expiry, who it acts for when it was " +
			"delegated, and the tools it may call. Call this first when another tool is refused, to see what the " +
			"token allows.",
		Annotations: readOnly,
	}, func(ctx context.Context, c service.Caller, _ service.WhoamiInput) (service.WhoamiOutput, error) {
		return svc.Whoami(ctx, c)
	})
}
