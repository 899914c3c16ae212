package auth

import (
	"context"
	"errors"
	"fmt"
)

// NewIssuerRouter returns a verifier that hands each JWT to the verifier of
// its issuer: the one server under several names (a loopback server is
// 127.0.0.1, localhost and ::1 alike), each name issuing tokens for its own
// resource. The unverified iss only chooses the verifier, which then checks
// everything, iss included. A token of no known issuer is refused.
func NewIssuerRouter(byIssuer map[string]Verifier) Verifier {
	return issuerRouter(byIssuer)
}

type issuerRouter map[string]Verifier

func (r issuerRouter) Verify(ctx context.Context, token string) (*Principal, error) {
	iss, ok := unverifiedIssuer(token)
	if !ok {
		return nil, invalid(reasonMalformed, errors.New("no iss in a compact JWT"))
	}
	v, ok := r[iss]
	if !ok {
		return nil, invalid(reasonIssuer, fmt.Errorf("iss %q", iss))
	}
	return v.Verify(ctx, token)
}
