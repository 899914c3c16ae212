package wellknown_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
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
