package auth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/orgscope/orgscope/auth"
)

// loopbackIssuer serves discovery and a JWKS on loopback: key "pinned"
// carries alg RS256, key "typed" carries none.
type loopbackIssuer struct {
	URL           string
	pinned, typed *rsa.PrivateKey
}

func newLoopbackIssuer(t *testing.T) *loopbackIssuer {
	t.Helper()
	li := &loopbackIssuer{}
	var err error
	if li.pinned, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if li.typed, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	jwks := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: li.pinned.Public(), KeyID: "pinned", Algorithm: "RS256", Use: "sig"},
		{Key: li.typed.Public(), KeyID: "typed"},
	}}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	li.URL = srv.URL
	mux.HandleFunc("/.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL, "jwks_uri": srv.URL + "/jwks"})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(jwks)
	})
	return li
}

// claims is an Entra-like app-only token: aud the app ID URI, tenant in
// tid, the client in azp, no client_id.
func (li *loopbackIssuer) claims(aud, tid string) map[string]any {
	now := time.Now()
	return map[string]any{"iss": li.URL, "aud": aud, "tid": tid, "azp": "1950a258-227b-4e31-a9cf-717495945fc2",
		"roles": []string{"read:users"}, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}
}

func newExternal(t *testing.T, is auth.Issuer) (auth.Verifier, error) {
	t.Helper()
	return auth.NewExternalVerifier(t.Context(), auth.ExternalOptions{Issuers: []auth.Issuer{is}, Resource: testResource})
}

// TestExternalVerifierStrict: an external issuer's keys are pinned to the
// JWKS alg (or their type), its tenant claim must be an organization code,
// its audience may be an app ID URI or a client id, and its tokens need
// not carry sub, jti or client_id.
func TestExternalVerifierStrict(t *testing.T) {
	li := newLoopbackIssuer(t)
	const appIDURI = "api://6e74172b-be56-4843-9ff4-e66a39bb12e3"
	const tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	v, err := newExternal(t, auth.Issuer{URL: li.URL, Audience: appIDURI, TenantClaim: "tid", ScopeClaims: []string{"roles"}})
	if err != nil {
		t.Fatalf("an app ID URI audience refused at start: %v", err)
	}

	p, err := v.Verify(t.Context(), signAs(t, jose.RS256, li.pinned, "pinned", li.claims(appIDURI, tenant)))
	if err != nil {
		t.Fatalf("a valid token without sub, jti or client_id: %v", err)
	}
	if p.OrgCode != tenant || p.ClientID != "1950a258-227b-4e31-a9cf-717495945fc2" || !p.Has("read:users") {
		t.Errorf("principal %+v", p)
	}
	if _, err := v.Verify(t.Context(), signAs(t, jose.RS512, li.typed, "typed", li.claims(appIDURI, tenant))); err != nil {
		t.Errorf("RS512 by a JWKS key without alg: %v", err)
	}

	for _, tt := range []struct {
		name, token, reason string
	}{
		{"RS512 by the RS256 key", signAs(t, jose.RS512, li.pinned, "pinned", li.claims(appIDURI, tenant)), "algorithm"},
		{"PS256 by the RS256 key", signAs(t, jose.PS256, li.pinned, "pinned", li.claims(appIDURI, tenant)), "algorithm"},
		{"tenant with a space", signAs(t, jose.RS256, li.pinned, "pinned", li.claims(appIDURI, "org has space")), "organization"},
		{"tenant too long", signAs(t, jose.RS256, li.pinned, "pinned", li.claims(appIDURI, strings.Repeat("x", 65))), "organization"},
		{"audience differs in case", signAs(t, jose.RS256, li.pinned, "pinned", li.claims(strings.ToUpper(appIDURI), tenant)), "audience"},
		{"audience the resource", signAs(t, jose.RS256, li.pinned, "pinned", li.claims(testResource, tenant)), "audience"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(t.Context(), tt.token)
			wantRefused(t, err, tt.reason)
			if strings.Contains(err.Error(), "org has space") {
				t.Errorf("the error repeats the tenant claim: %v", err)
			}
		})
	}

	// A client id as the audience (Entra v2 tokens, some Keycloak setups).
	const clientID = "6e74172b-be56-4843-9ff4-e66a39bb12e3"
	byClient, err := newExternal(t, auth.Issuer{URL: li.URL, Audience: clientID, TenantClaim: "tid"})
	if err != nil {
		t.Fatalf("a client id audience refused at start: %v", err)
	}
	if _, err := byClient.Verify(t.Context(), signAs(t, jose.RS256, li.pinned, "pinned", li.claims(clientID, tenant))); err != nil {
		t.Errorf("aud = client id: %v", err)
	}

	for _, aud := range []string{"orgscope.example.com/mcp", "has space", "https:///mcp"} {
		if _, err := newExternal(t, auth.Issuer{URL: li.URL, Audience: aud}); err == nil {
			t.Errorf("audience %q accepted at start", aud)
		}
	}
}
