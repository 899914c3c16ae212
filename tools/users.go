package tools

import (
	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/orgscope/orgscope/service"
)

func registerUsers(s *mcp.Server, svc *service.Service) {
	add(s, svc, &mcp.Tool{
		Name:  "list_users",
		Title: "List users",
		Description: "List the users of the organization, oldest first, a page at a time. Filter by email or name " +
			"prefix and by status. Pass next_cursor back as cursor for the next page.",
		InputSchema: inputSchema[service.ListUsersInput](map[string]func(*jsonschema.Schema){
			"org_code": orgCodeConstraint, "limit": pageLimit, "status": statusEnum,
			"email_prefix": length(0, service.MaxEmailLength), "name_prefix": nameConstraint, "cursor": cursorConstraint,
		}),
		Annotations: readOnly,
	}, svc.ListUsers)

	add(s, svc, &mcp.Tool{
		Name:        "get_user",
		Title:       "Get user",
		Description: "Get one user of the organization by user_id.",
		InputSchema: inputSchema[service.UserIDInput](map[string]func(*jsonschema.Schema){
			"org_code": orgCodeConstraint, "user_id": userIDConstraint,
		}),
		Annotations: readOnly,
	}, svc.GetUser)

	add(s, svc, &mcp.Tool{
		Name:  "create_user",
		Title: "Create user",
		Description: "Add a user to the organization. The email must be unique within the organization; " +
			"role is admin or member (default member). Returns the new user with its user_id.",
		InputSchema: inputSchema[service.CreateUserInput](map[string]func(*jsonschema.Schema){
			"org_code": orgCodeConstraint, "email": emailConstraint, "role": roleEnum,
			"given_name": nameConstraint, "family_name": nameConstraint,
		}),
		Annotations: additive,
	}, svc.CreateUser)

	add(s, svc, &mcp.Tool{
		Name:  "update_user",
		Title: "Update user",
		Description: "Change a user's email, names, status (active or suspended) or role. Only the fields " +
			"given change. Returns the updated user.",
		InputSchema: inputSchema[service.UpdateUserInput](map[string]func(*jsonschema.Schema){
			"org_code": orgCodeConstraint, "user_id": userIDConstraint, "email": emailConstraint,
			"given_name": nameConstraint, "family_name": nameConstraint, "status": statusEnum, "role": roleEnum,
		}),
		Annotations: overwrite,
	}, svc.UpdateUser)

	add(s, svc, &mcp.Tool{
		Name:  "delete_user",
		Title: "Delete user",
		Description: "Permanently delete a user of the organization. This cannot be undone; " +
			"to block sign-in reversibly, update_user with status suspended instead.",
		InputSchema: inputSchema[service.UserIDInput](map[string]func(*jsonschema.Schema){
			"org_code": orgCodeConstraint, "user_id": userIDConstraint,
		}),
		Annotations: destructive,
	}, svc.DeleteUser)
}
