package authserver_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/orgscope/orgscope/authserver"
)

// TestAuthorizeErrorsAreShownNotRedirected: a client that registered
// itself (RFC 7591 or a metadata document) with someone else's landing page
// cannot make OrgScope redirect there: every error found before anyone
// signs in is shown on OrgScope's own page (RFC 9700 §4.11.2).
func TestAuthorizeErrorsAreShownNotRedirected(t *testing.T) {
	const landing = "https://evil.example/landing"
	host := newCIMDHost(t)
	host.docs["/evil.json"] = jsonDoc("", map[string]any{"client_name": "Evil", "redirect_uris": []string{landing}})
	f := newFixture(t, func(o *authserver.Options) {
		o.MetadataDocumentClient, o.MetadataDocumentAllowPrivate = host.srv.Client(), true
	})
	_, reg := f.register(t, "", map[string]any{"client_name": "Evil", "redirect_uris": []string{landing}, "token_endpoint_auth_method": "none"})
	registered, _ := reg["client_id"].(string)
	if registered == "" {
		t.Fatalf("register: %v", reg)
	}

	for _, clientID := range []string{registered, host.srv.URL + "/evil.json"} {
		for _, tc := range []struct {
			name string
			edit func(url.Values)
			code string
		}{
			{"implicit", func(q url.Values) { q.Set("response_type", "token") }, "unsupported_response_type"},
			{"no PKCE", func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }, "invalid_request"},
			{"plain PKCE", func(q url.Values) { q.Set("code_challenge_method", "plain") }, "invalid_request"},
			{"malformed challenge", func(q url.Values) { q.Set("code_challenge", "short") }, "invalid_request"},
			{"another resource", func(q url.Values) { q.Set("resource", "https://other.example/mcp") }, "invalid_target"},
			{"no known scope", func(q url.Values) { q.Set("scope", "admin") }, "invalid_scope"},
			{"repeated parameter", func(q url.Values) { q.Add("state", "again") }, "invalid_request"},
			{"long state", func(q url.Values) { q.Set("state", strings.Repeat("s", 2049)) }, "invalid_request"},
		} {
			q := authorizeQuery(clientID, oauth2.GenerateVerifier())
			q.Set("redirect_uri", landing)
			tc.edit(q)
			rec := f.serve(http.MethodGet, authserver.AuthorizePath+"?"+q.Encode(), "", "", nil)
			alert := alertOf(rec.Body.String())
			if rec.Code != http.StatusBadRequest || rec.Header().Get("Location") != "" || !strings.Contains(alert, tc.code) ||
				strings.Contains(rec.Body.String(), "evil.example") {
				t.Errorf("%s, %s: %d Location %q: %s", clientID, tc.name, rec.Code, rec.Header().Get("Location"), alert)
			}
		}
	}
}

// TestGrantNotRegistered: a client that authenticates but uses a grant it
// may not is unauthorized_client (400), not invalid_client: authentication
// comes first, then the grant.
func TestGrantNotRegistered(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t, nil)
	machine, secret, err := createMachineClient(ctx, f.st, machineClient{Name: "m", OrgCode: "org_acme", Scopes: []string{"read:users"}})
	if err != nil {
		t.Fatal(err)
	}
	public, _ := f.registerClient(t, false)
	_, codeOnly := f.register(t, "", map[string]any{"client_name": "c", "redirect_uris": []string{flowRedirect},
		"token_endpoint_auth_method": "client_secret_post", "grant_types": []string{"authorization_code"}})

	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		code   string
	}{
		{"machine client, refresh_token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"},
			"client_id": {machine.ID}, "client_secret": {secret}}, 400, "unauthorized_client"},
		{"machine client, authorization_code", url.Values{"grant_type": {"authorization_code"}, "code": {"x"},
			"client_id": {machine.ID}, "client_secret": {secret}}, 400, "unauthorized_client"},
		{"machine client with a wrong secret", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"},
			"client_id": {machine.ID}, "client_secret": {"wrong"}}, 401, "invalid_client"},
		{"machine client without its secret", url.Values{"grant_type": {"authorization_code"}, "code": {"x"},
			"client_id": {machine.ID}}, 401, "invalid_client"},
		{"public client, client_credentials", url.Values{"grant_type": {"client_credentials"}, "client_id": {public}}, 400, "unauthorized_client"},
		{"confidential client, client_credentials", url.Values{"grant_type": {"client_credentials"},
			"client_id": {codeOnly["client_id"].(string)}, "client_secret": {codeOnly["client_secret"].(string)}}, 400, "unauthorized_client"},
		{"client without refresh_token, refresh_token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"},
			"client_id": {codeOnly["client_id"].(string)}, "client_secret": {codeOnly["client_secret"].(string)}}, 400, "unauthorized_client"},
		{"unknown client, client_credentials", url.Values{"grant_type": {"client_credentials"}, "client_id": {"nobody"}}, 401, "invalid_client"},
	} {
		rec, body := f.post(authserver.TokenPath, "", tc.form)
		if rec.Code != tc.status || body["error"] != tc.code {
			t.Errorf("%s: %d %v, want %d %s", tc.name, rec.Code, body, tc.status, tc.code)
		}
	}
}

// TestMethodsAndHead: every 405 names the allowed methods in Allow, and
// HEAD is answered wherever GET is.
func TestMethodsAndHead(t *testing.T) {
	f := newFixture(t, nil)
	client, _ := f.registerClient(t, false)
	for _, tc := range []struct {
		method, path, allow string
	}{
		{http.MethodGet, authserver.TokenPath, "OPTIONS, POST"},
		{http.MethodPut, authserver.TokenPath, "OPTIONS, POST"},
		{http.MethodGet, authserver.RegisterPath, "OPTIONS, POST"},
		{http.MethodGet, authserver.RevokePath, "OPTIONS, POST"},
		{http.MethodGet, authserver.IntrospectPath, "POST"},
		{http.MethodPost, authserver.JWKSPath, "GET, HEAD, OPTIONS"},
		{http.MethodDelete, authserver.AuthorizePath, "GET, HEAD, POST"},
		{http.MethodGet, authserver.LoginPath, "POST"},
		{http.MethodGet, authserver.ConsentPath, "POST"},
		{http.MethodPost, authserver.AssetsPath + "/style.css", "GET, HEAD"},
	} {
		rec := f.serve(tc.method, tc.path, "", "", nil)
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d Allow %q, want 405 Allow %q", tc.method, tc.path, rec.Code, rec.Header().Get("Allow"), tc.allow)
		}
	}

	for _, path := range []string{
		authserver.JWKSPath,
		authserver.AssetsPath + "/style.css",
		authserver.AuthorizePath + "?" + authorizeQuery(client, oauth2.GenerateVerifier()).Encode(),
	} {
		get, err := http.Get(f.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		get.Body.Close()
		head, err := http.Head(f.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(head.Body)
		head.Body.Close()
		if head.StatusCode != http.StatusOK || get.StatusCode != http.StatusOK || len(body) != 0 ||
			head.Header.Get("Content-Type") != get.Header.Get("Content-Type") {
			t.Errorf("HEAD %s: %d %q (GET: %d %q)", path, head.StatusCode, head.Header.Get("Content-Type"), get.StatusCode, get.Header.Get("Content-Type"))
		}
	}
}

// TestCORS: browser clients may call the token, registration and
// revocation endpoints from the configured origins and, with the issuer
// on loopback, from loopback origins; preflights are answered 204; other
// origins get 403 and no CORS headers; credentials are never allowed.
func TestCORS(t *testing.T) {
	ctx := t.Context()
	loopbackIssuer, err := authserver.New(ctx, authserver.Options{Issuer: "http://127.0.0.1:8080", Resource: "http://127.0.0.1:8080/mcp",
		Store: newStore(t), AllowedOrigins: []string{"https://inspector.example"}})
	if err != nil {
		t.Fatal(err)
	}
	publicIssuer, err := authserver.New(ctx, authserver.Options{Issuer: issuer, Resource: resource, Store: newStore(t), AllowedOrigins: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	strictIssuer, err := authserver.New(ctx, authserver.Options{Issuer: issuer, Resource: resource, Store: newStore(t)})
	if err != nil {
		t.Fatal(err)
	}
	preflight := func(as *authserver.Server, path, origin string) *http.Response {
		req := httptest.NewRequest(http.MethodOptions, path, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type,mcp-protocol-version")
		return serveReq(as, req)
	}
	for _, tc := range []struct {
		name   string
		as     *authserver.Server
		origin string
		allow  string // the Access-Control-Allow-Origin wanted; "" for a refusal
	}{
		{"loopback origin, loopback issuer", loopbackIssuer, "http://localhost:6274", "http://localhost:6274"},
		{"configured origin", loopbackIssuer, "https://inspector.example", "https://inspector.example"},
		{"other origin", loopbackIssuer, "https://evil.example", ""},
		{"any origin", publicIssuer, "https://evil.example", "*"},
		{"loopback origin, public issuer", strictIssuer, "http://localhost:6274", ""},
	} {
		for _, path := range []string{authserver.TokenPath, authserver.RegisterPath, authserver.RevokePath} {
			resp := preflight(tc.as, path, tc.origin)
			h := resp.Header
			if h.Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("%s %s: credentials allowed", tc.name, path)
			}
			if tc.allow == "" {
				if resp.StatusCode != http.StatusForbidden || h.Get("Access-Control-Allow-Origin") != "" {
					t.Errorf("%s %s: preflight %d %v", tc.name, path, resp.StatusCode, h)
				}
				continue
			}
			if resp.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != tc.allow ||
				!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") ||
				!strings.Contains(h.Get("Access-Control-Allow-Headers"), "MCP-Protocol-Version") {
				t.Errorf("%s %s: preflight %d %v", tc.name, path, resp.StatusCode, h)
			}
			// The request itself, refused here, is readable by the page.
			req := httptest.NewRequest(http.MethodPost, path, strings.NewReader("grant_type=nope"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", tc.origin)
			resp = serveReq(tc.as, req)
			if resp.Header.Get("Access-Control-Allow-Origin") != tc.allow ||
				!strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "WWW-Authenticate") {
				t.Errorf("%s POST %s: %d %v", tc.name, path, resp.StatusCode, resp.Header)
			}
		}
	}
	// Introspection is not for browsers.
	if resp := preflight(publicIssuer, authserver.IntrospectPath, "https://app.example"); resp.StatusCode != http.StatusMethodNotAllowed ||
		resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("introspection preflight: %d %v", resp.StatusCode, resp.Header)
	}
}

func serveReq(as *authserver.Server, req *http.Request) *http.Response {
	rec := httptest.NewRecorder()
	as.Handler().ServeHTTP(rec, req)
	return rec.Result()
}

// rfc6749Text is what RFC 6749 §5.2 allows in error and error_description.
var rfc6749Text = regexp.MustCompile(`^[\x20\x21\x23-\x5B\x5D-\x7E]*$`)

// TestErrorTextsFollowRFC6749 walks every refusal of the OAuth endpoints a
// client can provoke, with values full of characters RFC 6749 forbids:
// error and error_description use only the allowed characters and never
// repeat what the client sent.
func TestErrorTextsFollowRFC6749(t *testing.T) {
	const bad = `urn:foo"é\`
	ctx := t.Context()
	host := newCIMDHost(t)
	host.docs["/odd.json"] = jsonDoc("", map[string]any{"client_name": "Odd", "redirect_uris": []string{flowRedirect},
		"grant_types": []string{bad}})
	f := newFixture(t, func(o *authserver.Options) {
		o.MetadataDocumentClient, o.MetadataDocumentAllowPrivate = host.srv.Client(), true
	})
	machine, secret, err := createMachineClient(ctx, f.st, machineClient{Name: "m", OrgCode: "org_acme", Scopes: []string{"read:users"}})
	if err != nil {
		t.Fatal(err)
	}
	public, _ := f.registerClient(t, false)
	cc := func(extra ...string) url.Values {
		v := url.Values{"grant_type": {"client_credentials"}, "client_id": {machine.ID}, "client_secret": {secret}}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Add(extra[i], extra[i+1])
		}
		return v
	}
	type request struct {
		name, method, path, contentType, body string
	}
	form := func(name string, v url.Values) request {
		return request{name, http.MethodPost, authserver.TokenPath, "application/x-www-form-urlencoded", v.Encode()}
	}
	to := func(path string, r request) request { r.path = path; return r }
	register := func(name string, metadata map[string]any) request {
		b, _ := json.Marshal(metadata)
		return request{name, http.MethodPost, authserver.RegisterPath, "application/json", string(b)}
	}
	requests := []request{
		{"token GET", http.MethodGet, authserver.TokenPath, "", ""},
		{"token JSON body", http.MethodPost, authserver.TokenPath, "application/json", `{"grant_type":"` + bad + `"}`},
		form("unknown grant type", url.Values{"grant_type": {bad}}),
		form("no grant type", url.Values{}),
		form("repeated parameter", url.Values{"grant_type": {"client_credentials"}, bad: {"1", "2"}}),
		form("foreign resource", cc("resource", "https://x.example/"+bad)),
		form("foreign audience", cc("audience", "https://x.example/"+bad)),
		form("no allowed scope", cc("scope", bad)),
		form("wrong secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {machine.ID}, "client_secret": {bad}}),
		form("unknown client", url.Values{"grant_type": {"client_credentials"}, "client_id": {bad}, "client_secret": {bad}}),
		form("both authentication methods", url.Values{"grant_type": {"client_credentials"}, "client_id": {bad}, "client_secret": {bad}}),
		form("machine client, wrong grant", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {bad}, "client_id": {machine.ID}, "client_secret": {secret}}),
		form("public client, client_credentials", url.Values{"grant_type": {"client_credentials"}, "client_id": {public}}),
		form("no code", url.Values{"grant_type": {"authorization_code"}, "client_id": {public}}),
		form("bad code", url.Values{"grant_type": {"authorization_code"}, "client_id": {public}, "code": {bad}}),
		form("no refresh token", url.Values{"grant_type": {"refresh_token"}, "client_id": {public}}),
		form("bad refresh token", url.Values{"grant_type": {"refresh_token"}, "client_id": {public}, "refresh_token": {bad}}),
		form("unusable metadata document", url.Values{"grant_type": {"authorization_code"}, "client_id": {host.srv.URL + "/odd.json"}, "code": {bad}}),
		form("missing metadata document", url.Values{"grant_type": {"authorization_code"}, "client_id": {host.srv.URL + "/" + url.PathEscape(bad)}, "code": {bad}}),
		to(authserver.RevokePath, form("revoke without token", url.Values{"client_id": {public}})),
		to(authserver.RevokePath, form("revoke by an unknown client", url.Values{"client_id": {bad}, "token": {bad}})),
		{"revoke GET", http.MethodGet, authserver.RevokePath, "", ""},
		to(authserver.IntrospectPath, form("introspect by a public client", url.Values{"client_id": {public}, "token": {bad}})),
		{"introspect GET", http.MethodGet, authserver.IntrospectPath, "", ""},
		{"jwks POST", http.MethodPost, authserver.JWKSPath, "text/plain", bad},
		{"register GET", http.MethodGet, authserver.RegisterPath, "", ""},
		{"register form", http.MethodPost, authserver.RegisterPath, "application/x-www-form-urlencoded", "a=" + bad},
		{"register bad JSON", http.MethodPost, authserver.RegisterPath, "application/json", `{"redirect_uris":"` + bad},
		register("no redirect URI", map[string]any{"client_name": bad}),
		register("relative redirect URI", map[string]any{"redirect_uris": []string{bad}}),
		register("http redirect URI", map[string]any{"redirect_uris": []string{"http://x.example/" + bad}}),
		register("fragment", map[string]any{"redirect_uris": []string{"https://x.example/cb#" + bad}}),
		register("javascript", map[string]any{"redirect_uris": []string{"javascript:" + bad}}),
		register("unknown scheme", map[string]any{"redirect_uris": []string{"myapp:/" + bad}}),
		register("auth method", map[string]any{"redirect_uris": []string{flowRedirect}, "token_endpoint_auth_method": bad}),
		register("grant type", map[string]any{"redirect_uris": []string{flowRedirect}, "grant_types": []string{bad}}),
		register("client_credentials", map[string]any{"redirect_uris": []string{flowRedirect}, "grant_types": []string{"client_credentials"}}),
		register("response type", map[string]any{"redirect_uris": []string{flowRedirect}, "response_types": []string{bad}}),
		register("long name", map[string]any{"redirect_uris": []string{flowRedirect}, "client_name": strings.Repeat(bad, 30)}),
	}
	for _, r := range requests {
		req := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
		if r.contentType != "" {
			req.Header.Set("Content-Type", r.contentType)
		}
		if r.name == "both authentication methods" {
			req.SetBasicAuth(url.QueryEscape(bad), url.QueryEscape(bad))
		}
		resp := serveReq(f.as, req)
		var answer map[string]string
		if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
			t.Errorf("%s: %d, not an OAuth error body: %v", r.name, resp.StatusCode, err)
			continue
		}
		if resp.StatusCode < 400 || answer["error"] == "" || answer["error_description"] == "" {
			t.Errorf("%s: %d %v", r.name, resp.StatusCode, answer)
			continue
		}
		for _, member := range []string{"error", "error_description"} {
			v := answer[member]
			if !rfc6749Text.MatchString(v) || strings.Contains(v, "urn:foo") || strings.Contains(v, "x.example") {
				t.Errorf("%s: %s = %q", r.name, member, v)
			}
		}
	}
}
