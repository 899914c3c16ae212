package authserver

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/store"
)

// Store is what the issuer keeps in the database.
type Store interface {
	GetOrg(ctx context.Context, code string) (store.Org, error)
	ListEffectiveFlags(ctx context.Context, orgCode string, page store.Page) ([]store.EffectiveFlag, string, error)
	GetClient(ctx context.Context, id string) (store.Client, error)
	CreateClient(ctx context.Context, c store.Client) (store.Client, error)
	TouchClient(ctx context.Context, id string, t time.Time) error
	EnsureSigningKey(ctx context.Context, candidate store.SigningKey) (store.SigningKey, error)
	SigningKeys(ctx context.Context) ([]store.SigningKey, error)
}

// Endpoint paths, relative to the issuer URL.
const (
	TokenPath = "/oauth2/token"
	JWKSPath  = "/oauth2/jwks"
)

// DefaultTokenTTL is the lifetime of access tokens when Options.TokenTTL
// is zero.
const DefaultTokenTTL = time.Hour

// Options configures New.
type Options struct {
	// Issuer is the issuer identifier: OrgScope's public base URL, without
	// a trailing slash. Required.
	Issuer string
	// Resource is the canonical URI of the MCP endpoint, the only audience
	// tokens are issued for. Required.
	Resource string
	// Store keeps clients, keys and grants. Required.
	Store Store
	// TokenTTL is the access-token lifetime. Zero means DefaultTokenTTL.
	TokenTTL time.Duration
	// Logger receives one line per issued or refused token (never the token
	// or a secret). Nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server is the embedded authorization server.
type Server struct {
	opts   Options
	log    *slog.Logger
	signer jose.Signer
	keys   []jose.JSONWebKey
	mux    *http.ServeMux
}

// New loads (or on first start creates) the signing key and returns the
// server.
func New(ctx context.Context, opts Options) (*Server, error) {
	if opts.Issuer == "" || opts.Resource == "" || opts.Store == nil {
		return nil, errors.New("authserver: Options needs Issuer, Resource and Store")
	}
	opts.Issuer = strings.TrimSuffix(opts.Issuer, "/")
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = DefaultTokenTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, log: opts.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	current, public, err := loadKeys(ctx, opts.Store)
	if err != nil {
		return nil, err
	}
	s.keys = public
	s.signer, err = jose.NewSigner(
		jose.SigningKey{Algorithm: signingAlgorithm, Key: jose.JSONWebKey{Key: current.private, KeyID: current.id}},
		(&jose.SignerOptions{}).WithType("at+jwt"),
	)
	if err != nil {
		return nil, fmt.Errorf("authserver: signer: %w", err)
	}

	s.mux = http.NewServeMux()
	s.mux.HandleFunc(TokenPath, s.handleToken)
	s.mux.HandleFunc(JWKSPath, s.handleJWKS)
	return s, nil
}

// Handler serves the issuer's endpoints (everything under /oauth2/).
func (s *Server) Handler() http.Handler { return s.mux }

// PublicKeys returns the keys tokens are signed with, for the resource
// server's verifier.
func (s *Server) PublicKeys() []crypto.PublicKey {
	out := make([]crypto.PublicKey, len(s.keys))
	for i, k := range s.keys {
		out[i] = k.Key
	}
	return out
}

// Metadata returns the RFC 8414 authorization server metadata.
func (s *Server) Metadata() *oauthex.AuthServerMeta {
	return &oauthex.AuthServerMeta{
		Issuer:                            s.opts.Issuer,
		TokenEndpoint:                     s.opts.Issuer + TokenPath,
		JWKSURI:                           s.opts.Issuer + JWKSPath,
		ScopesSupported:                   auth.AllScopes,
		ResponseTypesSupported:            []string{},
		GrantTypesSupported:               []string{"client_credentials"},
		TokenEndpointAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post"},
		// Listed although machine clients do not use PKCE: the go-sdk's
		// clients refuse an issuer that does not list it.
		CodeChallengeMethodsSupported: []string{"S256"},
	}
}

// handleJWKS publishes the public keys (RFC 7517).
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET")
		writeOAuthError(w, &oauthError{status: http.StatusMethodNotAllowed, code: "invalid_request", description: "use GET"})
		return
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Content-Type", "application/jwk-set+json")
	writeJSONBody(w, jose.JSONWebKeySet{Keys: s.keys})
}
