package tools

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/orgscope/orgscope/store"
)

// ListUsersInput selects a page of users.
type ListUsersInput struct {
	OrgArg
	Cursor      string `json:"cursor,omitempty" jsonschema:"The next_cursor of the previous page; omit for the first page."`
	Limit       int    `json:"limit,omitempty" jsonschema:"Users per page, 1 to 100 (default 20)."`
	EmailPrefix string `json:"email_prefix,omitempty" jsonschema:"Only users whose email starts with this (case-insensitive)."`
	NamePrefix  string `json:"name_prefix,omitempty" jsonschema:"Only users whose given name, family name or full name starts with this (case-insensitive)."`
	Status      string `json:"status,omitempty" jsonschema:"Only users with this status."`
}

// ListUsersOutput is a page of users.
type ListUsersOutput struct {
	Users      []store.User `json:"users"`
	NextCursor string       `json:"next_cursor,omitempty" jsonschema:"Pass as cursor to get the next page; absent on the last page."`
}

// UserIDInput names one user.
type UserIDInput struct {
	OrgArg
	UserID string `json:"user_id" jsonschema:"The user's id (usr_ followed by 32 hex digits)."`
}

// CreateUserInput describes a new user.
type CreateUserInput struct {
	OrgArg
	Email      string `json:"email" jsonschema:"Email address, unique within the organization."`
	GivenName  string `json:"given_name,omitempty"`
	FamilyName string `json:"family_name,omitempty"`
	Role       string `json:"role,omitempty" jsonschema:"admin or member (default member)."`
}

// UpdateUserInput changes some fields of a user; omitted fields stay.
type UpdateUserInput struct {
	OrgArg
	UserID     string  `json:"user_id" jsonschema:"The user's id."`
	Email      *string `json:"email,omitempty"`
	GivenName  *string `json:"given_name,omitempty"`
	FamilyName *string `json:"family_name,omitempty"`
	Status     *string `json:"status,omitempty" jsonschema:"active, or suspended to block sign-in."`
	Role       *string `json:"role,omitempty"`
}

// DeleteUserOutput confirms a deletion.
type DeleteUserOutput struct {
	Deleted bool   `json:"deleted"`
	UserID  string `json:"user_id"`
}

var (
	userIDConstraint = pattern(userIDPattern, 36)
	statusEnum       = enum(string(store.UserActive), string(store.UserSuspended))
	roleEnum         = enum(string(store.RoleAdmin), string(store.RoleMember))
	nameConstraint   = length(0, 100)
	emailConstraint  = format("email", 254)
)

func (t *toolset) registerUsers(s *mcp.Server) {
	add(s, t, &mcp.Tool{
		Name:  "list_users",
		Title: "List users",
		Description: "List the users of the organization, oldest first, a page at a time. Filter by email or name " +
			"prefix and by status. Pass next_cursor back as cursor for the next page.",
		InputSchema: inputSchema[ListUsersInput](map[string]func(*jsonschema.Schema){
			"org_code": orgCodeConstraint, "limit": pageLimit, "status": statusEnum,
			"email_prefix": length(0, 254), "name_prefix": length(0, 100), "cursor": length(0, 512),
		}),
		Annotations: readOnly,
	}, t.listUsers)

	add(s, t, &mcp.Tool{
		Name:        "get_user",
		Title:       "Get user",
		Description: "Get one user of the organization by user_id.",
		InputSchema: inputSchema[UserIDInput](map[string]func(*jsonschema.Schema){
			"org_code": orgCodeConstraint, "user_id": userIDConstraint,
		}),
		Annotations: readOnly,
	}, t.getUser)

	add(s, t, &mcp.Tool{
		Name:  "create_user",
		Title: "Create user",
		Description: "Add a user to the organization. The email must be unique within the organization; " +
			"role is admin or member (default member). Returns the new user with its user_id.",
		InputSchema: inputSchema[CreateUserInput](map[string]func(*jsonschema.Schema){
			"org_code": orgCodeConstraint, "email": emailConstraint, "role": roleEnum,
			"given_name": nameConstraint, "family_name": nameConstraint,
		}),
		Annotations: additive,
	}, t.createUser)

	add(s, t, &mcp.Tool{
		Name:  "update_user",
		Title: "Update user",
		Description: "Change a user's email, names, status (active or suspended) or role. Only the fields " +
			"given change. Returns the updated user.",
		InputSchema: inputSchema[UpdateUserInput](map[string]func(*jsonschema.Schema){
			"org_code": orgCodeConstraint, "user_id": userIDConstraint, "email": emailConstraint,
			"given_name": nameConstraint, "family_name": nameConstraint, "status": statusEnum, "role": roleEnum,
		}),
		Annotations: overwrite,
	}, t.updateUser)

	add(s, t, &mcp.Tool{
		Name:  "delete_user",
		Title: "Delete user",
		Description: "Permanently delete a user of the organization. This cannot be undone; " +
			"to block sign-in reversibly, update_user with status suspended instead.",
		InputSchema: inputSchema[UserIDInput](map[string]func(*jsonschema.Schema){
			"org_code": orgCodeConstraint, "user_id": userIDConstraint,
		}),
		Annotations: destructive,
	}, t.deleteUser)
}

func (t *toolset) listUsers(ctx context.Context, c caller, in ListUsersInput) (ListUsersOutput, error) {
	if in.Limit < 0 || in.Limit > store.MaxPageSize {
		return ListUsersOutput{}, fmt.Errorf("limit must be between 1 and %d", store.MaxPageSize)
	}
	status, err := parseStatus(in.Status, true)
	if err != nil {
		return ListUsersOutput{}, err
	}
	users, next, err := t.store.ListUsers(ctx, c.org, store.UserFilter{
		EmailPrefix: in.EmailPrefix, NamePrefix: in.NamePrefix, Status: status,
	}, store.Page{Cursor: in.Cursor, Limit: in.Limit})
	if err != nil {
		return ListUsersOutput{}, t.storeError(ctx, err, errOrgNotFound(c.org))
	}
	if users == nil {
		users = []store.User{}
	}
	return ListUsersOutput{Users: users, NextCursor: next}, nil
}

func (t *toolset) getUser(ctx context.Context, c caller, in UserIDInput) (store.User, error) {
	u, err := t.store.GetUser(ctx, c.org, in.UserID)
	if err != nil {
		return store.User{}, t.storeError(ctx, err, errUserNotFound(in.UserID, c.org))
	}
	return u, nil
}

func (t *toolset) createUser(ctx context.Context, c caller, in CreateUserInput) (store.User, error) {
	email, err := parseEmail(in.Email)
	if err != nil {
		return store.User{}, err
	}
	role, err := parseRole(in.Role, true)
	if err != nil {
		return store.User{}, err
	}
	u, err := t.store.CreateUser(ctx, store.User{
		ID:         store.NewID(store.UserIDPrefix),
		OrgCode:    c.org,
		Email:      email,
		GivenName:  strings.TrimSpace(in.GivenName),
		FamilyName: strings.TrimSpace(in.FamilyName),
		Status:     store.UserActive,
		Role:       role,
	})
	if errors.Is(err, store.ErrConflict) {
		return store.User{}, fmt.Errorf("a user with email %q already exists in %s; use list_users with email_prefix to find it", email, c.org)
	}
	if err != nil {
		return store.User{}, t.storeError(ctx, err, errOrgNotFound(c.org))
	}
	t.audit(ctx, c, c.org, "create_user", u.ID)
	return u, nil
}

func (t *toolset) updateUser(ctx context.Context, c caller, in UpdateUserInput) (store.User, error) {
	var upd store.UserUpdate
	if in.Email != nil {
		email, err := parseEmail(*in.Email)
		if err != nil {
			return store.User{}, err
		}
		upd.Email = &email
	}
	if in.GivenName != nil {
		upd.GivenName = ptr(strings.TrimSpace(*in.GivenName))
	}
	if in.FamilyName != nil {
		upd.FamilyName = ptr(strings.TrimSpace(*in.FamilyName))
	}
	if in.Status != nil {
		status, err := parseStatus(*in.Status, false)
		if err != nil {
			return store.User{}, err
		}
		upd.Status = &status
	}
	if in.Role != nil {
		role, err := parseRole(*in.Role, false)
		if err != nil {
			return store.User{}, err
		}
		upd.Role = &role
	}
	u, err := t.store.UpdateUser(ctx, c.org, in.UserID, upd)
	if errors.Is(err, store.ErrConflict) {
		return store.User{}, fmt.Errorf("another user in %s already has email %q", c.org, *upd.Email)
	}
	if err != nil {
		return store.User{}, t.storeError(ctx, err, errUserNotFound(in.UserID, c.org))
	}
	t.audit(ctx, c, c.org, "update_user", u.ID)
	return u, nil
}

func (t *toolset) deleteUser(ctx context.Context, c caller, in UserIDInput) (DeleteUserOutput, error) {
	if err := t.store.DeleteUser(ctx, c.org, in.UserID); err != nil {
		return DeleteUserOutput{}, t.storeError(ctx, err, errUserNotFound(in.UserID, c.org))
	}
	t.audit(ctx, c, c.org, "delete_user", in.UserID)
	return DeleteUserOutput{Deleted: true, UserID: in.UserID}, nil
}

func errUserNotFound(id, org string) error {
	return fmt.Errorf("user %q not found in %s", id, org)
}

// parseEmail accepts a bare address (no display name) of at most 254 bytes.
func parseEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s || len(s) > 254 || addr.Name != "" {
		return "", fmt.Errorf("email %q is not a valid address (want a bare address like ann@example.com)", s)
	}
	return s, nil
}

func parseStatus(s string, optional bool) (store.UserStatus, error) {
	switch st := store.UserStatus(s); {
	case s == "" && optional:
		return "", nil
	case st == store.UserActive || st == store.UserSuspended:
		return st, nil
	}
	return "", fmt.Errorf("status %q is not valid (want active or suspended)", s)
}

func parseRole(s string, optional bool) (store.Role, error) {
	switch r := store.Role(s); {
	case s == "" && optional:
		return store.RoleMember, nil
	case r == store.RoleAdmin || r == store.RoleMember:
		return r, nil
	}
	return "", fmt.Errorf("role %q is not valid (want admin or member)", s)
}
