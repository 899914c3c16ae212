package auth

import (
	"context"
	"errors"
	"slices"
	"time"

	mcpauth "github.com/modelcontextprotocol/go-sdk/auth"
)

// Principal is who a verified access token speaks for. Tools act for it and
// for nobody else: an org-scoped principal (OrgCode set) reaches its own
// organization only; a global principal (OrgCode empty, like Kinde's global
// machine-to-machine apps) administers across organizations.
//
// A Principal is shared between concurrent requests once verified; treat it
// as read-only.
type Principal struct {
	Issuer   string
	Subject  string
	ClientID string
	// OrgCode is the tenant the token is bound to; empty for global tokens.
	OrgCode string
	// Scopes are the scopes the token carries, as issued (see Has for the
	// hierarchy).
	Scopes    []string
	TokenID   string
	GrantType string
	IssuedAt  time.Time
	Expiry    time.Time
	// GrantID names the grant an interactive token descends from (empty for
	// client_credentials tokens); revoking the grant revokes the token.
	GrantID string
	// ActorChain lists who acts for Subject when the token was delegated
	// (RFC 8693 act): the current actor first, then the one it acts for,
	// and so on — the outermost act first. Each is the actor's client_id,
	// or its sub when it names no client. Empty when the subject acts
	// itself.
	ActorChain []string
	// Purpose is what a delegated token was issued for, when it says.
	Purpose string
	// Bounds are the limits the records set on this principal when the
	// call arrived (the person's role, the acting clients' allowed
	// scopes); nil when none apply. A verifier that reads them returns a
	// copy of the cached principal carrying them.
	Bounds []Bound
	// KeyID is the kid of the key that signed the token, when it named one.
	KeyID string
	// Properties are the client's application properties, from the
	// token's application_properties claim (Kinde's {"name":{"v":"…"}}, or
	// plain strings).
	Properties map[string]string
	// PersonRole is the role (admin, member) of the person Subject names,
	// when the resource server knows it: it is filled in for tokens of the
	// embedded issuer's sign-in, from the store. Empty otherwise.
	PersonRole string
}

// Global reports whether the principal is not bound to an organization.
func (p *Principal) Global() bool { return p.OrgCode == "" }

// Has reports whether the principal may do what needs scope.
func (p *Principal) Has(scope string) bool { return Grants(p.Scopes, scope) }

// Key identifies the principal stably across token refreshes: issuer,
// organization, subject and client. The go-sdk binds sessions to it.
func (p *Principal) Key() string {
	return p.Issuer + "|" + p.OrgCode + "|" + p.Subject + "|" + p.ClientID
}

// tokenInfoKey is the TokenInfo.Extra key under which the principal travels.
const tokenInfoKey = "orgscope.principal"

// TokenInfo converts the principal to the go-sdk's TokenInfo, with a
// non-empty UserID so that any session the SDK keeps is bound to it.
func (p *Principal) TokenInfo() *mcpauth.TokenInfo {
	return &mcpauth.TokenInfo{
		Scopes:     slices.Clone(p.Scopes),
		Expiration: p.Expiry,
		UserID:     p.Key(),
		Extra:      map[string]any{tokenInfoKey: p},
	}
}

// ErrNoPrincipal is returned by PrincipalFrom when a request carries no
// verified principal: the endpoint was reached without the middleware.
var ErrNoPrincipal = errors.New("auth: request has no verified principal")

// PrincipalFrom returns the principal of a tool call. Tools call it with
// req.Extra.TokenInfo, which the go-sdk fills per request (unlike
// TokenInfoFromContext, which is stale in stateful sessions).
func PrincipalFrom(ti *mcpauth.TokenInfo) (*Principal, error) {
	if ti == nil {
		return nil, ErrNoPrincipal
	}
	p, ok := ti.Extra[tokenInfoKey].(*Principal)
	if !ok || p == nil {
		return nil, ErrNoPrincipal
	}
	return p, nil
}

type principalCtxKey struct{}

// WithPrincipal returns a context carrying p, for HTTP handlers behind the
// middleware.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalCtxKey{}, p)
}

// PrincipalFromContext returns the principal the middleware verified, or nil.
func PrincipalFromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalCtxKey{}).(*Principal)
	return p
}
