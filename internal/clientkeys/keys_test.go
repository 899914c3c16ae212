package clientkeys_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/orgscope/orgscope/internal/clientkeys"
)

func publicJWK(t *testing.T, key any, edit func(map[string]any)) map[string]any {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	if edit != nil {
		edit(m)
	}
	return m
}

func set(keys ...map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

func TestParseSet(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	weakRSA, _ := rsa.GenerateKey(rand.Reader, 1024)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)

	good := set(publicJWK(t, &rsaKey.PublicKey, func(m map[string]any) { m["kid"], m["alg"], m["use"] = "r1", "RS256", "sig" }),
		publicJWK(t, &ecKey.PublicKey, nil), publicJWK(t, edPub, func(m map[string]any) { m["alg"] = "EdDSA" }))
	parsed, err := clientkeys.ParseSet(good)
	if err != nil {
		t.Fatalf("a good set: %v", err)
	}
	if len(parsed.Keys) != 3 || parsed.Keys[0].KeyID != "r1" || parsed.Keys[1].KeyID == "" {
		t.Fatalf("parsed: %+v", parsed.Keys)
	}
	// A key without a kid gets its thumbprint, as a key read by
	// ParsePrivateKey does.
	pemEC, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	private, err := clientkeys.ParsePrivateKey(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pemEC}))
	if err != nil || private.KeyID != parsed.Keys[1].KeyID {
		t.Errorf("thumbprint kid %q, private key's %q (%v)", parsed.Keys[1].KeyID, private.KeyID, err)
	}
	if got := clientkeys.KeyAlgorithms(parsed.Keys[0]); strings.Join(got, " ") != "RS256" {
		t.Errorf("a key pinned to RS256 allows %v", got)
	}
	if got := clientkeys.KeyAlgorithms(jose.JSONWebKey{Key: &rsaKey.PublicKey}); strings.Join(got, " ") != "RS256 PS256" {
		t.Errorf("an RSA key without alg allows %v", got)
	}

	many := make([]map[string]any, clientkeys.MaxKeys+1)
	for i := range many {
		many[i] = publicJWK(t, edPub, func(m map[string]any) { m["kid"] = fmt.Sprint(i) })
	}
	for _, tc := range []struct {
		name string
		raw  []byte
		want string
	}{
		{"not JSON", []byte("keys"), "not a JSON object"},
		{"two documents", append(append([]byte{}, good...), good...), "not a JSON object"},
		{"no key", []byte(`{"keys":[]}`), "holds no key"},
		{"too many keys", set(many...), "at most 10"},
		{"an RSA private key", set(publicJWK(t, rsaKey, nil)), "private key material"},
		{"an Ed25519 private key", set(publicJWK(t, edPriv, nil)), "private key material"},
		{"a symmetric key", set(map[string]any{"kty": "oct", "k": "c2VjcmV0"}), "symmetric"},
		{"HS256 on an RSA key", set(publicJWK(t, &rsaKey.PublicKey, func(m map[string]any) { m["alg"] = "HS256" })), `alg "HS256"`},
		{"none on an RSA key", set(publicJWK(t, &rsaKey.PublicKey, func(m map[string]any) { m["alg"] = "none" })), `alg "none"`},
		{"ES256 on an RSA key", set(publicJWK(t, &rsaKey.PublicKey, func(m map[string]any) { m["alg"] = "ES256" })), "does not fit"},
		{"RS512 (not allowed)", set(publicJWK(t, &rsaKey.PublicKey, func(m map[string]any) { m["alg"] = "RS512" })), `alg "RS512"`},
		{"a weak RSA key", set(publicJWK(t, &weakRSA.PublicKey, nil)), "1024 bits"},
		{"P-384", set(publicJWK(t, &p384.PublicKey, nil)), "P-384"},
		{"an encryption key", set(publicJWK(t, &ecKey.PublicKey, func(m map[string]any) { m["use"] = "enc" })), `use "enc"`},
		{"an unknown kty", set(map[string]any{"kty": "XYZ", "kid": "x"}), `key 1 (kid "x") is not a usable JWK`},
		{"duplicate kids", set(publicJWK(t, edPub, func(m map[string]any) { m["kid"] = "a" }),
			publicJWK(t, &ecKey.PublicKey, func(m map[string]any) { m["kid"] = "a" })), `two keys with kid "a"`},
		{"too large", []byte(`{"keys":[` + strings.Repeat(" ", clientkeys.MaxSetBytes) + `]}`), "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := clientkeys.ParseSet(tc.raw)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestCheckURI(t *testing.T) {
	for uri, ok := range map[string]bool{
		"https://agent.example/.well-known/jwks.json": true,
		"http://127.0.0.1:8081/jwks.json":             true,
		"http://localhost/jwks":                       true,
		"http://[::1]:9/jwks":                         true,
		"http://agent.example/jwks.json":              false,
		"https://user:pw@agent.example/jwks":          false,
		"https://agent.example/jwks#frag":             false,
		"/jwks.json":                                  false,
		"ftp://agent.example/jwks":                    false,
		"https://agent.example/" + strings.Repeat("a", clientkeys.MaxURILength): false,
	} {
		if err := clientkeys.CheckURI(uri); (err == nil) != ok {
			t.Errorf("CheckURI(%.60q) = %v, want ok %v", uri, err, ok)
		}
	}
}

// TestSignRoundTrip: a key read from PEM signs an assertion that its
// public set, as registered, verifies, with the claims asked for.
func TestSignRoundTrip(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	ecDER, _ := x509.MarshalECPrivateKey(ecKey)
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, alg string
		pem       []byte
	}{
		{"RSA PKCS #8, RS256", "", pkcs8(rsaKey)},
		{"RSA PKCS #1, PS256", "PS256", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})},
		{"EC SEC 1", "", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})},
		{"Ed25519 PKCS #8", "", pkcs8(edKey)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, err := clientkeys.ParsePrivateKey(tc.pem)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := clientkeys.PublicSet(key, tc.alg)
			if err != nil {
				t.Fatal(err)
			}
			set, err := clientkeys.ParseSet(raw)
			if err != nil {
				t.Fatalf("the printed set does not register: %v", err)
			}
			a, err := clientkeys.Sign(key, tc.alg, clientkeys.Assertion{ClientID: "c1", Audience: "https://as.example", Now: now, ID: "j1"})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := jwt.ParseSigned(a, []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256, jose.EdDSA})
			if err != nil {
				t.Fatal(err)
			}
			h := tok.Headers[0]
			if h.KeyID != set.Keys[0].KeyID || h.Algorithm != set.Keys[0].Algorithm || h.ExtraHeaders[jose.HeaderType] != clientkeys.HeaderType {
				t.Errorf("header %+v, registered key kid %q alg %q", h, set.Keys[0].KeyID, set.Keys[0].Algorithm)
			}
			var c jwt.Claims
			if err := tok.Claims(set.Keys[0].Key, &c); err != nil {
				t.Fatalf("the registered key does not verify: %v", err)
			}
			if c.Issuer != "c1" || c.Subject != "c1" || len(c.Audience) != 1 || c.Audience[0] != "https://as.example" || c.ID != "j1" ||
				!c.IssuedAt.Time().Equal(now) || !c.Expiry.Time().Equal(now.Add(clientkeys.DefaultLifetime)) {
				t.Errorf("claims %+v", c)
			}
		})
	}
	if _, err := clientkeys.ParsePrivateKey([]byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")); err == nil {
		t.Error("a public key was read as a private one")
	}
	key, _ := clientkeys.ParsePrivateKey(pkcs8(edKey))
	if _, err := clientkeys.Sign(key, "RS256", clientkeys.Assertion{ClientID: "c", Audience: "a"}); err == nil {
		t.Error("an Ed25519 key signed RS256")
	}
	if _, err := clientkeys.Sign(key.Public(), "", clientkeys.Assertion{ClientID: "c", Audience: "a"}); err == nil {
		t.Error("a public key signed")
	}
}
