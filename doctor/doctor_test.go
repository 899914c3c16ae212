package doctor

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// fake is a small MCP server protected by OAuth, correct unless one of its
// switches breaks it: it serves the challenge, both PRM URLs, the
// authorization server's metadata and keys, CORS, and (with the token
// "good") a go-sdk MCP endpoint with one tool.
type fake struct {
	noResourceMetadata bool
	resource           func(base string) string // the PRM's resource; nil: base + "/mcp"
	issuer             func(base string) string // the metadata's issuer; nil: base
	noS256             bool
	noExpose           bool
	open               bool // answer without a token
}

func (f fake) start(t *testing.T) string {
	t.Helper()
	var base string
	server := mcp.NewServer(&mcp.Implementation{Name: "fake", Version: "1"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "echo", Description: "echo"}, func(ctx context.Context, req *mcp.CallToolRequest, in struct{}) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{}, nil, nil
	})
	mcpHandler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true})
	writeJSON := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); o != "" {
			w.Header().Set("Access-Control-Allow-Origin", o)
			if !f.noExpose {
				w.Header().Set("Access-Control-Expose-Headers", "WWW-Authenticate, Mcp-Session-Id")
			}
		}
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Methods", "POST, GET, DELETE")
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Mcp-Protocol-Version, Mcp-Session-Id")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if !f.open && r.Header.Get("Authorization") != "Bearer good" {
			challenge := `Bearer scope="read"`
			if !f.noResourceMetadata {
				challenge += `, resource_metadata="` + base + `/.well-known/oauth-protected-resource/mcp"`
			}
			w.Header().Set("WWW-Authenticate", challenge)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mcpHandler.ServeHTTP(w, r)
	})
	prm := func(w http.ResponseWriter, r *http.Request) {
		resource := base + "/mcp"
		if f.resource != nil {
			resource = f.resource(base)
		}
		writeJSON(w, map[string]any{"resource": resource, "authorization_servers": []string{base}})
	}
	mux.HandleFunc("GET /.well-known/oauth-protected-resource/mcp", prm)
	mux.HandleFunc("GET /.well-known/oauth-protected-resource", prm)
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		issuer := base
		if f.issuer != nil {
			issuer = f.issuer(base)
		}
		methods := []string{"S256"}
		if f.noS256 {
			methods = []string{"plain"}
		}
		writeJSON(w, map[string]any{"issuer": issuer, "authorization_endpoint": base + "/authorize",
			"token_endpoint": base + "/token", "jwks_uri": base + "/jwks", "registration_endpoint": base + "/register",
			"code_challenge_methods_supported": methods})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"keys": []any{map[string]any{"kty": "EC", "kid": "k1", "crv": "P-256", "x": "AA", "y": "AA"}}})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	base = srv.URL
	return base + "/mcp"
}

func run(t *testing.T, endpoint string, opts *Options) *Report {
	t.Helper()
	r, err := Run(t.Context(), endpoint, opts)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	r.WriteText(&text)
	t.Log("\n" + text.String())
	return r
}

// failure returns the failed check whose name starts with prefix, or fails
// the test.
func failure(t *testing.T, r *Report, prefix string) Check {
	t.Helper()
	for _, c := range r.Find(prefix) {
		if c.Status == Fail {
			return c
		}
	}
	t.Fatalf("no failed %q check in %+v", prefix, r.Checks)
	return Check{}
}

func TestHealthyServer(t *testing.T) {
	r := run(t, fake{}.start(t), &Options{Token: "good"})
	if r.Failed() || r.Count(Warn) > 0 {
		t.Errorf("a correct server: %d failed, %d warnings", r.Count(Fail), r.Count(Warn))
	}
	for _, name := range []string{"challenge", "clock", "prm (path)", "prm (root)", "as-metadata", "pkce", "jwks",
		"cors preflight", "cors expose", "https", "tools/list 2025-11-25", "tools/list 2026-07-28"} {
		if cs := r.Find(name); len(cs) == 0 || cs[0].Status != OK {
			t.Errorf("check %q: %+v", name, cs)
		}
	}
	if c := r.Find("tools/list 2026-07-28"); len(c) == 0 || !strings.Contains(c[0].Detail, "protocol 2026-07-28, 1 tool(s): echo") {
		t.Errorf("2026-07-28 tools/list: %+v", c)
	}
}

func TestResourceMismatch(t *testing.T) {
	r := run(t, fake{resource: func(base string) string { return base + "/mcp/" }}.start(t), nil)
	c := failure(t, r, "prm (path)")
	if !strings.Contains(c.Detail, `says resource`) || !strings.Contains(c.Fix, "byte for byte") || !strings.Contains(c.Fix, "trailing slash") {
		t.Errorf("message: %+v", c)
	}
	if !r.Failed() {
		t.Error("report not failed")
	}
}

func TestIssuerMismatch(t *testing.T) {
	r := run(t, fake{issuer: func(base string) string { return "https://elsewhere.example" }}.start(t), nil)
	c := failure(t, r, "as-metadata")
	if !strings.Contains(c.Detail, `says issuer "https://elsewhere.example", fetched for`) || !strings.Contains(c.Fix, "RFC 8414") {
		t.Errorf("message: %+v", c)
	}
}

func TestChallengeWithoutResourceMetadata(t *testing.T) {
	r := run(t, fake{noResourceMetadata: true}.start(t), nil)
	c := failure(t, r, "challenge")
	if !strings.Contains(c.Detail, "no resource_metadata") || !strings.Contains(c.Fix, "RFC 9728") {
		t.Errorf("message: %+v", c)
	}
}

func TestOtherFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fake   fake
		token  string
		check  string
		detail string
	}{
		{"not protected", fake{open: true}, "", "challenge", "answered 200, not 401"},
		{"no PKCE", fake{noS256: true}, "", "pkce", "without S256"},
		{"challenge not exposed", fake{noExpose: true}, "", "cors expose", "does not expose WWW-Authenticate"},
		{"refused token", fake{}, "bad", "tools/list 2025-11-25", "HTTP 401"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.fake.start(t), &Options{Token: tc.token})
			if c := failure(t, r, tc.check); !strings.Contains(c.Detail, tc.detail) {
				t.Errorf("%+v, want %q in the detail", c, tc.detail)
			}
		})
	}
}

func TestClockSkewWarns(t *testing.T) {
	r := run(t, fake{}.start(t), &Options{Now: func() time.Time { return time.Now().Add(5 * time.Minute) }})
	// Date has whole seconds: 5m0s or 5m1s.
	if c := r.Find("clock"); len(c) != 1 || c[0].Status != Warn || !regexp.MustCompile(`is 5m[01]s off ours`).MatchString(c[0].Detail) {
		t.Errorf("clock: %+v", c)
	}
	if r.Failed() {
		t.Error("a warning failed the report")
	}
}

// TestHTTPSOnlyOffLoopback: plain http fails on a network host, not on
// loopback.
func TestHTTPSOnlyOffLoopback(t *testing.T) {
	d := &doctor{report: &Report{}, seen: []string{"http://127.0.0.1:8080/mcp", "http://localhost/x", "http://[::1]/y", "https://a.example/"}}
	d.checkHTTPS()
	if c := d.report.Checks[0]; c.Status != OK {
		t.Errorf("loopback and https: %+v", c)
	}
	d = &doctor{report: &Report{}, seen: []string{"https://a.example/", "http://as.example/token"}}
	d.checkHTTPS()
	if c := d.report.Checks[0]; c.Status != Fail || !strings.Contains(c.Detail, "http://as.example/token") {
		t.Errorf("plain http: %+v", c)
	}
}

func TestBadURL(t *testing.T) {
	for _, u := range []string{"", "mcp.example.com/mcp", "ftp://x/mcp", "https://x/mcp?q=1"} {
		if _, err := Run(t.Context(), u, nil); err == nil {
			t.Errorf("Run(%q) accepted it", u)
		}
	}
}
