package authserver_test

import (
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/orgscope/orgscope/authserver"
	"github.com/orgscope/orgscope/internal/clientkeys"
	"github.com/orgscope/orgscope/internal/tokentest"
	"github.com/orgscope/orgscope/store"
)

// keyClient stores a machine client of org_acme that authenticates with
// the keys of jwks (or at jwksURI), as the service does.
func keyClient(t *testing.T, st store.Store, jwks json.RawMessage, jwksURI string) store.Client {
	t.Helper()
	c, err := st.CreateClient(t.Context(), store.Client{ID: store.NewID("kc"), Name: "Signer", Kind: store.ClientMachine,
		OrgCode: "org_acme", Scopes: []string{"read:users"}, GrantTypes: []string{"client_credentials"},
		TokenEndpointAuthMethod: clientkeys.Method, JWKS: jwks, JWKSURI: jwksURI})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// assertion signs an assertion of clientID for the issuer at the
// fixture's clock, changed by edit.
func (f *fixture) assertion(t *testing.T, key jose.JSONWebKey, clientID string, edit func(*clientkeys.Assertion)) string {
	t.Helper()
	a := clientkeys.Assertion{ClientID: clientID, Audience: issuer, Now: f.clock.Now()}
	if edit != nil {
		edit(&a)
	}
	s, err := clientkeys.Sign(key, key.Algorithm, a)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// assertionForm is a client_credentials request authenticated by
// assertion.
func assertionForm(assertion string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {clientkeys.AssertionType},
		"client_assertion": {assertion}}
}

// wantInvalidClient fails unless rec is RFC 6749's invalid_client: 401,
// JSON, no token.
func wantInvalidClient(t *testing.T, rec *httptest.ResponseRecorder, body map[string]any, what string) {
	t.Helper()
	if rec.Code != http.StatusUnauthorized || body["error"] != "invalid_client" || body["access_token"] != nil ||
		!strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Errorf("%s: %d %v, want 401 invalid_client", what, rec.Code, body)
	}
}

// TestAssertionAlgorithms: a machine client with an RS256, ES256, EdDSA or
// PS256 key gets a token with an assertion, for its own org and scopes,
// whether the audience is the issuer identifier or the token endpoint.
func TestAssertionAlgorithms(t *testing.T) {
	f := newFixture(t, nil)
	for _, alg := range []string{"RS256", "ES256", "EdDSA", "PS256"} {
		t.Run(alg, func(t *testing.T) {
			key := tokentest.ClientKey(t, alg, "k-"+alg)
			c := keyClient(t, f.st, tokentest.PublicJWKS(t, key), "")
			for _, aud := range []string{issuer, issuer + authserver.TokenPath} {
				rec, body := f.post(authserver.TokenPath, "", assertionForm(f.assertion(t, key, c.ID, func(a *clientkeys.Assertion) { a.Audience = aud })))
				if rec.Code != http.StatusOK {
					t.Fatalf("aud %s: %d %v", aud, rec.Code, body)
				}
				_, claims := decode(t, body["access_token"].(string))
				if claims["sub"] != c.ID || claims["client_id"] != c.ID || claims["org_code"] != "org_acme" || body["scope"] != "read:users" {
					t.Errorf("token claims %v, answer %v", claims, body)
				}
			}
		})
	}
}

// TestAssertionRefusals: every faulty assertion is invalid_client (401,
// RFC 6749 JSON) and changes nothing: its jti is not spent, so a good
// assertion with the same jti still works afterwards.
func TestAssertionRefusals(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	key := tokentest.ClientKey(t, "RS256", "good")
	other := tokentest.ClientKey(t, "RS256", "other")
	c := keyClient(t, f.st, tokentest.PublicJWKS(t, key), "")
	forger := &tokentest.Issuer{URL: issuer, Key: key.Key.(*rsa.PrivateKey), KID: "good"}
	secretClient, secret, err := createMachineClient(ctx, f.st, machineClient{Name: "With secret", OrgCode: "org_acme", Scopes: []string{"read:users"}})
	if err != nil {
		t.Fatal(err)
	}
	disabled := keyClient(t, f.st, tokentest.PublicJWKS(t, key), "")
	if _, err := f.st.UpdateClient(ctx, disabled.ID, store.ClientUpdate{DisabledAt: ptr(f.clock.Now())}); err != nil {
		t.Fatal(err)
	}
	claims := func(jti string) map[string]any {
		now := f.clock.Now()
		return map[string]any{"iss": c.ID, "sub": c.ID, "aud": issuer, "jti": jti, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
	}
	psKey := key
	psKey.Algorithm = "PS256" // the same RSA key, which the JWKS pins to RS256
	withJTI := func(jti string, edit func(*clientkeys.Assertion)) func(*clientkeys.Assertion) {
		return func(a *clientkeys.Assertion) {
			a.ID = jti
			if edit != nil {
				edit(a)
			}
		}
	}
	cases := []struct {
		name string
		jti  string // spent only by a success
		form func(jti string) url.Values
	}{
		{"wrong audience (the resource)", "aud", func(jti string) url.Values {
			return assertionForm(f.assertion(t, key, c.ID, withJTI(jti, func(a *clientkeys.Assertion) { a.Audience = resource })))
		}},
		{"wrong audience (another server)", "aud2", func(jti string) url.Values {
			return assertionForm(f.assertion(t, key, c.ID, withJTI(jti, func(a *clientkeys.Assertion) { a.Audience = "https://elsewhere.example" })))
		}},
		{"expired", "expired", func(jti string) url.Values {
			return assertionForm(f.assertion(t, key, c.ID, withJTI(jti, func(a *clientkeys.Assertion) { a.Now = a.Now.Add(-2 * time.Minute) })))
		}},
		{"exp too far ahead", "long", func(jti string) url.Values {
			return assertionForm(f.assertion(t, key, c.ID, withJTI(jti, func(a *clientkeys.Assertion) { a.Lifetime = 10 * time.Minute })))
		}},
		{"issued in the future", "future", func(jti string) url.Values {
			return assertionForm(f.assertion(t, key, c.ID, withJTI(jti, func(a *clientkeys.Assertion) { a.Now = a.Now.Add(2 * time.Minute) })))
		}},
		{"no jti", "", func(string) url.Values {
			cl := claims("")
			delete(cl, "jti")
			return assertionForm(forger.SignWith(t, map[string]any{}, cl))
		}},
		{"no exp", "noexp", func(jti string) url.Values {
			cl := claims(jti)
			delete(cl, "exp")
			return assertionForm(forger.SignWith(t, map[string]any{}, cl))
		}},
		{"iss other than sub", "iss", func(jti string) url.Values {
			cl := claims(jti)
			cl["iss"] = "someone-else"
			return assertionForm(forger.SignWith(t, map[string]any{}, cl))
		}},
		{"unknown kid", "kid", func(jti string) url.Values {
			return assertionForm(f.assertion(t, jose.JSONWebKey{Key: key.Key, KeyID: "unknown", Algorithm: "RS256"}, c.ID, withJTI(jti, nil)))
		}},
		{"a key the client did not register", "otherkey", func(jti string) url.Values {
			return assertionForm(f.assertion(t, jose.JSONWebKey{Key: other.Key, KeyID: "good", Algorithm: "RS256"}, c.ID, withJTI(jti, nil)))
		}},
		{"alg none", "none", func(jti string) url.Values {
			return assertionForm(tokentest.Unsigned(claims(jti)))
		}},
		{"HS256 keyed with the public key", "hs256", func(jti string) url.Values {
			return assertionForm(forger.HS256WithPublicKey(claims(jti)))
		}},
		{"PS256 with a key pinned to RS256", "pinned", func(jti string) url.Values {
			return assertionForm(f.assertion(t, psKey, c.ID, withJTI(jti, nil)))
		}},
		{"a tampered signature", "tampered", func(jti string) url.Values {
			return assertionForm(tokentest.Tamper(t, f.assertion(t, key, c.ID, withJTI(jti, nil)), "exp", f.clock.Now().Add(90*time.Second).Unix()))
		}},
		{"a typ of access token", "typ", func(jti string) url.Values {
			return assertionForm(forger.SignWith(t, map[string]any{"typ": "at+jwt"}, claims(jti)))
		}},
		{"both a secret and an assertion", "both", func(jti string) url.Values {
			form := assertionForm(f.assertion(t, key, c.ID, withJTI(jti, nil)))
			form.Set("client_secret", "whatever")
			return form
		}},
		{"a client_id that is not the sub", "clientid", func(jti string) url.Values {
			form := assertionForm(f.assertion(t, key, c.ID, withJTI(jti, nil)))
			form.Set("client_id", secretClient.ID)
			return form
		}},
		{"another client_assertion_type", "type", func(jti string) url.Values {
			form := assertionForm(f.assertion(t, key, c.ID, withJTI(jti, nil)))
			form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer")
			return form
		}},
		{"a type without an assertion", "", func(string) url.Values {
			return url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {clientkeys.AssertionType}}
		}},
		{"not a JWT", "", func(string) url.Values { return assertionForm("not.a.jwt") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec, body := f.post(authserver.TokenPath, "", tc.form(tc.jti))
			wantInvalidClient(t, rec, body, tc.name)
			if tc.jti == "" {
				return
			}
			rec, body = f.post(authserver.TokenPath, "", assertionForm(f.assertion(t, key, c.ID, withJTI(tc.jti, nil))))
			if rec.Code != http.StatusOK {
				t.Errorf("a good assertion with the refused one's jti: %d %v (the refusal spent it)", rec.Code, body)
			}
		})
	}

	t.Run("both Basic and an assertion", func(t *testing.T) {
		form := assertionForm(f.assertion(t, key, c.ID, nil))
		rec := f.serve(http.MethodPost, authserver.TokenPath, "", form.Encode(), http.Header{
			"Content-Type": {"application/x-www-form-urlencoded"}, "Authorization": {"Basic " + basic(secretClient.ID, secret)}})
		var body map[string]any
		json.Unmarshal(rec.Body.Bytes(), &body)
		wantInvalidClient(t, rec, body, "Basic and an assertion")
	})
	t.Run("replayed", func(t *testing.T) {
		a := f.assertion(t, key, c.ID, nil)
		if rec, body := f.post(authserver.TokenPath, "", assertionForm(a)); rec.Code != http.StatusOK {
			t.Fatalf("first use: %d %v", rec.Code, body)
		}
		rec, body := f.post(authserver.TokenPath, "", assertionForm(a))
		wantInvalidClient(t, rec, body, "the second use")
		if !strings.Contains(body["error_description"].(string), "used already") {
			t.Errorf("the replay's description: %v", body)
		}
	})
	t.Run("disabled client", func(t *testing.T) {
		rec, body := f.post(authserver.TokenPath, "", assertionForm(f.assertion(t, key, disabled.ID, nil)))
		wantInvalidClient(t, rec, body, "a disabled client")
	})
	t.Run("a client registered with secrets", func(t *testing.T) {
		rec, body := f.post(authserver.TokenPath, "", assertionForm(f.assertion(t, key, secretClient.ID, nil)))
		wantInvalidClient(t, rec, body, "an assertion for a client with secrets")
		// Its secret still works: nothing about secrets changed.
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {secretClient.ID}, "client_secret": {secret}}
		if rec, body := f.post(authserver.TokenPath, "", form); rec.Code != http.StatusOK {
			t.Errorf("the secret client's secret: %d %v", rec.Code, body)
		}
	})
	t.Run("a secret for a client with keys", func(t *testing.T) {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ID}, "client_secret": {secret}}
		rec, body := f.post(authserver.TokenPath, "", form)
		wantInvalidClient(t, rec, body, "a secret for a key client")
	})
	t.Run("an unknown client answers like a wrong key", func(t *testing.T) {
		rec, body := f.post(authserver.TokenPath, "", assertionForm(f.assertion(t, key, "no-such-client", nil)))
		wantInvalidClient(t, rec, body, "an unknown client")
		_, known := f.post(authserver.TokenPath, "", assertionForm(f.assertion(t, other, c.ID, nil)))
		if body["error_description"] != known["error_description"] {
			t.Errorf("unknown client %q, wrong key %q: the answers differ", body["error_description"], known["error_description"])
		}
	})
	if strings.Contains(f.logs.String(), "eyJ") {
		t.Errorf("an assertion reached the log:\n%s", f.logs)
	}
}

// TestAssertionReplayRace: one assertion sent by many callers at once gets
// exactly one token.
func TestAssertionReplayRace(t *testing.T) {
	f := newFixture(t, nil)
	key := tokentest.ClientKey(t, "ES256", "k")
	c := keyClient(t, f.st, tokentest.PublicJWKS(t, key), "")
	a := f.assertion(t, key, c.ID, nil)
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if rec, _ := f.post(authserver.TokenPath, "", assertionForm(a)); rec.Code == http.StatusOK {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Errorf("%d of 8 concurrent uses of one assertion got a token, want 1", ok.Load())
	}
}

// TestAssertionAtEveryEndpoint: revocation and introspection authenticate
// clients with assertions too, and the metadata says so.
func TestAssertionAtEveryEndpoint(t *testing.T) {
	f := newFixture(t, nil)
	key := tokentest.ClientKey(t, "EdDSA", "k")
	c := keyClient(t, f.st, tokentest.PublicJWKS(t, key), "")
	_, body := f.post(authserver.TokenPath, "", assertionForm(f.assertion(t, key, c.ID, nil)))
	token, _ := body["access_token"].(string)
	if token == "" {
		t.Fatalf("token: %v", body)
	}
	form := assertionForm(f.assertion(t, key, c.ID, nil))
	form.Del("grant_type")
	form.Set("token", token)
	rec, intro := f.post(authserver.IntrospectPath, "", form)
	if rec.Code != http.StatusOK || intro["active"] != true || intro["client_id"] != c.ID {
		t.Errorf("introspection with an assertion: %d %v", rec.Code, intro)
	}
	rec, intro = f.post(authserver.IntrospectPath, "", form) // the same assertion again
	wantInvalidClient(t, rec, intro, "introspection with a replayed assertion")

	form.Set("client_assertion", f.assertion(t, key, c.ID, nil))
	if rec, body := f.post(authserver.RevokePath, "", form); rec.Code != http.StatusOK {
		t.Errorf("revocation with an assertion: %d %v", rec.Code, body)
	}
	form.Set("client_assertion", f.assertion(t, key, c.ID, nil))
	if _, intro := f.post(authserver.IntrospectPath, "", form); intro["active"] != false {
		t.Errorf("the revoked token introspects as %v", intro)
	}

	m := f.as.Metadata()
	for name, methods := range map[string][]string{"token": m.TokenEndpointAuthMethodsSupported,
		"revocation": m.RevocationEndpointAuthMethodsSupported, "introspection": m.IntrospectionEndpointAuthMethodsSupported} {
		if !contains(methods, "private_key_jwt") {
			t.Errorf("%s_endpoint_auth_methods_supported: %v", name, methods)
		}
	}
	for name, algs := range map[string][]string{"token": m.TokenEndpointAuthSigningAlgValuesSupported,
		"revocation": m.RevocationEndpointAuthSigningAlgValuesSupported, "introspection": m.IntrospectionEndpointAuthSigningAlgValuesSupported} {
		if strings.Join(algs, " ") != "RS256 PS256 ES256 EdDSA" {
			t.Errorf("%s_endpoint_auth_signing_alg_values_supported: %v", name, algs)
		}
	}
}

// keyHost serves a client's JWKS over TLS and counts fetches.
type keyHost struct {
	srv     *httptest.Server
	fetches atomic.Int64
	mu      sync.Mutex
	set     json.RawMessage
}

func newKeyHost(t *testing.T, set json.RawMessage) *keyHost {
	h := &keyHost{set: set}
	h.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.fetches.Add(1)
		h.mu.Lock()
		defer h.mu.Unlock()
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(h.set)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *keyHost) publish(set json.RawMessage) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.set = set
}

// TestAssertionJWKSURI: keys published at a jwks_uri are fetched through
// the metadata-document fetcher (so loopback needs the development
// override), cached, and a key added there is picked up once the cooldown
// after the last fetch has passed; an unknown kid before then is refused
// without a fetch.
func TestAssertionJWKSURI(t *testing.T) {
	first, second := tokentest.ClientKey(t, "ES256", "first"), tokentest.ClientKey(t, "RS256", "second")
	host := newKeyHost(t, tokentest.PublicJWKS(t, first))
	f := newFixture(t, func(o *authserver.Options) {
		o.MetadataDocumentClient, o.MetadataDocumentAllowPrivate = host.srv.Client(), true
	})
	c := keyClient(t, f.st, nil, host.srv.URL+"/jwks.json")
	token := func(key jose.JSONWebKey) (*httptest.ResponseRecorder, map[string]any) {
		return f.post(authserver.TokenPath, "", assertionForm(f.assertion(t, key, c.ID, nil)))
	}
	for i := range 3 {
		if rec, body := token(first); rec.Code != http.StatusOK {
			t.Fatalf("assertion %d with the published key: %d %v", i, rec.Code, body)
		}
	}
	if n := host.fetches.Load(); n != 1 {
		t.Errorf("%d fetches for three assertions, want 1 (cached)", n)
	}

	// The client rotates: the new key is published next to the old one.
	host.publish(tokentest.PublicJWKS(t, first, second))
	rec, body := token(second)
	wantInvalidClient(t, rec, body, "a new kid within the cooldown")
	if n := host.fetches.Load(); n != 1 {
		t.Errorf("%d fetches after a new kid within the cooldown, want 1", n)
	}
	f.clock.Advance(authserver.ClientKeysCooldown + time.Second)
	if rec, body := token(second); rec.Code != http.StatusOK {
		t.Fatalf("the new key after the cooldown: %d %v", rec.Code, body)
	}
	if n := host.fetches.Load(); n != 2 {
		t.Errorf("%d fetches after the cooldown, want 2", n)
	}
	// The old key is withdrawn: refused once the keys are refreshed.
	host.publish(tokentest.PublicJWKS(t, second))
	f.clock.Advance(authserver.ClientKeysRefresh + time.Second)
	rec, body = token(first)
	wantInvalidClient(t, rec, body, "a withdrawn key after the refresh")

	t.Run("loopback refused without the development override", func(t *testing.T) {
		strict := newFixture(t, func(o *authserver.Options) { o.MetadataDocumentClient = host.srv.Client() })
		sc := keyClient(t, strict.st, nil, host.srv.URL+"/jwks.json")
		before := host.fetches.Load()
		rec, body := strict.post(authserver.TokenPath, "", assertionForm(strict.assertion(t, second, sc.ID, nil)))
		wantInvalidClient(t, rec, body, "keys on loopback")
		if host.fetches.Load() != before {
			t.Errorf("the key host was reached from a server that may not fetch from loopback")
		}
	})
}

// TestAssertionMetadataDocumentClient: a metadata-document client that
// declares private_key_jwt and a jwks_uri (as ChatGPT's does) is
// confidential: it redeems its code and refreshes with an assertion, and
// without one it is invalid_client.
func TestAssertionMetadataDocumentClient(t *testing.T) {
	key := tokentest.ClientKey(t, "RS256", "chatgpt-1")
	keys := newKeyHost(t, tokentest.PublicJWKS(t, key))
	docs := newCIMDHost(t)
	docs.docs["/client.json"] = jsonDoc("max-age=60", map[string]any{"client_name": "Signing Agent", "redirect_uris": []string{flowRedirect},
		"grant_types": []string{"authorization_code", "refresh_token"}, "token_endpoint_auth_method": "private_key_jwt",
		"token_endpoint_auth_signing_alg": "RS256", "jwks_uri": keys.srv.URL + "/jwks.json"})
	// httptest's TLS servers share one certificate: the client of one
	// trusts both.
	f := newFixture(t, func(o *authserver.Options) {
		o.MetadataDocumentClient, o.MetadataDocumentAllowPrivate = docs.srv.Client(), true
	})
	clientID := docs.srv.URL + "/client.json"
	code, verifier := f.code(t, clientID)
	redeem := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {flowRedirect},
		"code_verifier": {verifier}, "client_id": {clientID}}
	rec, body := f.post(authserver.TokenPath, "", redeem)
	wantInvalidClient(t, rec, body, "a code redeemed without the assertion")

	code, verifier = f.code(t, clientID)
	redeem.Set("code", code)
	redeem.Set("code_verifier", verifier)
	redeem.Set("client_assertion_type", clientkeys.AssertionType)
	redeem.Set("client_assertion", f.assertion(t, key, clientID, nil))
	rec, body = f.post(authserver.TokenPath, "", redeem)
	if rec.Code != http.StatusOK || body["refresh_token"] == nil {
		t.Fatalf("code with an assertion: %d %v", rec.Code, body)
	}
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)},
		"client_assertion_type": {clientkeys.AssertionType}, "client_assertion": {f.assertion(t, key, clientID, nil)}}
	if rec, body := f.post(authserver.TokenPath, "", refresh); rec.Code != http.StatusOK {
		t.Errorf("refresh with an assertion: %d %v", rec.Code, body)
	}
	// ES256 is not the algorithm the document named.
	es := tokentest.ClientKey(t, "ES256", "chatgpt-1")
	refresh.Set("client_assertion", f.assertion(t, es, clientID, nil))
	rec, body = f.post(authserver.TokenPath, "", refresh)
	wantInvalidClient(t, rec, body, "an algorithm other than the document's")
}

func basic(id, secret string) string {
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func ptr[T any](v T) *T { return &v }
