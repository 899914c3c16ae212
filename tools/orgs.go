package tools

import (
	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/orgscope/orgscope/service"
)

func registerOrgs(s *mcp.Server, svc *service.Service) {
	add(s, svc, &mcp.Tool{
		Name:        "get_organization",
		Title:       "Get organization",
		Description: "Get the organization: its code, name and properties.",
		InputSchema: inputSchema[service.OrgInput](map[string]func(*jsonschema.Schema){"org_code": orgCodeConstraint}),
		Annotations: readOnly,
	}, svc.GetOrg)

	add(s, svc, &mcp.Tool{
		Name:  "update_organization",
		Title: "Update organization",
		Description: "Rename the organization and set or remove its properties (a null property value removes " +
			"it). Returns the updated organization.",
		InputSchema: inputSchema[service.UpdateOrgInput](map[string]func(*jsonschema.Schema){
			"org_code": orgCodeConstraint, "name": orgNameLength,
		}),
		Annotations: overwrite,
	}, svc.UpdateOrg)

	add(s, svc, &mcp.Tool{
		Name:        "list_organizations",
		Title:       "List organizations",
		Description: "List every organization, ordered by code, a page at a time. Needs a global token.",
		InputSchema: inputSchema[service.ListOrgsInput](map[string]func(*jsonschema.Schema){
			"limit": pageLimit, "cursor": cursorConstraint,
		}),
		Annotations: readOnly,
	}, svc.ListOrgs)

	add(s, svc, &mcp.Tool{
		Name:  "create_organization",
		Title: "Create organization",
		Description: "Create an organization (a tenant). The code must be unique: 1 to 64 letters, digits, '_', '-' " +
			"or '.', like org_acme or an identity provider's organization id. Needs a global token.",
		InputSchema: inputSchema[service.CreateOrgInput](map[string]func(*jsonschema.Schema){
			"org_code": orgCodeConstraint, "name": orgNameLength,
		}),
		Annotations: additive,
	}, svc.CreateOrg)
}
