package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/cmd/orgscope/app"
)

// signAlg signs claims with the given algorithm and RSA key, typ at+jwt.
func signAlg(t *testing.T, alg jose.SignatureAlgorithm, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEmbeddedTokensReadStrictly: tokens signed with the embedded issuer's
// own key, each breaking one rule the claims must keep, are refused with
// 401 invalid_token and change nothing.
func TestEmbeddedTokensReadStrictly(t *testing.T) {
	s := startServer(t, serverOptions{rsaKeys: true})
	st := s.openStore(t)
	forge := s.forger(t)
	now := time.Now()
	valid := func() map[string]any { return forge.Claims(s.Resource, "org_acme", "write:users read:users") }
	with := func(k string, v any) map[string]any { c := valid(); c[k] = v; return c }
	without := func(k string) map[string]any { c := valid(); delete(c, k); return c }

	if status, ch := challenge(t, s, signAlg(t, jose.RS256, forge.Key, forge.KID, valid()), "whoami", nil); status != http.StatusOK {
		t.Fatalf("the forger's RS256 token is refused (%d %v): the cases below would prove nothing", status, ch)
	}

	for _, tc := range []struct {
		name, token, reason string
	}{
		{"RS512 with the RS256 key", signAlg(t, jose.RS512, forge.Key, forge.KID, valid()), "algorithm"},
		{"PS256 with the RS256 key", signAlg(t, jose.PS256, forge.Key, forge.KID, valid()), "algorithm"},
		{"iat an hour ahead", forge.Sign(t, with("iat", now.Add(time.Hour).Unix())), "issued in the future"},
		{"nbf four minutes ahead", forge.Sign(t, with("nbf", now.Add(4*time.Minute).Unix())), "not valid yet"},
		{"exp a string", forge.Sign(t, with("exp", strconv.FormatInt(now.Add(time.Hour).Unix(), 10))), "JSON numbers"},
		{"no jti", forge.Sign(t, without("jti")), "jti"},
		{"no sub", forge.Sign(t, without("sub")), "sub"},
		{"no client_id", forge.Sign(t, without("client_id")), "client_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot(t, st)
			email := "strict-" + strings.ReplaceAll(tc.name, " ", "-") + "@acme.example"
			resp, body := s.callTool(t, tc.token, "create_user", map[string]any{"email": email})
			status, ch := challenge(t, s, tc.token, "whoami", nil)
			if resp.StatusCode != http.StatusUnauthorized || status != http.StatusUnauthorized || ch["error"] != "invalid_token" ||
				!strings.Contains(ch["error_description"], tc.reason) {
				t.Errorf("create_user %d %s; whoami %d %v; want 401 invalid_token about %q", resp.StatusCode, body, status, ch, tc.reason)
			}
			if after := snapshot(t, st); after != before {
				t.Error("the refused call changed the database")
			}
		})
	}
}

// TestExternalAudienceAndTenantRule: an issuer whose tokens are for an app
// ID URI (Entra ID's --audience api://APP_ID) starts and is served, and a
// tenant claim that cannot be an organization code is refused.
func TestExternalAudienceAndTenantRule(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	idp := httptest.NewServer(mux)
	t.Cleanup(idp.Close)
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"issuer": idp.URL, "jwks_uri": idp.URL + "/keys"})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: key.Public(), KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	const appIDURI = "api://6e74172b-be56-4843-9ff4-e66a39bb12e3"
	s := startServer(t, serverOptions{config: func(c *app.Config) {
		c.Issuers = []auth.Issuer{{URL: idp.URL, Audience: appIDURI, TenantClaim: "tid", ScopeClaims: []string{"roles"}}}
	}})
	entra := func(tid string) map[string]any {
		now := time.Now()
		return map[string]any{"iss": idp.URL, "aud": appIDURI, "tid": tid, "azp": "1950a258-227b-4e31-a9cf-717495945fc2",
			"sub": "94dc14ba-8b3b-4c2c-8d2e-9f3b7c3e5f50", "roles": []string{"read:users"},
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	}

	who := s.tool(t, signAlg(t, jose.RS256, key, "k1", entra("72f988bf-86f1-41af-91ab-2d7cd011db47")), "whoami", nil)
	if !strings.Contains(who.text(), `"org_code":"72f988bf-86f1-41af-91ab-2d7cd011db47"`) {
		t.Errorf("whoami with an app ID URI audience: %s", who.text())
	}
	for _, tc := range []struct{ name, token, reason string }{
		{"tenant with a space", signAlg(t, jose.RS256, key, "k1", entra("org has space")), "organization"},
		{"tenant not ASCII", signAlg(t, jose.RS256, key, "k1", entra("org_café")), "organization"},
		{"RS512 with the RS256 key", signAlg(t, jose.RS512, key, "k1", entra("72f988bf-86f1-41af-91ab-2d7cd011db47")), "algorithm"},
	} {
		status, ch := challenge(t, s, tc.token, "whoami", nil)
		if status != http.StatusUnauthorized || ch["error"] != "invalid_token" || !strings.Contains(ch["error_description"], tc.reason) {
			t.Errorf("%s: %d %v", tc.name, status, ch)
		}
		if strings.Contains(ch["error_description"], "has space") || strings.Contains(ch["error_description"], "café") {
			t.Errorf("%s: the description repeats the claim: %q", tc.name, ch["error_description"])
		}
	}
}
