package service

import (
	"context"
	"errors"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authz"
	"github.com/orgscope/orgscope/store"
)

// OrgInput names the organization (see OrgArg).
type OrgInput struct {
	OrgArg
}

// UpdateOrgInput changes an organization's name and properties.
type UpdateOrgInput struct {
	OrgArg
	Name       *string            `json:"name,omitempty" jsonschema:"The new display name."`
	Properties map[string]*string `json:"properties,omitempty" jsonschema:"Properties to set; a null value removes the property. Properties not named stay as they are."`
}

// ListOrgsInput selects a page of organizations.
type ListOrgsInput struct {
	Cursor string `json:"cursor,omitempty" jsonschema:"The next_cursor of the previous page; omit for the first page."`
	Limit  int    `json:"limit,omitempty" jsonschema:"Organizations per page, 1 to 100 (default 20)."`
}

// ListOrgsOutput is a page of organizations.
type ListOrgsOutput struct {
	Organizations []store.Org `json:"organizations"`
	NextCursor    string      `json:"next_cursor,omitempty"`
}

// CreateOrgInput describes a new organization.
type CreateOrgInput struct {
	OrgCode    string            `json:"org_code" jsonschema:"The new organization's code: 1 to 64 letters, digits, '_', '-' or '.', starting with a letter or digit (org_acme; an identity provider's organization id)."`
	Name       string            `json:"name" jsonschema:"Display name."`
	Properties map[string]string `json:"properties,omitempty"`
}

func orgNotFound(code string) *Error { return notFound("%s", authz.OrgNotFound(code)) }

var getOrg = &operation[OrgInput, store.Org]{
	name:   "get_organization",
	org:    orgOf[OrgInput],
	target: func(in *OrgInput, out *store.Org) string { return out.Code },
	do: func(ctx context.Context, q store.Tx, org string, _ *OrgInput) (store.Org, error) {
		o, err := q.GetOrg(ctx, org)
		if errors.Is(err, store.ErrNotFound) {
			return o, orgNotFound(org)
		}
		return o, err
	},
}

// GetOrg reads an organization.
func (s *Service) GetOrg(ctx context.Context, c Caller, in OrgInput) (store.Org, error) {
	return run(ctx, s, c, getOrg, in)
}

var updateOrg = &operation[UpdateOrgInput, store.Org]{
	name:  "update_organization",
	org:   orgOf[UpdateOrgInput],
	write: true,
	check: func(in *UpdateOrgInput) error {
		if in.Name != nil {
			name, err := plainText("name", *in.Name, MaxOrgNameLength)
			if err != nil {
				return err
			}
			if name == "" {
				return invalid("name must not be empty")
			}
			in.Name = &name
		}
		return checkProperties(in.Properties)
	},
	target: func(in *UpdateOrgInput, out *store.Org) string { return out.Code },
	do: func(ctx context.Context, q store.Tx, org string, in *UpdateOrgInput) (store.Org, error) {
		o, err := q.UpdateOrg(ctx, org, store.OrgUpdate{Name: in.Name, Properties: in.Properties})
		if errors.Is(err, store.ErrNotFound) {
			return o, orgNotFound(org)
		}
		return o, err
	},
}

// UpdateOrg renames an organization and sets or removes its properties.
func (s *Service) UpdateOrg(ctx context.Context, c Caller, in UpdateOrgInput) (store.Org, error) {
	return run(ctx, s, c, updateOrg, in)
}

var listOrgs = &operation[ListOrgsInput, ListOrgsOutput]{
	name: "list_organizations",
	check: func(in *ListOrgsInput) error {
		if err := checkLimit(in.Limit); err != nil {
			return err
		}
		return checkCursor(in.Cursor)
	},
	do: func(ctx context.Context, q store.Tx, _ string, in *ListOrgsInput) (ListOrgsOutput, error) {
		orgs, next, err := q.ListOrgs(ctx, store.Page{Cursor: in.Cursor, Limit: in.Limit})
		if orgs == nil {
			orgs = []store.Org{}
		}
		return ListOrgsOutput{Organizations: orgs, NextCursor: next}, err
	},
}

// ListOrgs pages through every organization.
func (s *Service) ListOrgs(ctx context.Context, c Caller, in ListOrgsInput) (ListOrgsOutput, error) {
	return run(ctx, s, c, listOrgs, in)
}

var createOrg = &operation[CreateOrgInput, store.Org]{
	name:  "create_organization",
	org:   func(in *CreateOrgInput) string { return in.OrgCode },
	write: true,
	check: func(in *CreateOrgInput) error {
		if err := auth.CheckOrgCode(in.OrgCode); err != nil {
			return invalid("org_code: %v", err)
		}
		name, err := plainText("name", in.Name, MaxOrgNameLength)
		if err != nil {
			return err
		}
		if name == "" {
			return invalid("name is required")
		}
		in.Name = name
		props := make(map[string]*string, len(in.Properties))
		for k, v := range in.Properties {
			props[k] = &v
		}
		return checkProperties(props)
	},
	target: func(in *CreateOrgInput, _ *store.Org) string { return in.OrgCode },
	do: func(ctx context.Context, q store.Tx, _ string, in *CreateOrgInput) (store.Org, error) {
		o, err := q.CreateOrg(ctx, store.Org{Code: in.OrgCode, Name: in.Name, Properties: in.Properties})
		if errors.Is(err, store.ErrConflict) {
			return o, conflict("organization %q already exists", in.OrgCode)
		}
		return o, err
	},
}

// CreateOrg creates an organization (a tenant).
func (s *Service) CreateOrg(ctx context.Context, c Caller, in CreateOrgInput) (store.Org, error) {
	return run(ctx, s, c, createOrg, in)
}
