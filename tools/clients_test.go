package tools_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/internal/credential"
	"github.com/orgscope/orgscope/service"
	"github.com/orgscope/orgscope/store"
)

// addClient stores a machine client of org ("" for global) directly, and
// returns it with its secret.
func (e *env) addClient(org string, scopes ...string) (store.Client, string) {
	e.t.Helper()
	secret := credential.NewSecret()
	c, err := e.st.CreateClient(e.t.Context(), store.Client{
		ID: credential.RandomHex(16), Name: "agent of " + org, Kind: store.ClientMachine, OrgCode: org,
		Secrets: []store.ClientSecret{{Hash: credential.HashSecret(secret)}}, Scopes: scopes,
		GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: "client_secret_basic",
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return c, secret
}

// stored reads a client from the store.
func (e *env) stored(id string) store.Client {
	e.t.Helper()
	c, err := e.st.GetClient(e.t.Context(), id)
	if err != nil {
		e.t.Fatalf("client %s: %v", id, err)
	}
	return c
}

// asClient is an org-scoped principal that is the client c itself.
func asClient(c store.Client, scopes ...string) *auth.Principal {
	p := orgP(c.OrgCode, scopes...)
	p.Subject, p.ClientID = c.ID, c.ID
	return p
}

// TestCreateClientTool: an agent with write:clients creates one machine
// identity for its org and gets its secret once; what the new client may
// hold is bounded by the creator's own scopes.
func TestCreateClientTool(t *testing.T) {
	e := newEnv(t)
	onboarder := orgP(acme, auth.ScopeWriteClients, auth.ScopeWriteUsers, auth.ScopeReadFlags)

	out := ok[service.CreateClientOutput](e, onboarder, "create_client", map[string]any{
		"name": "  Acme reporting agent ", "scopes": []string{"read:flags", "read:users"}, "properties": map[string]string{"tier": "gold"},
	})
	c := out.Client
	if c.OrgCode != acme || c.Global || c.Name != "Acme reporting agent" || !slices.Equal(c.Scopes, []string{"read:users", "read:flags"}) ||
		c.TokenTTLSeconds != 900 || c.Disabled || c.Delegate || c.SecretCount != 1 || len(c.Secrets) != 1 || c.Secrets[0].ExpiresAt != nil ||
		c.Properties["tier"] != "gold" || c.AuthMethod != "client_secret_basic" || c.LastUsedAt != nil {
		t.Errorf("created %+v", c)
	}
	stored := e.stored(c.ClientID)
	if !credential.SecretMatchesAny(out.ClientSecret, stored.SecretHashes()) || len(out.ClientSecret) < 43 {
		t.Errorf("the secret answered (%d chars) is not the one stored", len(out.ClientSecret))
	}
	e.lastEvent(acme, onboarder, "create_client", c.ClientID)
	if ev := e.events(acme)[0]; strings.Contains(ev.ParamsSHA256+ev.Target+ev.Reason, out.ClientSecret) {
		t.Errorf("the audit event holds the secret: %+v", ev)
	}
	// The hierarchy holds: write:users lets it give read:users.
	ok[service.CreateClientOutput](e, onboarder, "create_client", map[string]any{"name": "b", "scopes": []string{"read:users"}, "token_ttl_seconds": 60})

	before := e.dump()
	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		// An agent cannot mint a more powerful agent.
		{map[string]any{"name": "x", "scopes": []string{"read:users", "delete:users"}},
			"the new client would hold delete:users, which this access token does not: a principal may give a client only scopes it holds itself"},
		{map[string]any{"name": "x", "scopes": []string{"write:clients", "write:flags"}}, "would hold write:flags"},
		{map[string]any{"name": "x", "scopes": []string{"read:users"}, "global": true}, "only a global principal may create a global client"},
		{map[string]any{"name": "x", "scopes": []string{"read:users"}, "org_code": beta}, `organization "org_beta" not found`},
		{map[string]any{"name": "x", "scopes": []string{"read:users"}, "delegate": true}, "only a delegate client (or the operator) may make a client a delegate"},
		{map[string]any{"name": "x", "scopes": []string{"read:users"}, "token_ttl_seconds": 30}, "token_ttl_seconds must be between 60"},
		{map[string]any{"name": "x", "scopes": []string{"read:users"}, "token_ttl_seconds": 2 * 86400}, "token_ttl_seconds must be between 60"},
		{map[string]any{"name": "   ", "scopes": []string{"read:users"}}, "a client needs a name"},
		{map[string]any{"name": "x", "scopes": []string{}}, "a client needs at least one scope"},
		{map[string]any{"name": "x", "scopes": []string{"admin"}}, `unknown scope "admin"`},
	} {
		e.fails(onboarder, "create_client", tc.args, tc.want)
	}
	e.unchanged(before, "refused creations")
	if ev := e.events(acme)[0]; ev.Decision != "deny" || ev.Reason != "validation" {
		t.Errorf("newest event %+v, want the last refusal", ev)
	}
	e.fails(onboarder, "create_client", map[string]any{"name": "x", "scopes": []string{"delete:users"}}, "would hold delete:users")
	if ev := e.events(acme)[0]; ev.Decision != "deny" || ev.Reason != "scope_escalation" || ev.Action != "tools/call:create_client" {
		t.Errorf("newest event %+v, want the escalation refused", ev)
	}

	// A global principal names the org, or makes a global client.
	g := globalP(auth.AllScopes...)
	forBeta := ok[service.CreateClientOutput](e, g, "create_client", map[string]any{"name": "beta agent", "org_code": beta, "scopes": []string{"read:orgs"}})
	admin := ok[service.CreateClientOutput](e, g, "create_client", map[string]any{"name": "admin", "global": true, "scopes": []string{"write:clients"}})
	if forBeta.Client.OrgCode != beta || !admin.Client.Global || admin.Client.OrgCode != "" || admin.Client.Delegate {
		t.Errorf("global principal created %+v and %+v", forBeta.Client, admin.Client)
	}
	e.lastEvent("", g, "create_client", admin.Client.ClientID)
	// Even a global principal may not make a delegate unless it is one.
	e.fails(g, "create_client", map[string]any{"name": "d", "global": true, "scopes": []string{"read:users"}, "delegate": true},
		"only a delegate client (or the operator) may make a client a delegate")
	// A delegate client may make another delegate.
	delegator, _ := e.addClient(acme, "read:users", "write:clients")
	if _, err := e.st.UpdateClient(t.Context(), delegator.ID, store.ClientUpdate{Delegate: ptrTo(true)}); err != nil {
		t.Fatal(err)
	}
	d := ok[service.CreateClientOutput](e, asClient(delegator, "read:users", "write:clients"), "create_client",
		map[string]any{"name": "d", "scopes": []string{"read:users"}, "delegate": true})
	if !d.Client.Delegate {
		t.Errorf("a delegate's new delegate client: %+v", d.Client)
	}
}

func ptrTo[T any](v T) *T { return &v }

// TestListClientsTool: an org's principal lists its org's clients only; a
// global one any org's, the global ones or all; no answer holds a secret.
func TestListClientsTool(t *testing.T) {
	e := newEnv(t)
	var secrets []string
	add := func(org string) store.Client {
		c, s := e.addClient(org, "read:users")
		secrets = append(secrets, s, c.Secrets[0].Hash)
		return c
	}
	acme1, acme2, acme3 := add(acme), add(acme), add(acme)
	betaC := add(beta)
	glob := add("")
	ids := func(out service.ListClientsOutput) []string {
		var got []string
		for _, c := range out.Clients {
			got = append(got, c.ClientID)
		}
		return got
	}
	sorted := func(cs ...store.Client) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		slices.Sort(out)
		return out
	}
	reader := orgP(acme, auth.ScopeReadClients)
	r := e.call(reader, "list_clients", nil)
	for _, s := range secrets {
		if strings.Contains(r.text+string(r.raw), s) {
			t.Fatal("list_clients shows a secret or its hash")
		}
	}
	if got := ids(ok[service.ListClientsOutput](e, reader, "list_clients", nil)); !slices.Equal(got, sorted(acme1, acme2, acme3)) {
		t.Errorf("acme lists %v", got)
	}
	e.lastEvent(acme, reader, "list_clients", "")
	// Page by page.
	var paged []string
	for cursor := ""; ; {
		args := map[string]any{"limit": 2}
		if cursor != "" {
			args["cursor"] = cursor
		}
		page := ok[service.ListClientsOutput](e, reader, "list_clients", args)
		paged = append(paged, ids(page)...)
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if !slices.Equal(paged, sorted(acme1, acme2, acme3)) {
		t.Errorf("paged %v", paged)
	}
	if got := ids(ok[service.ListClientsOutput](e, orgP(beta, auth.ScopeWriteClients), "list_clients", nil)); !slices.Equal(got, sorted(betaC)) {
		t.Errorf("beta lists %v", got)
	}
	e.fails(reader, "list_clients", map[string]any{"org_code": beta}, `organization "org_beta" not found`)
	e.fails(reader, "list_clients", map[string]any{"global": true}, "only a global principal may list global clients")

	g := globalP(auth.ScopeReadClients)
	for _, tc := range []struct {
		args map[string]any
		want []string
	}{
		{nil, sorted(acme1, acme2, acme3, betaC, glob)},
		{map[string]any{"org_code": beta}, sorted(betaC)},
		{map[string]any{"global": true}, sorted(glob)},
	} {
		if got := ids(ok[service.ListClientsOutput](e, g, "list_clients", tc.args)); !slices.Equal(got, tc.want) {
			t.Errorf("global principal, %v: %v, want %v", tc.args, got, tc.want)
		}
	}
	e.fails(g, "list_clients", map[string]any{"global": true, "org_code": acme}, "not both")
	e.fails(g, "list_clients", map[string]any{"org_code": "org_nope"}, `organization "org_nope" not found`)
}

// TestRotateClientSecretTool: a new secret, shown once; the old one works
// until the grace ends. Another org's client is not found, and a principal
// may not learn the secret of a client more powerful than itself.
func TestRotateClientSecretTool(t *testing.T) {
	e := newEnv(t)
	target, oldSecret := e.addClient(acme, "read:users")
	admin := orgP(acme, auth.ScopeWriteClients, auth.ScopeReadUsers)

	start := time.Now()
	out := ok[service.RotateSecretOutput](e, admin, "rotate_client_secret", map[string]any{"client_id": target.ID, "grace_seconds": 3600})
	stored := e.stored(target.ID)
	if !credential.SecretMatchesAny(out.ClientSecret, stored.SecretHashes()) || !credential.SecretMatchesAny(oldSecret, stored.SecretHashes()) ||
		out.ClientSecret == oldSecret || len(stored.Secrets) != 2 {
		t.Fatalf("after a rotation with grace both secrets should work: %+v", stored.Secrets)
	}
	if exp := out.PreviousSecretsExpireAt; exp.Before(start.Add(time.Hour)) || exp.After(time.Now().Add(time.Hour)) ||
		out.Client.SecretCount != 2 || out.Client.Secrets[0].ExpiresAt != nil || out.Client.Secrets[1].ExpiresAt == nil ||
		!out.Client.Secrets[1].ExpiresAt.Equal(exp.Truncate(time.Microsecond)) {
		t.Errorf("rotation answer %+v", out)
	}
	e.lastEvent(acme, admin, "rotate_client_secret", target.ID)

	// Without grace the previous secrets stop at once.
	again := ok[service.RotateSecretOutput](e, admin, "rotate_client_secret", map[string]any{"client_id": target.ID})
	stored = e.stored(target.ID)
	if !slices.Equal(stored.SecretHashes(), []string{credential.HashSecret(again.ClientSecret)}) || again.Client.SecretCount != 1 {
		t.Errorf("after a rotation without grace: %+v", stored.Secrets)
	}

	// A client may rotate its own secret (a scheduled self-rotation).
	self := ok[service.RotateSecretOutput](e, asClient(target, "read:users", "write:clients"), "rotate_client_secret",
		map[string]any{"client_id": target.ID, "grace_seconds": 60})
	if self.Client.SecretCount != 2 {
		t.Errorf("self-rotation: %+v", self.Client)
	}

	powerful, _ := e.addClient(acme, "read:users", "delete:users")
	betaClient, _ := e.addClient(beta, "read:users")
	globalClient, _ := e.addClient("", "read:users")
	before := e.dump()
	e.fails(admin, "rotate_client_secret", map[string]any{"client_id": powerful.ID},
		"the client whose secret it would learn would hold delete:users, which this access token does not")
	missing := e.fails(admin, "rotate_client_secret", map[string]any{"client_id": missingClient}, `client "`+missingClient+`" not found`)
	for _, id := range []string{betaClient.ID, globalClient.ID} {
		other := e.fails(admin, "rotate_client_secret", map[string]any{"client_id": id}, `client "`+id+`" not found`)
		if strings.ReplaceAll(other, id, missingClient) != missing {
			t.Errorf("another org's client (%q) and a missing one (%q) are told apart", other, missing)
		}
	}
	e.fails(admin, "rotate_client_secret", map[string]any{"client_id": target.ID, "grace_seconds": -1}, "grace_seconds must be between 0 and")
	e.fails(admin, "rotate_client_secret", map[string]any{"client_id": target.ID, "grace_seconds": 31 * 86400}, "grace_seconds must be between 0 and")
	e.fails(admin, "rotate_client_secret", map[string]any{"client_id": "not an id"}, `client_id "not an id" is not valid`)
	e.unchanged(before, "refused rotations")

	// A global principal rotates any client; the event goes to its org.
	g := globalP(auth.ScopeWriteClients, auth.ScopeReadUsers)
	ok[service.RotateSecretOutput](e, g, "rotate_client_secret", map[string]any{"client_id": betaClient.ID})
	e.lastEvent(beta, g, "rotate_client_secret", betaClient.ID)
	e.fails(g, "rotate_client_secret", map[string]any{"client_id": betaClient.ID, "org_code": acme}, `client "`+betaClient.ID+`" not found`)
}

// TestDisableClientTool: a disabled client is marked so, its tokens are cut
// off (in the store for every replica, and through the hook for this
// one); a client cannot disable itself, nor another org's.
func TestDisableClientTool(t *testing.T) {
	e := newEnv(t)
	target, _ := e.addClient(acme, "read:users", "delete:users")
	admin := orgP(acme, auth.ScopeWriteClients)

	out := ok[service.DisableClientOutput](e, admin, "disable_client", map[string]any{"client_id": target.ID})
	stored := e.stored(target.ID)
	cut, err := e.st.GetClientCutoff(t.Context(), target.ID)
	if err != nil || !stored.Disabled() || !out.Client.Disabled || !stored.DisabledAt.Equal(cut.Cutoff) || !out.TokensCutOffAt.Equal(cut.Cutoff) ||
		cut.ExpiresAt.Before(time.Now().Add(23*time.Hour)) {
		t.Fatalf("disabled %+v, cutoff %+v (%v), answer %+v", stored, cut, err, out)
	}
	if hooked := e.cutoffs.all(); len(hooked) != 1 || hooked[0] != cut {
		t.Errorf("the cutoff hook was told %+v, want %+v", hooked, cut)
	}
	e.lastEvent(acme, admin, "disable_client", target.ID)
	// Disabling a more powerful client is containment, not escalation.
	ok[service.DisableClientOutput](e, admin, "disable_client", map[string]any{"client_id": target.ID})

	self, _ := e.addClient(acme, "write:clients")
	betaClient, _ := e.addClient(beta, "read:users")
	before := e.dump()
	e.fails(asClient(self, "write:clients"), "disable_client", map[string]any{"client_id": self.ID},
		"a client cannot disable itself: another client with write:clients, or the operator, can")
	if ev := e.events(acme)[0]; ev.Decision != "deny" || ev.Reason != "self" {
		t.Errorf("newest event %+v, want the self-disable refused", ev)
	}
	e.fails(admin, "disable_client", map[string]any{"client_id": betaClient.ID}, `client "`+betaClient.ID+`" not found`)
	e.fails(admin, "disable_client", map[string]any{"client_id": missingClient}, `client "`+missingClient+`" not found`)
	e.unchanged(before, "refused disables")
	if len(e.cutoffs.all()) != 2 {
		t.Errorf("refusals reached the cutoff hook: %+v", e.cutoffs.all())
	}

	g := globalP(auth.ScopeWriteClients)
	ok[service.DisableClientOutput](e, g, "disable_client", map[string]any{"client_id": betaClient.ID})
	e.lastEvent(beta, g, "disable_client", betaClient.ID)
	if !e.stored(betaClient.ID).Disabled() {
		t.Error("the global principal's disable did not take")
	}
}
