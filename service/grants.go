package service

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/store"
)

// What acts for people: the grants they gave the clients they signed in
// with, and the tokens agents got from those grants by token exchange. A
// person sees and revokes their own; an administrator of the organization
// (a person whose role is admin, or a machine client given the scope)
// those of the organization; a global principal, and the operator, any.
// Revoking a grant ends the person's sign-in with that client and every
// token delegated from it, at the next call, on every replica (the
// resource server reads the grant at every call).

// GrantIDPattern is what a grant id looks like.
const GrantIDPattern = `^grt_[0-9a-f]{32}$`

var grantIDRE = regexp.MustCompile(GrantIDPattern)

// delegationsPerGrant bounds the delegated tokens shown with one grant.
const delegationsPerGrant = 20

// GrantInfo is a grant as OrgScope shows it, with what acts for the person
// through it.
type GrantInfo struct {
	GrantID    string     `json:"grant_id"`
	OrgCode    string     `json:"org_code"`
	UserID     string     `json:"user_id"`
	Email      string     `json:"email,omitempty"`
	ClientID   string     `json:"client_id" jsonschema:"The client the person signed in with and gave the grant to."`
	ClientName string     `json:"client_name,omitempty"`
	Scopes     []string   `json:"scopes" jsonschema:"What the person granted."`
	CreatedAt  time.Time  `json:"created_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty" jsonschema:"When it was revoked; absent while it stands."`
	// Delegations are the unexpired tokens agents got from the grant,
	// newest first: acting for the person while it stands (a listing shows
	// none for a revoked grant; a revocation, those that died with it).
	Delegations []DelegationInfo `json:"delegations" jsonschema:"The tokens agents got from this grant by token exchange that have not expired, newest first (at most 20); none for a revoked grant in a listing."`
	More        bool             `json:"more_delegations,omitempty" jsonschema:"True when more live delegated tokens exist than are shown."`
}

// DelegationInfo is one token an agent got by token exchange.
type DelegationInfo struct {
	TokenID    string    `json:"token_id"`
	ClientID   string    `json:"client_id" jsonschema:"The agent (client) the token was issued to."`
	ActorChain []string  `json:"actor_chain" jsonschema:"The agents acting for the person, the token's holder first, then the one it acts through, and so on."`
	Scopes     []string  `json:"scopes"`
	Purpose    string    `json:"purpose,omitempty"`
	IssuedAt   time.Time `json:"issued_at"`
	ExpiresAt  time.Time `json:"expires_at"`
}

func grantInfo(v store.GrantView) GrantInfo {
	g := v.Grant
	info := GrantInfo{GrantID: g.ID, OrgCode: g.OrgCode, UserID: g.UserID, Email: v.Email, ClientID: g.ClientID,
		ClientName: v.ClientName, Scopes: g.Scopes, CreatedAt: g.CreatedAt, Delegations: []DelegationInfo{}}
	if info.Scopes == nil {
		info.Scopes = []string{}
	}
	if g.Revoked() {
		info.RevokedAt = &g.RevokedAt
	}
	return info
}

// withDelegations adds the live delegated tokens of each grant; with
// standingOnly, of the grants not revoked (those of a revoked grant act
// for nobody any more).
func (s *Service) withDelegations(ctx context.Context, q store.Tx, grants []GrantInfo, standingOnly bool) error {
	var ids []string
	at := map[string]int{}
	for i, g := range grants {
		if !standingOnly || g.RevokedAt == nil {
			ids, at[g.GrantID] = append(ids, g.GrantID), i
		}
	}
	if len(ids) == 0 {
		return nil
	}
	ds, err := q.ListDelegations(ctx, ids, s.now(), delegationsPerGrant+1)
	if err != nil {
		return err
	}
	for _, d := range ds {
		g := &grants[at[d.GrantID]]
		if len(g.Delegations) == delegationsPerGrant {
			g.More = true
			continue
		}
		chain := d.ActorChain
		if chain == nil {
			chain = []string{}
		}
		g.Delegations = append(g.Delegations, DelegationInfo{TokenID: d.TokenID, ClientID: d.ClientID, ActorChain: chain,
			Scopes: d.Scopes, Purpose: d.Purpose, IssuedAt: d.CreatedAt, ExpiresAt: d.ExpiresAt})
	}
	return nil
}

// grantReach is whose grants a principal may see and revoke in an org: a
// person who is not an administrator their own only (self is their user
// id); anyone else every grant of the org.
func grantReach(ctx context.Context, q store.Tx, p *auth.Principal) (self string, err error) {
	if p.GrantID == "" || p.Global() {
		return "", nil // a machine client given the scope, a global principal, the operator
	}
	u, err := q.GetUser(ctx, p.OrgCode, p.Subject)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return p.Subject, nil
	case err != nil:
		return "", err
	case u.Role == store.RoleAdmin:
		return "", nil
	}
	return p.Subject, nil
}

// ListDelegationsInput selects a page of grants.
type ListDelegationsInput struct {
	OrgArg
	UserID         string `json:"user_id,omitempty" jsonschema:"Only this person's grants. A person who is not an administrator sees only their own."`
	Email          string `json:"email,omitempty" jsonschema:"Only the grants of the person with this email."`
	IncludeRevoked bool   `json:"include_revoked,omitempty" jsonschema:"List revoked grants too (default: only those that stand)."`
	Cursor         string `json:"cursor,omitempty" jsonschema:"The next_cursor of the previous page; omit for the first page."`
	Limit          int    `json:"limit,omitempty" jsonschema:"Grants per page, 1 to 100 (default 20)."`
}

// ListDelegationsOutput is a page of grants, oldest first.
type ListDelegationsOutput struct {
	Grants     []GrantInfo `json:"grants"`
	NextCursor string      `json:"next_cursor,omitempty" jsonschema:"Pass as cursor to get the next page; absent on the last page."`
}

// ListDelegations pages through the grants the principal may see, each
// with the live tokens agents got from it: a person's own; an
// administrator's organization's; a global principal's of the org it
// names, or of every org.
func (s *Service) ListDelegations(ctx context.Context, c Caller, in ListDelegationsInput) (ListDelegationsOutput, error) {
	op := &operation[ListDelegationsInput, ListDelegationsOutput]{
		name:        "list_delegations",
		org:         orgOf[ListDelegationsInput],
		orgOptional: func(*ListDelegationsInput) bool { return true },
		check: func(in *ListDelegationsInput) error {
			if err := checkLimit(in.Limit); err != nil {
				return err
			}
			if in.UserID != "" && !userIDRE.MatchString(in.UserID) {
				return invalid("user_id %q is not valid: user ids look like usr_ and 32 hex digits (list_users shows them)", in.UserID)
			}
			if in.Email != "" {
				var err error
				if in.Email, err = parseEmail(in.Email); err != nil {
					return err
				}
			}
			return checkCursor(in.Cursor)
		},
		do: func(ctx context.Context, q store.Tx, org string, in *ListDelegationsInput) (ListDelegationsOutput, error) {
			self, err := grantReach(ctx, q, c.Principal)
			if err != nil {
				return ListDelegationsOutput{}, err
			}
			filter := store.GrantFilter{UserID: in.UserID, Email: in.Email, IncludeRevoked: in.IncludeRevoked}
			if self != "" {
				if in.UserID != "" && in.UserID != self {
					return ListDelegationsOutput{}, &Error{Kind: KindDenied, Reason: "not_own",
						Message: "a person who is not an administrator sees only their own grants: omit user_id, or name your own"}
				}
				filter.UserID = self
			}
			views, next, err := q.ListGrants(ctx, org, filter, store.Page{Cursor: in.Cursor, Limit: in.Limit})
			if err != nil {
				return ListDelegationsOutput{}, err
			}
			out := ListDelegationsOutput{Grants: []GrantInfo{}, NextCursor: next}
			for _, v := range views {
				out.Grants = append(out.Grants, grantInfo(v))
			}
			return out, s.withDelegations(ctx, q, out.Grants, true)
		},
	}
	return run(ctx, s, c, op, in)
}

// RevokeDelegationInput names the grant to revoke.
type RevokeDelegationInput struct {
	OrgArg
	GrantID string `json:"grant_id" jsonschema:"The grant to revoke (list_delegations shows them). The person's sign-in with that client and every token delegated from it stop working at the next call."`
}

// RevokeDelegationOutput is the grant as revoked.
type RevokeDelegationOutput struct {
	Grant GrantInfo `json:"grant" jsonschema:"The grant, revoked, with the delegated tokens that died with it."`
	// AlreadyRevoked says nothing changed: it was revoked before.
	AlreadyRevoked bool `json:"already_revoked,omitempty"`
}

func grantNotFound(id string) *Error { return notFound("grant %q not found", id) }

// RevokeDelegation revokes a grant: the person's tokens of that sign-in
// and every token delegated from it are refused at their next call, on
// every replica. A person revokes their own; an administrator those of
// the organization; a global principal any (recorded in the grant's
// organization). Revoking a revoked grant changes nothing.
func (s *Service) RevokeDelegation(ctx context.Context, c Caller, in RevokeDelegationInput) (RevokeDelegationOutput, error) {
	op := &operation[RevokeDelegationInput, RevokeDelegationOutput]{
		name:        "revoke_delegation",
		write:       true,
		org:         orgOf[RevokeDelegationInput],
		orgOptional: func(*RevokeDelegationInput) bool { return true },
		target:      func(in *RevokeDelegationInput, _ *RevokeDelegationOutput) string { return in.GrantID },
		recordIn:    func(out *RevokeDelegationOutput) string { return out.Grant.OrgCode },
		check: func(in *RevokeDelegationInput) error {
			in.GrantID = strings.TrimSpace(in.GrantID)
			if !grantIDRE.MatchString(in.GrantID) {
				return invalid("grant_id %q is not valid: grant ids look like grt_ and 32 hex digits (list_delegations shows them)", in.GrantID)
			}
			return nil
		},
		do: func(ctx context.Context, q store.Tx, org string, in *RevokeDelegationInput) (RevokeDelegationOutput, error) {
			g, err := q.GetGrant(ctx, in.GrantID)
			switch {
			case errors.Is(err, store.ErrNotFound):
				return RevokeDelegationOutput{}, grantNotFound(in.GrantID)
			case err != nil:
				return RevokeDelegationOutput{}, err
			case org != "" && g.OrgCode != org:
				return RevokeDelegationOutput{}, grantNotFound(in.GrantID)
			}
			self, err := grantReach(ctx, q, c.Principal)
			if err != nil {
				return RevokeDelegationOutput{}, err
			}
			if self != "" && g.UserID != self {
				return RevokeDelegationOutput{}, grantNotFound(in.GrantID) // another person's: as if it did not exist
			}
			out := RevokeDelegationOutput{AlreadyRevoked: g.Revoked()}
			if !g.Revoked() {
				if err := q.RevokeGrant(ctx, g.ID); err != nil {
					return out, fmt.Errorf("revoke grant: %w", err)
				}
				if g, err = q.GetGrant(ctx, g.ID); err != nil {
					return out, err
				}
			}
			view := store.GrantView{Grant: g}
			if u, err := q.GetUser(ctx, g.OrgCode, g.UserID); err == nil {
				view.Email = u.Email
			}
			if cl, err := q.GetClient(ctx, g.ClientID); err == nil {
				view.ClientName = cl.Name
			}
			out.Grant = grantInfo(view)
			grants := []GrantInfo{out.Grant}
			err = s.withDelegations(ctx, q, grants, false)
			out.Grant = grants[0]
			return out, err
		},
	}
	return run(ctx, s, c, op, in)
}
