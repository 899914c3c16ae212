package app

import (
	"strings"
	"testing"
	"time"

	"github.com/orgscope/orgscope/store"
)

// TestGrantsCommands: grants list shows what acts for people (by org, by
// email), grants revoke revokes one, and both are audited as cli:grants
// <subcommand>.
func TestGrantsCommands(t *testing.T) {
	c := newClientsCLI(t)
	agentID, _ := c.create("--name", "Support agent", "--org", "org_acme", "--scopes", "read:users", "--delegate")
	st := c.store()
	ctx := t.Context()
	ann, err := st.CreateUser(ctx, store.User{ID: store.NewID(store.UserIDPrefix), OrgCode: "org_acme", Email: "Ann@acme.example",
		Status: store.UserActive, Role: store.RoleMember})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := st.CreateUser(ctx, store.User{ID: store.NewID(store.UserIDPrefix), OrgCode: "org_beta", Email: "bob@beta.example",
		Status: store.UserActive, Role: store.RoleMember})
	if err != nil {
		t.Fatal(err)
	}
	grant := func(u store.User) string {
		g := store.Grant{ID: store.NewID(store.GrantIDPrefix), ClientID: "dcr_desktop", OrgCode: u.OrgCode, UserID: u.ID,
			Scopes: []string{"read:users"}, Resource: "http://127.0.0.1:8080/mcp"}
		if err := st.CreateGrant(ctx, g); err != nil {
			t.Fatal(err)
		}
		return g.ID
	}
	annG, bobG := grant(ann), grant(bob)
	now := time.Now()
	if err := st.CreateDelegation(ctx, store.Delegation{TokenID: "jti-1", GrantID: annG, OrgCode: "org_acme", UserID: ann.ID,
		ClientID: agentID, ActorChain: []string{agentID}, SubjectTokenID: "jti-0", Scopes: []string{"read:users"},
		Purpose: "ticket 42", CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}); err != nil {
		t.Fatal(err)
	}

	out := c.ok("grants", "list")
	for _, want := range []string{annG, bobG, "Ann@acme.example", "bob@beta.example", agentID, "ticket 42", "active"} {
		if !strings.Contains(out, want) {
			t.Errorf("grants list lacks %q:\n%s", want, out)
		}
	}
	out = c.ok("grants", "list", "--org", "org_acme", "--user", "ann@ACME.example", "--json")
	grants := jsonOf(t, out)["grants"].([]any)
	if len(grants) != 1 || grants[0].(map[string]any)["grant_id"] != annG ||
		len(grants[0].(map[string]any)["delegations"].([]any)) != 1 {
		t.Errorf("grants list --org --user --json: %s", out)
	}
	if out := c.ok("grants", "list", "--user", "nobody@acme.example"); !strings.Contains(out, "no grants") {
		t.Errorf("grants of nobody: %s", out)
	}

	out = c.ok("grants", "revoke", annG)
	if !strings.Contains(out, "revoked grant "+annG) || !strings.Contains(out, "1 live delegated token") {
		t.Errorf("grants revoke: %s", out)
	}
	if g, err := st.GetGrant(ctx, annG); err != nil || !g.Revoked() {
		t.Errorf("the grant in the store: %+v %v", g, err)
	}
	if out := c.ok("grants", "revoke", annG); !strings.Contains(out, "already revoked") {
		t.Errorf("revoking again: %s", out)
	}
	if out := c.ok("grants", "list", "--org", "org_acme"); strings.Contains(out, annG) {
		t.Errorf("a revoked grant is listed without --revoked: %s", out)
	}
	if out := c.ok("grants", "list", "--org", "org_acme", "--revoked"); !strings.Contains(out, "revoked 20") {
		t.Errorf("grants list --revoked: %s", out)
	}
	c.fails(1, `grant "grt_0123456789abcdef0123456789abcdef" not found`, "grants", "revoke", "grt_0123456789abcdef0123456789abcdef")
	c.fails(1, "grant_id", "grants", "revoke", "not-a-grant")
	c.fails(2, "need GRANT_ID", "grants", "revoke")

	events, _, err := st.ListAuditEvents(ctx, "org_acme", store.AuditFilter{Action: "cli:grants revoke"}, store.Page{Limit: 10})
	if err != nil || len(events) != 2 || events[1].Target != annG || events[1].Decision != "allow" {
		t.Errorf("cli:grants revoke events: %+v %v", events, err)
	}
	all, _, err := st.ListAuditEvents(ctx, "", store.AuditFilter{Action: "cli:grants list"}, store.Page{Limit: 10})
	if err != nil || len(all) < 2 {
		t.Errorf("cli:grants list events (platform-wide): %+v %v", all, err)
	}
	if g, _ := st.GetGrant(ctx, bobG); g.Revoked() {
		t.Error("bob's grant was revoked too")
	}
}
