package auth

import (
	"context"
	"errors"
	"fmt"
)

// Standing is what the records say, at the time of a call, of a token that
// descends from a person's grant.
type Standing struct {
	// Active is false when the token must be refused: its grant is
	// revoked, its person deleted or suspended, or a client of its actor
	// chain disabled, deleted or no longer allowed to act for people.
	Active bool
	// Why says what made it inactive, for the log (never sent).
	Why string
	// Bounds are the parties' limits on the token's scopes: the person's
	// role, and each acting client's allowed scopes.
	Bounds []Bound
}

// GrantCheck reads the standing of a principal whose token carries a grant
// id: one of the interactive flow, or one delegated from it.
type GrantCheck func(ctx context.Context, p *Principal) (Standing, error)

// NewRevocationVerifier wraps next so that every token carrying a grant id
// (tokens of the interactive flow, and those delegated from them) is
// checked against its grant, its person and its actors on every use —
// after any cache — so revoking the grant, suspending the person or
// disabling an acting client refuses it at once. The principal it returns
// carries the bounds the check read (a copy: the cached one is shared).
// Tokens without a grant id (client_credentials) pass unchecked. A check
// that fails is reported as ErrUnavailable: it is not the token's fault.
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
	st, err := v.check(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("%w: grant check: %v", ErrUnavailable, err)
	}
	if !st.Active {
		return nil, invalid(reasonRevoked, fmt.Errorf("grant %s: %w", p.GrantID, errors.New(st.Why)))
	}
	if len(st.Bounds) > 0 {
		bound := *p
		bound.Bounds = st.Bounds
		p = &bound
	}
	return p, nil
}
