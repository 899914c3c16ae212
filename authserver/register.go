package authserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/internal/credential"
	"github.com/orgscope/orgscope/store"
)

// RegisterPath is the RFC 7591 dynamic client registration endpoint.
const RegisterPath = "/oauth2/register"

// Defaults for open registration, which anyone can call: a cap on how many
// registered clients exist, and how long one may go unused before it is
// removed.
const (
	DefaultMaxRegisteredClients = 1000
	DefaultRegisteredClientIdle = 30 * 24 * time.Hour
	// DefaultRegistrationUnusedTTL is how long a registration that never
	// completed an authorization is kept: a real client signs a person in
	// within minutes of registering, and a flood of registrations that
	// never do must not hold the cap for long.
	DefaultRegistrationUnusedTTL = time.Hour
)

// registrationRequest is the RFC 7591 §2 metadata OrgScope reads.
type registrationRequest struct {
	RedirectURIs            []string `json:"redirect_uris"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	ClientName              string   `json:"client_name"`
	Scope                   string   `json:"scope"`
}

// registrationResponse is RFC 7591 §3.2.1.
type registrationResponse struct {
	ClientID                string   `json:"client_id"`
	ClientSecret            string   `json:"client_secret,omitempty"`
	ClientIDIssuedAt        int64    `json:"client_id_issued_at"`
	ClientSecretExpiresAt   *int64   `json:"client_secret_expires_at,omitempty"`
	RedirectURIs            []string `json:"redirect_uris"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	ClientName              string   `json:"client_name"`
	Scope                   string   `json:"scope"`
}

func registrationError(code, description string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: code, description: description}
}

// handleRegister registers a client for the authorization-code flow. Such
// clients are never bound to an organization (the org comes from the user
// who signs in) and can never use client_credentials.
func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	resp, oerr := s.register(r)
	if oerr != nil {
		s.log.InfoContext(r.Context(), "registration refused", "error", oerr.code, "description", oerr.description)
		writeOAuthError(w, oerr)
		return
	}
	writeJSON(w, http.StatusCreated, resp)
}

func (s *Server) register(r *http.Request) (*registrationResponse, *oauthError) {
	ctx := r.Context()
	if r.Method != http.MethodPost {
		return nil, errMethod("OPTIONS, POST")
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return nil, registrationError("invalid_client_metadata", "the body must be application/json client metadata (RFC 7591)")
	}
	var req registrationRequest
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxFormBytes)).Decode(&req); err != nil {
		return nil, registrationError("invalid_client_metadata", "the body is not valid JSON client metadata")
	}
	if len(req.RedirectURIs) == 0 || len(req.RedirectURIs) > 10 {
		return nil, registrationError("invalid_redirect_uri", "register between 1 and 10 redirect_uris")
	}
	for i, u := range req.RedirectURIs {
		if err := checkRedirectURI(u, s.opts.RedirectSchemes); err != nil {
			return nil, registrationError("invalid_redirect_uri", fmt.Sprintf("redirect_uris[%d] %v", i, err))
		}
	}
	method := req.TokenEndpointAuthMethod
	if method == "" {
		method = "client_secret_basic" // RFC 7591 §2's default
	}
	if !slices.Contains([]string{"none", "client_secret_basic", "client_secret_post"}, method) {
		return nil, registrationError("invalid_client_metadata", "token_endpoint_auth_method must be none, client_secret_basic or client_secret_post")
	}
	grants := req.GrantTypes
	if len(grants) == 0 {
		grants = []string{"authorization_code"}
	}
	for _, g := range grants {
		switch g {
		case "authorization_code", "refresh_token":
		case "client_credentials":
			return nil, registrationError("invalid_client_metadata", "self-registered clients cannot use client_credentials; ask an administrator for a machine client")
		default:
			return nil, registrationError("invalid_client_metadata", "grant_types may contain only authorization_code and refresh_token")
		}
	}
	if !slices.Contains(grants, "authorization_code") {
		return nil, registrationError("invalid_client_metadata", "grant_types must include authorization_code")
	}
	responses := req.ResponseTypes
	if len(responses) == 0 {
		responses = []string{"code"}
	}
	if !slices.Equal(responses, []string{"code"}) {
		return nil, registrationError("invalid_client_metadata", "response_types must be code alone")
	}
	scopes := auth.AllScopes
	if strings.TrimSpace(req.Scope) != "" {
		scopes = auth.Narrow(auth.AllScopes, auth.ParseScopes(req.Scope))
	}
	name := strings.TrimSpace(req.ClientName)
	if len(name) > 200 {
		return nil, registrationError("invalid_client_metadata", "client_name is longer than 200 characters")
	}
	if name == "" {
		name = "Unnamed application"
	}

	// Open registration is bounded: per address, idle registrations
	// expire, and the total is capped.
	addr, slot := clientAddress(r), credential.RandomToken(16)
	if ok, wait := s.registrations.take(addr, slot, s.opts.Now()); !ok {
		s.log.InfoContext(ctx, "registration limited", "address", addr)
		return nil, errTooMany(wait, "this address has registered as many clients as it may for now")
	}
	registered := false
	defer func() {
		if !registered {
			s.registrations.release(slot)
		}
	}()
	now := s.opts.Now()
	if _, err := s.opts.Store.DeleteIdleClients(ctx, store.ClientRegistered,
		now.Add(-s.opts.RegistrationUnusedTTL), now.Add(-s.opts.RegisteredClientIdle)); err != nil {
		return nil, s.storeFailure(ctx, "expire idle clients", err)
	}

	c := store.Client{
		ID:                      credential.RandomHex(16),
		Name:                    name,
		Kind:                    store.ClientRegistered,
		Scopes:                  scopes,
		RedirectURIs:            req.RedirectURIs,
		GrantTypes:              grants,
		TokenEndpointAuthMethod: method,
	}
	var secret string
	if method != "none" {
		secret = credential.RandomToken(32)
		c.Secrets = []store.ClientSecret{{Hash: credential.HashSecret(secret)}}
	}
	// The cap holds exactly, however many register at once on however
	// many replicas: the store counts and inserts in one serialised step.
	c, err := s.opts.Store.CreateClientWithin(ctx, c, s.opts.MaxRegisteredClients)
	switch {
	case errors.Is(err, store.ErrLimitReached):
		return nil, &oauthError{status: http.StatusTooManyRequests, code: "temporarily_unavailable", retryAfter: 600,
			description: "the registration limit is reached; registrations that never complete a sign-in expire within an hour"}
	case errors.Is(err, store.ErrConflict): // a 128-bit id collided: practically never
		return nil, errServer()
	}
	if err != nil {
		return nil, s.storeFailure(ctx, "create client", err)
	}
	registered = true
	s.log.InfoContext(ctx, "client registered", "client_id", c.ID, "client_name", c.Name, "auth_method", method)
	resp := &registrationResponse{
		ClientID: c.ID, ClientSecret: secret, ClientIDIssuedAt: c.CreatedAt.Unix(),
		RedirectURIs: c.RedirectURIs, TokenEndpointAuthMethod: method, GrantTypes: grants,
		ResponseTypes: responses, ClientName: c.Name, Scope: strings.Join(scopes, " "),
	}
	if secret != "" {
		never := int64(0)
		resp.ClientSecretExpiresAt = &never
	}
	return resp, nil
}
