package authserver

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/store"
)

// Paths of the token revocation (RFC 7009) and introspection (RFC 7662)
// endpoints.
const (
	RevokePath     = "/oauth2/revoke"
	IntrospectPath = "/oauth2/introspect"
)

// ownToken reads an access token this issuer signed, checking signature,
// issuer and expiry; nil if it is not one.
func (s *Server) ownToken(token string) *tokenClaims {
	parsed, err := jwt.ParseSigned(token, signatureAlgorithms)
	if err != nil || len(parsed.Headers) != 1 {
		return nil
	}
	now := s.opts.Now()
	hdr := parsed.Headers[0]
	key, ok := s.keys.key(hdr.KeyID, now)
	if !ok || !auth.KeyAllows(key, hdr.Algorithm) {
		return nil
	}
	var c tokenClaims
	if parsed.Claims(key.Key, &c) != nil {
		return nil
	}
	if !s.isOwnIssuer(c.Issuer) || c.Expiry == nil || !now.Before(c.Expiry.Time()) {
		return nil
	}
	return &c
}

// signatureAlgorithms are the algorithms of the issuer's keys.
var signatureAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA}

// formClient authenticates the client calling revocation or introspection:
// a machine client, or a registered or metadata-document client.
func (s *Server) formClient(r *http.Request, allow string) (clientID string, confidential bool, oerr *oauthError) {
	if r.Method != http.MethodPost {
		return "", false, errMethod(allow)
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return "", false, errInvalidRequest("the form could not be parsed")
	}
	cred, oerr := readClientCredentials(r)
	if oerr != nil {
		return "", false, oerr
	}
	if cred.secret != "" || (cred.assertion != nil && !isMetadataDocumentURL(cred.id)) {
		if c, oerr := s.authenticateClient(r.Context(), cred); oerr == nil {
			return c.ID, true, nil
		}
	}
	c, oerr := s.authenticateInteractive(r.Context(), cred, "")
	if oerr != nil {
		return "", false, oerr
	}
	return c.ID, !c.public(), nil
}

// handleRevoke revokes the grant a refresh or access token belongs to, if
// the token was issued to the calling client. Like RFC 7009 asks, an
// unknown token is answered 200 too. client_credentials tokens are not
// revocable (they are short-lived and carry no grant).
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	clientID, _, oerr := s.formClient(r, "OPTIONS, POST")
	if oerr != nil {
		writeOAuthError(w, oerr)
		return
	}
	ctx := r.Context()
	token := r.PostForm.Get("token")
	if token == "" {
		writeOAuthError(w, errInvalidRequest("token is required"))
		return
	}
	// An access token issued to the caller goes on the denylist, which
	// every replica's resource server reads: a client_credentials token
	// stops working at the next call, and so does an interactive one
	// (whose grant goes too) or a delegated one (whose grant stays: it is
	// the person's, see grantOf).
	if c := s.ownToken(token); c != nil && c.ClientID == clientID && c.ID != "" {
		revoked := store.RevokedToken{TokenID: c.ID, ClientID: clientID, ExpiresAt: c.Expiry.Time()}
		if err := s.opts.Store.RevokeToken(ctx, revoked); err != nil {
			writeOAuthError(w, s.storeFailure(ctx, "revoke token", err))
			return
		}
		if s.opts.Revoked != nil {
			s.opts.Revoked(revoked)
		}
		s.log.InfoContext(ctx, "access token revoked", "client_id", clientID, "jti", c.ID)
	}
	grantID := s.grantOf(ctx, token, clientID)
	if grantID != "" {
		if err := s.opts.Store.RevokeGrant(ctx, grantID); err != nil && !errors.Is(err, store.ErrNotFound) {
			writeOAuthError(w, s.storeFailure(ctx, "revoke grant", err))
			return
		}
		s.log.InfoContext(ctx, "grant revoked", "client_id", clientID, "grant_id", grantID)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// grantOf returns the grant of a refresh or access token issued to clientID.
// A delegated token has none to give: the grant is the person's, and an
// agent that revokes its own token (it is done, or believes it leaked)
// ends that token, not what the person gave the client they signed in
// with — nor the other agents acting for them.
func (s *Server) grantOf(ctx context.Context, token, clientID string) string {
	if _, g, err := s.opts.Store.LookupRefreshToken(ctx, hashToken(token)); err == nil && g.ClientID == clientID {
		return g.ID
	}
	if c := s.ownToken(token); c != nil && c.ClientID == clientID && c.Act == nil {
		return c.GrantID
	}
	return ""
}

// introspection is RFC 7662 §2.2.
type introspection struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	Subject   string   `json:"sub,omitempty"`
	TokenType string   `json:"token_type,omitempty"`
	Expiry    int64    `json:"exp,omitempty"`
	IssuedAt  int64    `json:"iat,omitempty"`
	Issuer    string   `json:"iss,omitempty"`
	Audience  []string `json:"aud,omitempty"`
	TokenID   string   `json:"jti,omitempty"`
	OrgCode   string   `json:"org_code,omitempty"`
	// Act is a delegated token's actor chain (RFC 8693 §4.1).
	Act *actClaim `json:"act,omitempty"`
}

// handleIntrospect tells a confidential client whether a token is active:
// a token issued to that client, or any token when the client is one of
// Options.IntrospectionClients. About every other token it learns nothing
// but {"active": false} (RFC 7662 §4), the answer an unknown token gets.
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	caller, confidential, oerr := s.formClient(r, "POST")
	if oerr == nil && !confidential {
		oerr = errUnauthorizedClient("introspection needs a confidential client")
	}
	if oerr != nil {
		writeOAuthError(w, oerr)
		return
	}
	ctx := r.Context()
	token := r.PostForm.Get("token")
	mayKnow := func(issuedTo string) bool {
		return issuedTo == caller || slices.Contains(s.opts.IntrospectionClients, caller)
	}
	out := introspection{}
	if c := s.ownToken(token); c != nil && auth.ResourceMatches(c.Audience, s.resourceOf(ctx)) && mayKnow(c.ClientID) {
		revoked, err := s.opts.Store.IsTokenRevoked(ctx, c.ID)
		active := err == nil && !revoked
		if active {
			// Issued before its client was disabled or deleted: cut off, as
			// the resource servers see it (iat has whole seconds).
			cut, err := s.opts.Store.GetClientCutoff(ctx, c.ClientID)
			active = errors.Is(err, store.ErrNotFound) || err == nil && c.IssuedAt != nil && c.IssuedAt.Time().After(cut.Cutoff)
		}
		if active && c.GrantID != "" {
			st, err := s.Standing(ctx, c.GrantID, c.OrgCode, c.Subject, c.Act.chain())
			active = err == nil && st.Active
		}
		if active {
			out = introspection{Active: true, Scope: c.Scope, ClientID: c.ClientID, Subject: c.Subject,
				TokenType: "Bearer", Expiry: c.Expiry.Time().Unix(), IssuedAt: c.IssuedAt.Time().Unix(),
				Issuer: c.Issuer, Audience: c.Audience, TokenID: c.ID, OrgCode: c.OrgCode, Act: c.Act}
		}
	} else if rt, g, err := s.opts.Store.LookupRefreshToken(ctx, hashToken(token)); err == nil && mayKnow(g.ClientID) &&
		!g.Revoked() && rt.RotatedAt.IsZero() && s.opts.Now().Before(rt.ExpiresAt) {
		out = introspection{Active: true, Scope: strings.Join(g.Scopes, " "), ClientID: g.ClientID, Subject: g.UserID,
			TokenType: "refresh_token", Expiry: rt.ExpiresAt.Unix(), Issuer: s.issuerOf(ctx), OrgCode: g.OrgCode}
	}
	writeJSON(w, http.StatusOK, out)
}
