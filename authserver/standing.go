package authserver

import (
	"context"
	"errors"
	"fmt"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authz"
	"github.com/orgscope/orgscope/store"
)

// Standing reads what the records say, now, of a token that descends from
// a person's grant: whether it still stands, and the bounds on its scopes.
// It stands while the grant exists unrevoked for that organization and
// person, the person exists and is active, and every client of its actor
// chain (a delegated token's acting clients, the current one first) exists,
// is enabled, may still act for people and belongs to the person's
// organization. The bounds are the person's role and each actor's allowed
// scopes.
//
// The resource server calls it (through cmd) for every call of such a
// token, after the verified-token cache, so that revoking a grant (on code
// replay, refresh reuse, revocation, by the person or an administrator),
// a person's suspension or deletion, or disabling an agent takes effect at
// once on every replica. The token endpoint calls it for the subject token
// of an exchange, and introspection for the token it is asked about.
func (s *Server) Standing(ctx context.Context, grantID, orgCode, userID string, actors []string) (auth.Standing, error) {
	inactive := func(format string, a ...any) (auth.Standing, error) {
		return auth.Standing{Why: fmt.Sprintf(format, a...)}, nil
	}
	g, err := s.opts.Store.GetGrant(ctx, grantID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return inactive("grant %s does not exist", grantID)
	case err != nil:
		return auth.Standing{}, err
	case g.Revoked():
		return inactive("grant %s was revoked", grantID)
	case g.OrgCode != orgCode || g.UserID != userID:
		return inactive("grant %s is another person's", grantID)
	}
	u, err := s.opts.Store.GetUser(ctx, orgCode, userID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return inactive("user %s no longer exists", userID)
	case err != nil:
		return auth.Standing{}, err
	case u.Status != store.UserActive:
		return inactive("user %s is %s", userID, u.Status)
	}
	st := auth.Standing{Active: true, Bounds: []auth.Bound{{Party: auth.BoundRole, Name: string(u.Role), Scopes: authz.RoleScopes(string(u.Role))}}}
	for _, id := range actors {
		c, err := s.opts.Store.GetClient(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return inactive("acting client %s no longer exists", id)
		case err != nil:
			return auth.Standing{}, err
		case !mayActFor(c, orgCode):
			return inactive("acting client %s is disabled, no longer a delegate, or not of %s", id, orgCode)
		}
		st.Bounds = append(st.Bounds, auth.Bound{Party: auth.BoundClient, Name: c.ID, Scopes: c.Scopes})
	}
	return st, nil
}

// mayActFor reports whether c may act for the people of org: an enabled
// machine client of that organization, allowed to by an administrator
// (clients create|update --delegate).
func mayActFor(c store.Client, org string) bool {
	return c.Kind == store.ClientMachine && c.Delegate && !c.Disabled() && c.OrgCode != "" && c.OrgCode == org
}
