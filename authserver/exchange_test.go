package authserver_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authserver"
	"github.com/orgscope/orgscope/store"
)

// delegation is a fixture with Ada's access token from the sign-in flow
// (scopes read:users write:users read:audit) and delegate clients.
type delegation struct {
	*fixture
	person   string // Ada's access token
	personID string
	grantID  string
}

func newDelegation(t *testing.T, edit func(*authserver.Options)) *delegation {
	t.Helper()
	d := &delegation{fixture: newFixture(t, edit)}
	// The store stamps and expires denylist entries and cutoffs on the
	// real clock: the issuer's starts there too.
	d.clock.Advance(time.Now().Truncate(time.Second).Sub(d.clock.Now()))
	d.person = d.personToken(t, "read:users write:users read:audit")
	claims := jwtClaims(t, d.person)
	d.personID, d.grantID = claims["sub"].(string), claims["grant_id"].(string)
	return d
}

// personToken runs the sign-in flow as Ada with a public client asking
// for scope, and returns her access token.
func (f *fixture) personToken(t *testing.T, scope string) string {
	t.Helper()
	clientID, _ := f.registerClient(t, false)
	b := f.browser()
	verifier := oauth2.GenerateVerifier()
	q := authorizeQuery(clientID, verifier)
	q.Set("scope", scope)
	login := get(t, b, f.srv.URL+authserver.AuthorizePath+"?"+q.Encode())
	_, consent := f.signIn(t, b, login, "ada@acme.example", adaPassword)
	resp, err := b.PostForm(f.srv.URL+authserver.ConsentPath, formOf(t, consent, "decision", "approve"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	rec, body := f.post(authserver.TokenPath, "", url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"client_id": {clientID}, "redirect_uri": {flowRedirect}, "code_verifier": {verifier}, "resource": {resource}})
	if rec.Code != http.StatusOK {
		t.Fatalf("code redemption: %d %v", rec.Code, body)
	}
	return body["access_token"].(string)
}

// agent provisions a machine client; delegate says whether it may act for
// people.
func (d *delegation) agent(t *testing.T, org string, delegate bool, scopes ...string) (store.Client, string) {
	t.Helper()
	c, secret, err := createMachineClient(t.Context(), d.st, machineClient{Name: "agent", OrgCode: org, Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	if delegate {
		if c, err = d.st.UpdateClient(t.Context(), c.ID, store.ClientUpdate{Delegate: &delegate}); err != nil {
			t.Fatal(err)
		}
	}
	return c, secret
}

// exchange asks for a token for the subject as client id.
func (d *delegation) exchange(t *testing.T, id, secret, subject string, extra url.Values) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {authserver.GrantTypeTokenExchange}, "subject_token": {subject},
		"subject_token_type": {authserver.TokenTypeAccessToken}}
	for k, v := range extra {
		form[k] = v
	}
	if len(form["subject_token"]) == 1 && form.Get("subject_token") == "" {
		form.Del("subject_token")
	}
	return postAuthenticated(t, d.as, authserver.TokenPath, id, secret, form)
}

func jwtClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %.20s…", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

// TestTokenExchange: a delegate client trades Ada's token for one that
// acts for her — sub Ada, act the client, her grant, narrowed scopes, a
// short life, the purpose — and a sub-agent trades that one on, nesting
// act. Each exchange is recorded and audited.
func TestTokenExchange(t *testing.T) {
	d := newDelegation(t, nil)
	agent, agentSecret := d.agent(t, "org_acme", true, "read:users", "write:users", "read:flags")
	sub, subSecret := d.agent(t, "org_acme", true, "read:users")

	status, body := d.exchange(t, agent.ID, agentSecret, d.person, url.Values{"purpose": {"support ticket 4711"}, "resource": {resource}})
	if status != http.StatusOK {
		t.Fatalf("exchange: %d %v", status, body)
	}
	// No scope asked: the intersection of Ada's token (read:users
	// write:users read:audit), the agent's (read:users write:users
	// read:flags) and her role (admin: everything).
	if body["scope"] != "read:users write:users" || body["issued_token_type"] != authserver.TokenTypeAccessToken ||
		body["token_type"] != "Bearer" || body["expires_in"] != float64(15*60) || body["refresh_token"] != nil {
		t.Errorf("answer %v", body)
	}
	delegated := body["access_token"].(string)
	c := jwtClaims(t, delegated)
	act, _ := json.Marshal(c["act"])
	if c["sub"] != d.personID || c["client_id"] != agent.ID || c["org_code"] != "org_acme" || c["grant_id"] != d.grantID ||
		c["purpose"] != "support ticket 4711" || c["aud"] != resource ||
		string(act) != `{"client_id":"`+agent.ID+`","sub":"`+agent.ID+`"}` ||
		c["exp"].(float64)-c["iat"].(float64) != 15*60 || !slices.Equal(anyStrings(c["gty"]), []string{authserver.GrantTypeTokenExchange}) {
		t.Errorf("delegated token claims %v", c)
	}

	d.clock.Advance(time.Second)
	status, body = d.exchange(t, sub.ID, subSecret, delegated, url.Values{"scope": {"read:users"}})
	if status != http.StatusOK || body["scope"] != "read:users" {
		t.Fatalf("second hop: %d %v", status, body)
	}
	c2 := jwtClaims(t, body["access_token"].(string))
	act, _ = json.Marshal(c2["act"])
	want := `{"act":{"client_id":"` + agent.ID + `","sub":"` + agent.ID + `"},"client_id":"` + sub.ID + `","sub":"` + sub.ID + `"}`
	if string(act) != want || c2["sub"] != d.personID || c2["grant_id"] != d.grantID || c2["purpose"] != "support ticket 4711" {
		t.Errorf("second hop claims %v, act %s, want act %s", c2, act, want)
	}

	recorded, err := d.st.ListDelegations(t.Context(), []string{d.grantID}, d.clock.Now(), 10)
	if err != nil || len(recorded) != 2 {
		t.Fatalf("delegations recorded: %+v %v", recorded, err)
	}
	if got := recorded[0]; got.ClientID != sub.ID || !slices.Equal(got.ActorChain, []string{sub.ID, agent.ID}) ||
		got.TokenID != c2["jti"] || got.SubjectTokenID != c["jti"] || !slices.Equal(got.Scopes, []string{"read:users"}) ||
		got.UserID != d.personID || got.Purpose != "support ticket 4711" {
		t.Errorf("the second hop's record %+v", got)
	}
	events, _, err := d.st.ListAuditEvents(t.Context(), "org_acme", store.AuditFilter{Action: authserver.AuditTokenExchange}, store.Page{})
	if err != nil || len(events) != 2 {
		t.Fatalf("exchange events: %+v %v", events, err)
	}
	if e := events[0]; e.Decision != "allow" || e.Subject != d.personID || e.GrantID != d.grantID ||
		!slices.Equal(e.ActorChain, []string{sub.ID, agent.ID}) || e.Purpose != "support ticket 4711" || e.ClientID != sub.ID {
		t.Errorf("the second hop's event %+v", e)
	}
	if !strings.Contains(d.logs.String(), "grant_type=token-exchange") || strings.Contains(d.logs.String(), delegated) {
		t.Errorf("the log: %s", d.logs.String())
	}
}

func anyStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// TestTokenExchangeLifetime: a delegated token never outlives the token
// it was exchanged for, nor the client's own token lifetime.
func TestTokenExchangeLifetime(t *testing.T) {
	d := newDelegation(t, nil)
	agent, secret := d.agent(t, "org_acme", true, "read:users")
	d.clock.Advance(55 * time.Minute) // Ada's token (an hour) has five minutes left
	status, body := d.exchange(t, agent.ID, secret, d.person, nil)
	if status != http.StatusOK || body["expires_in"] != float64(5*60) {
		t.Fatalf("exchange of a token with 5 minutes left: %d %v", status, body)
	}
	c := jwtClaims(t, body["access_token"].(string))
	if c["exp"] != jwtClaims(t, d.person)["exp"] {
		t.Errorf("exp %v, the subject's %v", c["exp"], jwtClaims(t, d.person)["exp"])
	}
	short := 2 * time.Minute
	if _, err := d.st.UpdateClient(t.Context(), agent.ID, store.ClientUpdate{TokenTTL: &short}); err != nil {
		t.Fatal(err)
	}
	if status, body = d.exchange(t, agent.ID, secret, d.person, nil); status != http.StatusOK || body["expires_in"] != float64(120) {
		t.Errorf("a client with 2-minute tokens: %d %v", status, body)
	}
}

// TestTokenExchangeRefusals: every refusal is an RFC 6749/8693 error that
// says why, and records no delegation.
func TestTokenExchangeRefusals(t *testing.T) {
	d := newDelegation(t, nil)
	ctx := t.Context()
	agent, secret := d.agent(t, "org_acme", true, "read:users", "write:users")
	plain, plainSecret := d.agent(t, "org_acme", false, "read:users")
	global, globalSecret := d.agent(t, "", true, "read:users")
	if _, err := d.st.CreateOrg(ctx, store.Org{Code: "org_beta", Name: "Beta"}); err != nil {
		t.Fatal(err)
	}
	beta, betaSecret := d.agent(t, "org_beta", true, "read:users")
	public, _ := d.registerClient(t, false)
	machineStatus, machine := postAuthenticated(t, d.as, authserver.TokenPath, agent.ID, secret,
		url.Values{"grant_type": {"client_credentials"}})
	if machineStatus != http.StatusOK {
		t.Fatal(machine)
	}

	for _, tc := range []struct {
		name, id, secret, subject string
		extra                     url.Values
		status                    int
		code, says                string
	}{
		{"a client not allowed to act", plain.ID, plainSecret, d.person, nil, 400, "unauthorized_client", "--delegate"},
		{"a global client", global.ID, globalSecret, d.person, nil, 400, "unauthorized_client", "global"},
		{"a wrong secret", agent.ID, "wrong", d.person, nil, 401, "invalid_client", "authentication failed"},
		{"another organization's client", beta.ID, betaSecret, d.person, nil, 400, "invalid_grant", "another organization"},
		{"no subject token", agent.ID, secret, "", nil, 400, "invalid_request", "subject_token is required"},
		{"another token type", agent.ID, secret, d.person, url.Values{"subject_token_type": {"urn:ietf:params:oauth:token-type:id_token"}},
			400, "invalid_request", "subject_token_type"},
		{"an actor token", agent.ID, secret, d.person, url.Values{"actor_token": {d.person}, "actor_token_type": {authserver.TokenTypeAccessToken}},
			400, "invalid_request", "actor_token"},
		{"a refresh token asked for", agent.ID, secret, d.person, url.Values{"requested_token_type": {"urn:ietf:params:oauth:token-type:refresh_token"}},
			400, "invalid_request", "requested_token_type"},
		{"a machine's token", agent.ID, secret, machine["access_token"].(string), nil, 400, "invalid_request", "not a person's"},
		{"not a token", agent.ID, secret, "eyJhbGciOiJub25lIn0.e30.", nil, 400, "invalid_request", "not a valid"},
		{"widening to a scope the subject lacks", agent.ID, secret, d.person, url.Values{"scope": {"read:users read:flags"}},
			400, "invalid_scope", "only narrows"},
		{"a scope the client is not allowed", agent.ID, secret, d.person, url.Values{"scope": {"read:audit"}}, 400, "invalid_scope", "exceeds"},
		{"an unknown scope", agent.ID, secret, d.person, url.Values{"scope": {"admin"}}, 400, "invalid_scope", "exceeds"},
		{"another resource", agent.ID, secret, d.person, url.Values{"resource": {"https://elsewhere.example/mcp"}}, 400, "invalid_target", "only for"},
		{"another audience", agent.ID, secret, d.person, url.Values{"audience": {"https://elsewhere.example/mcp"}}, 400, "invalid_target", "only for"},
		{"a purpose too long", agent.ID, secret, d.person, url.Values{"purpose": {strings.Repeat("x", auth.MaxPurposeLength+1)}},
			400, "invalid_request", "purpose"},
		{"a purpose of two lines", agent.ID, secret, d.person, url.Values{"purpose": {"one\ntwo"}}, 400, "invalid_request", "purpose"},
	} {
		status, body := d.exchange(t, tc.id, tc.secret, tc.subject, tc.extra)
		if status != tc.status || body["error"] != tc.code || !strings.Contains(body["error_description"].(string), tc.says) {
			t.Errorf("%s: %d %v, want %d %s (%q)", tc.name, status, body, tc.status, tc.code, tc.says)
		}
	}
	status, body := postAuthenticated(t, d.as, authserver.TokenPath, public, "", url.Values{"grant_type": {authserver.GrantTypeTokenExchange},
		"client_id": {public}, "subject_token": {d.person}, "subject_token_type": {authserver.TokenTypeAccessToken}})
	if status != 400 || body["error"] != "unauthorized_client" {
		t.Errorf("a public client: %d %v", status, body)
	}
	if got, _ := d.st.ListDelegations(ctx, []string{d.grantID}, d.clock.Now(), 10); len(got) != 0 {
		t.Errorf("refused exchanges recorded delegations: %+v", got)
	}
	events, _, _ := d.st.ListAuditEvents(ctx, "org_acme", store.AuditFilter{Action: authserver.AuditTokenExchange, Decision: "deny"}, store.Page{Limit: 100})
	if len(events) < 10 || events[0].ClientID == "" {
		t.Errorf("refusals of authenticated clients are audited: %d events", len(events))
	}
	// The other organization's client is refused on its own trail, which
	// does not learn whose token it presented.
	betaEvents, _, _ := d.st.ListAuditEvents(ctx, "org_beta", store.AuditFilter{Action: authserver.AuditTokenExchange}, store.Page{})
	if len(betaEvents) != 1 || betaEvents[0].Subject != "" || betaEvents[0].GrantID != "" || betaEvents[0].Reason != "invalid_grant" ||
		betaEvents[0].ClientID != beta.ID {
		t.Errorf("org_beta's trail: %+v", betaEvents)
	}

	// A token revoked, whose grant is revoked, or expired.
	denied := func(what, subject string) {
		t.Helper()
		if status, body := d.exchange(t, agent.ID, secret, subject, nil); status != 400 || body["error"] != "invalid_request" {
			t.Errorf("%s: %d %v", what, status, body)
		}
	}
	revoked := d.personToken(t, "read:users")
	if err := d.st.RevokeToken(ctx, store.RevokedToken{TokenID: jwtClaims(t, revoked)["jti"].(string), ExpiresAt: d.clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	denied("a revoked subject token", revoked)
	if err := d.st.RevokeGrant(ctx, d.grantID); err != nil {
		t.Fatal(err)
	}
	denied("a subject token of a revoked grant", d.person)
	fresh := d.personToken(t, "read:users")
	d.clock.Advance(time.Hour + time.Minute)
	denied("an expired subject token", fresh)
}

// TestTokenExchangeChainStands: a sub-agent cannot trade a token whose
// agent was disabled (its cutoff), or is no longer a delegate.
func TestTokenExchangeChainStands(t *testing.T) {
	d := newDelegation(t, nil)
	ctx := t.Context()
	agent, secret := d.agent(t, "org_acme", true, "read:users")
	sub, subSecret := d.agent(t, "org_acme", true, "read:users")
	_, body := d.exchange(t, agent.ID, secret, d.person, nil)
	delegated := body["access_token"].(string)
	no := false
	if _, err := d.st.UpdateClient(ctx, agent.ID, store.ClientUpdate{Delegate: &no}); err != nil {
		t.Fatal(err)
	}
	if status, body := d.exchange(t, sub.ID, subSecret, delegated, nil); status != 400 || body["error"] != "invalid_request" {
		t.Errorf("a token of an agent no longer a delegate: %d %v", status, body)
	}
	yes := true
	if _, err := d.st.UpdateClient(ctx, agent.ID, store.ClientUpdate{Delegate: &yes}); err != nil {
		t.Fatal(err)
	}
	if status, body := d.exchange(t, sub.ID, subSecret, delegated, nil); status != 200 {
		t.Fatalf("a delegate again: %d %v", status, body)
	}
	d.clock.Advance(time.Second)
	if _, err := d.st.CutOffClient(ctx, agent.ID, d.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if status, body := d.exchange(t, sub.ID, subSecret, delegated, nil); status != 400 || !strings.Contains(body["error_description"].(string), "cut off") {
		t.Errorf("a token of an agent cut off: %d %v", status, body)
	}
}

// TestStanding: what the resource server reads at every call of a token
// descending from a grant.
func TestStanding(t *testing.T) {
	d := newDelegation(t, nil)
	ctx := t.Context()
	agent, _ := d.agent(t, "org_acme", true, "read:users", "write:flags")
	st, err := d.as.Standing(ctx, d.grantID, "org_acme", d.personID, []string{agent.ID})
	if err != nil || !st.Active || len(st.Bounds) != 2 {
		t.Fatalf("standing %+v %v", st, err)
	}
	if b := st.Bounds[0]; b.Party != auth.BoundRole || b.Name != "admin" || !slices.Equal(b.Scopes, auth.AllScopes) {
		t.Errorf("role bound %+v", b)
	}
	if b := st.Bounds[1]; b.Party != auth.BoundClient || b.Name != agent.ID || !slices.Equal(b.Scopes, []string{"read:users", "write:flags"}) {
		t.Errorf("client bound %+v", b)
	}
	inactive := func(what string, grant, org, user string, actors ...string) {
		t.Helper()
		st, err := d.as.Standing(ctx, grant, org, user, actors)
		if err != nil || st.Active || st.Why == "" {
			t.Errorf("%s: %+v %v", what, st, err)
		}
	}
	inactive("another person's grant", d.grantID, "org_acme", "usr_someone")
	inactive("an unknown grant", "grt_none", "org_acme", d.personID)
	inactive("an unknown actor", d.grantID, "org_acme", d.personID, "nobody")
	disabled := d.clock.Now()
	if _, err := d.st.UpdateClient(ctx, agent.ID, store.ClientUpdate{DisabledAt: &disabled}); err != nil {
		t.Fatal(err)
	}
	inactive("a disabled actor", d.grantID, "org_acme", d.personID, agent.ID)
	suspended := store.UserSuspended
	if _, err := d.st.UpdateUser(ctx, "org_acme", d.personID, store.UserUpdate{Status: &suspended}); err != nil {
		t.Fatal(err)
	}
	inactive("a suspended person", d.grantID, "org_acme", d.personID)
}

// TestRevokeDelegatedToken: an agent revoking its delegated token ends
// that token only; the person's grant, and her own token, stand.
func TestRevokeDelegatedToken(t *testing.T) {
	d := newDelegation(t, nil)
	agent, secret := d.agent(t, "org_acme", true, "read:users")
	_, body := d.exchange(t, agent.ID, secret, d.person, nil)
	delegated := body["access_token"].(string)

	status, intro := postAuthenticated(t, d.as, authserver.IntrospectPath, agent.ID, secret, url.Values{"token": {delegated}})
	act, _ := json.Marshal(intro["act"])
	if status != 200 || intro["active"] != true || intro["sub"] != d.personID || string(act) != `{"client_id":"`+agent.ID+`","sub":"`+agent.ID+`"}` {
		t.Errorf("introspection of the delegated token: %d %v", status, intro)
	}
	if status, _ := postAuthenticated(t, d.as, authserver.RevokePath, agent.ID, secret, url.Values{"token": {delegated}}); status != 200 {
		t.Fatalf("revoke: %d", status)
	}
	if revoked, _ := d.st.IsTokenRevoked(t.Context(), jwtClaims(t, delegated)["jti"].(string)); !revoked {
		t.Error("the delegated token is not on the denylist")
	}
	if g, _ := d.st.GetGrant(t.Context(), d.grantID); g.Revoked() {
		t.Error("revoking the agent's token revoked Ada's grant")
	}
	if status, _ := d.exchange(t, agent.ID, secret, d.person, nil); status != 200 {
		t.Error("Ada's token no longer exchanges after her agent revoked its own")
	}
}

// TestMetadataListsTokenExchange: the grant type is advertised.
func TestMetadataListsTokenExchange(t *testing.T) {
	d := newFixture(t, nil)
	if !slices.Contains(d.as.Metadata().GrantTypesSupported, authserver.GrantTypeTokenExchange) {
		t.Errorf("grant types %v", d.as.Metadata().GrantTypesSupported)
	}
}
