package auth_test

import (
	"context"
	"crypto"
	"errors"
	"strconv"
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

// TestJWTVerifierTimes: one clock skew (30 s by default) for exp, nbf and
// iat, and numeric dates that are JSON numbers.
func TestJWTVerifierTimes(t *testing.T) {
	iss := tokentest.NewIssuer(t, testIssuer)
	keys := []crypto.PublicKey{iss.PublicKey()}
	now := time.Now()
	v := newVerifier(t, keys, func(o *auth.JWTOptions) { o.Now = func() time.Time { return now } })
	strict := newVerifier(t, keys, func(o *auth.JWTOptions) { o.Now = func() time.Time { return now }; o.ClockSkew = -1 })
	with := func(kv ...any) string {
		c := iss.Claims(testResource, "org_acme", "read:users")
		for i := 0; i < len(kv); i += 2 {
			c[kv[i].(string)] = kv[i+1]
		}
		return iss.Sign(t, c)
	}
	at := func(d time.Duration) int64 { return now.Add(d).Unix() }

	accepted := []struct {
		name  string
		token string
	}{
		{"iat now", with("iat", at(0))},
		{"iat within the skew", with("iat", at(20*time.Second))},
		{"nbf within the skew", with("nbf", at(20*time.Second))},
		{"nbf past", with("nbf", at(-time.Hour))},
		{"fractional dates", with("iat", float64(at(0))+0.5, "nbf", float64(at(-time.Minute))+0.25)},
		{"no iat, no nbf", func() string {
			c := iss.Claims(testResource, "org_acme", "read:users")
			delete(c, "iat")
			return iss.Sign(t, c)
		}()},
	}
	for _, tt := range accepted {
		if _, err := v.Verify(t.Context(), tt.token); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
	}

	refused := []struct {
		name, token, reason string
	}{
		{"iat an hour ahead", with("iat", at(time.Hour)), "issued in the future"},
		{"iat just past the skew", with("iat", at(40*time.Second)), "issued in the future"},
		// go-oidc allows nbf five minutes early; 270 s early passed before.
		{"nbf 270 s ahead", with("nbf", at(270*time.Second)), "not valid yet"},
		{"nbf just past the skew", with("nbf", at(40*time.Second)), "not valid yet"},
		{"exp a string", with("exp", strconv.FormatInt(at(time.Hour), 10)), "JSON numbers"},
		{"iat a string", with("iat", strconv.FormatInt(at(0), 10)), "JSON numbers"},
		{"nbf a string", with("nbf", strconv.FormatInt(at(-time.Hour), 10)), "JSON numbers"},
		{"exp null", with("exp", nil), ""},
		{"iat null", with("iat", nil), ""},
		{"nbf a boolean", with("nbf", true), ""},
		{"iat an object", with("iat", map[string]any{"s": 1}), ""},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(t.Context(), tt.token)
			wantRefused(t, err, tt.reason)
		})
	}

	// With no skew, what the skew allowed is refused.
	for _, token := range []string{with("iat", at(20*time.Second)), with("nbf", at(20*time.Second))} {
		if _, err := strict.Verify(t.Context(), token); !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("accepted ahead of time with no skew: %v", err)
		}
	}
}

// TestJWTVerifierRequireClaims: the embedded issuer's tokens always carry
// jti, sub and client_id; one without is not its token. Without the
// option (external issuers) the same tokens pass.
func TestJWTVerifierRequireClaims(t *testing.T) {
	iss := tokentest.NewIssuer(t, testIssuer)
	keys := []crypto.PublicKey{iss.PublicKey()}
	embedded := newVerifier(t, keys, func(o *auth.JWTOptions) { o.RequireClaims = []string{"jti", "sub", "client_id"} })
	tolerant := newVerifier(t, keys, nil)

	if _, err := embedded.Verify(t.Context(), iss.Sign(t, iss.Claims(testResource, "org_acme", "read:users"))); err != nil {
		t.Fatalf("a complete token: %v", err)
	}
	for _, claim := range []string{"jti", "sub", "client_id"} {
		for name, edit := range map[string]func(map[string]any){
			"absent": func(c map[string]any) { delete(c, claim) },
			"empty":  func(c map[string]any) { c[claim] = "" },
			"number": func(c map[string]any) { c[claim] = 7 },
		} {
			c := iss.Claims(testResource, "org_acme", "read:users")
			edit(c)
			token := iss.Sign(t, c)
			_, err := embedded.Verify(t.Context(), token)
			if name == "number" { // go-oidc may find it malformed first
				wantRefused(t, err, "")
				continue
			}
			wantRefused(t, err, "lacks a claim its issuer always sets: "+claim)
			if name == "absent" {
				if _, err := tolerant.Verify(t.Context(), token); err != nil {
					t.Errorf("without RequireClaims, a token without %s: %v", claim, err)
				}
			}
		}
	}
	if _, err := auth.NewJWTVerifier(auth.JWTOptions{Issuer: testIssuer, Audience: testResource,
		KeySet: &oidc.StaticKeySet{}, RequireClaims: []string{""}}); err == nil {
		t.Error("RequireClaims with an empty name accepted")
	}
}

// TestJWTVerifierAudienceNotURL: Entra ID's app ID URI (api://…) and, for
// verifiers that allow it, a plain client id are audiences too, compared
// byte for byte; http(s) audiences keep the normalising rule.
func TestJWTVerifierAudienceNotURL(t *testing.T) {
	iss := tokentest.NewIssuer(t, testIssuer)
	keys := []crypto.PublicKey{iss.PublicKey()}
	tokenFor := func(aud any) string {
		c := iss.Claims(testResource, "org_acme", "read:users")
		c["aud"] = aud
		return iss.Sign(t, c)
	}
	const appIDURI = "api://6e74172b-be56-4843-9ff4-e66a39bb12e3"
	const clientID = "6e74172b-be56-4843-9ff4-e66a39bb12e3"

	entra := newVerifier(t, keys, func(o *auth.JWTOptions) { o.Audience = appIDURI })
	if _, err := entra.Verify(t.Context(), tokenFor(appIDURI)); err != nil {
		t.Errorf("aud %s: %v", appIDURI, err)
	}
	if _, err := entra.Verify(t.Context(), tokenFor([]string{"https://graph.microsoft.com", appIDURI})); err != nil {
		t.Errorf("aud list with %s: %v", appIDURI, err)
	}
	for _, aud := range []string{"API://6e74172b-be56-4843-9ff4-e66a39bb12e3", appIDURI + "/", clientID, testResource} {
		_, err := entra.Verify(t.Context(), tokenFor(aud))
		wantRefused(t, err, "audience")
	}

	plain := newVerifier(t, keys, func(o *auth.JWTOptions) { o.Audience = clientID; o.PlainAudience = true })
	if _, err := plain.Verify(t.Context(), tokenFor(clientID)); err != nil {
		t.Errorf("aud %s: %v", clientID, err)
	}
	_, err := plain.Verify(t.Context(), tokenFor(strings.ToUpper(clientID)))
	wantRefused(t, err, "audience")

	urn := newVerifier(t, keys, func(o *auth.JWTOptions) { o.Audience = "urn:orgscope:mcp" })
	if _, err := urn.Verify(t.Context(), tokenFor("urn:orgscope:mcp")); err != nil {
		t.Errorf("aud urn: %v", err)
	}

	for _, tt := range []struct {
		aud   string
		plain bool
	}{
		{clientID, false},
		{"", true},
		{"api://app#frag", true},
		{"https://#x", true},
		{"https:///mcp", true},
		{"client id", true},
		{"client\x00id", true},
		{"orgscope.example.com/mcp", true},
	} {
		opts := auth.JWTOptions{Issuer: testIssuer, Audience: tt.aud, PlainAudience: tt.plain, KeySet: &oidc.StaticKeySet{}}
		if _, err := auth.NewJWTVerifier(opts); err == nil {
			t.Errorf("audience %q (plain %v) accepted", tt.aud, tt.plain)
		}
	}
}
