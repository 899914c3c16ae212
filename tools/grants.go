package tools

import (
	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/orgscope/orgscope/service"
)

// registerGrants adds the tools with which a person sees and revokes what
// acts for them: the grants they gave the apps they signed in with, and
// the agents that got tokens from those grants by token exchange.
func registerGrants(s *mcp.Server, svc *service.Service) {
	add(s, svc, &mcp.Tool{
		Name:  "list_delegations",
		Title: "List delegations",
		Description: "List the grants people gave the apps they signed in with, a page at a time, each with the " +
			"agents acting for the person through it: the live tokens agents got by token exchange, with their " +
			"actor chain, scopes, purpose and expiry. A person sees their own; an administrator the " +
			"organization's (user_id or email narrows to one person); a global token any org's.",
		InputSchema: inputSchema[service.ListDelegationsInput](map[string]func(*jsonschema.Schema){
			"org_code": orgCodeConstraint, "user_id": userIDConstraint, "email": emailConstraint,
			"limit": pageLimit, "cursor": cursorConstraint,
		}),
		Annotations: readOnly,
	}, svc.ListDelegations)

	add(s, svc, &mcp.Tool{
		Name:  "revoke_delegation",
		Title: "Revoke delegation",
		Description: "Revoke a grant: the person's sign-in with that app and every token agents got from it " +
			"stop working at their next call, on every server. A person revokes their own grants; an " +
			"administrator any of the organization's.",
		InputSchema: inputSchema[service.RevokeDelegationInput](map[string]func(*jsonschema.Schema){
			"org_code": orgCodeConstraint, "grant_id": pattern(service.GrantIDPattern, 36),
		}),
		Annotations: destructive,
	}, svc.RevokeDelegation)
}
