package tokentest

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Issuer signs tokens with its own RSA key.
type Issuer struct {
	URL string
	Key *rsa.PrivateKey
	KID string
}

// NewIssuer returns an issuer with a fresh RSA-2048 key.
func NewIssuer(tb testing.TB, url string) *Issuer {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	return &Issuer{URL: url, Key: key, KID: "test-key"}
}

// PublicKey returns the verification key.
func (i *Issuer) PublicKey() crypto.PublicKey { return i.Key.Public() }

// Claims returns a valid claim set for an access token of aud, org-scoped
// to org (empty for a global token), with the given scope.
func (i *Issuer) Claims(aud, org, scope string) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss":       i.URL,
		"sub":       "client-1",
		"aud":       []string{aud},
		"exp":       now.Add(time.Hour).Unix(),
		"iat":       now.Unix(),
		"jti":       "jti-1",
		"client_id": "client-1",
		"scope":     scope,
		"gty":       []string{"client_credentials"},
	}
	if org != "" {
		c["org_code"] = org
	}
	return c
}

// Sign signs claims with RS256 and typ at+jwt.
func (i *Issuer) Sign(tb testing.TB, claims map[string]any) string {
	return i.SignWith(tb, map[string]any{"typ": "at+jwt"}, claims)
}

// SignWith signs claims with RS256 and the given extra header fields
// (typ, kid, ...). A nil typ leaves typ out.
func (i *Issuer) SignWith(tb testing.TB, header, claims map[string]any) string {
	tb.Helper()
	opts := &jose.SignerOptions{}
	for k, v := range header {
		if v != nil {
			opts.WithHeader(jose.HeaderKey(k), v)
		}
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: i.Key, KeyID: i.KID}}, opts)
	if err != nil {
		tb.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// Unsigned returns claims as an alg "none" token.
func Unsigned(claims map[string]any) string {
	return compact(map[string]any{"alg": "none", "typ": "at+jwt"}, claims) + "."
}

// HS256WithPublicKey signs claims with HMAC keyed by the PEM of the issuer's
// public key: the classic algorithm-confusion forgery.
func (i *Issuer) HS256WithPublicKey(claims map[string]any) string {
	der, _ := x509.MarshalPKIXPublicKey(i.Key.Public())
	key := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	signingInput := compact(map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": i.KID}, claims)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(signingInput))
	return signingInput + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// Tamper changes one claim of a signed token without re-signing it.
func Tamper(tb testing.TB, token, claim string, value any) string {
	tb.Helper()
	parts := strings.Split(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		tb.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		tb.Fatal(err)
	}
	claims[claim] = value
	b, _ := json.Marshal(claims)
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

func compact(header, claims map[string]any) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
}
