package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/orgscope/orgscope/cmd/orgscope/app"
)

const redirect = "http://127.0.0.1:41234/callback"

// flow is one authorization request with PKCE, driven over HTTP.
type flow struct {
	t        *testing.T
	s        *testServer
	clientID string
	verifier string
	params   url.Values
	browser  *httpBrowser
}

func newFlow(t *testing.T, s *testServer, clientID string) *flow {
	verifier := oauth2.GenerateVerifier()
	return &flow{t: t, s: s, clientID: clientID, verifier: verifier, browser: newHTTPBrowser(t), params: url.Values{
		"response_type":         {"code"},
		"client_id":             {clientID},
		"redirect_uri":          {redirect},
		"code_challenge":        {oauth2.S256ChallengeFromVerifier(verifier)},
		"code_challenge_method": {"S256"},
		"state":                 {"state-123"},
		"resource":              {s.audience()},
		"scope":                 {"read:users write:users"},
	}}
}

// code signs in as user, approves, and returns the redirect's parameters.
func (f *flow) code(user demoUser) url.Values {
	f.t.Helper()
	login := f.browser.get(authorizeURL(f.s, f.params))
	consent := f.browser.signIn(f.s.URL, login, user.Email, user.Password)
	if consent.status != http.StatusOK {
		f.t.Fatalf("sign-in: %d %s", consent.status, consent.errorText())
	}
	target, q := f.browser.decide(f.s.URL, consent, "approve").redirectParams(f.t)
	if target != f.params.Get("redirect_uri") {
		f.t.Fatalf("redirected to %s", target)
	}
	return q
}

// exchange redeems a code at the token endpoint.
func (f *flow) exchange(code string, edit func(url.Values)) (int, map[string]any) {
	f.t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {f.clientID},
		"redirect_uri": {f.params.Get("redirect_uri")}, "code_verifier": {f.verifier}, "resource": {f.s.audience()}}
	if edit != nil {
		edit(form)
	}
	return formPost(f.t, f.s.URL+"/oauth2/token", form)
}

// reuseInterval is the refresh reuse interval of the refusal tests' server:
// short, so that a test can wait it out.
const reuseInterval = 500 * time.Millisecond

func refresh(t *testing.T, s *testServer, clientID, token string) (int, map[string]any) {
	return formPost(t, s.URL+"/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}, "client_id": {clientID}})
}

// mcpStatus is the HTTP status of a whoami call with token.
func mcpStatus(t *testing.T, s *testServer, token string) int {
	resp, _ := s.callTool(t, token, "whoami", nil)
	return resp.StatusCode
}

func TestAuthorizationCodeRefusals(t *testing.T) {
	s := startServer(t, serverOptions{config: func(c *app.Config) { c.RefreshReuseInterval = reuseInterval }})
	client := publicClient(t, s, redirect)
	ada := s.Users["ada@acme.example"]

	t.Run("happy path carries state and iss", func(t *testing.T) {
		f := newFlow(t, s, client)
		q := f.code(ada)
		if q.Get("state") != "state-123" || q.Get("iss") != s.URL || q.Get("code") == "" {
			t.Fatalf("redirect params %v", q)
		}
		status, tok := f.exchange(q.Get("code"), nil)
		if status != 200 || tok["refresh_token"] == nil || tok["scope"] != "read:users write:users" {
			t.Fatalf("%d %v", status, tok)
		}
		if mcpStatus(t, s, tok["access_token"].(string)) != 200 {
			t.Error("the issued token does not work")
		}
	})

	t.Run("PKCE mismatch", func(t *testing.T) {
		f := newFlow(t, s, client)
		q := f.code(ada)
		status, body := f.exchange(q.Get("code"), func(v url.Values) { v.Set("code_verifier", oauth2.GenerateVerifier()) })
		if status != 400 || body["error"] != "invalid_grant" {
			t.Fatalf("%d %v", status, body)
		}
		// The failed attempt burned the code.
		if status, body := f.exchange(q.Get("code"), nil); status != 400 || body["error"] != "invalid_grant" {
			t.Errorf("the code still worked after a wrong verifier: %d %v", status, body)
		}
	})

	t.Run("plain PKCE and no PKCE are refused on OrgScope's page", func(t *testing.T) {
		for _, edit := range []func(url.Values){
			func(v url.Values) { v.Set("code_challenge_method", "plain"); v.Set("code_challenge", "x") },
			func(v url.Values) { v.Del("code_challenge"); v.Del("code_challenge_method") },
		} {
			f := newFlow(t, s, client)
			edit(f.params)
			p := f.browser.get(authorizeURL(s, f.params))
			if p.status != 400 || p.header.Get("Location") != "" || !strings.Contains(p.errorText(), "invalid_request") {
				t.Errorf("%d %q %q", p.status, p.header.Get("Location"), p.errorText())
			}
		}
	})

	t.Run("code replay revokes what the code issued", func(t *testing.T) {
		f := newFlow(t, s, client)
		q := f.code(ada)
		status, tok := f.exchange(q.Get("code"), nil)
		if status != 200 {
			t.Fatalf("%d %v", status, tok)
		}
		access, refreshToken := tok["access_token"].(string), tok["refresh_token"].(string)
		if mcpStatus(t, s, access) != 200 {
			t.Fatal("fresh token refused")
		}
		if status, body := f.exchange(q.Get("code"), nil); status != 400 || body["error"] != "invalid_grant" {
			t.Fatalf("replay: %d %v", status, body)
		}
		if got := mcpStatus(t, s, access); got != 401 {
			t.Errorf("access token issued from a replayed code: %d, want 401", got)
		}
		if status, body := refresh(t, s, client, refreshToken); status != 400 || body["error"] != "invalid_grant" {
			t.Errorf("refresh token issued from a replayed code: %d %v", status, body)
		}
	})

	t.Run("refresh rotation and reuse revoke the family", func(t *testing.T) {
		f := newFlow(t, s, client)
		_, tok := f.exchange(f.code(ada).Get("code"), nil)
		r1 := tok["refresh_token"].(string)
		status, tok2 := refresh(t, s, client, r1)
		if status != 200 || tok2["refresh_token"] == r1 || tok2["refresh_token"] == nil {
			t.Fatalf("rotation: %d %v", status, tok2)
		}
		r2, a2 := tok2["refresh_token"].(string), tok2["access_token"].(string)
		// Within the reuse interval the same client replaying the rotated
		// token (another session on its keyring) gets a fresh pair, and
		// nothing is revoked.
		status, tok3 := refresh(t, s, client, r1)
		if status != 200 || tok3["refresh_token"] == nil || tok3["refresh_token"] == r2 {
			t.Fatalf("replay within the reuse interval: %d %v", status, tok3)
		}
		if got := mcpStatus(t, s, a2); got != 200 {
			t.Errorf("a replay within the interval revoked the family: %d", got)
		}
		// Past it, a replay is taken for theft: the whole family goes.
		time.Sleep(reuseInterval + 200*time.Millisecond)
		if status, body := refresh(t, s, client, r1); status != 400 || body["error"] != "invalid_grant" {
			t.Fatalf("reuse of a rotated token past the interval: %d %v", status, body)
		}
		if status, body := refresh(t, s, client, r2); status != 400 || body["error"] != "invalid_grant" {
			t.Errorf("the family's newest token survived reuse detection: %d %v", status, body)
		}
		if got := mcpStatus(t, s, a2); got != 401 {
			t.Errorf("an access token of the revoked family: %d", got)
		}
	})

	t.Run("redirect URI mismatch is shown, not redirected", func(t *testing.T) {
		f := newFlow(t, s, client)
		f.params.Set("redirect_uri", "https://evil.example/callback")
		p := f.browser.get(authorizeURL(s, f.params))
		if p.status != 400 || p.header.Get("Location") != "" || !strings.Contains(p.errorText(), "redirect_uri") {
			t.Errorf("%d %q %q", p.status, p.header.Get("Location"), p.errorText())
		}
		// At the token endpoint too.
		f = newFlow(t, s, client)
		code := f.code(ada).Get("code")
		if status, body := f.exchange(code, func(v url.Values) { v.Set("redirect_uri", "http://127.0.0.1:41234/other") }); status != 400 || body["error"] != "invalid_grant" {
			t.Errorf("token exchange with another redirect_uri: %d %v", status, body)
		}
	})

	t.Run("loopback redirect may use another port", func(t *testing.T) {
		f := newFlow(t, s, client)
		f.params.Set("redirect_uri", "http://127.0.0.1:50000/callback")
		q := f.code(ada)
		if status, _ := f.exchange(q.Get("code"), nil); status != 200 {
			t.Errorf("exchange: %d", status)
		}
	})

	t.Run("unknown resource", func(t *testing.T) {
		f := newFlow(t, s, client)
		f.params.Set("resource", "https://other.example/mcp")
		if p := f.browser.get(authorizeURL(s, f.params)); p.status != 400 || p.header.Get("Location") != "" ||
			!strings.Contains(p.errorText(), "invalid_target") {
			t.Errorf("%d %q %q", p.status, p.header.Get("Location"), p.errorText())
		}
	})

	t.Run("unknown client is shown, not redirected", func(t *testing.T) {
		f := newFlow(t, s, "no-such-client")
		p := f.browser.get(authorizeURL(s, f.params))
		if p.status != 400 || p.header.Get("Location") != "" {
			t.Errorf("%d %q", p.status, p.header.Get("Location"))
		}
	})

	t.Run("CSRF token missing or foreign", func(t *testing.T) {
		f := newFlow(t, s, client)
		login := f.browser.get(authorizeURL(s, f.params))
		action, fields := login.form(t)
		fields.Set("email", ada.Email)
		fields.Set("password", ada.Password)
		missing := url.Values{}
		for k, v := range fields {
			if k != "csrf" {
				missing[k] = v
			}
		}
		if p := f.browser.post(s.URL+action, missing); p.status != 403 {
			t.Errorf("no CSRF token: %d", p.status)
		}
		// The right token from another browser (no cookie) is refused too.
		if p := newHTTPBrowser(t).post(s.URL+action, fields); p.status != 403 {
			t.Errorf("CSRF token without the browser's cookie: %d", p.status)
		}
	})

	t.Run("pages cannot be framed", func(t *testing.T) {
		f := newFlow(t, s, client)
		login := f.browser.get(authorizeURL(s, f.params))
		csp := login.header.Get("Content-Security-Policy")
		if login.header.Get("X-Frame-Options") != "DENY" || !strings.Contains(csp, "frame-ancestors 'none'") ||
			!strings.Contains(csp, "form-action 'self'") || login.header.Get("Cache-Control") != "no-store" {
			t.Errorf("headers %v", login.header)
		}
		consent := f.browser.signIn(s.URL, login, ada.Email, ada.Password)
		if consent.header.Get("X-Frame-Options") != "DENY" || !strings.Contains(consent.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("consent headers %v", consent.header)
		}
		for _, want := range []string{"E2E agent", "127.0.0.1:41234", "write:users", "read:users"} {
			if !strings.Contains(consent.body, want) {
				t.Errorf("the consent page does not show %q", want)
			}
		}
	})

	t.Run("consent is single-use", func(t *testing.T) {
		f := newFlow(t, s, client)
		consent := f.browser.signIn(s.URL, f.browser.get(authorizeURL(s, f.params)), ada.Email, ada.Password)
		first := f.browser.decide(s.URL, consent, "approve")
		second := f.browser.decide(s.URL, consent, "approve")
		if first.status != 303 || second.status != 400 || second.header.Get("Location") != "" {
			t.Errorf("first %d, second %d", first.status, second.status)
		}
	})

	t.Run("deny", func(t *testing.T) {
		f := newFlow(t, s, client)
		consent := f.browser.signIn(s.URL, f.browser.get(authorizeURL(s, f.params)), ada.Email, ada.Password)
		if _, q := f.browser.decide(s.URL, consent, "deny").redirectParams(t); q.Get("error") != "access_denied" || q.Get("code") != "" {
			t.Errorf("%v", q)
		}
	})

	t.Run("wrong password and unknown user read the same", func(t *testing.T) {
		f := newFlow(t, s, client)
		login := f.browser.get(authorizeURL(s, f.params))
		wrong := f.browser.signIn(s.URL, login, ada.Email, "not-the-password")
		unknown := f.browser.signIn(s.URL, login, "nobody@acme.example", "not-the-password")
		if wrong.status != 401 || unknown.status != 401 || wrong.errorText() == "" || wrong.errorText() != unknown.errorText() {
			t.Errorf("wrong password %d %q; unknown user %d %q", wrong.status, wrong.errorText(), unknown.status, unknown.errorText())
		}
	})

	t.Run("a member asking for write scopes is down-scoped", func(t *testing.T) {
		f := newFlow(t, s, client)
		status, tok := f.exchange(f.code(s.Users["grace@acme.example"]).Get("code"), nil)
		if status != 200 || tok["scope"] != "read:users" {
			t.Errorf("%d %v", status, tok)
		}
	})
}

func TestRegistrationRefusals(t *testing.T) {
	s := startServer(t, serverOptions{})
	cases := []struct {
		name     string
		metadata map[string]any
		error    string
	}{
		{"no redirect", map[string]any{"client_name": "x"}, "invalid_redirect_uri"},
		{"plain http off loopback", map[string]any{"redirect_uris": []string{"http://evil.example/cb"}}, "invalid_redirect_uri"},
		{"fragment", map[string]any{"redirect_uris": []string{"https://app.example/cb#x"}}, "invalid_redirect_uri"},
		{"javascript", map[string]any{"redirect_uris": []string{"javascript:alert(1)"}}, "invalid_redirect_uri"},
		{"unknown private scheme", map[string]any{"redirect_uris": []string{"myapp:/cb"}}, "invalid_redirect_uri"},
		{"client_credentials", map[string]any{"redirect_uris": []string{redirect}, "grant_types": []string{"client_credentials"}}, "invalid_client_metadata"},
		{"implicit", map[string]any{"redirect_uris": []string{redirect}, "response_types": []string{"token"}}, "invalid_client_metadata"},
		{"private_key_jwt", map[string]any{"redirect_uris": []string{redirect}, "token_endpoint_auth_method": "private_key_jwt"}, "invalid_client_metadata"},
	}
	for _, tc := range cases {
		if status, body := registerClient(t, s, tc.metadata); status != 400 || body["error"] != tc.error {
			t.Errorf("%s: %d %v", tc.name, status, body)
		}
	}
	// Cursor registers these three at once.
	status, body := registerClient(t, s, map[string]any{"client_name": "Cursor", "token_endpoint_auth_method": "none",
		"redirect_uris": []string{"cursor://anysphere.cursor-mcp/oauth/callback", "https://www.cursor.com/agents/mcp/oauth/callback", "http://localhost:8787/callback"}})
	if status != 201 {
		t.Errorf("Cursor's registration: %d %v", status, body)
	}
	// A confidential registered client may not use client_credentials.
	status, body = registerClient(t, s, map[string]any{"redirect_uris": []string{redirect}, "token_endpoint_auth_method": "client_secret_post"})
	if status != 201 || body["client_secret"] == nil {
		t.Fatalf("confidential registration: %d %v", status, body)
	}
	status, tok := formPost(t, s.URL+"/oauth2/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {body["client_id"].(string)}, "client_secret": {body["client_secret"].(string)}})
	if status != 400 || tok["error"] != "unauthorized_client" || tok["access_token"] != nil {
		t.Errorf("a registered client used client_credentials: %d %v", status, tok)
	}
}

// TestMetadataDocumentOnPrivateAddress: a client_id URL that resolves to a
// loopback address is not fetched (no dev flag), and the user sees why.
func TestMetadataDocumentOnPrivateAddress(t *testing.T) {
	s := startServer(t, serverOptions{})
	f := newFlow(t, s, "https://127.0.0.1:9/client.json")
	p := f.browser.get(authorizeURL(s, f.params))
	if p.status != 400 || p.header.Get("Location") != "" || !strings.Contains(p.errorText(), "private") {
		t.Errorf("%d %q", p.status, p.errorText())
	}
	f = newFlow(t, s, "https://localhost:9/client.json")
	if p := f.browser.get(authorizeURL(s, f.params)); !strings.Contains(p.errorText(), "private") {
		t.Errorf("localhost: %q", p.errorText())
	}
}

// TestRevocationAndIntrospection: RFC 7009 revocation of a refresh token
// revokes its grant (and so the access tokens issued from it); RFC 7662
// introspection answers for access and refresh tokens, to the confidential
// client they were issued to.
func TestRevocationAndIntrospection(t *testing.T) {
	s := startServer(t, serverOptions{})
	client := publicClient(t, s, redirect)
	f := newFlow(t, s, client)
	_, tok := f.exchange(f.code(s.Users["ada@acme.example"]).Get("code"), nil)
	access, refreshToken := tok["access_token"].(string), tok["refresh_token"].(string)
	machine := s.Clients["org_beta"]
	// The confidential client introspects tokens issued to it.
	app, appSecret := confidentialClient(t, s)
	cf := newFlow(t, s, app)
	_, ctok := cf.exchange(cf.code(s.Users["ada@acme.example"]).Get("code"), func(v url.Values) { v.Set("client_secret", appSecret) })
	appAccess, appRefresh := ctok["access_token"].(string), ctok["refresh_token"].(string)
	introspect := func(token string) map[string]any {
		status, body := formPost(t, s.URL+"/oauth2/introspect", url.Values{"token": {token},
			"client_id": {app}, "client_secret": {appSecret}})
		if status != 200 {
			t.Fatalf("introspect: %d %v", status, body)
		}
		return body
	}
	if got := introspect(appAccess); got["active"] != true || got["org_code"] != "org_acme" || got["client_id"] != app ||
		got["scope"] != "read:users write:users" {
		t.Errorf("introspect access token: %v", got)
	}
	if got := introspect(appRefresh); got["active"] != true || got["token_type"] != "refresh_token" {
		t.Errorf("introspect refresh token: %v", got)
	}
	if got := introspect("garbage"); got["active"] != false || len(got) != 1 {
		t.Errorf("introspect garbage: %v", got)
	}
	// Another client's tokens are not its business.
	if got := introspect(access); got["active"] != false || len(got) != 1 {
		t.Errorf("introspect another client's token: %v", got)
	}
	// A public client cannot introspect.
	if status, body := formPost(t, s.URL+"/oauth2/introspect", url.Values{"token": {access}, "client_id": {client}}); status == 200 {
		t.Errorf("a public client introspected: %v", body)
	}

	// Another client's revocation of the token does nothing (RFC 7009 still answers 200).
	if status, _ := formPost(t, s.URL+"/oauth2/revoke", url.Values{"token": {refreshToken},
		"client_id": {machine.ID}, "client_secret": {machine.Secret}}); status != 200 || mcpStatus(t, s, access) != 200 {
		t.Fatalf("revocation by another client: %d", status)
	}
	if status, _ := formPost(t, s.URL+"/oauth2/revoke", url.Values{"token": {refreshToken}, "client_id": {client}}); status != 200 {
		t.Fatalf("revoke: %d", status)
	}
	if got := mcpStatus(t, s, access); got != 401 {
		t.Errorf("access token after its grant was revoked: %d", got)
	}
	if status, body := refresh(t, s, client, refreshToken); status != 400 || body["error"] != "invalid_grant" {
		t.Errorf("revoked refresh token: %d %v", status, body)
	}
	if status, _ := formPost(t, s.URL+"/oauth2/revoke", url.Values{"token": {appRefresh}, "client_id": {app}, "client_secret": {appSecret}}); status != 200 {
		t.Fatalf("revoke: %d", status)
	}
	if got := introspect(appAccess); got["active"] != false {
		t.Errorf("introspect a revoked access token: %v", got)
	}
}

// confidentialClient registers a client with a secret and the loopback
// redirect URI.
func confidentialClient(t *testing.T, s *testServer) (id, secret string) {
	t.Helper()
	status, out := registerClient(t, s, map[string]any{
		"client_name": "E2E confidential agent", "redirect_uris": []string{redirect},
		"token_endpoint_auth_method": "client_secret_post", "grant_types": []string{"authorization_code", "refresh_token"},
	})
	if status != http.StatusCreated {
		t.Fatalf("register: %d %v", status, out)
	}
	return out["client_id"].(string), out["client_secret"].(string)
}
