package service

import (
	"context"
	"errors"
	"strings"

	"github.com/orgscope/orgscope/store"
)

// OrgArg is embedded in the input of every operation on one organization.
type OrgArg struct {
	OrgCode string `json:"org_code,omitempty" jsonschema:"The organization to act on. Required with a global token; with an org-scoped token it may be omitted (the token's org is used) and naming another org finds nothing."`
}

func orgOf[T interface{ orgCode() string }](in *T) string { return (*in).orgCode() }

func (a OrgArg) orgCode() string { return a.OrgCode }

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

func userNotFound(id, org string) *Error { return notFound("user %q not found in %s", id, org) }

var listUsers = &operation[ListUsersInput, ListUsersOutput]{
	name: "list_users",
	org:  orgOf[ListUsersInput],
	check: func(in *ListUsersInput) error {
		if err := checkLimit(in.Limit); err != nil {
			return err
		}
		if err := checkCursor(in.Cursor); err != nil {
			return err
		}
		if _, err := parseStatus(in.Status, true); err != nil {
			return err
		}
		var err error
		if in.EmailPrefix, err = plainText("email_prefix", in.EmailPrefix, MaxEmailLength); err != nil {
			return err
		}
		in.NamePrefix, err = plainText("name_prefix", in.NamePrefix, MaxNameLength)
		return err
	},
	do: func(ctx context.Context, q store.Tx, org string, in *ListUsersInput) (ListUsersOutput, error) {
		users, next, err := q.ListUsers(ctx, org, store.UserFilter{
			EmailPrefix: in.EmailPrefix, NamePrefix: in.NamePrefix, Status: store.UserStatus(in.Status),
		}, store.Page{Cursor: in.Cursor, Limit: in.Limit})
		if users == nil {
			users = []store.User{}
		}
		return ListUsersOutput{Users: users, NextCursor: next}, err
	},
}

// ListUsers pages through an organization's users.
func (s *Service) ListUsers(ctx context.Context, c Caller, in ListUsersInput) (ListUsersOutput, error) {
	return run(ctx, s, c, listUsers, in)
}

var getUser = &operation[UserIDInput, store.User]{
	name:   "get_user",
	org:    orgOf[UserIDInput],
	check:  func(in *UserIDInput) error { return checkUserID(in.UserID) },
	target: func(in *UserIDInput, _ *store.User) string { return in.UserID },
	do: func(ctx context.Context, q store.Tx, org string, in *UserIDInput) (store.User, error) {
		u, err := q.GetUser(ctx, org, in.UserID)
		if errors.Is(err, store.ErrNotFound) {
			return u, userNotFound(in.UserID, org)
		}
		return u, err
	},
}

// GetUser reads one user.
func (s *Service) GetUser(ctx context.Context, c Caller, in UserIDInput) (store.User, error) {
	return run(ctx, s, c, getUser, in)
}

var createUser = &operation[CreateUserInput, store.User]{
	name:  "create_user",
	org:   orgOf[CreateUserInput],
	write: true,
	check: func(in *CreateUserInput) error {
		var err error
		if in.Email, err = parseEmail(in.Email); err != nil {
			return err
		}
		if in.GivenName, err = plainText("given_name", in.GivenName, MaxNameLength); err != nil {
			return err
		}
		if in.FamilyName, err = plainText("family_name", in.FamilyName, MaxNameLength); err != nil {
			return err
		}
		role, err := parseRole(in.Role, true)
		in.Role = string(role)
		return err
	},
	target: func(_ *CreateUserInput, out *store.User) string { return out.ID },
	do: func(ctx context.Context, q store.Tx, org string, in *CreateUserInput) (store.User, error) {
		u, err := q.CreateUser(ctx, store.User{
			ID: store.NewID(store.UserIDPrefix), OrgCode: org, Email: in.Email,
			GivenName: in.GivenName, FamilyName: in.FamilyName, Status: store.UserActive, Role: store.Role(in.Role),
		})
		if errors.Is(err, store.ErrConflict) {
			return u, conflict("a user with email %q already exists in %s; use list_users with email_prefix to find it", in.Email, org)
		}
		return u, err
	},
}

// CreateUser adds a user to an organization.
func (s *Service) CreateUser(ctx context.Context, c Caller, in CreateUserInput) (store.User, error) {
	return run(ctx, s, c, createUser, in)
}

var updateUser = &operation[UpdateUserInput, store.User]{
	name:  "update_user",
	org:   orgOf[UpdateUserInput],
	write: true,
	check: func(in *UpdateUserInput) error {
		if err := checkUserID(in.UserID); err != nil {
			return err
		}
		if in.Email != nil {
			email, err := parseEmail(*in.Email)
			if err != nil {
				return err
			}
			in.Email = &email
		}
		for field, p := range map[string]**string{"given_name": &in.GivenName, "family_name": &in.FamilyName} {
			if *p != nil {
				v, err := plainText(field, **p, MaxNameLength)
				if err != nil {
					return err
				}
				*p = &v
			}
		}
		if in.Status != nil {
			if _, err := parseStatus(*in.Status, false); err != nil {
				return err
			}
		}
		if in.Role != nil {
			if _, err := parseRole(*in.Role, false); err != nil {
				return err
			}
		}
		return nil
	},
	target: func(in *UpdateUserInput, _ *store.User) string { return in.UserID },
	do: func(ctx context.Context, q store.Tx, org string, in *UpdateUserInput) (store.User, error) {
		upd := store.UserUpdate{Email: in.Email, GivenName: in.GivenName, FamilyName: in.FamilyName}
		if in.Status != nil {
			st := store.UserStatus(*in.Status)
			upd.Status = &st
		}
		if in.Role != nil {
			r := store.Role(*in.Role)
			upd.Role = &r
		}
		u, err := q.UpdateUser(ctx, org, in.UserID, upd)
		switch {
		case errors.Is(err, store.ErrConflict):
			return u, conflict("another user in %s already has email %q", org, *in.Email)
		case errors.Is(err, store.ErrNotFound):
			return u, userNotFound(in.UserID, org)
		}
		return u, err
	},
}

// UpdateUser changes some fields of a user.
func (s *Service) UpdateUser(ctx context.Context, c Caller, in UpdateUserInput) (store.User, error) {
	return run(ctx, s, c, updateUser, in)
}

var deleteUser = &operation[UserIDInput, DeleteUserOutput]{
	name:   "delete_user",
	org:    orgOf[UserIDInput],
	write:  true,
	check:  func(in *UserIDInput) error { return checkUserID(in.UserID) },
	target: func(in *UserIDInput, _ *DeleteUserOutput) string { return in.UserID },
	do: func(ctx context.Context, q store.Tx, org string, in *UserIDInput) (DeleteUserOutput, error) {
		err := q.DeleteUser(ctx, org, in.UserID)
		if errors.Is(err, store.ErrNotFound) {
			return DeleteUserOutput{}, userNotFound(in.UserID, org)
		}
		return DeleteUserOutput{Deleted: err == nil, UserID: in.UserID}, err
	},
}

// DeleteUser removes a user.
func (s *Service) DeleteUser(ctx context.Context, c Caller, in UserIDInput) (DeleteUserOutput, error) {
	return run(ctx, s, c, deleteUser, in)
}

// SetPlatformAdminInput names a person by email — in one organization, or
// in whichever has them — and whether they manage the platform.
type SetPlatformAdminInput struct {
	OrgCode       string `json:"org_code,omitempty"`
	Email         string `json:"email"`
	PlatformAdmin bool   `json:"platform_admin"`
}

// SetPlatformAdminOutput is the person after the change.
type SetPlatformAdminOutput struct {
	User store.User `json:"user"`
	// Changed is false when they already were (or were not) one.
	Changed bool `json:"changed"`
}

// SetPlatformAdmin makes a person a platform administrator, who manages
// every organization and the platform in the console, or stops them being
// one. Only the operator may (an operator-only action the console does not
// offer); it is recorded in the person's organization.
func (s *Service) SetPlatformAdmin(ctx context.Context, c Caller, in SetPlatformAdminInput) (SetPlatformAdminOutput, error) {
	op := &operation[SetPlatformAdminInput, SetPlatformAdminOutput]{
		name:  "set_platform_admin",
		org:   func(in *SetPlatformAdminInput) string { return in.OrgCode },
		write: true,
		check: func(in *SetPlatformAdminInput) error {
			var err error
			in.Email, err = parseEmail(in.Email)
			return err
		},
		target:   func(_ *SetPlatformAdminInput, out *SetPlatformAdminOutput) string { return out.User.ID },
		recordIn: func(out *SetPlatformAdminOutput) string { return out.User.OrgCode },
		do: func(ctx context.Context, q store.Tx, org string, in *SetPlatformAdminInput) (SetPlatformAdminOutput, error) {
			creds, err := q.UserCredentials(ctx, in.Email)
			if err != nil {
				return SetPlatformAdminOutput{}, err
			}
			var found []store.User
			for _, cr := range creds {
				if org == "" || cr.User.OrgCode == org {
					found = append(found, cr.User)
				}
			}
			switch {
			case len(found) == 0 && org != "":
				return SetPlatformAdminOutput{}, notFound("there is no user %s in %s", in.Email, org)
			case len(found) == 0:
				return SetPlatformAdminOutput{}, notFound("there is no user %s in any organization", in.Email)
			case len(found) > 1:
				orgs := make([]string, len(found))
				for i, u := range found {
					orgs[i] = u.OrgCode
				}
				return SetPlatformAdminOutput{}, invalid("%s is a user of several organizations (%s): name one with --org",
					in.Email, strings.Join(orgs, ", "))
			}
			u := found[0]
			if u.PlatformAdmin == in.PlatformAdmin {
				return SetPlatformAdminOutput{User: u}, nil
			}
			u, err = q.UpdateUser(ctx, u.OrgCode, u.ID, store.UserUpdate{PlatformAdmin: &in.PlatformAdmin})
			return SetPlatformAdminOutput{User: u, Changed: true}, err
		},
	}
	return run(ctx, s, c, op, in)
}
