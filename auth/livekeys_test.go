package auth_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/internal/tokentest"
)

// liveKeys is a key source a test changes while a verifier uses it.
type liveKeys struct {
	mu   sync.Mutex
	keys []jose.JSONWebKey
}

func (l *liveKeys) get() []jose.JSONWebKey {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.keys
}

func (l *liveKeys) set(keys ...jose.JSONWebKey) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.keys = keys
}

// TestLiveKeySet: the verifier trusts what the source holds at each call —
// a key added later verifies, a key removed stops verifying even for a
// token the cache remembers — and each key only with its own algorithm.
func TestLiveKeySet(t *testing.T) {
	iss := tokentest.NewIssuer(t, testIssuer)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey := jose.JSONWebKey{Key: iss.PublicKey(), KeyID: "rsa", Algorithm: "RS256", Use: "sig"}
	ecKey := jose.JSONWebKey{Key: ec.Public(), KeyID: "ec", Algorithm: "ES256", Use: "sig"}
	edKey := jose.JSONWebKey{Key: ed.Public(), KeyID: "ed", Algorithm: "EdDSA", Use: "sig"}

	src := &liveKeys{}
	src.set(rsaKey)
	set := &auth.LiveKeySet{Keys: src.get}
	jwtVerifier := newVerifier(t, nil, func(o *auth.JWTOptions) { o.KeySet = set })
	v := set.Guard(auth.NewCachingVerifier(jwtVerifier, nil))
	claims := iss.Claims(testResource, "org_acme", "read:users")
	byRSA := signAs(t, jose.RS256, iss.Key, "rsa", claims)
	byEC := signAs(t, jose.ES256, ec, "ec", claims)
	byEd := signAs(t, jose.EdDSA, ed, "ed", claims)

	p, err := v.Verify(t.Context(), byRSA)
	if err != nil || p.KeyID != "rsa" {
		t.Fatalf("RS256 token: %+v, %v", p, err)
	}
	_, err = v.Verify(t.Context(), byEC)
	wantRefused(t, err, "signature")

	src.set(ecKey, edKey, rsaKey) // a rotation publishes two more keys
	for name, token := range map[string]string{"ES256": byEC, "EdDSA": byEd, "RS256": byRSA} {
		if _, err := v.Verify(t.Context(), token); err != nil {
			t.Errorf("%s token once its key is published: %v", name, err)
		}
	}

	src.set(ecKey, edKey) // the RSA key retired: its remembered token too
	_, err = v.Verify(t.Context(), byRSA)
	wantRefused(t, err, "signature")

	// A token naming the EC key's kid but signed by another algorithm, and
	// a token without a kid, are refused.
	_, err = v.Verify(t.Context(), signAs(t, jose.EdDSA, ed, "ec", claims))
	wantRefused(t, err, "algorithm")
	_, err = v.Verify(t.Context(), signAs(t, jose.ES256, ec, "", claims))
	wantRefused(t, err, "signature")
	if set.Trusts("") || set.Trusts("rsa") || !set.Trusts("ec") {
		t.Error("Trusts does not follow the source")
	}
}
