package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"

	"github.com/go-jose/go-jose/v4"
)

// Why a key set refused a signature. go-oidc flattens a key set's error to
// text (%v), so classify recognises these by their words.
var (
	errKeyAlgorithm = errors.New("the token's alg is not the algorithm of the key that would verify it")
	errNoKeyFits    = errors.New("no key of the issuer verifies the signature")
)

// KeyAllows reports whether key may verify a signature made with alg
// (RFC 8725 §3.1: each key is used with one algorithm). A key that names
// its algorithm (a JWK's "alg") allows exactly that one; a key that does
// not allows the algorithms of its type: RS* and PS* for RSA, the ES*
// of its curve for ECDSA, EdDSA for Ed25519. Nothing allows HMAC or none.
func KeyAllows(key jose.JSONWebKey, alg string) bool {
	if !slices.Contains(DefaultAlgorithms, alg) {
		return false
	}
	if key.Algorithm != "" {
		return key.Algorithm == alg
	}
	return slices.Contains(algorithmsOfKeyType(key.Key), alg)
}

func algorithmsOfKeyType(key any) []string {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return []string{"ES256"}
		case elliptic.P384():
			return []string{"ES384"}
		case elliptic.P521():
			return []string{"ES512"}
		}
	case ed25519.PublicKey:
		return []string{"EdDSA"}
	}
	return nil
}

// verifyWithKeys verifies jws with the keys that may: those whose kid is
// the token's when it names one (keys without a kid too, unless
// strictKid, as for a JWKS) and that KeyAllows the token's algorithm. It tells a token whose
// only candidate keys are pinned to another algorithm (errKeyAlgorithm)
// from one that no key verifies (errNoKeyFits).
func verifyWithKeys(jws *jose.JSONWebSignature, keys []jose.JSONWebKey, strictKid bool) ([]byte, error) {
	if len(jws.Signatures) != 1 {
		return nil, errors.New("want exactly one signature")
	}
	hdr := jws.Signatures[0].Header
	candidates, pinnedElsewhere := 0, 0
	for _, key := range keys {
		if hdr.KeyID != "" && key.KeyID != hdr.KeyID && (strictKid || key.KeyID != "") {
			continue
		}
		candidates++
		if !KeyAllows(key, hdr.Algorithm) {
			pinnedElsewhere++
			continue
		}
		if payload, err := jws.Verify(key.Key); err == nil {
			return payload, nil
		}
	}
	if candidates > 0 && pinnedElsewhere == candidates {
		return nil, fmt.Errorf("alg %q: %w", hdr.Algorithm, errKeyAlgorithm)
	}
	return nil, errNoKeyFits
}

// StaticKeySet is an oidc.KeySet over fixed public keys, each pinned to
// its algorithm by KeyAllows: unlike go-oidc's StaticKeySet, a key given
// as RS256 does not verify RS512 or PS256 signatures made with it. A key
// with a KeyID verifies only tokens naming that kid (or none); a key
// without one, any token.
type StaticKeySet struct {
	Keys []jose.JSONWebKey
}

// NewStaticKeySet returns a key set of keys pinned to alg or, with alg
// empty, to their key types.
func NewStaticKeySet(alg string, keys ...crypto.PublicKey) *StaticKeySet {
	s := &StaticKeySet{Keys: make([]jose.JSONWebKey, len(keys))}
	for i, k := range keys {
		s.Keys[i] = jose.JSONWebKey{Key: k, Algorithm: alg, Use: "sig"}
	}
	return s
}

// VerifySignature implements oidc.KeySet.
func (s *StaticKeySet) VerifySignature(_ context.Context, token string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(token, allowedJOSEAlgorithms)
	if err != nil {
		return nil, fmt.Errorf("malformed jws: %v", err)
	}
	return verifyWithKeys(jws, s.Keys, false)
}
