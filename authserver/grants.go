package authserver

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/internal/credential"
	"github.com/orgscope/orgscope/store"
)

// DefaultRefreshTokenTTL is the lifetime of a refresh token when
// Options.RefreshTokenTTL is zero. Each use rotates it.
const DefaultRefreshTokenTTL = 30 * 24 * time.Hour

// DefaultRefreshReuseInterval is how long a rotated refresh token may be
// presented again by the same client (see Options.RefreshReuseInterval):
// long enough for sessions racing on one keyring, short enough that a
// stolen token replayed later still revokes the family.
const DefaultRefreshReuseInterval = 30 * time.Second

// pkceVerifier is RFC 7636 §4.1: 43 to 128 unreserved characters.
var pkceVerifier = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)

// hashToken is how codes, refresh tokens and request handles are stored:
// like client secrets, they are 256-bit random values.
func hashToken(t string) string { return credential.HashSecret(t) }

// authorizationCodeGrant is RFC 6749 §4.1.3 with PKCE (RFC 7636 §4.6).
func (s *Server) authorizationCodeGrant(r *http.Request) (*tokenResponse, *oauthError) {
	ctx := r.Context()
	cred, oerr := readClientCredentials(r)
	if oerr != nil {
		return nil, oerr
	}
	client, oerr := s.authenticateInteractive(ctx, cred, "authorization_code")
	if oerr != nil {
		return nil, oerr
	}
	code := r.PostForm.Get("code")
	if code == "" {
		return nil, errInvalidRequest("code is required")
	}
	grantID := store.NewID(store.GrantIDPrefix)
	// Redeeming first makes the code single-use whatever goes wrong below:
	// a failed attempt (a wrong verifier, say) burns it.
	ac, err := s.opts.Store.RedeemAuthCode(ctx, hashToken(code), grantID)
	switch {
	case errors.Is(err, store.ErrReplayed):
		s.log.WarnContext(ctx, "authorization code replayed; its grant is revoked", "client_id", client.ID)
		return nil, errInvalidGrant("the authorization code was already used; every token issued from it has been revoked")
	case errors.Is(err, store.ErrNotFound):
		return nil, errInvalidGrant("the authorization code is not valid")
	case err != nil:
		return nil, s.storeFailure(ctx, "redeem code", err)
	}
	switch {
	case ac.ClientID != client.ID:
		return nil, errInvalidGrant("the authorization code was issued to another client")
	case !s.opts.Now().Before(ac.ExpiresAt):
		return nil, errInvalidGrant("the authorization code has expired")
	case r.PostForm.Get("redirect_uri") != ac.RedirectURI:
		return nil, errInvalidGrant("redirect_uri does not match the one of the authorization request")
	case !pkceMatches(r.PostForm.Get("code_verifier"), ac.CodeChallenge):
		return nil, errInvalidGrant("code_verifier does not match the code_challenge (PKCE)")
	}
	for _, res := range r.PostForm["resource"] {
		if !auth.ResourceMatches([]string{res}, ac.Resource) {
			return nil, errInvalidTarget("resource differs from the one authorized")
		}
	}
	user, err := s.opts.Store.GetUser(ctx, ac.OrgCode, ac.UserID)
	if err != nil || user.Status != store.UserActive {
		return nil, errInvalidGrant("the user who authorized this code is no longer active")
	}
	grant := store.Grant{ID: grantID, ClientID: client.ID, OrgCode: ac.OrgCode, UserID: ac.UserID,
		Scopes: ac.Scopes, Resource: ac.Resource}
	if err := s.opts.Store.CreateGrant(ctx, grant); err != nil {
		return nil, s.storeFailure(ctx, "create grant", err)
	}
	return s.grantTokens(r, client, grant, ac.Scopes, "authorization_code")
}

// pkceMatches checks BASE64URL(SHA256(verifier)) == challenge.
func pkceMatches(verifier, challenge string) bool {
	if !pkceVerifier.MatchString(verifier) {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}

// refreshTokenGrant is RFC 6749 §6 with rotation: every use retires the
// token and issues its successor; presenting a retired one revokes the
// whole grant (OAuth 2.1 §4.3.1, refresh token reuse detection).
func (s *Server) refreshTokenGrant(r *http.Request) (*tokenResponse, *oauthError) {
	ctx := r.Context()
	cred, oerr := readClientCredentials(r)
	if oerr != nil {
		return nil, oerr
	}
	client, oerr := s.authenticateInteractive(ctx, cred, "refresh_token")
	if oerr != nil {
		return nil, oerr
	}
	old := r.PostForm.Get("refresh_token")
	if old == "" {
		return nil, errInvalidRequest("refresh_token is required")
	}
	// The token must belong to this client before it is rotated.
	_, grant, err := s.opts.Store.LookupRefreshToken(ctx, hashToken(old))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, errInvalidGrant("the refresh token is not valid")
	case err != nil:
		return nil, s.storeFailure(ctx, "lookup refresh token", err)
	case grant.ClientID != client.ID:
		return nil, errInvalidGrant("the refresh token was issued to another client")
	}
	scopes := grant.Scopes
	if r.PostForm.Has("scope") {
		scopes = auth.Narrow(grant.Scopes, auth.ParseScopes(r.PostForm.Get("scope")))
		if len(scopes) == 0 {
			return nil, errInvalidScope("a refresh may only narrow the scopes of the grant")
		}
	}
	for _, res := range r.PostForm["resource"] {
		if !auth.ResourceMatches([]string{res}, grant.Resource) {
			return nil, errInvalidTarget("resource differs from the one authorized")
		}
	}

	next := credential.RandomToken(32)
	rotated, err := s.opts.Store.RotateRefreshToken(ctx, hashToken(old), store.RefreshToken{
		TokenHash: hashToken(next), GrantID: grant.ID, ExpiresAt: s.opts.Now().Add(s.opts.RefreshTokenTTL),
	}, s.opts.RefreshReuseInterval)
	switch {
	case errors.Is(err, store.ErrReplayed):
		s.log.WarnContext(ctx, "refresh token reused; its grant is revoked", "client_id", client.ID, "grant_id", grant.ID)
		return nil, errInvalidGrant("the refresh token was already used; the grant it belongs to has been revoked")
	case errors.Is(err, store.ErrNotFound):
		return nil, errInvalidGrant("the refresh token is not valid")
	case err != nil:
		return nil, s.storeFailure(ctx, "rotate refresh token", err)
	}
	grant = rotated
	user, err := s.opts.Store.GetUser(ctx, grant.OrgCode, grant.UserID)
	if err != nil || user.Status != store.UserActive {
		if !errors.Is(err, store.ErrUnavailable) {
			s.opts.Store.RevokeGrant(ctx, grant.ID)
		}
		return nil, errInvalidGrant("the user of this grant is no longer active")
	}
	return s.issueWithRefresh(r, client, grant, scopes, "refresh_token", next)
}

// grantTokens issues an access token and, if the client uses refresh
// tokens, the first refresh token of the grant.
func (s *Server) grantTokens(r *http.Request, client *interactiveClient, grant store.Grant, scopes []string, gty string) (*tokenResponse, *oauthError) {
	var refresh string
	if hasGrant(client, "refresh_token") {
		refresh = credential.RandomToken(32)
		err := s.opts.Store.CreateRefreshToken(r.Context(), store.RefreshToken{
			TokenHash: hashToken(refresh), GrantID: grant.ID, ExpiresAt: s.opts.Now().Add(s.opts.RefreshTokenTTL),
		})
		if err != nil {
			return nil, s.storeFailure(r.Context(), "create refresh token", err)
		}
	}
	return s.issueWithRefresh(r, client, grant, scopes, gty, refresh)
}

func (s *Server) issueWithRefresh(r *http.Request, client *interactiveClient, grant store.Grant, scopes []string, gty, refresh string) (*tokenResponse, *oauthError) {
	ctx := r.Context()
	token, _, oerr := s.mint(ctx, accessClaims{
		Subject: grant.UserID, ClientID: client.ID, OrgCode: grant.OrgCode, Audience: grant.Resource,
		Scopes: scopes, GrantType: gty, GrantID: grant.ID,
	})
	if oerr != nil {
		return nil, oerr
	}
	if !isMetadataDocumentURL(client.ID) {
		s.touch(ctx, client.ID, time.Time{})
	}
	s.log.InfoContext(ctx, "token issued", "grant_type", gty, "client_id", client.ID, "org_code", grant.OrgCode,
		"user_id", grant.UserID, "grant_id", grant.ID, "scope", strings.Join(scopes, " "))
	return &tokenResponse{
		AccessToken:  token,
		TokenType:    "Bearer",
		ExpiresIn:    int(s.opts.TokenTTL / time.Second),
		Scope:        strings.Join(scopes, " "),
		RefreshToken: refresh,
	}, nil
}
