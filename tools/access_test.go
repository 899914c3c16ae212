package tools_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/service"
)

// toolTable is what each tool should be, written down here independently of
// tools.Catalog so that a wrong catalog entry fails these tests.
var toolTable = []struct {
	name        string
	scope       string // "" for none
	globalOnly  bool
	tenant      bool // takes org_code
	orgOptional bool // a global principal may leave org_code out
	readOnly    bool
	destroys    bool // destructiveHint
}{
	{name: "whoami", readOnly: true},
	{name: "list_users", scope: "read:users", tenant: true, readOnly: true},
	{name: "get_user", scope: "read:users", tenant: true, readOnly: true},
	{name: "create_user", scope: "write:users", tenant: true},
	{name: "update_user", scope: "write:users", tenant: true, destroys: true},
	{name: "delete_user", scope: "delete:users", tenant: true, destroys: true},
	{name: "get_organization", scope: "read:orgs", tenant: true, readOnly: true},
	{name: "update_organization", scope: "write:orgs", tenant: true, destroys: true},
	{name: "list_organizations", scope: "read:orgs", globalOnly: true, readOnly: true},
	{name: "create_organization", scope: "write:orgs", globalOnly: true},
	{name: "list_feature_flags", scope: "read:flags", tenant: true, readOnly: true},
	{name: "get_feature_flag", scope: "read:flags", tenant: true, readOnly: true},
	{name: "set_feature_flag", scope: "write:flags", tenant: true, destroys: true},
	{name: "reset_feature_flag", scope: "write:flags", tenant: true, destroys: true},
	{name: "create_feature_flag", scope: "write:flags", globalOnly: true},
	{name: "delete_feature_flag", scope: "write:flags", globalOnly: true, destroys: true},
	{name: "list_audit_events", scope: "read:audit", tenant: true, readOnly: true},
	{name: "list_clients", scope: "read:clients", tenant: true, orgOptional: true, readOnly: true},
	{name: "create_client", scope: "write:clients", tenant: true},
	{name: "rotate_client_secret", scope: "write:clients", tenant: true, orgOptional: true, destroys: true},
	{name: "disable_client", scope: "write:clients", tenant: true, orgOptional: true, destroys: true},
	{name: "list_delegations", scope: "read:grants", tenant: true, orgOptional: true, readOnly: true},
	{name: "revoke_delegation", scope: "write:grants", tenant: true, orgOptional: true, destroys: true},
}

// missingClient is a client id no client has; missingGrant a grant id.
const (
	missingClient = "0123456789abcdef0123456789abcdef"
	missingGrant  = "grt_0123456789abcdef0123456789abcdef"
)

// validArgs returns schema-valid arguments for every tool, naming records
// of acme (userID is one of its users).
func validArgs(userID string) map[string]map[string]any {
	return map[string]map[string]any{
		"whoami":               nil,
		"list_users":           {"limit": 5},
		"get_user":             {"user_id": userID},
		"create_user":          {"email": "new@acme.example"},
		"update_user":          {"user_id": userID, "given_name": "Changed"},
		"delete_user":          {"user_id": userID},
		"get_organization":     {},
		"update_organization":  {"name": "Changed"},
		"list_organizations":   {"limit": 5},
		"create_organization":  {"org_code": "org_made", "name": "Made"},
		"list_feature_flags":   {},
		"get_feature_flag":     {"key": "dark_mode"},
		"set_feature_flag":     {"key": "dark_mode", "value": true},
		"reset_feature_flag":   {"key": "max_seats"},
		"create_feature_flag":  {"key": "made_flag", "type": "boolean", "default_value": false},
		"delete_feature_flag":  {"key": "theme"},
		"list_audit_events":    {},
		"list_clients":         {"limit": 5},
		"create_client":        {"name": "Made agent", "scopes": []string{"read:users"}},
		"rotate_client_secret": {"client_id": missingClient, "grace_seconds": 60},
		"disable_client":       {"client_id": missingClient},
		"list_delegations":     {"limit": 5},
		"revoke_delegation":    {"grant_id": missingGrant},
	}
}

// withOrg returns args plus org_code.
func withOrg(args map[string]any, org string) map[string]any {
	out := map[string]any{"org_code": org}
	for k, v := range args {
		out[k] = v
	}
	return out
}

// without returns every scope but those that grant scope.
func without(scope string) []string {
	var out []string
	for _, s := range auth.AllScopes {
		if s != scope && s != strings.Replace(scope, "read:", "write:", 1) {
			out = append(out, s)
		}
	}
	return out
}

// TestHandlerChecksScope: past the HTTP layer, a handler still refuses a
// principal without its scope, names the scope, and changes nothing.
func TestHandlerChecksScope(t *testing.T) {
	e := newEnv(t)
	user := e.addUser(acme, "ann@a.io")
	args := validArgs(user.ID)
	before := e.dump()
	for _, tc := range toolTable {
		if tc.scope == "" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			var p = orgP(acme, without(tc.scope)...)
			a := args[tc.name]
			if tc.globalOnly {
				p = globalP(without(tc.scope)...)
			} else if tc.tenant {
				// Even a global principal naming a real org is refused first for scope.
				e.fails(globalP(without(tc.scope)...), tc.name, withOrg(a, acme),
					tc.name+" needs scope "+tc.scope+", which this access token lacks; request a token with it")
			}
			e.fails(p, tc.name, a, tc.name+" needs scope "+tc.scope+", which this access token lacks; request a token with it")
			e.fails(orgP(acme), tc.name, a, tc.name+" needs scope "+tc.scope)
		})
	}
	e.unchanged(before, "calls without their scope")

	// The hierarchy: write:X grants read:X, nothing but itself grants delete:users.
	ok[service.ListUsersOutput](e, orgP(acme, auth.ScopeWriteUsers), "list_users", nil)
	ok[flag](e, orgP(acme, auth.ScopeWriteFlags), "get_feature_flag", map[string]any{"key": "theme"})
	ok[map[string]any](e, orgP(acme, auth.ScopeWriteOrgs), "get_organization", nil)
	e.fails(orgP(acme, auth.ScopeReadUsers), "create_user", map[string]any{"email": "x@a.io"}, "create_user needs scope write:users")
	e.fails(orgP(acme, auth.ScopeWriteUsers, auth.ScopeWriteOrgs, auth.ScopeWriteFlags, auth.ScopeReadAudit), "delete_user",
		map[string]any{"user_id": user.ID}, "delete_user needs scope delete:users")
	e.fails(orgP(acme, auth.ScopeDeleteUsers), "get_user", map[string]any{"user_id": user.ID}, "get_user needs scope read:users")
	e.unchanged(before, "calls without their scope")
}

// TestNoPrincipal: a call that reaches a tool without a verified principal
// (a transport without the auth middleware) is refused, not served and not
// a crash.
func TestNoPrincipal(t *testing.T) {
	e := newEnv(t)
	before := e.dump()
	args := validArgs("usr_0123456789abcdef0123456789abcdef")
	for _, tc := range toolTable {
		e.fails(nil, tc.name, args[tc.name], "this call carries no verified access token")
	}
	e.unchanged(before, "calls without a principal")
}

// TestGlobalOnly: an org-scoped principal holding every scope is still
// refused the administration tools, with a message saying why.
func TestGlobalOnly(t *testing.T) {
	e := newEnv(t)
	args := validArgs("usr_0123456789abcdef0123456789abcdef")
	before := e.dump()
	n := 0
	for _, tc := range toolTable {
		if tc.globalOnly {
			n++
			e.fails(orgP(acme, all...), tc.name, args[tc.name],
				tc.name+" is for administrators: it needs a global token (one without org_code); this token is bound to org_acme")
		}
	}
	e.unchanged(before, "global-only tools called with an org-scoped token")
	if n != 4 {
		t.Fatalf("%d global-only tools in the table", n)
	}
	// And a global principal may call them.
	g := globalP(all...)
	for _, tc := range toolTable {
		if tc.globalOnly {
			ok[map[string]any](e, g, tc.name, args[tc.name])
		}
	}
}

// TestTenantResolution: for every tenant tool, a global principal must name
// an existing org, and an org-scoped principal naming another org (or one
// that does not exist) gets "not found" and changes nothing.
func TestTenantResolution(t *testing.T) {
	e := newEnv(t)
	user := e.addUser(acme, "ann@a.io")
	args := validArgs(user.ID)
	p, g := orgP(acme, all...), globalP(all...)
	before := e.dump()
	n := 0
	for _, tc := range toolTable {
		if !tc.tenant {
			continue
		}
		n++
		a := args[tc.name]
		if !tc.orgOptional {
			e.fails(g, tc.name, a, "org_code is required with a global token: name the organization to act on")
		}
		e.fails(g, tc.name, withOrg(a, "org_nope"), `organization "org_nope" not found`)
		cross := e.fails(p, tc.name, withOrg(a, beta), `organization "org_beta" not found`)
		none := e.fails(p, tc.name, withOrg(a, "org_nope"), `organization "org_nope" not found`)
		if strings.ReplaceAll(cross, beta, "org_nope") != none {
			t.Errorf("%s: another org (%q) and a missing org (%q) are told apart", tc.name, cross, none)
		}
		e.fails(p, tc.name, withOrg(a, "org beta"), "org_code: ", "letters, digits")
	}
	e.unchanged(before, "calls naming an org they may not act on")
	if n != 18 {
		t.Fatalf("%d tenant tools in the table", n)
	}
	// Naming its own org is the same as naming none.
	for _, tc := range toolTable {
		if tc.tenant && tc.readOnly {
			withOwn := e.call(p, tc.name, withOrg(args[tc.name], acme))
			plain := e.call(p, tc.name, args[tc.name])
			if tc.name == "list_audit_events" {
				// Each listing is recorded: the second sees the first.
				withOwn = e.call(p, tc.name, withOrg(map[string]any{"until": "2000-01-01T00:00:00Z"}, acme))
				plain = e.call(p, tc.name, map[string]any{"until": "2000-01-01T00:00:00Z"})
			}
			if withOwn.isError || string(withOwn.raw) != string(plain.raw) {
				t.Errorf("%s: with its own org_code %s, without %s", tc.name, withOwn.text, plain.text)
			}
		}
	}
}

func TestWhoami(t *testing.T) {
	e := newEnv(t)
	p := orgP(acme, auth.ScopeReadUsers, auth.ScopeWriteFlags)
	got := ok[service.WhoamiOutput](e, p, "whoami", nil)
	want := service.WhoamiOutput{
		Issuer: p.Issuer, Subject: p.Subject, ClientID: p.ClientID, OrgCode: acme, Scopes: p.Scopes,
		GrantType: "client_credentials", TokenID: p.TokenID, ExpiresAt: p.Expiry.UTC(),
		Tools: []string{"whoami", "list_users", "get_user", "list_feature_flags", "get_feature_flag", "set_feature_flag", "reset_feature_flag"},
	}
	if d := got.ExpiresIn; d < 3590 || d > 3600 {
		t.Errorf("expires_in_seconds = %d", d)
	}
	got.ExpiresIn, got.ExpiresAt = 0, got.ExpiresAt.UTC()
	want.ExpiresAt = want.ExpiresAt.Round(0)
	if !got.ExpiresAt.Equal(want.ExpiresAt) || !slices.Equal(got.Scopes, want.Scopes) || !slices.Equal(got.Tools, want.Tools) ||
		got.Issuer != want.Issuer || got.Subject != want.Subject || got.ClientID != want.ClientID || got.OrgCode != acme ||
		got.Global || got.GrantType != want.GrantType || got.TokenID != want.TokenID {
		t.Errorf("whoami:\n got %+v\nwant %+v", got, want)
	}

	g := ok[service.WhoamiOutput](e, globalP(auth.ScopeWriteOrgs), "whoami", nil)
	if !g.Global || g.OrgCode != "" || !slices.Equal(g.Tools, []string{"whoami", "get_organization", "update_organization", "list_organizations", "create_organization"}) {
		t.Errorf("global whoami: %+v", g)
	}
	none := ok[service.WhoamiOutput](e, orgP(beta), "whoami", nil)
	if none.OrgCode != beta || len(none.Scopes) != 0 || !slices.Equal(none.Tools, []string{"whoami"}) {
		t.Errorf("no scopes: %+v", none)
	}
	expired := orgP(acme)
	expired.Expiry = time.Now().Add(-10 * time.Second)
	if got := ok[service.WhoamiOutput](e, expired, "whoami", nil); got.ExpiresIn > -9 || got.ExpiresIn < -11 {
		t.Errorf("expires_in_seconds of a token 10s past expiry = %d", got.ExpiresIn)
	}
}
