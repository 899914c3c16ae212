package mcpserver_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/orgscope/orgscope/mcpserver"
)

func listedTools(t *testing.T, rec *httptest.ResponseRecorder) []string {
	t.Helper()
	var r struct {
		Result struct {
			Tools []struct{ Name string } `json:"tools"`
		} `json:"result"`
	}
	if rec.Code != http.StatusOK {
		t.Fatalf("tools/list: %d %s", rec.Code, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range r.Result.Tools {
		names = append(names, tool.Name)
	}
	return names
}

const listCall = `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`

func TestToolListFollowsScopes(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	tests := []struct {
		org, scopes string
		want        []string
	}{
		{"org_acme", "read:users", []string{"whoami", "list_users", "get_user"}},
		{"org_acme", "write:flags", []string{"whoami", "list_feature_flags", "get_feature_flag", "set_feature_flag", "reset_feature_flag"}},
		{"org_acme", "", []string{"whoami"}},
		{"", "read:orgs write:flags", []string{"whoami", "get_organization", "list_organizations", "list_feature_flags",
			"get_feature_flag", "set_feature_flag", "reset_feature_flag", "create_feature_flag", "delete_feature_flag"}},
	}
	for _, tt := range tests {
		got := listedTools(t, f.post(f.token(t, tt.org, tt.scopes), listCall))
		slices.Sort(got)
		slices.Sort(tt.want)
		if !slices.Equal(got, tt.want) {
			t.Errorf("org %q scopes %q: tools %v, want %v", tt.org, tt.scopes, got, tt.want)
		}
	}
}

func TestHeaderBodyMismatch(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	token := f.token(t, "org_acme", "read:users write:users")
	body := `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"create_user","arguments":{"email":"x@acme.example"}}}`
	for _, h := range [][]string{
		{"Mcp-Name", "whoami"},
		{"Mcp-Method", "tools/list"},
	} {
		rec := f.post(token, body, "Mcp-Protocol-Version", "2026-07-28", "Mcp-Method", "tools/call", h[0], h[1])
		var r struct {
			ID    int `json:"id"`
			Error struct {
				Code int `json:"code"`
			} `json:"error"`
		}
		json.Unmarshal(rec.Body.Bytes(), &r)
		if rec.Code != http.StatusBadRequest || r.Error.Code != -32020 || r.ID != 5 {
			t.Errorf("%s: %d %s", h[0], rec.Code, rec.Body)
		}
	}
	users, _, _ := f.store.ListUsers(t.Context(), "org_acme", storeFilter(), storePage())
	if len(users) != 0 {
		t.Errorf("a mismatched request created %d users", len(users))
	}
}

// TestStepUpNeedsAllScopesOfABatch: a batch (legacy protocol) is checked
// for the union of its tools' scopes.
func TestStepUpNeedsAllScopesOfABatch(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	batch := `[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_users"}},
		{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"delete_user","arguments":{"user_id":"usr_00000000000000000000000000000000"}}}]`
	rec := f.post(f.token(t, "org_acme", "read:users"), batch, "Mcp-Protocol-Version", "2025-03-26")
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Header().Get("WWW-Authenticate"), `scope="read:users delete:users"`) {
		t.Errorf("%d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
}

func TestBodyLimit(t *testing.T) {
	f := newFixture(t, fixtureOptions{options: func(o *mcpserver.Options) { o.MaxBodyBytes = 1024 }})
	big := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","arguments":{"x":"` + strings.Repeat("a", 2000) + `"}}}`
	rec := f.post(f.token(t, "org_acme", ""), big)
	if rec.Code != http.StatusRequestEntityTooLarge || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("%d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
}

func TestOriginAndHost(t *testing.T) {
	f := newFixture(t, fixtureOptions{options: func(o *mcpserver.Options) { o.AllowedOrigins = []string{"https://app.example"} }})
	do := func(method, host, origin string, hdr ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, publicURL+"/mcp", strings.NewReader(listCall))
		req.Host = host
		req.Header.Set("Content-Type", "application/json")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		f.handler.ServeHTTP(rec, req)
		return rec
	}
	if rec := do("POST", "127.0.0.1:8080", "https://evil.example"); rec.Code != http.StatusForbidden ||
		rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("foreign origin: %d", rec.Code)
	}
	if rec := do("POST", "evil.example", ""); rec.Code != http.StatusForbidden {
		t.Errorf("foreign Host (DNS rebinding): %d", rec.Code)
	}
	if rec := do("POST", "localhost:8080", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("loopback alias of a loopback server: %d", rec.Code)
	}
	rec := do("OPTIONS", "127.0.0.1:8080", "https://app.example", "Access-Control-Request-Method", "POST")
	if rec.Code != http.StatusNoContent || rec.Header().Get("Access-Control-Allow-Origin") != "https://app.example" ||
		!strings.Contains(rec.Header().Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight: %d %v", rec.Code, rec.Header())
	}
	rec = do("POST", "127.0.0.1:8080", "http://localhost:6274")
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Header().Get("Access-Control-Expose-Headers"), "WWW-Authenticate") {
		t.Errorf("a browser client cannot read the 401 challenge: %d %v", rec.Code, rec.Header())
	}
}

func TestOperationalEndpoints(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	get := func(path string, hdr ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, publicURL+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		f.handler.ServeHTTP(rec, req)
		return rec
	}
	if rec := get("/healthz"); rec.Code != http.StatusOK {
		t.Errorf("healthz %d", rec.Code)
	}
	if rec := get("/readyz"); rec.Code != http.StatusOK {
		t.Errorf("readyz %d", rec.Code)
	}
	rec := get("/nope", "X-Request-Id", "abc-123")
	if rec.Code != http.StatusNotFound || rec.Header().Get("Content-Type") != "application/problem+json" ||
		rec.Header().Get("X-Request-Id") != "abc-123" {
		t.Errorf("unknown path: %d %v", rec.Code, rec.Header())
	}
	if rec := get("/nope", "X-Request-Id", "bad id\n"); len(rec.Header().Get("X-Request-Id")) != 16 {
		t.Errorf("an unsafe request id was kept: %q", rec.Header().Get("X-Request-Id"))
	}
	f.post(f.token(t, "org_acme", ""), whoamiCall)
	f.post("", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"no_such_tool_`+strings.Repeat("x", 10)+`"}}`)
	metrics := get("/metrics").Body.String()
	for _, want := range []string{`orgscope_http_request_duration_seconds_count{code="200",route="/mcp"} 1`,
		`orgscope_http_request_duration_seconds_count{code="401",route="/mcp"} 1`,
		`orgscope_tool_call_duration_seconds_count{outcome="ok",tool="whoami"} 1`,
		`orgscope_tool_call_duration_seconds_count{outcome="refused",tool="unknown"} 1`,
		`orgscope_refusals_total{reason="no_token"} 1`, "go_goroutines", "process_cpu_seconds_total"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s:\n%s", want, metrics)
		}
	}
	if strings.Contains(metrics, "no_such_tool") {
		t.Error("an unknown tool name became a metric label")
	}

	// A database that cannot answer makes the server unready, not dead.
	f.store.Close()
	if rec := get("/readyz"); rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("readyz with a closed store: %d", rec.Code)
	}
	if rec := get("/healthz"); rec.Code != http.StatusOK {
		t.Errorf("healthz with a closed store: %d", rec.Code)
	}
}

// TestToolCallDuringOutage: a tool whose database is unreachable makes the
// whole call a 503 with Retry-After, which clients retry.
func TestToolCallDuringOutage(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	token := f.token(t, "org_acme", "read:users")
	if rec := f.post(token, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_users"}}`); rec.Code != http.StatusOK {
		t.Fatalf("before the outage: %d %s", rec.Code, rec.Body)
	}
	f.store.Close()
	rec := f.post(token, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_users"}}`)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" ||
		rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("during the outage: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	// Even a call that reads nothing is answered only once its audit event
	// is written: during the outage it is a 503 too.
	if rec := f.post(token, whoamiCall); rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("whoami during the outage: %d", rec.Code)
	}
}

// TestRateLimits: a principal over its rate gets 429 with Retry-After and
// other principals do not notice. (The issuer limits its callers per
// address itself; authserver tests that.)
func TestRateLimits(t *testing.T) {
	f := newFixture(t, fixtureOptions{options: func(o *mcpserver.Options) {
		o.RateLimits = &mcpserver.RateLimits{PerPrincipal: 0.5, PrincipalBurst: 2}
	}})
	acme, beta := f.token(t, "org_acme", ""), f.token(t, "org_beta", "")
	for i := range 2 {
		if rec := f.post(acme, whoamiCall); rec.Code != http.StatusOK {
			t.Fatalf("call %d within the burst: %d", i, rec.Code)
		}
	}
	rec := f.post(acme, whoamiCall)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" ||
		rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("over the limit: %d %v", rec.Code, rec.Header())
	}
	if rec := f.post(beta, whoamiCall); rec.Code != http.StatusOK {
		t.Errorf("another principal was limited too: %d", rec.Code)
	}

}

// TestPlainErrorsBecomeProblems: what the mux and the go-sdk answer in
// text/plain reaches clients as problem+json with the same status.
func TestPlainErrorsBecomeProblems(t *testing.T) {
	f := newFixture(t, fixtureOptions{options: func(o *mcpserver.Options) {
		o.AuthServerMetadata = &oauthex.AuthServerMeta{Issuer: publicURL, TokenEndpoint: publicURL + "/oauth2/token",
			AuthorizationEndpoint: publicURL + "/oauth2/authorize", JWKSURI: publicURL + "/oauth2/jwks",
			ResponseTypesSupported: []string{"code"}, CodeChallengeMethodsSupported: []string{"S256"}}
	}})
	token := f.token(t, "org_acme", "read:users")
	do := func(method, path, contentType, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, publicURL+path, strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		f.handler.ServeHTTP(rec, req)
		return rec
	}
	const get, document = "GET, HEAD", "GET, HEAD, OPTIONS" // documents answer CORS preflights
	for _, tc := range []struct {
		name, method, path, contentType, body string
		status                                int
		// allow is the Allow header a 405 must carry (RFC 9110 §15.5.6).
		allow string
	}{
		{"unknown path", "GET", "/nope", "", "", http.StatusNotFound, ""},
		{"wrong content type", "POST", "/mcp", "text/plain", whoamiCall, http.StatusUnsupportedMediaType, ""},
		{"GET on the stateless MCP endpoint", "GET", "/mcp", "", "", http.StatusMethodNotAllowed, "POST"},
		{"DELETE on the stateless MCP endpoint", "DELETE", "/mcp", "", "", http.StatusMethodNotAllowed, "POST"},
		{"PUT on the MCP endpoint", "PUT", "/mcp", "application/json", whoamiCall, http.StatusMethodNotAllowed, "POST"},
		{"POST to /healthz", "POST", "/healthz", "", "", http.StatusMethodNotAllowed, get},
		{"POST to /readyz", "POST", "/readyz", "", "", http.StatusMethodNotAllowed, get},
		{"DELETE on /metrics", "DELETE", "/metrics", "", "", http.StatusMethodNotAllowed, get},
		{"POST to the PRM", "POST", "/.well-known/oauth-protected-resource/mcp", "", "", http.StatusMethodNotAllowed, document},
		{"POST to the root PRM", "POST", "/.well-known/oauth-protected-resource", "", "", http.StatusMethodNotAllowed, document},
		{"POST to the AS metadata", "POST", "/.well-known/oauth-authorization-server", "", "", http.StatusMethodNotAllowed, document},
		{"PUT on the OpenID configuration", "PUT", "/.well-known/openid-configuration", "", "", http.StatusMethodNotAllowed, document},
		{"POST to the root document", "POST", "/", "", "", http.StatusMethodNotAllowed, get},
		{"OPTIONS on the MCP endpoint, no CORS", "OPTIONS", "/mcp", "", "", http.StatusMethodNotAllowed, "POST"},
	} {
		rec := do(tc.method, tc.path, tc.contentType, tc.body)
		var p map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || rec.Code != tc.status ||
			rec.Header().Get("Content-Type") != "application/problem+json" || p["status"] != float64(tc.status) || p["detail"] == "" {
			t.Errorf("%s: %d %q %s", tc.name, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
		if allow := strings.Join(rec.Header().Values("Allow"), ", "); allow != tc.allow {
			t.Errorf("%s: Allow %q, want %q", tc.name, allow, tc.allow)
		}
	}
	// JSON-RPC errors are left alone.
	rec := do("POST", "/mcp", "application/json", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"no_such_tool"}}`)
	if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") || !strings.Contains(rec.Body.String(), `"jsonrpc"`) {
		t.Errorf("a JSON-RPC error was rewritten: %d %s", rec.Code, rec.Body)
	}
}
