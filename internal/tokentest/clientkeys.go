package tokentest

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// ClientKey returns a fresh private key for alg (RS256, PS256, ES256 or
// EdDSA) as a JWK pinned to alg, with kid: a machine client's key for
// signing its assertions (private_key_jwt).
func ClientKey(tb testing.TB, alg, kid string) jose.JSONWebKey {
	tb.Helper()
	var k any
	var err error
	switch alg {
	case "RS256", "PS256":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil || k == nil {
		tb.Fatalf("generate a %s key: %v", alg, err)
	}
	return jose.JSONWebKey{Key: k, KeyID: kid, Algorithm: alg, Use: "sig"}
}

// PublicJWKS is the JWKS of keys' public halves, each pinned to its alg.
func PublicJWKS(tb testing.TB, keys ...jose.JSONWebKey) json.RawMessage {
	tb.Helper()
	set := jose.JSONWebKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.Public())
	}
	b, err := json.Marshal(set)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
