package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
)

// TestIdPHarness proves, with plain Go and no OrgScope code, that the
// external provider of idp_harness_test.go does what the external-issuer
// tests rely on.
func TestIdPHarness(t *testing.T) {
	const resource = "http://127.0.0.1:43123/mcp" // nothing listens there: only a name
	ctx := context.Background()
	p := startIdP(t, idpOptions{Resource: resource, Keys: newRSAKeySet(t, "k1"), ShortTTL: 2 * time.Second})
	t.Logf("oidc-provider at %s", p.Issuer)

	forResource := func(res, scope string) url.Values {
		f := url.Values{"resource": {res}}
		if scope != "" {
			f.Set("scope", scope)
		}
		return f
	}
	mustToken := func(t *testing.T, id, secret string, form url.Values) string {
		t.Helper()
		tok, status, body := p.Token(t, id, secret, form)
		if status != http.StatusOK || tok == "" {
			t.Fatalf("token for %s: status %d, body %v", id, status, body)
		}
		return tok
	}
	// verify checks signature, iss and exp with go-oidc against a fresh
	// remote key set, and returns the claims.
	verify := func(t *testing.T, tok string) (*oidc.IDToken, map[string]any, error) {
		t.Helper()
		v := oidc.NewVerifier(p.Issuer, oidc.NewRemoteKeySet(ctx, p.JWKSURL),
			&oidc.Config{SkipClientIDCheck: true, SupportedSigningAlgs: []string{oidc.RS256}})
		idt, err := v.Verify(ctx, tok)
		if err != nil {
			return nil, nil, err
		}
		claims := map[string]any{}
		if err := idt.Claims(&claims); err != nil {
			t.Fatal(err)
		}
		return idt, claims, nil
	}
	mustVerify := func(t *testing.T, tok string) (*oidc.IDToken, map[string]any) {
		t.Helper()
		idt, claims, err := verify(t, tok)
		if err != nil {
			t.Fatalf("go-oidc rejects the token: %v", err)
		}
		return idt, claims
	}
	header := func(t *testing.T, tok string) jose.Header {
		t.Helper()
		jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.RS256})
		if err != nil {
			t.Fatalf("not a JWS: %v", err)
		}
		return jws.Signatures[0].Protected
	}
	jwksKids := func(t *testing.T) []string {
		t.Helper()
		var set jose.JSONWebKeySet
		p.getJSON(t, p.JWKSURL, &set)
		var kids []string
		for _, k := range set.Keys {
			if !k.IsPublic() {
				t.Errorf("JWKS publishes a private key %q", k.KeyID)
			}
			kids = append(kids, k.KeyID)
		}
		return kids
	}

	t.Run("discovery", func(t *testing.T) {
		var disc map[string]any
		p.getJSON(t, p.Issuer+"/.well-known/openid-configuration", &disc)
		if disc["issuer"] != p.Issuer || !strings.HasPrefix(p.Issuer, "http://127.0.0.1:") {
			t.Errorf("issuer %v, started as %s", disc["issuer"], p.Issuer)
		}
		if grants, _ := disc["grant_types_supported"].([]any); !slices.Contains(grants, any("client_credentials")) {
			t.Errorf("grant_types_supported %v lacks client_credentials", disc["grant_types_supported"])
		}
		if _, ok := disc["introspection_endpoint"]; ok {
			t.Errorf("jwt mode advertises introspection")
		}
	})

	t.Run("acme JWT access token", func(t *testing.T) {
		before := p.JWKSFetches(t)
		tok, status, body := p.Token(t, idpAcmeID, idpAcmeSecret, forResource(resource, "read:users write:users"))
		if status != http.StatusOK || body["token_type"] != "Bearer" || body["scope"] != "read:users write:users" {
			t.Fatalf("status %d, body %v", status, body)
		}
		idt, claims := mustVerify(t, tok)
		if !slices.Equal(idt.Audience, []string{resource}) {
			t.Errorf("aud %v, want %s", idt.Audience, resource)
		}
		for k, want := range map[string]any{
			"org_code": "org_acme", "scope": "read:users write:users",
			"client_id": idpAcmeID, "sub": idpAcmeID, "iss": p.Issuer,
		} {
			if claims[k] != want {
				t.Errorf("claim %s = %v, want %v (claims %v)", k, claims[k], want, claims)
			}
		}
		// aud is a JSON string, not an array.
		seg, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(seg, &raw); err != nil || !strings.HasPrefix(string(raw["aud"]), `"`) {
			t.Errorf("raw aud %s (%v)", raw["aud"], err)
		}
		h := header(t, tok)
		if h.ExtraHeaders["typ"] != "at+jwt" || h.KeyID != "k1" || h.Algorithm != "RS256" {
			t.Errorf("header typ %v kid %q alg %q", h.ExtraHeaders["typ"], h.KeyID, h.Algorithm)
		}
		if after := p.JWKSFetches(t); after <= before {
			t.Errorf("go-oidc's verification did not fetch the JWKS: %d -> %d", before, after)
		}
	})

	t.Run("client_secret_post, wrong secret, no scope, unknown resource", func(t *testing.T) {
		f := forResource(resource, "read:orgs")
		f.Set("client_id", idpAcmeID)
		f.Set("client_secret", idpAcmeSecret)
		if _, claims := mustVerify(t, mustToken(t, idpAcmeID, "", f)); claims["scope"] != "read:orgs" {
			t.Errorf("client_secret_post token scope %v", claims["scope"])
		}
		if _, status, body := p.Token(t, idpAcmeID, "wrong", forResource(resource, "read:orgs")); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
			t.Errorf("wrong secret: status %d, body %v", status, body)
		}
		if _, claims := mustVerify(t, mustToken(t, idpAcmeID, idpAcmeSecret, forResource(resource, ""))); claims["scope"] != nil {
			t.Errorf("no scope requested, scope claim %v", claims["scope"])
		}
		if _, status, body := p.Token(t, idpAcmeID, idpAcmeSecret, forResource("https://unknown.example/", "read:orgs")); status != http.StatusBadRequest || body["error"] != "invalid_target" {
			t.Errorf("unknown resource: status %d, body %v", status, body)
		}
	})

	t.Run("org codes", func(t *testing.T) {
		if _, claims := mustVerify(t, mustToken(t, idpBetaID, idpBetaSecret, forResource(resource, "read:users"))); claims["org_code"] != "org_beta" {
			t.Errorf("beta org_code %v", claims["org_code"])
		}
		_, claims := mustVerify(t, mustToken(t, idpGlobalID, idpGlobalSecret, forResource(resource, "read:audit")))
		if _, ok := claims["org_code"]; ok || claims["client_id"] != idpGlobalID {
			t.Errorf("global claims %v", claims)
		}
	})

	t.Run("other audience", func(t *testing.T) {
		idt, claims := mustVerify(t, mustToken(t, idpAcmeID, idpAcmeSecret, forResource(idpOtherResource, "read:users")))
		if !slices.Equal(idt.Audience, []string{idpOtherResource}) || claims["org_code"] != "org_acme" {
			t.Errorf("aud %v, claims %v", idt.Audience, claims)
		}
	})

	t.Run("JWKS fetch count", func(t *testing.T) {
		before := p.JWKSFetches(t)
		jwksKids(t)
		jwksKids(t)
		if after := p.JWKSFetches(t); after != before+2 {
			t.Errorf("two JWKS fetches counted as %d -> %d", before, after)
		}
	})

	t.Run("short TTL", func(t *testing.T) {
		tok, status, body := p.Token(t, idpShortID, idpShortSecret, forResource(resource, "read:users"))
		if status != http.StatusOK || body["expires_in"] != float64(2) {
			t.Fatalf("status %d, body %v", status, body)
		}
		idt, claims := mustVerify(t, tok)
		if claims["org_code"] != "org_acme" {
			t.Errorf("short-m2m org_code %v", claims["org_code"])
		}
		time.Sleep(time.Until(idt.Expiry) + 1100*time.Millisecond)
		var expired *oidc.TokenExpiredError
		if _, _, err := verify(t, tok); !errors.As(err, &expired) {
			t.Errorf("after its TTL: %v, want TokenExpiredError", err)
		}
	})

	t.Run("key rotation", func(t *testing.T) {
		old := mustToken(t, idpAcmeID, idpAcmeSecret, forResource(resource, "read:users"))
		k1 := p.opts.Keys.Keys[0]
		k2 := newRSAKeySet(t, "k2").Keys[0]

		p.Restart(t, &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{k2, k1}})
		if got := p.JWKSFetches(t); got != 0 {
			t.Errorf("fetch count after restart %d, want 0 (it is per process)", got)
		}
		if kids := jwksKids(t); !slices.Equal(kids, []string{"k2", "k1"}) {
			t.Errorf("JWKS during rotation %v, want [k2 k1]", kids)
		}
		tok := mustToken(t, idpAcmeID, idpAcmeSecret, forResource(resource, "read:users"))
		if kid := header(t, tok).KeyID; kid != "k2" {
			t.Errorf("new token kid %q, want k2", kid)
		}
		mustVerify(t, tok)
		mustVerify(t, old)

		p.Restart(t, &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{k2}})
		if kids := jwksKids(t); !slices.Equal(kids, []string{"k2"}) {
			t.Errorf("JWKS after rotation %v, want [k2]", kids)
		}
		mustVerify(t, mustToken(t, idpAcmeID, idpAcmeSecret, forResource(resource, "read:users")))
		if _, _, err := verify(t, old); err == nil {
			t.Errorf("a token signed by the retired key still verifies")
		}
	})

	t.Run("opaque introspection and revocation", func(t *testing.T) {
		o := startIdP(t, idpOptions{Resource: resource, Opaque: true})
		if o.IntrospectionURL == "" || o.RevocationURL == "" {
			t.Fatalf("opaque mode: introspection %q, revocation %q", o.IntrospectionURL, o.RevocationURL)
		}
		tok, status, body := o.Token(t, idpAcmeID, idpAcmeSecret, forResource(resource, "read:users write:users"))
		if status != http.StatusOK || strings.Count(tok, ".") != 0 {
			t.Fatalf("status %d, body %v: want an opaque token", status, body)
		}
		in := o.Introspect(t, tok)
		for k, want := range map[string]any{
			"active": true, "aud": resource, "org_code": "org_acme", "scope": "read:users write:users",
			"client_id": idpAcmeID, "iss": o.Issuer, "token_type": "Bearer",
		} {
			if in[k] != want {
				t.Errorf("introspection %s = %v, want %v (response %v)", k, in[k], want, in)
			}
		}
		if in := o.tokenEndpointCall(t, o.IntrospectionURL, "introspection", idpBetaID, idpBetaSecret, tok); in["active"] != false {
			t.Errorf("beta-m2m may introspect: %v", in)
		}
		o.Revoke(t, tok)
		if in := o.Introspect(t, tok); in["active"] != false || len(in) != 1 {
			t.Errorf("after revocation: %v, want {active: false}", in)
		}
		if in := o.Introspect(t, "no-such-token"); in["active"] != false {
			t.Errorf("unknown token: %v", in)
		}
	})
}
