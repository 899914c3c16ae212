package tools

import (
	"slices"

	"github.com/orgscope/orgscope/auth"
)

// Spec is what the HTTP layer needs to know about a tool before calling it.
type Spec struct {
	Name string
	// Scopes the caller's token must grant (under auth.Grants).
	Scopes []string
	// GlobalOnly tools are for global (administration) principals.
	GlobalOnly bool
}

// The tools. (tools/list shows them sorted by name.)
var catalog = []Spec{
	{Name: "whoami"},
	{Name: "list_users", Scopes: []string{auth.ScopeReadUsers}},
	{Name: "get_user", Scopes: []string{auth.ScopeReadUsers}},
	{Name: "create_user", Scopes: []string{auth.ScopeWriteUsers}},
	{Name: "update_user", Scopes: []string{auth.ScopeWriteUsers}},
	{Name: "delete_user", Scopes: []string{auth.ScopeDeleteUsers}},
	{Name: "get_organization", Scopes: []string{auth.ScopeReadOrgs}},
	{Name: "update_organization", Scopes: []string{auth.ScopeWriteOrgs}},
	{Name: "list_organizations", Scopes: []string{auth.ScopeReadOrgs}, GlobalOnly: true},
	{Name: "create_organization", Scopes: []string{auth.ScopeWriteOrgs}, GlobalOnly: true},
	{Name: "list_feature_flags", Scopes: []string{auth.ScopeReadFlags}},
	{Name: "get_feature_flag", Scopes: []string{auth.ScopeReadFlags}},
	{Name: "set_feature_flag", Scopes: []string{auth.ScopeWriteFlags}},
	{Name: "reset_feature_flag", Scopes: []string{auth.ScopeWriteFlags}},
	{Name: "create_feature_flag", Scopes: []string{auth.ScopeWriteFlags}, GlobalOnly: true},
	{Name: "delete_feature_flag", Scopes: []string{auth.ScopeWriteFlags}, GlobalOnly: true},
	{Name: "list_audit_events", Scopes: []string{auth.ScopeReadAudit}},
}

// Catalog returns every tool's spec.
func Catalog() []Spec { return slices.Clone(catalog) }

// Lookup returns the spec of the named tool.
func Lookup(name string) (Spec, bool) {
	for _, s := range catalog {
		if s.Name == name {
			return s, true
		}
	}
	return Spec{}, false
}

// Allowed reports whether p may call the tool: its token grants the scopes
// and, for a global-only tool, p is global.
func (s Spec) Allowed(p *auth.Principal) bool {
	if s.GlobalOnly && !p.Global() {
		return false
	}
	return len(auth.Missing(p.Scopes, s.Scopes)) == 0
}

// Visible returns the names of the tools p may call.
func Visible(p *auth.Principal) []string {
	var names []string
	for _, s := range catalog {
		if s.Allowed(p) {
			names = append(names, s.Name)
		}
	}
	return names
}
