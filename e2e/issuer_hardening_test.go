package e2e

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/orgscope/orgscope/cmd/orgscope/app"
	"github.com/orgscope/orgscope/mcpserver"
)

// TestIssuerRateLimitPerAddress: the issuer's per-address limit covers GET
// /oauth2/authorize too (a page: the error page with Retry-After) and
// answers the OAuth endpoints with OAuth JSON.
func TestIssuerRateLimitPerAddress(t *testing.T) {
	s := startServer(t, serverOptions{config: func(c *app.Config) {
		c.RateLimits = &mcpserver.RateLimits{PerAddress: 0.01, AddressBurst: 3}
	}})
	client := publicClient(t, s, redirect) // spends one
	b := newHTTPBrowser(t)
	for i := range 2 {
		if p := b.get(authorizeURL(s, newFlow(t, s, client).params)); p.status != http.StatusOK {
			t.Fatalf("authorization request %d: %d %s", i+1, p.status, p.errorText())
		}
	}
	p := b.get(authorizeURL(s, newFlow(t, s, client).params))
	if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" ||
		!strings.HasPrefix(p.header.Get("Content-Type"), "text/html") || p.errorText() == "" {
		t.Fatalf("over the limit at /oauth2/authorize: %d %v %s", p.status, p.header, p.errorText())
	}
	resp, err := http.PostForm(s.URL+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || body["error"] != "temporarily_unavailable" {
		t.Errorf("over the limit at /oauth2/token: %d %v %v", resp.StatusCode, resp.Header, body)
	}
}

// TestIntrospectionIsForTheTokensClient: Acme's machine token is active
// to Acme's client only; Beta's machine client and a freshly registered
// client learn {"active": false}, as if the token did not exist.
func TestIntrospectionIsForTheTokensClient(t *testing.T) {
	s := startServer(t, serverOptions{})
	acme, beta := s.Clients["org_acme"], s.Clients["org_beta"]
	token := s.token(t, acme)
	stranger, strangerSecret := confidentialClient(t, s)
	for _, tc := range []struct {
		name, id, secret string
		active           bool
	}{
		{"Acme's client", acme.ID, acme.Secret, true},
		{"Beta's client", beta.ID, beta.Secret, false},
		{"a registered client", stranger, strangerSecret, false},
	} {
		status, got := formPost(t, s.URL+"/oauth2/introspect", url.Values{"token": {token}, "client_id": {tc.id}, "client_secret": {tc.secret}})
		if status != http.StatusOK || got["active"] != tc.active || (!tc.active && len(got) != 1) {
			t.Errorf("%s: %d %v", tc.name, status, got)
		}
	}
}

// TestAuthorizeRefusalsStayOnOrgScope: a self-registered client whose
// redirect URI is someone else's page cannot have OrgScope send a browser
// there with an error before anyone signed in.
func TestAuthorizeRefusalsStayOnOrgScope(t *testing.T) {
	s := startServer(t, serverOptions{})
	const landing = "https://evil.example/landing"
	status, reg := registerClient(t, s, map[string]any{"client_name": "Evil", "redirect_uris": []string{landing}, "token_endpoint_auth_method": "none"})
	if status != http.StatusCreated {
		t.Fatalf("register: %d %v", status, reg)
	}
	f := newFlow(t, s, reg["client_id"].(string))
	f.params.Set("redirect_uri", landing)
	f.params.Set("response_type", "token")
	p := f.browser.get(authorizeURL(s, f.params))
	if p.status != http.StatusBadRequest || p.header.Get("Location") != "" || !strings.Contains(p.errorText(), "unsupported_response_type") {
		t.Errorf("%d Location %q: %s", p.status, p.header.Get("Location"), p.errorText())
	}
}

// TestRegistrationLimitPerAddress: one address registers ten clients an
// hour; the eleventh is refused with RFC 7591 error JSON and Retry-After.
func TestRegistrationLimitPerAddress(t *testing.T) {
	s := startServer(t, serverOptions{})
	for i := range 10 {
		publicClient(t, s, redirect+strconv.Itoa(i))
	}
	body, _ := json.Marshal(map[string]any{"client_name": "one too many", "redirect_uris": []string{redirect}})
	resp, err := http.Post(s.URL+"/oauth2/register", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]string
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" ||
		out["error"] == "" || out["error_description"] == "" || out["client_id"] != "" {
		t.Errorf("registration 11: %d %v %v", resp.StatusCode, resp.Header, out)
	}
}

// TestSignInThrottle: wrong passwords for one account soon have to wait;
// inside the wait even the right password is refused with the sign-in page,
// 429 and Retry-After; an unknown email is treated the same.
func TestSignInThrottle(t *testing.T) {
	s := startServer(t, serverOptions{})
	client := publicClient(t, s, redirect)
	ada := s.Users["ada@acme.example"]
	for _, email := range []string{ada.Email, "nobody@acme.example"} {
		f := newFlow(t, s, client)
		login := f.browser.get(authorizeURL(s, f.params))
		// Five attempts are free, the sixth starts a one-second wait that
		// doubles: well before the twelfth, one lands inside a wait.
		throttledAt := 0
		for i := 1; i <= 12 && throttledAt == 0; i++ {
			p := f.browser.signIn(s.URL, login, email, "wrong password")
			switch p.status {
			case http.StatusUnauthorized:
			case http.StatusTooManyRequests:
				throttledAt = i
			default:
				t.Fatalf("%s attempt %d: %d %s", email, i, p.status, p.errorText())
			}
		}
		if throttledAt < 7 {
			t.Fatalf("%s: throttled at attempt %d, want after six and by twelve", email, throttledAt)
		}
		p := f.browser.signIn(s.URL, login, email, ada.Password)
		if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" || !strings.Contains(p.errorText(), "Wait") {
			t.Errorf("%s: the right password inside the wait: %d %q", email, p.status, p.errorText())
		}
		if action, _ := p.form(t); action != "/oauth2/login" {
			t.Errorf("%s: the throttled answer is not the sign-in page", email)
		}
	}
}

// TestIssuerCORS: a browser client on a loopback origin (the MCP
// Inspector) may call the token, registration and revocation endpoints of
// a loopback server; another origin may not; the discovery documents allow
// the MCP-Protocol-Version header.
func TestIssuerCORS(t *testing.T) {
	s := startServer(t, serverOptions{config: func(c *app.Config) { c.AllowedOrigins = []string{"https://inspector.example"} }})
	preflight := func(path, origin, headers string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, s.URL+path, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", headers)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, path := range []string{"/oauth2/token", "/oauth2/register", "/oauth2/revoke"} {
		for _, origin := range []string{"http://localhost:6274", "https://inspector.example"} {
			resp := preflight(path, origin, "content-type,mcp-protocol-version")
			if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != origin ||
				resp.Header.Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("preflight %s from %s: %d %v", path, origin, resp.StatusCode, resp.Header)
			}
		}
		if resp := preflight(path, "https://evil.example", "content-type"); resp.StatusCode != http.StatusForbidden ||
			resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight %s from another origin: %d %v", path, resp.StatusCode, resp.Header)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/oauth2/register", strings.NewReader(`{"client_name":"Inspector","redirect_uris":["http://localhost:6274/oauth/callback"],"token_endpoint_auth_method":"none"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "http://localhost:6274")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Access-Control-Allow-Origin") != "http://localhost:6274" {
		t.Errorf("cross-origin registration: %d %v", resp.StatusCode, resp.Header)
	}
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/oauth-protected-resource/mcp"} {
		req, _ := http.NewRequest(http.MethodOptions, s.URL+path, nil)
		req.Header.Set("Origin", "http://localhost:6274")
		req.Header.Set("Access-Control-Request-Method", "GET")
		req.Header.Set("Access-Control-Request-Headers", "mcp-protocol-version")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent || !strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "mcp-protocol-version") {
			t.Errorf("preflight %s: %d %v", path, resp.StatusCode, resp.Header)
		}
	}
}

// TestDiscoveryByTheLetter: the OpenID document has every member OpenID
// Discovery requires, HEAD works wherever GET does, and every 405 says in
// Allow what would work.
func TestDiscoveryByTheLetter(t *testing.T) {
	s := startServer(t, serverOptions{})
	oidc := getJSON[map[string]any](t, s.URL+"/.well-known/openid-configuration")
	for _, member := range []string{"issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "response_types_supported",
		"subject_types_supported", "id_token_signing_alg_values_supported"} {
		if oidc[member] == nil {
			t.Errorf("openid-configuration lacks %s", member)
		}
	}
	client := publicClient(t, s, redirect)
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration",
		"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource", "/oauth2/jwks",
		"/oauth2/authorize?" + newFlow(t, s, client).params.Encode()} {
		resp, err := http.Head(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") == "" {
			t.Errorf("HEAD %s: %d", path, resp.StatusCode)
		}
	}
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/oauth2/token"}, {http.MethodGet, "/oauth2/register"}, {http.MethodGet, "/oauth2/revoke"},
		{http.MethodGet, "/oauth2/introspect"}, {http.MethodPost, "/oauth2/jwks"}, {http.MethodGet, "/oauth2/login"},
		{http.MethodPost, "/.well-known/oauth-authorization-server"}, {http.MethodPost, "/.well-known/oauth-protected-resource/mcp"},
	} {
		req, _ := http.NewRequest(tc.method, s.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") == "" {
			t.Errorf("%s %s: %d Allow %q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
}

// TestMachineClientOtherGrant: a machine client that authenticates but
// uses a grant it is not registered for is unauthorized_client.
func TestMachineClientOtherGrant(t *testing.T) {
	s := startServer(t, serverOptions{})
	acme := s.Clients["org_acme"]
	for _, grant := range []url.Values{
		{"grant_type": {"refresh_token"}, "refresh_token": {"x"}},
		{"grant_type": {"authorization_code"}, "code": {"x"}},
	} {
		grant.Set("client_id", acme.ID)
		grant.Set("client_secret", acme.Secret)
		if status, body := formPost(t, s.URL+"/oauth2/token", grant); status != http.StatusBadRequest || body["error"] != "unauthorized_client" {
			t.Errorf("%s: %d %v", grant.Get("grant_type"), status, body)
		}
	}
}

// TestRefreshWithoutResourceKeepsAudience: a client that drops RFC 8707
// resource when it refreshes still gets a token for the resource it was
// granted, which the MCP endpoint accepts.
func TestRefreshWithoutResourceKeepsAudience(t *testing.T) {
	s := startServer(t, serverOptions{})
	client := publicClient(t, s, redirect)
	f := newFlow(t, s, client)
	_, tok := f.exchange(f.code(s.Users["ada@acme.example"]).Get("code"), nil)
	status, refreshed := refresh(t, s, client, tok["refresh_token"].(string)) // no resource parameter
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, refreshed)
	}
	access := refreshed["access_token"].(string)
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(access, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Aud any `json:"aud"`
	}
	json.Unmarshal(payload, &claims)
	if claims.Aud != s.audience() {
		t.Errorf("aud after a refresh without resource: %v, want %s", claims.Aud, s.audience())
	}
	if got := mcpStatus(t, s, access); got != http.StatusOK {
		t.Errorf("the refreshed token: %d", got)
	}
}

// TestErrorDescriptionsAreClean: error_description holds only what RFC
// 6749 §5.2 allows and never repeats what the client sent.
func TestErrorDescriptionsAreClean(t *testing.T) {
	s := startServer(t, serverOptions{})
	const bad = `urn:foo"é\`
	acme := s.Clients["org_acme"]
	allowed := regexp.MustCompile(`^[\x20\x21\x23-\x5B\x5D-\x7E]+$`)
	check := func(name string, resp *http.Response) {
		t.Helper()
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var body map[string]string
		if err := json.Unmarshal(raw, &body); err != nil || resp.StatusCode < 400 {
			t.Errorf("%s: %d %s", name, resp.StatusCode, raw)
			return
		}
		if d := body["error_description"]; !allowed.MatchString(d) || strings.Contains(d, "urn:foo") {
			t.Errorf("%s: error_description %q", name, d)
		}
	}
	post := func(form url.Values) *http.Response {
		resp, err := http.PostForm(s.URL+"/oauth2/token", form)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	check("grant_type", post(url.Values{"grant_type": {bad}}))
	check("resource", post(url.Values{"grant_type": {"client_credentials"}, "client_id": {acme.ID}, "client_secret": {acme.Secret},
		"resource": {"https://other.example/" + bad}}))
	body, _ := json.Marshal(map[string]any{"redirect_uris": []string{"http://other.example/" + bad}, "token_endpoint_auth_method": bad})
	resp, err := http.Post(s.URL+"/oauth2/register", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	check("registration", resp)
}
