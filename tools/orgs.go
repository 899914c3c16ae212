package tools

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

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
	OrgCode    string            `json:"org_code" jsonschema:"The new organization's code: org_ followed by lower-case letters, digits or underscores."`
	Name       string            `json:"name" jsonschema:"Display name."`
	Properties map[string]string `json:"properties,omitempty"`
}

var (
	orgCodeRE      = regexp.MustCompile(orgCodePattern)
	propertyKeyRE  = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	orgNameLength  = length(1, 200)
	maxProperties  = 50
	maxPropertyLen = 1024
)

func (t *toolset) registerOrgs(s *mcp.Server) {
	add(s, t, &mcp.Tool{
		Name:        "get_organization",
		Title:       "Get organization",
		Description: "Get the organization: its code, name and properties.",
		InputSchema: inputSchema[OrgInput](map[string]func(*jsonschema.Schema){"org_code": orgCodeConstraint}),
		Annotations: readOnly,
	}, t.getOrg)

	add(s, t, &mcp.Tool{
		Name:  "update_organization",
		Title: "Update organization",
		Description: "Rename the organization and set or remove its properties (a null property value removes " +
			"it). Returns the updated organization.",
		InputSchema: inputSchema[UpdateOrgInput](map[string]func(*jsonschema.Schema){
			"org_code": orgCodeConstraint, "name": orgNameLength,
		}),
		Annotations: overwrite,
	}, t.updateOrg)

	add(s, t, &mcp.Tool{
		Name:        "list_organizations",
		Title:       "List organizations",
		Description: "List every organization, ordered by code, a page at a time. Needs a global token.",
		InputSchema: inputSchema[ListOrgsInput](map[string]func(*jsonschema.Schema){
			"limit": pageLimit, "cursor": length(0, 512),
		}),
		Annotations: readOnly,
	}, t.listOrgs)

	add(s, t, &mcp.Tool{
		Name:  "create_organization",
		Title: "Create organization",
		Description: "Create an organization (a tenant). The code must be unique and look like org_acme. " +
			"Needs a global token.",
		InputSchema: inputSchema[CreateOrgInput](map[string]func(*jsonschema.Schema){
			"org_code": orgCodeConstraint, "name": orgNameLength,
		}),
		Annotations: additive,
	}, t.createOrg)
}

func (t *toolset) getOrg(ctx context.Context, c caller, _ OrgInput) (store.Org, error) {
	org, err := t.store.GetOrg(ctx, c.org)
	if err != nil {
		return store.Org{}, t.storeError(ctx, err, errOrgNotFound(c.org))
	}
	return org, nil
}

func (t *toolset) updateOrg(ctx context.Context, c caller, in UpdateOrgInput) (store.Org, error) {
	upd := store.OrgUpdate{Properties: in.Properties}
	if in.Name != nil {
		name := strings.TrimSpace(*in.Name)
		if name == "" {
			return store.Org{}, errors.New("name must not be empty")
		}
		upd.Name = &name
	}
	for k, v := range in.Properties {
		if err := checkProperty(k, v); err != nil {
			return store.Org{}, err
		}
	}
	if len(in.Properties) > maxProperties {
		return store.Org{}, fmt.Errorf("at most %d properties per call", maxProperties)
	}
	org, err := t.store.UpdateOrg(ctx, c.org, upd)
	if err != nil {
		return store.Org{}, t.storeError(ctx, err, errOrgNotFound(c.org))
	}
	t.audit(ctx, c, c.org, "update_organization", c.org)
	return org, nil
}

func (t *toolset) listOrgs(ctx context.Context, _ caller, in ListOrgsInput) (ListOrgsOutput, error) {
	if in.Limit < 0 || in.Limit > store.MaxPageSize {
		return ListOrgsOutput{}, fmt.Errorf("limit must be between 1 and %d", store.MaxPageSize)
	}
	orgs, next, err := t.store.ListOrgs(ctx, store.Page{Cursor: in.Cursor, Limit: in.Limit})
	if err != nil {
		return ListOrgsOutput{}, t.storeError(ctx, err, nil)
	}
	if orgs == nil {
		orgs = []store.Org{}
	}
	return ListOrgsOutput{Organizations: orgs, NextCursor: next}, nil
}

func (t *toolset) createOrg(ctx context.Context, c caller, in CreateOrgInput) (store.Org, error) {
	if !orgCodeRE.MatchString(in.OrgCode) {
		return store.Org{}, fmt.Errorf("org_code %q is not valid: use org_ followed by up to 60 lower-case letters, digits or underscores", in.OrgCode)
	}
	name := strings.TrimSpace(in.Name)
	if name == "" {
		return store.Org{}, errors.New("name is required")
	}
	if len(in.Properties) > maxProperties {
		return store.Org{}, fmt.Errorf("at most %d properties", maxProperties)
	}
	for k, v := range in.Properties {
		if err := checkProperty(k, &v); err != nil {
			return store.Org{}, err
		}
	}
	org, err := t.store.CreateOrg(ctx, store.Org{Code: in.OrgCode, Name: name, Properties: in.Properties})
	if errors.Is(err, store.ErrConflict) {
		return store.Org{}, fmt.Errorf("organization %q already exists", in.OrgCode)
	}
	if err != nil {
		return store.Org{}, t.storeError(ctx, err, nil)
	}
	t.audit(ctx, c, org.Code, "create_organization", org.Code)
	return org, nil
}

func checkProperty(key string, value *string) error {
	if !propertyKeyRE.MatchString(key) {
		return fmt.Errorf("property name %q is not valid: use lower-case letters, digits and underscores, starting with a letter", key)
	}
	if value != nil && len(*value) > maxPropertyLen {
		return fmt.Errorf("property %q is longer than %d bytes", key, maxPropertyLen)
	}
	return nil
}
