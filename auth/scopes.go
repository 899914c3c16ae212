package auth

import (
	"slices"
	"strings"
)

// The scopes OrgScope understands.
const (
	ScopeReadUsers    = "read:users"
	ScopeWriteUsers   = "write:users"
	ScopeDeleteUsers  = "delete:users"
	ScopeReadOrgs     = "read:orgs"
	ScopeWriteOrgs    = "write:orgs"
	ScopeReadFlags    = "read:flags"
	ScopeWriteFlags   = "write:flags"
	ScopeReadAudit    = "read:audit"
	ScopeReadClients  = "read:clients"
	ScopeWriteClients = "write:clients"
	// The grants people gave clients, and the delegated tokens that act
	// for them: a person sees and revokes their own, an administrator
	// their organization's.
	ScopeReadGrants  = "read:grants"
	ScopeWriteGrants = "write:grants"
)

// AllScopes lists every scope in a stable order (the order of
// scopes_supported in the discovery documents).
var AllScopes = []string{
	ScopeReadUsers, ScopeWriteUsers, ScopeDeleteUsers,
	ScopeReadOrgs, ScopeWriteOrgs,
	ScopeReadFlags, ScopeWriteFlags,
	ScopeReadAudit,
	ScopeReadClients, ScopeWriteClients,
	ScopeReadGrants, ScopeWriteGrants,
}

// Known reports whether scope is one of AllScopes.
func Known(scope string) bool { return slices.Contains(AllScopes, scope) }

// Grants reports whether a token holding granted may do what needs scope.
// It is the one place the hierarchy lives: a scope grants itself, and
// write:X grants read:X. Nothing grants delete:users but delete:users.
func Grants(granted []string, needed string) bool {
	if slices.Contains(granted, needed) {
		return true
	}
	if resource, ok := strings.CutPrefix(needed, "read:"); ok {
		return slices.Contains(granted, "write:"+resource)
	}
	return false
}

// Missing returns the scopes of needed that granted does not grant, in the
// order of needed.
func Missing(granted, needed []string) []string {
	var missing []string
	for _, s := range needed {
		if !Grants(granted, s) {
			missing = append(missing, s)
		}
	}
	return missing
}

// ParseScopes splits a space-separated scope string (RFC 6749 §3.3),
// dropping empty and duplicate entries.
func ParseScopes(s string) []string {
	fields := strings.Fields(s)
	out := fields[:0]
	for _, f := range fields {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// Narrow returns the scopes of requested that allowed grants, restricted to
// known scopes and in the order of AllScopes. A client allowed write:users
// that asks for read:users gets read:users; unknown scopes are dropped.
func Narrow(allowed, requested []string) []string {
	var out []string
	for _, s := range AllScopes {
		if slices.Contains(requested, s) && Grants(allowed, s) {
			out = append(out, s)
		}
	}
	return out
}
