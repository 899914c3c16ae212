package authz

import (
	"slices"

	"github.com/orgscope/orgscope/auth"
)

// Group classifies an action for policies: read, write, delete or admin.
type Group string

// The groups.
const (
	GroupRead   Group = "read"
	GroupWrite  Group = "write"
	GroupDelete Group = "delete"
	GroupAdmin  Group = "admin"
)

// Action is one thing a principal can ask for. Its Name is the tool's name
// and the service operation's.
type Action struct {
	Name string
	// Scopes the principal's token must grant (under auth.Grants).
	Scopes []string
	// GlobalOnly actions are for global (administration) principals.
	GlobalOnly bool
	// Tenant actions act on one organization: an org-scoped principal's
	// own, or the one a global principal names.
	Tenant bool
	Group  Group
	// OperatorOnly actions are never tools: the operator performs them at
	// the command line, and nobody else may, unless Console says so.
	OperatorOnly bool
	// Console lets a person signed in to the web console perform an
	// OperatorOnly action too, within the authority of their principal (an
	// organization's administrator in their own organization; a platform
	// administrator anywhere). Each one is listed here on purpose: an
	// action the console does not need stays the operator's alone.
	Console bool
}

// The actions, in the order tools/list shows them sorted by name anyway.
var actions = []Action{
	{Name: "whoami", Group: GroupRead},
	{Name: "list_users", Scopes: []string{auth.ScopeReadUsers}, Tenant: true, Group: GroupRead},
	{Name: "get_user", Scopes: []string{auth.ScopeReadUsers}, Tenant: true, Group: GroupRead},
	{Name: "create_user", Scopes: []string{auth.ScopeWriteUsers}, Tenant: true, Group: GroupWrite},
	{Name: "update_user", Scopes: []string{auth.ScopeWriteUsers}, Tenant: true, Group: GroupWrite},
	{Name: "delete_user", Scopes: []string{auth.ScopeDeleteUsers}, Tenant: true, Group: GroupDelete},
	{Name: "get_organization", Scopes: []string{auth.ScopeReadOrgs}, Tenant: true, Group: GroupRead},
	{Name: "update_organization", Scopes: []string{auth.ScopeWriteOrgs}, Tenant: true, Group: GroupWrite},
	{Name: "list_organizations", Scopes: []string{auth.ScopeReadOrgs}, GlobalOnly: true, Group: GroupRead},
	{Name: "create_organization", Scopes: []string{auth.ScopeWriteOrgs}, GlobalOnly: true, Group: GroupAdmin},
	{Name: "list_feature_flags", Scopes: []string{auth.ScopeReadFlags}, Tenant: true, Group: GroupRead},
	{Name: "get_feature_flag", Scopes: []string{auth.ScopeReadFlags}, Tenant: true, Group: GroupRead},
	{Name: "set_feature_flag", Scopes: []string{auth.ScopeWriteFlags}, Tenant: true, Group: GroupWrite},
	{Name: "reset_feature_flag", Scopes: []string{auth.ScopeWriteFlags}, Tenant: true, Group: GroupWrite},
	{Name: "create_feature_flag", Scopes: []string{auth.ScopeWriteFlags}, GlobalOnly: true, Group: GroupAdmin},
	{Name: "delete_feature_flag", Scopes: []string{auth.ScopeWriteFlags}, GlobalOnly: true, Group: GroupAdmin},
	{Name: "list_audit_events", Scopes: []string{auth.ScopeReadAudit}, Tenant: true, Group: GroupRead},
	{Name: "list_clients", Scopes: []string{auth.ScopeReadClients}, Tenant: true, Group: GroupRead},
	{Name: "create_client", Scopes: []string{auth.ScopeWriteClients}, Tenant: true, Group: GroupAdmin},
	{Name: "rotate_client_secret", Scopes: []string{auth.ScopeWriteClients}, Tenant: true, Group: GroupAdmin},
	{Name: "disable_client", Scopes: []string{auth.ScopeWriteClients}, Tenant: true, Group: GroupAdmin},
	// What acts for people: their grants and the tokens delegated from
	// them. A person sees and revokes their own, an administrator their
	// organization's (service rules).
	{Name: "list_delegations", Scopes: []string{auth.ScopeReadGrants}, Tenant: true, Group: GroupRead},
	{Name: "revoke_delegation", Scopes: []string{auth.ScopeWriteGrants}, Tenant: true, Group: GroupWrite},

	{Name: "get_client", Scopes: []string{auth.ScopeReadClients}, Tenant: true, Group: GroupRead, OperatorOnly: true, Console: true},
	{Name: "enable_client", Scopes: []string{auth.ScopeWriteClients}, Tenant: true, Group: GroupAdmin, OperatorOnly: true, Console: true},
	{Name: "update_client", Scopes: []string{auth.ScopeWriteClients}, Tenant: true, Group: GroupAdmin, OperatorOnly: true, Console: true},
	{Name: "delete_client", Scopes: []string{auth.ScopeWriteClients}, Tenant: true, Group: GroupDelete, OperatorOnly: true, Console: true},
	{Name: "set_user_password", Scopes: []string{auth.ScopeWriteUsers}, Tenant: true, Group: GroupAdmin, OperatorOnly: true, Console: true},
	// An org-scoped principal exports its own organization's trail; a
	// global one names one, or exports every organization's.
	{Name: "export_audit_events", Scopes: []string{auth.ScopeReadAudit}, Tenant: true, Group: GroupRead, OperatorOnly: true, Console: true},
	// The embedded issuer's signing keys: the operator's, and a platform
	// administrator's in the console, who may list and rotate them. Retiring
	// one at once (a key that leaked) stays at the command line.
	{Name: "list_signing_keys", GlobalOnly: true, Group: GroupRead, OperatorOnly: true, Console: true},
	{Name: "rotate_signing_key", GlobalOnly: true, Group: GroupAdmin, OperatorOnly: true, Console: true},
	{Name: "retire_signing_key", GlobalOnly: true, Group: GroupAdmin, OperatorOnly: true},
	// Who manages the whole platform in the console: the operator decides.
	{Name: "set_platform_admin", GlobalOnly: true, Group: GroupAdmin, OperatorOnly: true},
	// A person looks at and decides a call the policy lets run only with
	// their approval, on the approval page; the service checks that they
	// are an administrator of the organization.
	{Name: "list_approvals", Tenant: true, Group: GroupRead, OperatorOnly: true, Console: true},
	{Name: "get_approval", Tenant: true, Group: GroupRead, OperatorOnly: true, Console: true},
	{Name: "approve_call", Tenant: true, Group: GroupAdmin, OperatorOnly: true, Console: true},
	{Name: "deny_call", Tenant: true, Group: GroupAdmin, OperatorOnly: true, Console: true},
	// The console's own: a person's sign-in and sign-out (the service
	// checks that they are an administrator), and a dry run of the decision
	// point for one of the organization's machine clients.
	{Name: "console_sign_in", Group: GroupRead, OperatorOnly: true, Console: true},
	{Name: "console_sign_out", Group: GroupRead, OperatorOnly: true, Console: true},
	{Name: "dry_run_call", Scopes: []string{auth.ScopeReadClients}, Tenant: true, Group: GroupRead, OperatorOnly: true, Console: true},
}

// Actions returns every action.
func Actions() []Action { return slices.Clone(actions) }

// Tools returns the actions offered as MCP tools (all but the
// operator-only ones).
func Tools() []Action {
	var out []Action
	for _, a := range actions {
		if !a.OperatorOnly {
			out = append(out, a)
		}
	}
	return out
}

// Lookup returns the named action.
func Lookup(name string) (Action, bool) {
	for _, a := range actions {
		if a.Name == name {
			return a, true
		}
	}
	return Action{}, false
}
