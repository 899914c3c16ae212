package authserver

import (
	"cmp"
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/store"
)

// maxFormBytes bounds a token request body.
const maxFormBytes = 64 << 10

// tokenResponse is RFC 6749 §5.1.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	// IssuedTokenType is RFC 8693 §2.2.1's, in token exchange answers.
	IssuedTokenType string `json:"issued_token_type,omitempty"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int    `json:"expires_in"`
	Scope           string `json:"scope"`
	RefreshToken    string `json:"refresh_token,omitempty"`
}

// handleToken is the token endpoint (RFC 6749 §3.2).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	resp, oerr := s.token(r)
	if oerr != nil {
		s.log.InfoContext(r.Context(), "token refused", "error", oerr.code, "description", oerr.description)
		writeOAuthError(w, oerr)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) token(r *http.Request) (*tokenResponse, *oauthError) {
	if r.Method != http.MethodPost {
		return nil, errMethod("OPTIONS, POST")
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		return nil, errInvalidRequest("the body must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return nil, errInvalidRequest("the form could not be parsed")
	}
	for name, values := range r.PostForm {
		// RFC 6749 §3.2: parameters must not repeat; RFC 8707 lets
		// resource repeat.
		if len(values) > 1 && name != "resource" {
			return nil, errInvalidRequest("a parameter other than resource is repeated")
		}
	}
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "client_credentials":
		return s.clientCredentialsGrant(r)
	case "authorization_code":
		return s.authorizationCodeGrant(r)
	case "refresh_token":
		return s.refreshTokenGrant(r)
	case GrantTypeTokenExchange:
		return s.tokenExchangeGrant(r)
	case "":
		return nil, errInvalidRequest("grant_type is required")
	default:
		return nil, errUnsupportedGrant("this grant_type is not supported; use client_credentials, authorization_code, " +
			"refresh_token or " + GrantTypeTokenExchange)
	}
}

// clientCredentialsGrant is RFC 6749 §4.4 for machine clients.
func (s *Server) clientCredentialsGrant(r *http.Request) (*tokenResponse, *oauthError) {
	ctx := r.Context()
	cred, oerr := readClientCredentials(r)
	if oerr != nil {
		return nil, oerr
	}
	if cred.id != "" && cred.secret == "" && cred.assertion == nil {
		// A public client has no secret: its client_id is all it presents.
		// Known as such, it is refused for the grant, not for its
		// authentication.
		if c, err := s.interactiveClient(ctx, cred.id); err == nil && c.public() {
			return nil, errUnauthorizedClient("a public client may not use client_credentials")
		}
	}
	client, oerr := s.authenticateClient(ctx, cred)
	if oerr != nil {
		return nil, oerr
	}
	if client.Kind != store.ClientMachine || !slices.Contains(client.GrantTypes, "client_credentials") {
		return nil, errUnauthorizedClient("this client may not use client_credentials")
	}
	aud, oerr := s.audience(r)
	if oerr != nil {
		return nil, oerr
	}
	scopes := client.Scopes
	if r.PostForm.Has("scope") {
		scopes = auth.Narrow(client.Scopes, auth.ParseScopes(r.PostForm.Get("scope")))
		if len(scopes) == 0 {
			return nil, errInvalidScope("none of the requested scopes is allowed for this client (allowed: " +
				strings.Join(client.Scopes, " ") + ")")
		}
	}

	// The client's own lifetime, when it has one, within the server's.
	ttl := s.opts.TokenTTL
	if client.TokenTTL > 0 && client.TokenTTL < ttl {
		ttl = client.TokenTTL
	}
	issued, oerr := s.issueTime(ctx, client)
	if oerr != nil {
		return nil, oerr
	}
	token, _, oerr := s.mint(ctx, accessClaims{
		Subject:    client.ID,
		ClientID:   client.ID,
		OrgCode:    client.OrgCode,
		Audience:   aud,
		Scopes:     scopes,
		GrantType:  "client_credentials",
		Properties: client.Properties,
		TTL:        ttl,
		IssuedAt:   issued,
	})
	if oerr != nil {
		return nil, oerr
	}
	s.touch(ctx, client.ID, client.LastUsedAt)
	s.log.InfoContext(ctx, "token issued", "grant_type", "client_credentials", "client_id", client.ID,
		"org_code", client.OrgCode, "scope", strings.Join(scopes, " "), "expires_in", int(ttl/time.Second))
	return &tokenResponse{
		AccessToken: token,
		TokenType:   "Bearer",
		ExpiresIn:   int(ttl / time.Second),
		Scope:       strings.Join(scopes, " "),
	}, nil
}

// issueTime is when a token for the client is issued: now, once the second
// of the client's cutoff (if it has one) is over. The resource servers
// refuse every token of that second, iat having whole seconds, so a client
// enabled again within it waits for the next second — at most a second —
// rather than get a token that would be refused. (Dating the token ahead
// instead would let it outlive a cutoff made before its date.) A cutoff
// still ahead of this clock after the wait is answered with a retry.
func (s *Server) issueTime(ctx context.Context, client store.Client) (time.Time, *oauthError) {
	cutoff := client.Cutoff // read with the client, a moment ago
	if cutoff.IsZero() {
		return s.opts.Now(), nil
	}
	past := func() (time.Time, bool) {
		now := s.opts.Now()
		return now, now.Truncate(time.Second).After(cutoff)
	}
	now, ok := past()
	if ok {
		return now, nil
	}
	t := time.NewTimer(min(time.Second, cutoff.Truncate(time.Second).Add(time.Second).Sub(now)))
	defer t.Stop()
	select {
	case <-t.C:
		if now, ok := past(); ok {
			return now, nil
		}
	case <-ctx.Done():
	}
	return time.Time{}, &oauthError{status: http.StatusServiceUnavailable, code: "temporarily_unavailable", retryAfter: 1,
		description: "this client was cut off a moment ago; retry in a second"}
}

// touch records that a client got a token, cheaply: not at all when the
// use it read with the client (lastUsed) is less than store.TouchInterval
// old, and otherwise with a statement that writes only if no other replica
// has recorded one in the meantime. A failure is logged: the token stands.
func (s *Server) touch(ctx context.Context, clientID string, lastUsed time.Time) {
	now := s.opts.Now()
	if !lastUsed.IsZero() && now.Sub(lastUsed) < store.TouchInterval {
		return
	}
	if err := s.opts.Store.TouchClient(ctx, clientID, now); err != nil {
		s.log.WarnContext(ctx, "record client use", "client_id", clientID, "err", err)
	}
}

// audience resolves the requested audience: RFC 8707 resource, or Kinde's
// audience parameter, must name this server's resource (under the same
// comparison the resource server applies); absent, it defaults to it.
func (s *Server) audience(r *http.Request) (string, *oauthError) {
	requested := append(r.PostForm["resource"], r.PostForm["audience"]...)
	for _, a := range requested {
		if !auth.ResourceMatches([]string{a}, s.resourceOf(r.Context())) {
			return "", errInvalidTarget("this server issues tokens only for " + s.resourceOf(r.Context()))
		}
	}
	return s.resourceOf(r.Context()), nil
}

// accessClaims is what goes into an access token besides the registered
// claims.
type accessClaims struct {
	Subject, ClientID, OrgCode, Audience string
	Scopes                               []string
	GrantType                            string
	GrantID                              string
	Properties                           map[string]string
	// TTL is the token's lifetime; zero means Options.TokenTTL.
	TTL time.Duration
	// IssuedAt is the token's iat; zero means now.
	IssuedAt time.Time
	// TokenID is the token's jti; empty means a fresh one.
	TokenID string
	// Act and Purpose are a delegated token's actors (RFC 8693 act) and
	// what it was issued for.
	Act     *actClaim
	Purpose string
}

// tokenClaims is the JSON payload of an access token (RFC 9068 §2.2 plus
// Kinde's claims).
type tokenClaims struct {
	jwt.Claims
	ClientID              string                   `json:"client_id"`
	Scope                 string                   `json:"scope"`
	OrgCode               string                   `json:"org_code,omitempty"`
	GrantTypes            []string                 `json:"gty"`
	GrantID               string                   `json:"grant_id,omitempty"`
	Act                   *actClaim                `json:"act,omitempty"`
	Purpose               string                   `json:"purpose,omitempty"`
	FeatureFlags          map[string]kindeFlag     `json:"feature_flags,omitempty"`
	ApplicationProperties map[string]kindeProperty `json:"application_properties,omitempty"`
}

// kindeFlag is Kinde's feature_flags claim entry: {"t":"b","v":true}.
type kindeFlag struct {
	Type  string          `json:"t"`
	Value json.RawMessage `json:"v"`
}

// kindeProperty is Kinde's application_properties entry: {"v":"..."}.
type kindeProperty struct {
	Value string `json:"v"`
}

// kindeFlagTypes maps flag types to Kinde's one-letter codes; "j" for JSON
// values is OrgScope's.
var kindeFlagTypes = map[store.FlagType]string{
	store.FlagBoolean: "b", store.FlagString: "s", store.FlagInteger: "i", store.FlagJSON: "j",
}

// mint signs an access token and returns it with its expiry.
func (s *Server) mint(ctx context.Context, c accessClaims) (string, time.Time, *oauthError) {
	now := cmp.Or(c.IssuedAt, s.opts.Now()).UTC()
	exp := now.Add(cmp.Or(c.TTL, s.opts.TokenTTL))
	claims := tokenClaims{
		Claims: jwt.Claims{
			Issuer:   s.issuerOf(ctx),
			Subject:  c.Subject,
			Audience: jwt.Audience{c.Audience},
			Expiry:   jwt.NewNumericDate(exp),
			IssuedAt: jwt.NewNumericDate(now),
			ID:       cmp.Or(c.TokenID, uuid.NewString()),
		},
		ClientID:   c.ClientID,
		Scope:      strings.Join(c.Scopes, " "),
		OrgCode:    c.OrgCode,
		GrantTypes: []string{c.GrantType},
		GrantID:    c.GrantID,
		Act:        c.Act,
		Purpose:    c.Purpose,
	}
	if c.OrgCode != "" {
		flags, err := s.orgFlags(ctx, c.OrgCode)
		if err != nil {
			return "", time.Time{}, s.storeFailure(ctx, "org flags", err)
		}
		claims.FeatureFlags = flags
	}
	if len(c.Properties) > 0 {
		claims.ApplicationProperties = make(map[string]kindeProperty, len(c.Properties))
		for k, v := range c.Properties {
			claims.ApplicationProperties[k] = kindeProperty{Value: v}
		}
	}
	token, err := s.sign(now, &claims)
	if err != nil {
		s.log.ErrorContext(ctx, "sign token", "err", err)
		return "", time.Time{}, errCannotSign()
	}
	if s.opts.Issued != nil {
		s.opts.Issued(c.GrantType)
	}
	return token, claims.Expiry.Time(), nil
}

// orgFlags returns the organization's effective flags as the Kinde claim.
func (s *Server) orgFlags(ctx context.Context, orgCode string) (map[string]kindeFlag, error) {
	out := map[string]kindeFlag{}
	page := store.Page{Limit: store.MaxPageSize}
	for {
		flags, next, err := s.opts.Store.ListEffectiveFlags(ctx, orgCode, page)
		if err != nil {
			return nil, err
		}
		for _, f := range flags {
			out[f.Definition.Key] = kindeFlag{Type: kindeFlagTypes[f.Definition.Type], Value: f.Value()}
		}
		if next == "" {
			return out, nil
		}
		page.Cursor = next
	}
}
