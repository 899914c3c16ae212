package auth_test

import (
	"context"
	"crypto"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/internal/tokentest"
)

const (
	testIssuer   = "https://issuer.test"
	testResource = "https://orgscope.test/mcp"
)

func newVerifier(t *testing.T, keys []crypto.PublicKey, edit func(*auth.JWTOptions)) *auth.JWTVerifier {
	t.Helper()
	opts := auth.JWTOptions{
		Issuer:   testIssuer,
		Audience: testResource,
		KeySet:   &oidc.StaticKeySet{PublicKeys: keys},
	}
	if edit != nil {
		edit(&opts)
	}
	v, err := auth.NewJWTVerifier(opts)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestJWTVerifierAccepts(t *testing.T) {
	iss := tokentest.NewIssuer(t, testIssuer)
	v := newVerifier(t, []crypto.PublicKey{iss.PublicKey()}, nil)

	claims := iss.Claims(testResource, "org_acme", "write:users read:flags")
	p, err := v.Verify(t.Context(), iss.Sign(t, claims))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if p.OrgCode != "org_acme" || p.ClientID != "client-1" || p.Subject != "client-1" || p.Issuer != testIssuer ||
		p.TokenID != "jti-1" || p.GrantType != "client_credentials" || p.Global() {
		t.Errorf("principal = %+v", p)
	}
	if got := strings.Join(p.Scopes, " "); got != "read:flags write:users" {
		t.Errorf("scopes = %q", got)
	}
	if !p.Has("read:users") || p.Has("delete:users") {
		t.Errorf("hierarchy not applied: read:users=%v delete:users=%v", p.Has("read:users"), p.Has("delete:users"))
	}
	if p.Expiry.Unix() != claims["exp"].(int64) {
		t.Errorf("expiry = %v", p.Expiry)
	}
}

func TestJWTVerifierAudienceNormalisation(t *testing.T) {
	iss := tokentest.NewIssuer(t, testIssuer)
	v := newVerifier(t, []crypto.PublicKey{iss.PublicKey()}, nil)
	for _, aud := range []any{
		"https://orgscope.test/mcp", "https://orgscope.test/mcp/", "HTTPS://OrgScope.Test/mcp",
		"https://orgscope.test:443/mcp", []string{"https://other.test", "https://orgscope.test/mcp"},
	} {
		claims := iss.Claims(testResource, "", "read:users")
		claims["aud"] = aud
		if _, err := v.Verify(t.Context(), iss.Sign(t, claims)); err != nil {
			t.Errorf("aud %v refused: %v", aud, err)
		}
	}
}

func TestJWTVerifierRefuses(t *testing.T) {
	iss := tokentest.NewIssuer(t, testIssuer)
	other := tokentest.NewIssuer(t, testIssuer)
	v := newVerifier(t, []crypto.PublicKey{iss.PublicKey()}, nil)
	valid := func() map[string]any { return iss.Claims(testResource, "org_acme", "read:users") }
	with := func(k string, val any) map[string]any { c := valid(); c[k] = val; return c }

	tests := []struct {
		name   string
		token  string
		reason string
	}{
		{"garbage", "not-a-token", "malformed"},
		{"three garbage segments", "a.b.c", "malformed"},
		{"expired", iss.Sign(t, with("exp", time.Now().Add(-2*time.Minute).Unix())), "expired"},
		{"no exp", iss.Sign(t, func() map[string]any { c := valid(); delete(c, "exp"); return c }()), "expired"},
		{"not yet valid", iss.Sign(t, with("nbf", time.Now().Add(time.Hour).Unix())), "not valid yet"},
		{"wrong audience", iss.Sign(t, with("aud", []string{"https://other.test/mcp"})), "audience"},
		{"audience with other path", iss.Sign(t, with("aud", "https://orgscope.test/mcp/admin")), "audience"},
		{"audience over http", iss.Sign(t, with("aud", "http://orgscope.test/mcp")), "audience"},
		{"no audience", iss.Sign(t, func() map[string]any { c := valid(); delete(c, "aud"); return c }()), "audience"},
		{"wrong issuer", iss.Sign(t, with("iss", "https://evil.test")), "issuer"},
		{"signed by another key", other.Sign(t, valid()), "signature"},
		{"tampered claims", tokentest.Tamper(t, iss.Sign(t, valid()), "org_code", "org_beta"), "signature"},
		{"alg none", tokentest.Unsigned(valid()), "algorithm"},
		{"HS256 keyed with the public key", iss.HS256WithPublicKey(valid()), "algorithm"},
		{"typ JWT", iss.SignWith(t, map[string]any{"typ": "JWT"}, valid()), "typ"},
		{"no typ", iss.SignWith(t, nil, valid()), "typ"},
		{"tenant claim not a string", iss.Sign(t, with("org_code", 42)), "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := v.Verify(t.Context(), tt.token)
			if err == nil {
				t.Fatalf("accepted: %+v", p)
			}
			if !errors.Is(err, auth.ErrInvalidToken) {
				t.Fatalf("error %v does not wrap ErrInvalidToken", err)
			}
			var te *auth.TokenError
			if !errors.As(err, &te) || !strings.Contains(te.Description, tt.reason) {
				t.Fatalf("error %v: want a description mentioning %q", err, tt.reason)
			}
			if strings.Contains(te.Description, tt.token) {
				t.Fatal("the description contains the token")
			}
		})
	}
}

func TestJWTVerifierClockSkew(t *testing.T) {
	iss := tokentest.NewIssuer(t, testIssuer)
	claims := iss.Claims(testResource, "", "read:users")
	claims["exp"] = time.Now().Add(-10 * time.Second).Unix()
	token := iss.Sign(t, claims)

	if _, err := newVerifier(t, []crypto.PublicKey{iss.PublicKey()}, nil).Verify(t.Context(), token); err != nil {
		t.Errorf("expired 10s ago with the default 30s skew: %v", err)
	}
	strict := newVerifier(t, []crypto.PublicKey{iss.PublicKey()}, func(o *auth.JWTOptions) { o.ClockSkew = -1 })
	if _, err := strict.Verify(t.Context(), token); err == nil {
		t.Error("expired 10s ago accepted with no skew")
	}
}

func TestJWTVerifierOptions(t *testing.T) {
	iss := tokentest.NewIssuer(t, testIssuer)
	keys := []crypto.PublicKey{iss.PublicKey()}

	anyType := newVerifier(t, keys, func(o *auth.JWTOptions) { o.AllowAnyType = true })
	if _, err := anyType.Verify(t.Context(), iss.SignWith(t, map[string]any{"typ": "JWT"}, iss.Claims(testResource, "", "read:users"))); err != nil {
		t.Errorf("AllowAnyType refused typ JWT: %v", err)
	}

	needTenant := newVerifier(t, keys, func(o *auth.JWTOptions) { o.Claims.RequireTenant = true })
	if _, err := needTenant.Verify(t.Context(), iss.Sign(t, iss.Claims(testResource, "", "read:users"))); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("RequireTenant accepted a token without org_code: %v", err)
	}

	onlyES := newVerifier(t, keys, func(o *auth.JWTOptions) { o.Algorithms = []string{oidc.ES256} })
	if _, err := onlyES.Verify(t.Context(), iss.Sign(t, iss.Claims(testResource, "", "read:users"))); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("an RS256 token passed an ES256-only allow-list: %v", err)
	}

	for _, bad := range []auth.JWTOptions{
		{Issuer: testIssuer, Audience: testResource, KeySet: &oidc.StaticKeySet{}, Algorithms: []string{"HS256"}},
		{Issuer: testIssuer, Audience: testResource, KeySet: &oidc.StaticKeySet{}, Algorithms: []string{"none"}},
		{Issuer: testIssuer, Audience: "not a url", KeySet: &oidc.StaticKeySet{}},
		{Issuer: testIssuer, KeySet: &oidc.StaticKeySet{}},
		{Audience: testResource, KeySet: &oidc.StaticKeySet{}},
		{Issuer: testIssuer, Audience: testResource},
	} {
		if _, err := auth.NewJWTVerifier(bad); err == nil {
			t.Errorf("NewJWTVerifier(%+v) accepted", bad)
		}
	}
}

// TestJWTVerifierUnavailable: a key set that cannot be reached is not the
// token's fault, so it is reported as ErrUnavailable, not as invalid.
func TestJWTVerifierUnavailable(t *testing.T) {
	iss := tokentest.NewIssuer(t, testIssuer)
	v := newVerifier(t, nil, func(o *auth.JWTOptions) { o.KeySet = downKeySet{} })
	_, err := v.Verify(t.Context(), iss.Sign(t, iss.Claims(testResource, "", "read:users")))
	if !errors.Is(err, auth.ErrUnavailable) || errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("err = %v, want ErrUnavailable only", err)
	}
}

type downKeySet struct{}

func (downKeySet) VerifySignature(context.Context, string) ([]byte, error) {
	return nil, auth.ErrUnavailable
}
