package tools_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/service"
	"github.com/orgscope/orgscope/store"
)

func TestGetOrganization(t *testing.T) {
	e := newEnv(t)
	stored, err := e.st.GetOrg(t.Context(), acme)
	if err != nil {
		t.Fatal(err)
	}
	p := orgP(acme, auth.ScopeReadOrgs)
	got := ok[store.Org](e, p, "get_organization", nil)
	if !reflect.DeepEqual(got, stored) || got.Name != "Acme Corp" || got.Properties["plan"] != "enterprise" {
		t.Errorf("get_organization = %+v, want %+v", got, stored)
	}
	if got := ok[store.Org](e, orgP(acme, auth.ScopeWriteOrgs), "get_organization", map[string]any{"org_code": acme}); got.Code != acme {
		t.Errorf("write:orgs, own org_code: %+v", got)
	}
	e.fails(p, "get_organization", map[string]any{"org_code": beta}, `organization "org_beta" not found`)
	e.fails(p, "get_organization", map[string]any{"org_code": "Org Beta"}, "org_code: ")

	g := globalP(auth.ScopeReadOrgs)
	if got := ok[store.Org](e, g, "get_organization", map[string]any{"org_code": beta}); got.Code != beta || got.Name != "Beta Inc" {
		t.Errorf("global, beta: %+v", got)
	}
	e.fails(g, "get_organization", nil, "org_code is required with a global token")
	e.fails(g, "get_organization", map[string]any{"org_code": "org_nope"}, `organization "org_nope" not found`)
}

func TestUpdateOrganization(t *testing.T) {
	e := newEnv(t)
	p := orgP(acme, auth.ScopeWriteOrgs)
	orig, _ := e.st.GetOrg(t.Context(), acme)

	t.Run("name only", func(t *testing.T) {
		e := e.with(t)
		got := ok[store.Org](e, p, "update_organization", map[string]any{"name": "  Acme Corporation "})
		want := orig
		want.Name, want.UpdatedAt = "Acme Corporation", got.UpdatedAt
		if !reflect.DeepEqual(got, want) || got.UpdatedAt.Before(orig.UpdatedAt) {
			t.Errorf("got %+v\nwant %+v", got, want)
		}
		e.lastEvent(acme, p, "update_organization", acme)
	})

	t.Run("properties", func(t *testing.T) {
		e := e.with(t)
		got := ok[store.Org](e, p, "update_organization", map[string]any{
			"properties": map[string]any{"region": nil, "tier": "gold", "absent": nil},
		})
		if got.Name != "Acme Corporation" || !reflect.DeepEqual(got.Properties, map[string]string{"plan": "enterprise", "tier": "gold"}) {
			t.Errorf("got %+v", got)
		}
		if stored, _ := e.st.GetOrg(t.Context(), acme); !reflect.DeepEqual(stored, got) {
			t.Errorf("stored %+v, returned %+v", stored, got)
		}
		if other, _ := e.st.GetOrg(t.Context(), beta); !reflect.DeepEqual(other.Properties, map[string]string{"plan": "team"}) {
			t.Errorf("beta changed: %+v", other)
		}
	})

	t.Run("invalid", func(t *testing.T) {
		e := e.with(t)
		before := e.dump()
		e.fails(p, "update_organization", map[string]any{"name": "   "}, "name must not be empty")
		e.fails(p, "update_organization", map[string]any{"name": ""}, "name must not be empty")
		e.fails(p, "update_organization", map[string]any{"name": strings.Repeat("n", 201)}, "name is longer than 200 characters")
		e.fails(p, "update_organization", map[string]any{"properties": map[string]any{"Bad-Key": "x"}},
			`property name "Bad-Key" is not valid`)
		e.fails(p, "update_organization", map[string]any{"properties": map[string]any{"notes": strings.Repeat("x", 1025)}},
			`property "notes" is longer than 1024 bytes`)
		many := map[string]any{}
		for i := range 51 {
			many[fmt.Sprintf("p%02d", i)] = "v"
		}
		e.fails(p, "update_organization", map[string]any{"properties": many}, "at most 50 properties per call")
		e.fails(p, "update_organization", map[string]any{"properties": map[string]any{"plan": 5}}, "properties")
		e.fails(p, "update_organization", map[string]any{"name": "Mine", "org_code": beta}, `organization "org_beta" not found`)
		e.unchanged(before, "refused update_organization")
	})

	t.Run("global", func(t *testing.T) {
		e := e.with(t)
		g := globalP(auth.ScopeWriteOrgs)
		e.fails(g, "update_organization", map[string]any{"name": "X"}, "org_code is required with a global token")
		got := ok[store.Org](e, g, "update_organization", map[string]any{"org_code": beta, "name": "Beta"})
		if got.Code != beta || got.Name != "Beta" {
			t.Errorf("got %+v", got)
		}
		e.lastEvent(beta, g, "update_organization", beta)
	})
}

func TestListOrganizations(t *testing.T) {
	e := newEnv(t)
	for _, code := range []string{"org_zulu", "org_mike"} {
		if _, err := e.st.CreateOrg(t.Context(), store.Org{Code: code, Name: code}); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{acme, beta, "org_mike", "org_zulu"}
	g := globalP(auth.ScopeReadOrgs)

	got := ok[service.ListOrgsOutput](e, g, "list_organizations", nil)
	if !reflect.DeepEqual(codes(got.Organizations), want) || got.NextCursor != "" {
		t.Errorf("list_organizations = %v (next %q), want %v", codes(got.Organizations), got.NextCursor, want)
	}
	var paged []string
	for cursor, n := "", 0; ; n++ {
		args := map[string]any{"limit": 3}
		if cursor != "" {
			args["cursor"] = cursor
		}
		page := ok[service.ListOrgsOutput](e, g, "list_organizations", args)
		paged = append(paged, codes(page.Organizations)...)
		if cursor = page.NextCursor; cursor == "" || n > 3 {
			break
		}
	}
	if !reflect.DeepEqual(paged, want) {
		t.Errorf("paged: %v", paged)
	}
	e.fails(g, "list_organizations", map[string]any{"limit": 101}, "limit must be between 1 and 100")
	e.fails(g, "list_organizations", map[string]any{"cursor": "nope"}, "cursor is not valid for this listing")
	e.fails(g, "list_organizations", map[string]any{"org_code": acme}, `unknown argument "org_code"`)
	e.fails(orgP(acme, all...), "list_organizations", nil,
		"list_organizations is for administrators: it needs a global token (one without org_code); this token is bound to org_acme")
}

func codes(orgs []store.Org) []string {
	var out []string
	for _, o := range orgs {
		out = append(out, o.Code)
	}
	return out
}

func TestCreateOrganization(t *testing.T) {
	e := newEnv(t)
	g := globalP(auth.ScopeWriteOrgs)

	got := ok[store.Org](e, g, "create_organization", map[string]any{
		"org_code": "org_new_1", "name": " New One ", "properties": map[string]any{"plan": "free"},
	})
	if got.Code != "org_new_1" || got.Name != "New One" || !reflect.DeepEqual(got.Properties, map[string]string{"plan": "free"}) ||
		got.CreatedAt.IsZero() {
		t.Errorf("create_organization = %+v", got)
	}
	if stored, err := e.st.GetOrg(t.Context(), "org_new_1"); err != nil || !reflect.DeepEqual(stored, got) {
		t.Errorf("stored %+v (%v)", stored, err)
	}
	e.lastEvent("org_new_1", g, "create_organization", "org_new_1")

	before := e.dump()
	e.fails(g, "create_organization", map[string]any{"org_code": acme, "name": "Again"}, `organization "org_acme" already exists`)
	for _, code := range []string{"", "-acme", "org acme", "org/acme", "orgé", "org\x00x", strings.Repeat("a", 65)} {
		e.fails(g, "create_organization", map[string]any{"org_code": code, "name": "X"}, "org_code")
	}
	e.fails(g, "create_organization", map[string]any{"org_code": "org_x", "name": ""}, "name is required")
	e.fails(g, "create_organization", map[string]any{"org_code": "org_x", "name": "  "}, "name is required")
	e.fails(g, "create_organization", map[string]any{"org_code": "org_x"}, "name")
	e.fails(g, "create_organization", map[string]any{"org_code": "org_x", "name": "X", "properties": map[string]any{"9x": "y"}},
		`property name "9x" is not valid`)
	e.fails(orgP(acme, all...), "create_organization", map[string]any{"org_code": "org_x", "name": "X"},
		"create_organization is for administrators: it needs a global token")
	e.fails(globalP(auth.ScopeReadOrgs), "create_organization", map[string]any{"org_code": "org_x", "name": "X"},
		"create_organization needs scope write:orgs, which this access token lacks")
	e.unchanged(before, "refused create_organization")
}
