package wellknown_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/orgscope/orgscope/wellknown"
)

func TestResourceMetadataURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://api.example.com/mcp":  "https://api.example.com/.well-known/oauth-protected-resource/mcp",
		"https://api.example.com/mcp/": "https://api.example.com/.well-known/oauth-protected-resource/mcp",
		"http://127.0.0.1:8080/mcp":    "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp",
		"https://api.example.com":      "https://api.example.com/.well-known/oauth-protected-resource",
	} {
		if got, err := wellknown.ResourceMetadataURL(in); err != nil || got != want {
			t.Errorf("ResourceMetadataURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := wellknown.ResourceMetadataURL("/mcp"); err == nil {
		t.Error("a relative resource was accepted")
	}
}

func TestMount(t *testing.T) {
	mux := http.NewServeMux()
	err := wellknown.Mount(mux, wellknown.Documents{
		Resource:   &oauthex.ProtectedResourceMetadata{Resource: "https://api.example.com/mcp", AuthorizationServers: []string{"https://api.example.com"}},
		AuthServer: &oauthex.AuthServerMeta{Issuer: "https://api.example.com", CodeChallengeMethodsSupported: []string{"S256"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	serve := func(method, path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		return rec
	}
	for _, path := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"} {
		rec := serve(http.MethodGet, path)
		var prm oauthex.ProtectedResourceMetadata
		json.Unmarshal(rec.Body.Bytes(), &prm)
		if rec.Code != 200 || prm.Resource != "https://api.example.com/mcp" || rec.Header().Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("GET %s: %d %+v", path, rec.Code, prm)
		}
	}
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		rec := serve(http.MethodGet, path)
		var asm oauthex.AuthServerMeta
		json.Unmarshal(rec.Body.Bytes(), &asm)
		if rec.Code != 200 || asm.Issuer != "https://api.example.com" || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("GET %s: %d %+v", path, rec.Code, asm)
		}
		if rec := serve(http.MethodOptions, path); rec.Code != http.StatusNoContent || rec.Header().Get("Access-Control-Allow-Methods") == "" {
			t.Errorf("OPTIONS %s: %d", path, rec.Code)
		}
		if rec := serve(http.MethodPost, path); rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: %d", path, rec.Code)
		}
	}
	if rec := serve(http.MethodOptions, "/.well-known/oauth-protected-resource/mcp"); rec.Code != http.StatusNoContent {
		t.Errorf("OPTIONS PRM: %d", rec.Code)
	}

	// External-issuer mode: no AS metadata of our own.
	mux = http.NewServeMux()
	wellknown.Mount(mux, wellknown.Documents{Resource: &oauthex.ProtectedResourceMetadata{Resource: "https://api.example.com/mcp"}})
	if rec := serve(http.MethodGet, "/.well-known/oauth-authorization-server"); rec.Code != http.StatusNotFound {
		t.Errorf("AS metadata served without an issuer: %d", rec.Code)
	}
}

// TestDocumentsFollowTheLetter: every document answers GET and HEAD,
// refuses other methods with 405 and Allow, and answers CORS preflights
// allowing the MCP-Protocol-Version header the TypeScript SDK sends; the
// OpenID Connect document has every member OpenID Discovery requires.
func TestDocumentsFollowTheLetter(t *testing.T) {
	mux := http.NewServeMux()
	err := wellknown.Mount(mux, wellknown.Documents{
		Resource: &oauthex.ProtectedResourceMetadata{Resource: "https://api.example.com/mcp", AuthorizationServers: []string{"https://api.example.com"}},
		AuthServer: &oauthex.AuthServerMeta{Issuer: "https://api.example.com", AuthorizationEndpoint: "https://api.example.com/oauth2/authorize",
			TokenEndpoint: "https://api.example.com/oauth2/token", JWKSURI: "https://api.example.com/oauth2/jwks",
			ResponseTypesSupported: []string{"code"}, CodeChallengeMethodsSupported: []string{"S256"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	do := func(method, path string, header http.Header) *http.Response {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, path := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource",
		"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		if resp := do(http.MethodHead, path, nil); resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("HEAD %s: %d %v", path, resp.StatusCode, resp.Header)
		}
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
			if resp := do(method, path, nil); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD, OPTIONS" {
				t.Errorf("%s %s: %d Allow %q", method, path, resp.StatusCode, resp.Header.Get("Allow"))
			}
		}
		resp := do(http.MethodOptions, path, http.Header{"Origin": {"http://localhost:6274"}, "Access-Control-Request-Method": {"GET"},
			"Access-Control-Request-Headers": {"mcp-protocol-version"}})
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "MCP-Protocol-Version") {
			t.Errorf("preflight %s: %d %v", path, resp.StatusCode, resp.Header)
		}
	}

	get := func(path string) map[string]any {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var doc map[string]any
		json.NewDecoder(resp.Body).Decode(&doc)
		return doc
	}
	oidc := get("/.well-known/openid-configuration")
	for _, member := range []string{"issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "response_types_supported",
		"subject_types_supported", "id_token_signing_alg_values_supported"} {
		if oidc[member] == nil {
			t.Errorf("the OpenID document lacks %s", member)
		}
	}
	if fmt.Sprint(oidc["subject_types_supported"]) != "[public]" || fmt.Sprint(oidc["id_token_signing_alg_values_supported"]) != "[RS256]" {
		t.Errorf("OpenID members: %v %v", oidc["subject_types_supported"], oidc["id_token_signing_alg_values_supported"])
	}
	if oidc["issuer"] != "https://api.example.com" || fmt.Sprint(oidc["code_challenge_methods_supported"]) != "[S256]" {
		t.Errorf("the OpenID document lost RFC 8414 members: %v", oidc)
	}
	if rfc8414 := get("/.well-known/oauth-authorization-server"); rfc8414["subject_types_supported"] != nil {
		t.Errorf("the RFC 8414 document carries OpenID members: %v", rfc8414)
	}
}
