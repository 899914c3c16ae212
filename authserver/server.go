package authserver

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/crypto/bcrypt"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/internal/clientkeys"
	"github.com/orgscope/orgscope/internal/credential"
	"github.com/orgscope/orgscope/store"
)

// Store is what the issuer keeps in the database: clients, keys, the
// people who sign in, and the state of the interactive flow.
type Store interface {
	GetOrg(ctx context.Context, code string) (store.Org, error)
	ListEffectiveFlags(ctx context.Context, orgCode string, page store.Page) ([]store.EffectiveFlag, string, error)
	GetUser(ctx context.Context, orgCode, userID string) (store.User, error)
	UserCredentials(ctx context.Context, email string) ([]store.UserCredential, error)

	GetClient(ctx context.Context, id string) (store.Client, error)
	CreateClient(ctx context.Context, c store.Client) (store.Client, error)
	TouchClient(ctx context.Context, id string, t time.Time) error
	CreateClientWithin(ctx context.Context, c store.Client, limit int) (store.Client, error)
	DeleteIdleClients(ctx context.Context, kind store.ClientKind, neverUsedBefore, idleBefore time.Time) (int, error)
	UseClientAssertion(ctx context.Context, clientID, jti string, expiresAt time.Time) error

	EnsureSigningKey(ctx context.Context, candidate store.SigningKey) (store.SigningKey, error)
	SigningKeys(ctx context.Context) ([]store.SigningKey, error)
	DeleteRetiredSigningKeys(ctx context.Context, now time.Time) (int, error)

	store.GrantStore
	store.DenylistStore
	AppendAuditEvent(ctx context.Context, e store.AuditEvent) error
	// InTx records a delegation and its audit event together.
	InTx(ctx context.Context, fn func(tx store.Tx) error) error
}

var _ Store = store.Store(nil)

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
	// Aliases are other issuer identifiers (base URLs) the server answers
	// as, each with its own resource (alias + /mcp): the loopback names of
	// a server on loopback. A request whose Host is an alias's gets tokens
	// and answers under that name.
	Aliases []string
	// Store keeps clients, keys and grants. Required.
	Store Store
	// TokenTTL is the access-token lifetime. Zero means DefaultTokenTTL.
	TokenTTL time.Duration
	// DelegationTTL is the longest a token issued by token exchange lives
	// (never longer than the token exchanged, nor TokenTTL). Zero means
	// DefaultDelegationTTL.
	DelegationTTL time.Duration
	// Keys says how signing keys are made and kept: the algorithm of a key
	// made at first start, and the key-encryption key that seals new keys
	// and opens sealed ones. The zero value makes RS256 keys, stored clear.
	// Its TokenTTL and Now default to this struct's.
	Keys KeyOptions
	// KeyPollInterval is how often WatchKeys reads the keys from the store
	// to learn of rotations and retirements. Zero means
	// DefaultKeyPollInterval.
	KeyPollInterval time.Duration
	// RefreshTokenTTL is the refresh-token lifetime (each use rotates it).
	// Zero means DefaultRefreshTokenTTL.
	RefreshTokenTTL time.Duration
	// RefreshReuseInterval is how long after a refresh token was rotated
	// the same client may present it again and get a fresh pair instead of
	// having its grant revoked: clients that run several sessions on one
	// keyring (Codex, for one) replay a token another session has just
	// rotated. Zero means DefaultRefreshReuseInterval; negative, none.
	RefreshReuseInterval time.Duration
	// RedirectSchemes are the private-use URI schemes accepted in redirect
	// URIs besides https, loopback http and reverse-domain schemes. Nil
	// means DefaultRedirectSchemes.
	RedirectSchemes []string
	// MaxRegisteredClients caps open registration; zero means
	// DefaultMaxRegisteredClients. RegisteredClientIdle is how long a
	// registered client may go unused before it is removed; zero means
	// DefaultRegisteredClientIdle.
	MaxRegisteredClients int
	RegisteredClientIdle time.Duration
	// RegistrationUnusedTTL is how long a registered client that never
	// completed an authorization is kept; zero means
	// DefaultRegistrationUnusedTTL.
	RegistrationUnusedTTL time.Duration
	// MetadataDocumentClient supplies the TLS settings used to fetch Client
	// ID Metadata Documents (tests trust their own CA with it); nil means
	// the system's. MetadataDocumentAllowPrivate lets such documents live on
	// private and loopback addresses — for development only, since it
	// lets anyone make the server fetch from its own network.
	MetadataDocumentClient       *http.Client
	MetadataDocumentAllowPrivate bool
	// PasswordCost is the bcrypt cost passwords are stored with (see
	// HashPassword); sign-in compares against a dummy hash of the same cost
	// when no account matches. Zero means DefaultPasswordCost.
	PasswordCost int
	// RateLimit bounds the requests one client address may send to any
	// endpoint under /oauth2/ (the stylesheet aside); the zero value
	// disables it. Addresses are the TCP peer's, IPv6 ones by their /64.
	RateLimit RateLimit
	// RegistrationsPerAddress bounds the clients one address may register
	// per hour; zero means DefaultRegistrationsPerAddress, negative no
	// bound. PendingSignInsPerAddress bounds the unfinished sign-ins one
	// address may have open; zero means DefaultPendingSignInsPerAddress,
	// negative no bound. Both are counted in memory, per replica.
	RegistrationsPerAddress  int
	PendingSignInsPerAddress int
	// IntrospectionClients are the ids of clients (resource servers) that
	// may learn about any token at /oauth2/introspect. Every other client
	// learns only about tokens issued to itself; for the rest the answer is
	// {"active": false} (RFC 7662 §4).
	IntrospectionClients []string
	// AllowedOrigins are the browser origins that may call the token,
	// registration and revocation endpoints (CORS); "*" allows any. When
	// the issuer is on a loopback address, loopback origins are allowed
	// too. Credentials are never allowed.
	AllowedOrigins []string
	// Revoked, when set, is told of every access token this server revokes,
	// as soon as the denylist in the store holds it: the resource server of
	// this process then refuses it at once, ahead of its next poll.
	Revoked func(store.RevokedToken)
	// Issued, when set, is told of every access token this server signs,
	// by grant type (metrics).
	Issued func(grantType string)
	// Logger receives one line per issued or refused token (never the token
	// or a secret). Nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server is the embedded authorization server.
type Server struct {
	opts Options
	log  *slog.Logger
	cimd *cimdFetcher
	// clientKeySets are the keys of clients that publish them at a
	// jwks_uri (private_key_jwt).
	clientKeySets *clientKeySets
	// dummyPasswordHash is computed on first use, at PasswordCost.
	dummyPasswordHash func() []byte
	keys              *keyRing
	handler           http.Handler

	rate          *buckets        // per address, every endpoint
	registrations *slots          // per address, per hour
	pending       *slots          // per address, unfinished sign-ins
	signIns       *signInThrottle // per account
	cors          *corsPolicy
}

// New loads the signing keys (on first start it makes one) and returns
// the server. Every published key must open: a database whose keys are
// sealed is refused without their key-encryption key (the error wraps
// ErrKeyEncryptionKeyNeeded or ErrWrongKeyEncryptionKey).
func New(ctx context.Context, opts Options) (*Server, error) {
	if opts.Issuer == "" || opts.Resource == "" || opts.Store == nil {
		return nil, errors.New("authserver: Options needs Issuer, Resource and Store")
	}
	opts.Issuer = strings.TrimSuffix(opts.Issuer, "/")
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = DefaultTokenTTL
	}
	if opts.DelegationTTL <= 0 {
		opts.DelegationTTL = DefaultDelegationTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RefreshTokenTTL <= 0 {
		opts.RefreshTokenTTL = DefaultRefreshTokenTTL
	}
	if opts.RedirectSchemes == nil {
		opts.RedirectSchemes = DefaultRedirectSchemes
	}
	if opts.MaxRegisteredClients <= 0 {
		opts.MaxRegisteredClients = DefaultMaxRegisteredClients
	}
	switch {
	case opts.RefreshReuseInterval == 0:
		opts.RefreshReuseInterval = DefaultRefreshReuseInterval
	case opts.RefreshReuseInterval < 0:
		opts.RefreshReuseInterval = 0
	}
	if opts.RegisteredClientIdle <= 0 {
		opts.RegisteredClientIdle = DefaultRegisteredClientIdle
	}
	if opts.RegistrationUnusedTTL <= 0 {
		opts.RegistrationUnusedTTL = DefaultRegistrationUnusedTTL
	}
	if opts.PasswordCost == 0 {
		opts.PasswordCost = credential.DefaultPasswordCost
	}
	if opts.RegistrationsPerAddress == 0 {
		opts.RegistrationsPerAddress = DefaultRegistrationsPerAddress
	}
	if opts.PendingSignInsPerAddress == 0 {
		opts.PendingSignInsPerAddress = DefaultPendingSignInsPerAddress
	}
	s := &Server{
		opts:          opts,
		log:           opts.Logger,
		rate:          newBuckets(opts.RateLimit),
		registrations: newSlots(opts.RegistrationsPerAddress, registrationWindow),
		pending:       newSlots(opts.PendingSignInsPerAddress, authRequestTTL),
		signIns:       newSignInThrottle(),
		cors:          newCORSPolicy(opts.Issuer, opts.AllowedOrigins),
	}
	s.dummyPasswordHash = sync.OnceValue(func() []byte {
		h, _ := bcrypt.GenerateFromPassword([]byte("no such user"), opts.PasswordCost)
		return h
	})
	s.cimd = newCIMDFetcher(opts.MetadataDocumentClient, opts.MetadataDocumentAllowPrivate, opts.RedirectSchemes, opts.Now)
	s.clientKeySets = newClientKeySets(s.cimd.keysClient(), opts.Now)
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if opts.KeyPollInterval <= 0 {
		s.opts.KeyPollInterval = DefaultKeyPollInterval
	}
	if opts.Keys.TokenTTL == 0 {
		opts.Keys.TokenTTL = opts.TokenTTL
	}
	if opts.Keys.Now == nil {
		opts.Keys.Now = opts.Now
	}
	manager, err := NewKeyManager(opts.Keys)
	if err != nil {
		return nil, err
	}
	s.keys = &keyRing{manager: manager, store: opts.Store, log: s.log, now: opts.Now}
	if err := s.keys.load(ctx); err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	mux.HandleFunc(TokenPath, s.handleToken)
	mux.HandleFunc(JWKSPath, s.handleJWKS)
	mux.HandleFunc(AuthorizePath, s.handleAuthorize)
	mux.HandleFunc(LoginPath, s.handleLogin)
	mux.HandleFunc(ConsentPath, s.handleConsent)
	mux.HandleFunc(RegisterPath, s.handleRegister)
	mux.HandleFunc(RevokePath, s.handleRevoke)
	mux.HandleFunc(IntrospectPath, s.handleIntrospect)
	mux.HandleFunc(AssetsPath+"/", s.handleAssets)
	// CORS outside the rate limit: preflights cost nothing, and a browser
	// client must be able to read a 429.
	s.handler = s.named(s.withCORS(s.limited(mux)))
	return s, nil
}

// issuerKey carries the name a request reached the issuer under.
type issuerKey struct{}

// named puts the issuer identifier the request's Host names (an alias, or
// the canonical issuer) into its context.
func (s *Server) named(next http.Handler) http.Handler {
	if len(s.opts.Aliases) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, a := range s.opts.Aliases {
			if u, err := url.Parse(a); err == nil && strings.EqualFold(u.Host, r.Host) {
				r = r.WithContext(context.WithValue(r.Context(), issuerKey{}, a))
				break
			}
		}
		next.ServeHTTP(w, r)
	})
}

// issuerOf is the issuer identifier of the request ctx belongs to.
func (s *Server) issuerOf(ctx context.Context) string {
	if iss, ok := ctx.Value(issuerKey{}).(string); ok {
		return iss
	}
	return s.opts.Issuer
}

// resourceOf is the resource tokens of the request ctx belongs to are for.
func (s *Server) resourceOf(ctx context.Context) string {
	if iss, ok := ctx.Value(issuerKey{}).(string); ok {
		return iss + "/mcp"
	}
	return s.opts.Resource
}

// isOwnIssuer reports whether iss is one of this server's names.
func (s *Server) isOwnIssuer(iss string) bool {
	return iss == s.opts.Issuer || slices.Contains(s.opts.Aliases, iss)
}

// Handler serves the issuer's endpoints (everything under /oauth2/).
func (s *Server) Handler() http.Handler { return s.handler }

// PublishedKeys returns the public keys in the JWKS at this moment, each
// pinned to its algorithm: the next key, the active one and those retiring.
// The resource server trusts exactly these (auth.LiveKeySet calls it on
// every verification; it is a lookup in memory). The slice is shared:
// callers must not change it.
func (s *Server) PublishedKeys() []jose.JSONWebKey {
	return s.keys.published(s.opts.Now())
}

// WatchKeys reads the signing keys from the store every KeyPollInterval
// until ctx ends, so that this server learns of rotations and retirements
// made by the command line or by other replicas. A read that fails keeps
// the keys read before.
func (s *Server) WatchKeys(ctx context.Context) {
	s.keys.watch(ctx, s.opts.KeyPollInterval)
}

// RefreshKeys reads the signing keys from the store now.
func (s *Server) RefreshKeys(ctx context.Context) error {
	return s.keys.refresh(ctx)
}

// SigningAlgorithm returns the algorithm of the key that signs now, and
// reports whether it is the one new keys are made with (if not, the
// configured one takes effect at the next rotation).
func (s *Server) SigningAlgorithm() (alg string, configured bool) {
	for _, k := range store.KeySchedule(s.keys.snap.Load().stored, s.opts.Now()) {
		if k.State == store.KeyActive {
			return k.Key.Algorithm, k.Key.Algorithm == s.keys.manager.Algorithm()
		}
	}
	return "", false
}

// UnencryptedKeys counts the published keys stored clear.
func (s *Server) UnencryptedKeys() int {
	n := 0
	for _, k := range store.KeySchedule(s.keys.snap.Load().stored, s.opts.Now()) {
		if k.Published() && k.Key.KEKID == "" {
			n++
		}
	}
	return n
}

// Metadata returns the RFC 8414 authorization server metadata.
func (s *Server) Metadata() *oauthex.AuthServerMeta {
	clientAuth := []string{"client_secret_basic", "client_secret_post", clientkeys.Method}
	return &oauthex.AuthServerMeta{
		Issuer:                                    s.opts.Issuer,
		AuthorizationEndpoint:                     s.opts.Issuer + AuthorizePath,
		TokenEndpoint:                             s.opts.Issuer + TokenPath,
		JWKSURI:                                   s.opts.Issuer + JWKSPath,
		RegistrationEndpoint:                      s.opts.Issuer + RegisterPath,
		RevocationEndpoint:                        s.opts.Issuer + RevokePath,
		IntrospectionEndpoint:                     s.opts.Issuer + IntrospectPath,
		ScopesSupported:                           auth.AllScopes,
		ResponseTypesSupported:                    []string{"code"},
		ResponseModesSupported:                    []string{"query"},
		GrantTypesSupported:                       []string{"authorization_code", "refresh_token", "client_credentials", GrantTypeTokenExchange},
		TokenEndpointAuthMethodsSupported:         append(clientAuth, "none"),
		RevocationEndpointAuthMethodsSupported:    append(clientAuth, "none"),
		IntrospectionEndpointAuthMethodsSupported: clientAuth,
		// The algorithms of client assertions (private_key_jwt).
		TokenEndpointAuthSigningAlgValuesSupported:         clientkeys.Algorithms,
		RevocationEndpointAuthSigningAlgValuesSupported:    clientkeys.Algorithms,
		IntrospectionEndpointAuthSigningAlgValuesSupported: clientkeys.Algorithms,
		CodeChallengeMethodsSupported:                      []string{"S256"},
		ClientIDMetadataDocumentSupported:                  true,
		AuthorizationResponseIssParameterSupported:         true,
	}
}

// handleJWKS publishes the public keys (RFC 7517), to any origin.
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		w.Header().Set("Access-Control-Allow-Methods", "GET, HEAD")
		w.Header().Set("Access-Control-Allow-Headers", corsAllowHeaders)
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		writeOAuthError(w, errMethod("GET, HEAD, OPTIONS"))
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Content-Type", "application/jwk-set+json")
	writeJSONBody(w, jose.JSONWebKeySet{Keys: s.keys.published(s.opts.Now())})
}
