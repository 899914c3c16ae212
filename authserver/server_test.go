package authserver_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/orgscope/orgscope/authserver"
	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/sqlite"
)

const (
	issuer   = "https://orgscope.test"
	resource = "https://orgscope.test/mcp"
)

func newStore(t testing.TB) store.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "as.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newServer(t *testing.T, st store.Store) *authserver.Server {
	t.Helper()
	s, err := authserver.New(t.Context(), authserver.Options{Issuer: issuer, Resource: resource, Store: st, TokenTTL: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// decode splits a compact JWS into its header and claims, without
// verifying (the e2e tests verify through the resource server).
func decode(t *testing.T, token string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", token)
	}
	for i, into := range []*map[string]any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, into); err != nil {
			t.Fatal(err)
		}
	}
	return header, claims
}

func issue(t *testing.T, s *authserver.Server, id, secret string, form url.Values) (int, map[string]any) {
	t.Helper()
	form.Set("grant_type", "client_credentials")
	req := httptest.NewRequest(http.MethodPost, authserver.TokenPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	var body map[string]any
	json.Unmarshal(rec.Body.Bytes(), &body)
	return rec.Code, body
}

func TestAccessTokenClaims(t *testing.T) {
	ctx := t.Context()
	st := newStore(t)
	if _, err := st.CreateOrg(ctx, store.Org{Code: "org_acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []store.FlagDefinition{
		{Key: "dark_mode", Type: store.FlagBoolean, DefaultValue: json.RawMessage(`false`)},
		{Key: "seats", Type: store.FlagInteger, DefaultValue: json.RawMessage(`5`)},
		{Key: "theme", Type: store.FlagString, DefaultValue: json.RawMessage(`"classic"`)},
		{Key: "cfg", Type: store.FlagJSON, DefaultValue: json.RawMessage(`{"a":1}`)},
	} {
		if _, err := st.CreateFlag(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.SetFlagOverride(ctx, "org_acme", "dark_mode", json.RawMessage(`true`)); err != nil {
		t.Fatal(err)
	}
	s := newServer(t, st)
	orgClient, orgSecret, err := createMachineClient(ctx, st, machineClient{
		Name: "acme agent", OrgCode: "org_acme", Scopes: []string{"write:users", "read:flags"},
		Properties: map[string]string{"agent_name": "Acme bot"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(orgClient.Secrets) != 1 || strings.Contains(orgClient.Secrets[0].Hash, orgSecret) || len(orgSecret) < 43 {
		t.Fatalf("secret %d chars, secrets %+v", len(orgSecret), orgClient.Secrets)
	}

	code, body := issue(t, s, orgClient.ID, orgSecret, url.Values{"resource": {resource}, "scope": {"read:users read:flags"}})
	if code != http.StatusOK || body["token_type"] != "Bearer" || body["expires_in"] != float64(600) || body["scope"] != "read:users read:flags" {
		t.Fatalf("%d %v", code, body)
	}
	header, claims := decode(t, body["access_token"].(string))
	if header["typ"] != "at+jwt" || header["alg"] != authserver.DefaultSigningAlgorithm || header["kid"] == "" {
		t.Errorf("header %v", header)
	}
	want := map[string]any{
		"iss": issuer, "sub": orgClient.ID, "client_id": orgClient.ID, "scope": "read:users read:flags",
		"org_code": "org_acme", "aud": resource, "gty": []any{"client_credentials"},
	}
	for k, v := range want {
		if got, _ := json.Marshal(claims[k]); string(got) != mustJSON(v) {
			t.Errorf("claim %s = %s, want %s", k, got, mustJSON(v))
		}
	}
	for _, k := range []string{"exp", "iat", "jti"} {
		if claims[k] == nil {
			t.Errorf("claim %s missing", k)
		}
	}
	if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat != 600 {
		t.Errorf("exp-iat = %v", exp-iat)
	}
	flags, _ := json.Marshal(claims["feature_flags"])
	if string(flags) != `{"cfg":{"t":"j","v":{"a":1}},"dark_mode":{"t":"b","v":true},"seats":{"t":"i","v":5},"theme":{"t":"s","v":"classic"}}` {
		t.Errorf("feature_flags = %s", flags)
	}
	props, _ := json.Marshal(claims["application_properties"])
	if string(props) != `{"agent_name":{"v":"Acme bot"}}` {
		t.Errorf("application_properties = %s", props)
	}

	// A global client's token has no org_code and no flags.
	global, globalSecret, err := createMachineClient(ctx, st, machineClient{Name: "admin", Scopes: []string{"read:orgs"}})
	if err != nil {
		t.Fatal(err)
	}
	code, body = issue(t, s, global.ID, globalSecret, url.Values{})
	if code != http.StatusOK {
		t.Fatalf("%d %v", code, body)
	}
	_, claims = decode(t, body["access_token"].(string))
	if _, ok := claims["org_code"]; ok {
		t.Error("a global token carries org_code")
	}
	if _, ok := claims["feature_flags"]; ok {
		t.Error("a global token carries feature_flags")
	}
	if claims["scope"] != "read:orgs" {
		t.Errorf("no scope parameter should grant all allowed scopes, got %v", claims["scope"])
	}
}

func TestJWKSAndMetadata(t *testing.T) {
	s := newServer(t, newStore(t))
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, authserver.JWKSPath, nil))
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(rec.Body.Bytes(), &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("JWKS %s: %v", rec.Body, err)
	}
	k := set.Keys[0]
	if !k.IsPublic() || k.Algorithm != authserver.DefaultSigningAlgorithm || k.Use != "sig" || k.KeyID == "" {
		t.Errorf("JWK %+v", k)
	}
	if strings.Contains(rec.Body.String(), `"d":`) {
		t.Fatal("the JWKS publishes private key material")
	}
	m := s.Metadata()
	if m.Issuer != issuer || m.TokenEndpoint != issuer+"/oauth2/token" || m.JWKSURI != issuer+"/oauth2/jwks" ||
		len(m.CodeChallengeMethodsSupported) != 1 || m.CodeChallengeMethodsSupported[0] != "S256" {
		t.Errorf("metadata %+v", m)
	}
}

// TestSigningKeyCreatedOnce: servers starting together on one database end
// up with one key, and a later start reuses it.
func TestSigningKeyCreatedOnce(t *testing.T) {
	st := newStore(t)
	var wg sync.WaitGroup
	kids := make([]string, 4)
	for i := range kids {
		wg.Go(func() {
			s, err := authserver.New(context.Background(), authserver.Options{Issuer: issuer, Resource: resource, Store: st})
			if err != nil {
				t.Error(err)
				return
			}
			kids[i] = jwksKid(t, s)
		})
	}
	wg.Wait()
	for _, k := range kids[1:] {
		if k != kids[0] {
			t.Fatalf("kids differ: %v", kids)
		}
	}
	keys, _ := st.SigningKeys(t.Context())
	if len(keys) != 1 {
		t.Errorf("%d keys stored", len(keys))
	}
	if jwksKid(t, newServer(t, st)) != kids[0] {
		t.Error("a restart made a new key")
	}
}

func jwksKid(t *testing.T, s *authserver.Server) string {
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, authserver.JWKSPath, nil))
	var set jose.JSONWebKeySet
	json.Unmarshal(rec.Body.Bytes(), &set)
	if len(set.Keys) == 0 {
		t.Fatal("empty JWKS")
	}
	return set.Keys[0].KeyID
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestSweep: the janitor removes expired sign-in state and idle
// registrations, and leaves what is in use.
func TestSweep(t *testing.T) {
	ctx := t.Context()
	st := newStore(t)
	now := time.Now()
	s, err := authserver.New(ctx, authserver.Options{Issuer: issuer, Resource: resource, Store: st,
		RegisteredClientIdle: time.Hour, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for id, created := range map[string]time.Time{"idle": now.Add(-2 * time.Hour), "recent": now.Add(-time.Minute)} {
		if _, err := st.CreateClient(ctx, store.Client{ID: id, Name: id, Kind: store.ClientRegistered,
			RedirectURIs: []string{"http://127.0.0.1/cb"}, GrantTypes: []string{"authorization_code"}, CreatedAt: created}); err != nil {
			t.Fatal(err)
		}
	}
	for hash, exp := range map[string]time.Time{"old": now.Add(-48 * time.Hour), "live": now.Add(time.Minute)} {
		if err := st.CreateAuthRequest(ctx, store.AuthRequest{HandleHash: hash, ClientID: "recent", RedirectURI: "http://127.0.0.1/cb",
			Resource: resource, CodeChallenge: "x", CodeChallengeMethod: "S256", CSRFHash: "h", ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetClient(ctx, "idle"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("idle registration kept: %v", err)
	}
	if _, err := st.GetClient(ctx, "recent"); err != nil {
		t.Errorf("recent registration removed: %v", err)
	}
	if _, err := st.GetAuthRequest(ctx, "old"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired sign-in kept: %v", err)
	}
	if _, err := st.GetAuthRequest(ctx, "live"); err != nil {
		t.Errorf("pending sign-in removed: %v", err)
	}
}
