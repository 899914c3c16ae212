package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// LiveKeySet is an oidc.KeySet over keys that change while it is in use:
// the embedded issuer's, which rotate and may be retired at any moment.
// Every verification asks Keys for the keys to trust now, so the resource
// server trusts exactly what the issuer publishes at that instant. A token
// must name its key (kid), and the key must allow its algorithm
// (KeyAllows: each key is pinned to the alg it carries).
type LiveKeySet struct {
	// Keys returns the keys to trust now. It is called on every
	// verification and by Guard on every call, so it must be cheap (the
	// embedded issuer's is a lookup in memory); the slice is not changed.
	Keys func() []jose.JSONWebKey
}

// errKeyNotTrusted: the token names no key of the set, or one no longer
// in it.
var errKeyNotTrusted = errors.New("the token's signing key is not one the issuer publishes")

// VerifySignature implements oidc.KeySet.
func (s *LiveKeySet) VerifySignature(_ context.Context, token string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(token, allowedJOSEAlgorithms)
	if err != nil {
		return nil, fmt.Errorf("malformed jws: %v", err)
	}
	if len(jws.Signatures) != 1 || jws.Signatures[0].Header.KeyID == "" {
		return nil, fmt.Errorf("kid: %w", errKeyNotTrusted)
	}
	return verifyWithKeys(jws, s.Keys(), true)
}

// Trusts reports whether kid names a key of the set now.
func (s *LiveKeySet) Trusts(kid string) bool {
	if kid == "" {
		return false
	}
	for _, k := range s.Keys() {
		if k.KeyID == kid {
			return true
		}
	}
	return false
}

// Guard wraps next (a verifier that may remember tokens, such as a
// CachingVerifier) so that a principal whose token was signed by a key the
// set no longer holds is refused at once, remembered or not: retiring a
// key takes effect at the next call.
func (s *LiveKeySet) Guard(next Verifier) Verifier {
	return keyGuard{next: next, keys: s}
}

type keyGuard struct {
	next Verifier
	keys *LiveKeySet
}

func (g keyGuard) Verify(ctx context.Context, token string) (*Principal, error) {
	p, err := g.next.Verify(ctx, token)
	if err != nil {
		return nil, err
	}
	if !g.keys.Trusts(p.KeyID) {
		return nil, invalid(reasonSignature, fmt.Errorf("kid %q: %w", p.KeyID, errKeyNotTrusted))
	}
	return p, nil
}
