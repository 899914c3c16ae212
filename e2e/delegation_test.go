package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/orgscope/orgscope/cmd/orgscope/app"
	"github.com/orgscope/orgscope/internal/clientkeys"
	"github.com/orgscope/orgscope/internal/testdeps"
	"github.com/orgscope/orgscope/internal/tokentest"
	"github.com/orgscope/orgscope/store"
)

const (
	tokenExchange   = "urn:ietf:params:oauth:grant-type:token-exchange"
	accessTokenType = "urn:ietf:params:oauth:token-type:access_token"
)

// signInToken runs the authorization-code flow as user with a public
// client the test drives (sign-in and consent pages over HTTP, PKCE), and
// returns the person's access token.
func signInToken(t *testing.T, s *testServer, user demoUser, scope string) string {
	t.Helper()
	f := newFlow(t, s, publicClient(t, s, redirect))
	f.params.Set("scope", scope)
	q := f.code(user)
	status, body := f.exchange(q.Get("code"), nil)
	if status != http.StatusOK {
		t.Fatalf("sign-in of %s: %d %v", user.Email, status, body)
	}
	return body["access_token"].(string)
}

// exchange asks for a token acting for subject, as client c.
func (s *testServer) exchange(t *testing.T, c credentials, subject string, extra url.Values) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {tokenExchange}, "client_id": {c.ID}, "client_secret": {c.Secret},
		"subject_token": {subject}, "subject_token_type": {accessTokenType}, "resource": {s.audience()}}
	for k, v := range extra {
		form[k] = v
	}
	return formPost(t, s.URL+"/oauth2/token", form)
}

// delegated exchanges subject as c and returns the new token.
func (s *testServer) delegated(t *testing.T, c credentials, subject string, extra url.Values) string {
	t.Helper()
	status, body := s.exchange(t, c, subject, extra)
	if status != http.StatusOK {
		t.Fatalf("exchange by %s: %d %v", c.ID, status, body)
	}
	return body["access_token"].(string)
}

// structured decodes a tool's structured answer.
func structured(t *testing.T, r rpcResult, into any) {
	t.Helper()
	if r.Result == nil || r.Result.IsError {
		t.Fatalf("tool error: %s", r.text())
	}
	if err := json.Unmarshal(r.Result.StructuredContent, into); err != nil {
		t.Fatal(err)
	}
}

// status is the HTTP status of a whoami call.
func (s *testServer) status(t *testing.T, token string) int {
	t.Helper()
	resp, _ := s.callTool(t, token, "whoami", nil)
	return resp.StatusCode
}

type whoami struct {
	Issuer          string   `json:"issuer"`
	Subject         string   `json:"subject"`
	ClientID        string   `json:"client_id"`
	OrgCode         string   `json:"org_code"`
	GrantType       string   `json:"grant_type"`
	Scopes          []string `json:"scopes"`
	EffectiveScopes []string `json:"effective_scopes"`
	ActorChain      []string `json:"actor_chain"`
	Purpose         string   `json:"purpose"`
	Tools           []string `json:"tools"`
	Delegation      *struct {
		Summary     string `json:"summary"`
		PersonID    string `json:"person_user_id"`
		PersonEmail string `json:"person_email"`
		GrantID     string `json:"grant_id"`
		Actors      []struct {
			ClientID string `json:"client_id"`
		} `json:"actors"`
	} `json:"delegation"`
}

// TestDelegation: Ada signs in through the authorization-code flow; a
// support agent (a delegate machine client) exchanges her token for one
// that acts for her with narrower scopes and a purpose; a sub-agent
// exchanges that one, nesting act. The delegated tokens call tools as Ada
// ∩ agent, their writes are audited with the actor chain and the purpose,
// Ada sees what acts for her and revokes it, and every derived token is
// refused at its next call. The refusals of the exchange, and the other
// ways a derived token dies (the acting client disabled, the person
// suspended, the grant revoked from the command line), each once.
func TestDelegation(t *testing.T) {
	clock := &testClock{}
	s := startServer(t, serverOptions{config: func(c *app.Config) { c.Now = clock.Now }})
	db := []string{"--db", s.DBPath}
	ada, grace := s.Users["ada@acme.example"], s.Users["grace@acme.example"]
	agent := createClient(t, db, "--org", "org_acme", "--scopes", "read:users write:users read:grants", "--delegate")
	sub := createClient(t, db, "--org", "org_acme", "--scopes", "read:users write:users", "--delegate")
	plain := createClient(t, db, "--org", "org_acme", "--scopes", "read:users write:users")
	betaAgent := createClient(t, db, "--org", "org_beta", "--scopes", "read:users", "--delegate")
	st := s.openStore(t)

	person := signInToken(t, s, ada, "read:users write:users read:flags read:grants write:grants")
	_, personClaims := decodeJWT(t, person)
	adaID, grantID := personClaims["sub"].(string), personClaims["grant_id"].(string)

	// The agent acts for Ada, narrowed to the users.
	const purpose = "onboard the new hire of ticket 7"
	status, body := s.exchange(t, agent, person, url.Values{"scope": {"read:users write:users"}, "purpose": {purpose}})
	if status != http.StatusOK || body["issued_token_type"] != accessTokenType || body["scope"] != "read:users write:users" ||
		body["expires_in"].(float64) > 900 {
		t.Fatalf("the agent's exchange: %d %v", status, body)
	}
	asAgent := body["access_token"].(string)
	_, c := decodeJWT(t, asAgent)
	act, _ := json.Marshal(c["act"])
	if c["sub"] != adaID || c["client_id"] != agent.ID || c["grant_id"] != grantID || c["purpose"] != purpose ||
		string(act) != `{"client_id":"`+agent.ID+`","sub":"`+agent.ID+`"}` {
		t.Errorf("the agent's token: %v", c)
	}
	var who whoami
	structured(t, s.tool(t, asAgent, "whoami", nil), &who)
	if who.Subject != adaID || who.ClientID != agent.ID || who.GrantType != tokenExchange || !slices.Equal(who.ActorChain, []string{agent.ID}) ||
		who.Purpose != purpose || who.Delegation == nil || who.Delegation.PersonEmail != ada.Email ||
		!strings.Contains(who.Delegation.Summary, "acting for ada@acme.example, via client \"E2E agent\"") ||
		!strings.Contains(who.Delegation.Summary, purpose) || slices.Contains(who.Tools, "get_feature_flag") {
		t.Errorf("whoami of the agent's token: %+v %+v", who, who.Delegation)
	}
	if r := s.tool(t, asAgent, "list_users", map[string]any{"limit": 1}); r.Result.IsError {
		t.Errorf("list_users as the agent: %s", r.text())
	}
	if resp, _ := s.callTool(t, asAgent, "get_feature_flag", map[string]any{"key": "dark_mode"}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a scope the exchange narrowed away: HTTP %d, want 403", resp.StatusCode)
	}

	// The sub-agent acts for Ada through the agent; its write is audited
	// with the whole chain and the purpose.
	asSub := s.delegated(t, sub, asAgent, nil)
	_, c = decodeJWT(t, asSub)
	act, _ = json.Marshal(c["act"])
	if want := `{"act":{"client_id":"` + agent.ID + `","sub":"` + agent.ID + `"},"client_id":"` + sub.ID + `","sub":"` + sub.ID + `"}`; string(act) != want {
		t.Errorf("the sub-agent's act %s, want %s", act, want)
	}
	if r := s.tool(t, asSub, "create_user", map[string]any{"email": "new.hire@acme.example"}); r.Result.IsError {
		t.Fatalf("create_user as the sub-agent: %s", r.text())
	}
	events, _, err := st.ListAuditEvents(t.Context(), "org_acme", store.AuditFilter{Action: "tools/call:create_user"}, store.Page{Limit: 5})
	if err != nil || len(events) != 1 {
		t.Fatalf("create_user events: %+v %v", events, err)
	}
	if e := events[0]; e.Subject != adaID || e.ClientID != sub.ID || !slices.Equal(e.ActorChain, []string{sub.ID, agent.ID}) ||
		e.Purpose != purpose || e.GrantID != grantID || e.Decision != "allow" || e.Outcome != "ok" {
		t.Errorf("the write's audit event: %+v", e)
	}

	// Refusals at the exchange.
	machine := s.token(t, s.Clients["org_acme"], "read:users")
	for _, tc := range []struct {
		name    string
		c       credentials
		subject string
		extra   url.Values
		code    string
	}{
		{"a client not allowed to act for people", plain, person, nil, "unauthorized_client"},
		{"another organization's client", betaAgent, person, nil, "invalid_grant"},
		{"widening to a scope the subject lacks", sub, asAgent, url.Values{"scope": {"read:flags"}}, "invalid_scope"},
		{"widening beyond the client", agent, person, url.Values{"scope": {"read:users delete:users"}}, "invalid_scope"},
		{"a resource not ours", agent, person, url.Values{"resource": {"https://elsewhere.example/mcp"}}, "invalid_target"},
		{"a machine's token", agent, machine, nil, "invalid_request"},
	} {
		if status, body := s.exchange(t, tc.c, tc.subject, tc.extra); status != http.StatusBadRequest || body["error"] != tc.code {
			t.Errorf("%s: %d %v, want 400 %s", tc.name, status, body, tc.code)
		}
	}

	// Person ∩ agent at every call: narrowing the agent's allowed scopes
	// narrows the token it holds at once.
	cli(t, db, "clients", "update", agent.ID, "--scopes", "read:users read:grants")
	if r := s.tool(t, asAgent, "create_user", map[string]any{"email": "second.hire@acme.example"}); !r.Result.IsError ||
		!strings.Contains(r.text(), "the acting client "+agent.ID+" does not allow it") {
		t.Errorf("a write beyond the agent's allowed scopes: %s", r.text())
	}

	// Ada sees what acts for her and revokes it: every derived token is
	// refused at its next call.
	var page struct {
		Grants []struct {
			GrantID     string `json:"grant_id"`
			Delegations []struct {
				ClientID   string   `json:"client_id"`
				ActorChain []string `json:"actor_chain"`
				Purpose    string   `json:"purpose"`
			} `json:"delegations"`
		} `json:"grants"`
	}
	structured(t, s.tool(t, person, "list_delegations", nil), &page)
	if len(page.Grants) != 1 || page.Grants[0].GrantID != grantID || len(page.Grants[0].Delegations) != 2 ||
		!slices.Equal(page.Grants[0].Delegations[0].ActorChain, []string{sub.ID, agent.ID}) || page.Grants[0].Delegations[1].Purpose != purpose {
		t.Errorf("what acts for Ada: %+v", page)
	}
	if r := s.tool(t, person, "revoke_delegation", map[string]any{"grant_id": grantID}); r.Result.IsError {
		t.Fatalf("revoke_delegation: %s", r.text())
	}
	for name, token := range map[string]string{"the agent's": asAgent, "the sub-agent's": asSub, "Ada's own": person} {
		if got := s.status(t, token); got != http.StatusUnauthorized {
			t.Errorf("%s token after revoke_delegation: HTTP %d, want 401", name, got)
		}
	}
	if status, body := s.exchange(t, agent, person, nil); status != http.StatusBadRequest || body["error"] != "invalid_request" {
		t.Errorf("exchanging a token of a revoked grant: %d %v", status, body)
	}

	// The operator revokes a grant from the command line.
	person = signInToken(t, s, ada, "read:users write:users")
	_, personClaims = decodeJWT(t, person)
	asAgent = s.delegated(t, agent, person, nil)
	out := cli(t, db, "grants", "revoke", personClaims["grant_id"].(string))
	if out["grant"].(map[string]any)["revoked_at"] == nil {
		t.Errorf("grants revoke: %v", out)
	}
	if got := s.status(t, asAgent); got != http.StatusUnauthorized {
		t.Errorf("the agent's token after grants revoke: HTTP %d, want 401", got)
	}

	// Disabling the acting client cuts its derived token; the person's
	// own token stands.
	person = signInToken(t, s, ada, "read:users write:users")
	asSub = s.delegated(t, sub, person, nil)
	cli(t, db, "clients", "disable", sub.ID)
	if got := s.status(t, asSub); got != http.StatusUnauthorized {
		t.Errorf("the token of a disabled agent: HTTP %d, want 401", got)
	}
	if got := s.status(t, person); got != http.StatusOK {
		t.Errorf("Ada's own token after her agent was disabled: HTTP %d", got)
	}

	// Suspending the person cuts what acts for her.
	gracePerson := signInToken(t, s, grace, "read:users")
	asAgentForGrace := s.delegated(t, agent, gracePerson, nil)
	if got := s.status(t, asAgentForGrace); got != http.StatusOK {
		t.Fatalf("the agent acting for Grace: HTTP %d", got)
	}
	admin := s.token(t, s.Clients["org_acme"], "write:users")
	_, graceClaims := decodeJWT(t, gracePerson)
	if r := s.tool(t, admin, "update_user", map[string]any{"user_id": graceClaims["sub"], "status": "suspended"}); r.Result.IsError {
		t.Fatalf("suspend Grace: %s", r.text())
	}
	if got := s.status(t, asAgentForGrace); got != http.StatusUnauthorized {
		t.Errorf("the agent acting for a suspended person: HTTP %d, want 401", got)
	}

	// An expired subject token is refused.
	clock.Advance(2 * time.Hour)
	if status, body := s.exchange(t, agent, person, nil); status != http.StatusBadRequest || body["error"] != "invalid_request" {
		t.Errorf("an expired subject token: %d %v", status, body)
	}

	var meta map[string]any
	resp, err := http.Get(s.URL + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&meta)
	resp.Body.Close()
	if !slices.Contains(meta["grant_types_supported"].([]any), any(tokenExchange)) {
		t.Errorf("grant_types_supported %v", meta["grant_types_supported"])
	}
}

// TestDelegationWithAssertion: a delegate machine client that holds a key
// instead of a secret exchanges Ada's token authenticating with a signed
// assertion (private_key_jwt, aud the issuer); the token it gets acts for
// Ada with the client as actor. A replayed assertion — the same one, or a
// new one reusing its jti — and one signed by another key are refused as
// RFC 6749 errors (invalid_client, 401), and none of them issues a token
// or records a delegation, a grant or an audit event.
func TestDelegationWithAssertion(t *testing.T) {
	s := startServer(t, serverOptions{})
	ctx := t.Context()
	db := []string{"--db", s.DBPath}
	key := tokentest.ClientKey(t, "ES256", "delegate-1")
	id := createKeyClient(t, db, tokentest.PublicJWKS(t, key), "", "--org", "org_acme", "--scopes", "read:users", "--delegate")
	ada := s.Users["ada@acme.example"]
	st := s.openStore(t)

	person := signInToken(t, s, ada, "read:users write:users")
	_, personClaims := decodeJWT(t, person)
	adaID, grantID := personClaims["sub"].(string), personClaims["grant_id"].(string)
	exchange := func(assertion string) (*http.Response, map[string]any) {
		t.Helper()
		form := url.Values{"grant_type": {tokenExchange}, "client_assertion_type": {clientkeys.AssertionType},
			"client_assertion": {assertion}, "subject_token": {person}, "subject_token_type": {accessTokenType},
			"resource": {s.audience()}}
		resp, err := http.PostForm(s.URL+"/oauth2/token", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("the token endpoint answered HTTP %d with no JSON: %v", resp.StatusCode, err)
		}
		return resp, body
	}
	// recorded counts what exchanges leave behind: the delegations of
	// Ada's grant, the grants of her organization and the exchanges' audit
	// events.
	recorded := func() (delegations []store.Delegation, grants, events int) {
		t.Helper()
		delegations, err := st.ListDelegations(ctx, []string{grantID}, time.Now(), 100)
		if err != nil {
			t.Fatal(err)
		}
		gs, _, err := st.ListGrants(ctx, "org_acme", store.GrantFilter{}, store.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		evs, _, err := st.ListAuditEvents(ctx, "org_acme", store.AuditFilter{Action: "oauth2/token:token-exchange"}, store.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return delegations, len(gs), len(evs)
	}

	const jti = "delegate-assertion-1"
	assertion, err := clientkeys.Sign(key, "ES256", clientkeys.Assertion{ClientID: id, Audience: s.URL, ID: jti})
	if err != nil {
		t.Fatal(err)
	}
	resp, body := exchange(assertion)
	if resp.StatusCode != http.StatusOK || body["issued_token_type"] != accessTokenType || body["scope"] != "read:users" {
		t.Fatalf("the exchange authenticated by assertion: %d %v", resp.StatusCode, body)
	}
	asAgent := body["access_token"].(string)
	var who whoami
	structured(t, s.tool(t, asAgent, "whoami", nil), &who)
	if who.Subject != adaID || who.ClientID != id || who.GrantType != tokenExchange || !slices.Equal(who.ActorChain, []string{id}) ||
		who.Delegation == nil || who.Delegation.PersonEmail != ada.Email || who.Delegation.GrantID != grantID {
		t.Errorf("whoami of the exchanged token: %+v %+v", who, who.Delegation)
	}
	if r := s.tool(t, asAgent, "list_users", map[string]any{"limit": 1}); r.Result.IsError {
		t.Errorf("list_users as the agent: %s", r.text())
	}
	delegations, grants, events := recorded()
	if len(delegations) != 1 || delegations[0].ClientID != id || !slices.Equal(delegations[0].ActorChain, []string{id}) || events != 1 {
		t.Fatalf("after the exchange: delegations %+v, %d exchange events; want one of each by %s", delegations, events, id)
	}

	other := tokentest.ClientKey(t, "ES256", "delegate-1") // the registered kid, another key
	sign := func(k jose.JSONWebKey, jti string) string {
		a, err := clientkeys.Sign(k, "ES256", clientkeys.Assertion{ClientID: id, Audience: s.URL, ID: jti})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	for _, tc := range []struct{ name, assertion string }{
		{"the same assertion again", assertion},
		{"a new assertion reusing its jti", sign(key, jti)},
		{"an assertion signed by another key", sign(other, "")},
		{"an assertion signed by another key under an unknown kid", sign(tokentest.ClientKey(t, "ES256", "delegate-2"), "")},
	} {
		resp, body := exchange(tc.assertion)
		if resp.StatusCode != http.StatusUnauthorized || body["error"] != "invalid_client" || body["access_token"] != nil ||
			!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: HTTP %d %v (Content-Type %q, Cache-Control %q); want 401 invalid_client, JSON, no-store",
				tc.name, resp.StatusCode, body, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
		}
	}
	if d, g, e := recorded(); len(d) != 1 || g != grants || e != events {
		t.Errorf("after the refusals: %d delegations, %d grants, %d exchange events; want 1, %d, %d as before",
			len(d), g, e, grants, events)
	}
	// The refusals lock nothing out: a fresh assertion of the client's key
	// still exchanges.
	if resp, body := exchange(sign(key, "")); resp.StatusCode != http.StatusOK {
		t.Errorf("a fresh assertion after the refusals: %d %v", resp.StatusCode, body)
	}
}

// TestDelegationRevokedOnReplicas: two replicas on PostgreSQL behind a
// load balancer. Ada signs in at one, her agent exchanges her token at
// one replica and a sub-agent the agent's at the other; revoking her grant
// — with revoke_delegation through the other replica, or with `orgscope
// grants revoke` — refuses every derived token at its very next call on
// both replicas: the grant is read from the database at every call, not
// polled.
func TestDelegationRevokedOnReplicas(t *testing.T) {
	c := startCluster(t, 2, testdeps.RequirePostgres(t))
	r0, r1 := c.via(0), c.via(1)
	db := []string{"--database-url", c.dbURL, "--database-schema", c.schema}
	agent := createClient(t, db, "--org", "org_acme", "--scopes", "read:users read:grants", "--delegate")
	sub := createClient(t, db, "--org", "org_acme", "--scopes", "read:users", "--delegate")
	ada := r0.Users["ada@acme.example"]

	measure := func(what string, revoke func(person, grantID string)) {
		t.Helper()
		person := signInToken(t, r0, ada, "read:users read:grants write:grants")
		_, claims := decodeJWT(t, person)
		asAgent := r0.delegated(t, agent, person, url.Values{"purpose": {"replica test"}})
		asSub := r1.delegated(t, sub, asAgent, nil)
		tokens := map[string]string{"the agent's": asAgent, "the sub-agent's": asSub}
		for _, r := range []*testServer{r0, r1} {
			for name, token := range tokens {
				if got := r.status(t, token); got != http.StatusOK {
					t.Fatalf("%s: %s token before the revocation: HTTP %d", what, name, got)
				}
			}
		}
		start := time.Now()
		revoke(person, claims["grant_id"].(string))
		revoked := time.Since(start)
		for i, r := range []*testServer{r0, r1} {
			for name, token := range tokens {
				if got := r.status(t, token); got != http.StatusUnauthorized {
					t.Errorf("%s: replica %d accepted %s token at the next call: HTTP %d", what, i, name, got)
				}
			}
			t.Logf("%s: replica %d refused both derived tokens %v after the revocation began (the revocation took %v)",
				what, i, time.Since(start).Round(100*time.Microsecond), revoked.Round(100*time.Microsecond))
		}
	}
	measure("revoke_delegation through replica 1", func(person, grantID string) {
		if r := r1.tool(t, person, "revoke_delegation", map[string]any{"grant_id": grantID}); r.Result.IsError {
			t.Fatalf("revoke_delegation: %s", r.text())
		}
	})
	measure("orgscope grants revoke", func(_, grantID string) {
		cli(t, db, "grants", "revoke", grantID)
	})
}
