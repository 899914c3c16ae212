package auth

import (
	"context"
	"fmt"
)

// GrantCheck reports whether the grant a principal's token descends from
// still stands (not revoked, its user still active).
type GrantCheck func(ctx context.Context, p *Principal) (active bool, err error)

// NewRevocationVerifier wraps next so that every token carrying a grant id
// (tokens of the interactive flow) is checked against its grant on every
// use — after any cache — so revoking a grant revokes its access tokens at
// once. Tokens without a grant id (client_credentials) pass unchecked. A
// check that fails is reported as ErrUnavailable: it is not the token's
// fault.
func NewRevocationVerifier(next Verifier, check GrantCheck) Verifier {
	return revocationVerifier{next: next, check: check}
}

type revocationVerifier struct {
	next  Verifier
	check GrantCheck
}

func (v revocationVerifier) Verify(ctx context.Context, token string) (*Principal, error) {
	p, err := v.next.Verify(ctx, token)
	if err != nil || p.GrantID == "" {
		return p, err
	}
	active, err := v.check(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("%w: grant check: %v", ErrUnavailable, err)
	}
	if !active {
		return nil, invalid(reasonRevoked, fmt.Errorf("grant %s", p.GrantID))
	}
	return p, nil
}
