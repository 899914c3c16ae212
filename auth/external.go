package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Issuer configures one trusted external issuer (Kinde, Auth0, Keycloak,
// Okta, Entra ID, Clerk, ...). The README has a recipe for each.
type Issuer struct {
	// URL is the issuer identifier; tokens' iss must equal it. Required.
	URL string `json:"issuer"`
	// Audience tokens must carry; empty means the canonical resource. Any
	// absolute URI (Entra ID's api://APP_ID) or a plain string such as a
	// client id; only http(s) URIs are normalised (ResourceMatches), the
	// rest compared byte for byte.
	Audience string `json:"audience,omitempty"`
	// TenantClaim and ScopeClaims: see ClaimMapping.
	TenantClaim string   `json:"tenant_claim,omitempty"`
	ScopeClaims []string `json:"scope_claims,omitempty"`
	// AllowGlobal makes tokens without the tenant claim global principals;
	// false refuses them.
	AllowGlobal bool `json:"allow_global,omitempty"`
	// RequireATJWT refuses JWTs whose typ is not at+jwt. Most issuers send
	// typ JWT, so it is off by default; the audience check keeps ID tokens
	// out either way (their aud is a client id, not this resource).
	RequireATJWT bool `json:"require_at_jwt,omitempty"`
	// Algorithms narrows DefaultAlgorithms for this issuer.
	Algorithms []string `json:"algorithms,omitempty"`
	// ClockSkewSeconds tolerates the issuer's clock: tokens are accepted
	// until exp plus this. Zero means DefaultClockSkew; negative, none.
	ClockSkewSeconds int `json:"clock_skew_seconds,omitempty"`
	// JWKSURL overrides the jwks_uri found by discovery.
	JWKSURL string `json:"jwks_uri,omitempty"`
	// Introspection, when set, accepts this issuer's opaque tokens.
	Introspection *IntrospectionConfig `json:"introspection,omitempty"`
}

// IntrospectionConfig is how to ask an issuer about its opaque tokens.
type IntrospectionConfig struct {
	// Endpoint overrides the introspection_endpoint found by discovery.
	Endpoint string `json:"endpoint,omitempty"`
	// ClientID and ClientSecret authenticate this server; ClientSecretEnv,
	// when set, names an environment variable holding the secret, so the
	// file need not.
	ClientID        string `json:"client_id"`
	ClientSecret    string `json:"client_secret,omitempty"`
	ClientSecretEnv string `json:"client_secret_env,omitempty"`
	// MaxCache bounds how long an active answer is reused, e.g. "30s";
	// empty means one minute, "0s" no caching.
	MaxCache string `json:"max_cache,omitempty"`
}

// ExternalOptions configures NewExternalVerifier.
type ExternalOptions struct {
	// Issuers are the trusted issuers; a token from any other is refused.
	Issuers []Issuer
	// Resource is this server's canonical resource URI, the default audience.
	Resource string
	// Client makes every outbound request (discovery, JWKS,
	// introspection); nil means one with a 5 s timeout.
	Client *http.Client
	// KeyRefresh and RefetchCooldown configure each issuer's key set (see
	// RemoteKeySetOptions); zero means the defaults.
	KeyRefresh, RefetchCooldown time.Duration
	// OnKeyFetch, when set, is called before every fetch of an issuer's
	// JWKS; OnCache is told whether each verification was answered from
	// the cache (metrics).
	OnKeyFetch func()
	OnCache    func(hit bool)
	// Getenv reads ClientSecretEnv; nil means no environment.
	Getenv func(string) string
	Logger *slog.Logger
	Now    func() time.Time
}

// NewExternalVerifier returns a verifier for tokens of the configured
// issuers: JWTs are routed by their iss to that issuer's verifier (keys from
// its JWKS, verified results cached); opaque tokens go to the issuers that
// have introspection. Discovery happens now, with a timeout; an issuer
// that cannot be reached is discovered later, on demand, and until then its
// tokens get ErrUnavailable (503), not a refusal.
func NewExternalVerifier(ctx context.Context, opts ExternalOptions) (Verifier, error) {
	if len(opts.Issuers) == 0 || opts.Resource == "" {
		return nil, errors.New("auth: ExternalOptions needs Issuers and Resource")
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: DefaultFetchTimeout}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Getenv == nil {
		opts.Getenv = func(string) string { return "" }
	}
	ev := &externalVerifier{byIssuer: map[string]*issuerVerifier{}}
	for _, is := range opts.Issuers {
		iv, err := newIssuerVerifier(is, opts)
		if err != nil {
			return nil, err
		}
		key := strings.TrimSuffix(is.URL, "/")
		if ev.byIssuer[key] != nil {
			return nil, fmt.Errorf("auth: issuer %s is configured twice", is.URL)
		}
		ev.byIssuer[key] = iv
		ev.ordered = append(ev.ordered, iv)
		if err := iv.discover(ctx); err != nil {
			opts.Logger.Warn("issuer not reachable at start; will retry on demand", "issuer", is.URL, "err", err)
		}
	}
	return ev, nil
}

type externalVerifier struct {
	byIssuer map[string]*issuerVerifier
	ordered  []*issuerVerifier
}

func (ev *externalVerifier) Verify(ctx context.Context, token string) (*Principal, error) {
	if iss, ok := unverifiedIssuer(token); ok {
		iv := ev.byIssuer[strings.TrimSuffix(iss, "/")]
		if iv == nil {
			return nil, invalid(reasonIssuer, fmt.Errorf("iss %q is not configured", iss))
		}
		return iv.verifyJWT(ctx, token)
	}
	// Not a JWT: an opaque token, for the issuers that introspect.
	var last error = invalid(reasonMalformed, errors.New("not a JWT, and no issuer introspects opaque tokens"))
	for _, iv := range ev.ordered {
		if iv.cfg.Introspection == nil {
			continue
		}
		p, err := iv.introspect(ctx, token)
		if err == nil {
			return p, nil
		}
		last = err
	}
	return nil, last
}

// unverifiedIssuer reads iss from a compact JWT without verifying it; it
// only chooses which issuer's verifier checks the token.
func unverifiedIssuer(token string) (string, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", false
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if json.Unmarshal(raw, &c) != nil || c.Iss == "" {
		return "", false
	}
	return c.Iss, true
}

// issuerVerifier verifies one issuer's tokens; it is built lazily because
// discovery may have to wait for the issuer to come up.
type issuerVerifier struct {
	cfg      Issuer
	opts     ExternalOptions
	mapping  ClaimMapping
	audience string
	maxCache time.Duration
	secret   string

	mu          sync.Mutex
	attemptedAt time.Time
	jwt         Verifier
	opaque      Verifier
}

func newIssuerVerifier(is Issuer, opts ExternalOptions) (*issuerVerifier, error) {
	if _, ok := CanonicalResource(is.URL); !ok {
		return nil, fmt.Errorf("auth: issuer %q is not an absolute http(s) URL", is.URL)
	}
	iv := &issuerVerifier{cfg: is, opts: opts, audience: is.Audience,
		mapping: ClaimMapping{TenantClaim: is.TenantClaim, ScopeClaims: is.ScopeClaims, RequireTenant: !is.AllowGlobal,
			ValidateTenant: true}}
	if iv.audience == "" {
		iv.audience = opts.Resource
	}
	if intro := is.Introspection; intro != nil {
		if intro.ClientID == "" {
			return nil, fmt.Errorf("auth: issuer %s: introspection needs client_id", is.URL)
		}
		iv.secret = intro.ClientSecret
		if intro.ClientSecretEnv != "" {
			iv.secret = opts.Getenv(intro.ClientSecretEnv)
		}
		iv.maxCache = time.Minute
		if intro.MaxCache != "" {
			d, err := time.ParseDuration(intro.MaxCache)
			if err != nil {
				return nil, fmt.Errorf("auth: issuer %s: max_cache %q: %v", is.URL, intro.MaxCache, err)
			}
			iv.maxCache = d
			if d == 0 {
				iv.maxCache = -1
			}
		}
	}
	// Fail on a bad configuration now rather than at the first token.
	if err := checkAudience(iv.audience, true); err != nil {
		return nil, fmt.Errorf("auth: issuer %s: %w", is.URL, err)
	}
	if _, err := allowedAlgorithms(is.Algorithms); err != nil {
		return nil, fmt.Errorf("auth: issuer %s: %w", is.URL, err)
	}
	return iv, nil
}

// discover builds the verifiers from the issuer's metadata, at most once
// per cooldown while it fails.
func (iv *issuerVerifier) discover(ctx context.Context) error {
	iv.mu.Lock()
	defer iv.mu.Unlock()
	if iv.jwt != nil {
		return nil
	}
	cooldown := iv.opts.RefetchCooldown
	if cooldown <= 0 {
		cooldown = DefaultRefetchCooldown
	}
	if !iv.attemptedAt.IsZero() && iv.opts.Now().Sub(iv.attemptedAt) < cooldown {
		return fmt.Errorf("%w: issuer %s not discovered yet", ErrUnavailable, iv.cfg.URL)
	}
	iv.attemptedAt = iv.opts.Now()

	jwksURL, introURL := iv.cfg.JWKSURL, ""
	if iv.cfg.Introspection != nil {
		introURL = iv.cfg.Introspection.Endpoint
	}
	if jwksURL == "" || (iv.cfg.Introspection != nil && introURL == "") {
		dctx, cancel := context.WithTimeout(ctx, DefaultFetchTimeout)
		defer cancel()
		m, err := Discover(dctx, iv.opts.Client, iv.cfg.URL)
		if err != nil {
			return err
		}
		if jwksURL == "" {
			jwksURL = m.JWKSURI
		}
		if introURL == "" {
			introURL = m.IntrospectionEndpoint
		}
	}
	if jwksURL == "" {
		return fmt.Errorf("auth: issuer %s publishes no jwks_uri", iv.cfg.URL)
	}
	keys := NewRemoteKeySet(RemoteKeySetOptions{JWKSURL: jwksURL, Client: iv.opts.Client,
		Refresh: iv.opts.KeyRefresh, Cooldown: iv.opts.RefetchCooldown, Now: iv.opts.Now, OnFetch: iv.opts.OnKeyFetch})
	jv, err := NewJWTVerifier(JWTOptions{Issuer: iv.cfg.URL, Audience: iv.audience, PlainAudience: true, KeySet: keys,
		Algorithms: iv.cfg.Algorithms, AllowAnyType: !iv.cfg.RequireATJWT, Claims: iv.mapping, Now: iv.opts.Now,
		ClockSkew: time.Duration(iv.cfg.ClockSkewSeconds) * time.Second})
	if err != nil {
		return err
	}
	iv.jwt = NewCachingVerifier(jv, &CacheOptions{Now: iv.opts.Now, Observe: iv.opts.OnCache})
	if iv.cfg.Introspection != nil {
		if introURL == "" {
			return fmt.Errorf("auth: issuer %s publishes no introspection_endpoint", iv.cfg.URL)
		}
		iv.opaque = NewIntrospectionVerifier(IntrospectionOptions{Issuer: iv.cfg.URL, Endpoint: introURL,
			ClientID: iv.cfg.Introspection.ClientID, ClientSecret: iv.secret, Audience: iv.audience,
			Claims: iv.mapping, MaxCache: iv.maxCache, Client: iv.opts.Client, Now: iv.opts.Now})
	}
	iv.opts.Logger.Info("issuer discovered", "issuer", iv.cfg.URL, "jwks_uri", jwksURL, "introspection", introURL)
	return nil
}

func (iv *issuerVerifier) ready(ctx context.Context) error {
	iv.mu.Lock()
	ok := iv.jwt != nil
	iv.mu.Unlock()
	if ok {
		return nil
	}
	if err := iv.discover(ctx); err != nil {
		if errors.Is(err, ErrUnavailable) {
			return err
		}
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}

func (iv *issuerVerifier) verifyJWT(ctx context.Context, token string) (*Principal, error) {
	if err := iv.ready(ctx); err != nil {
		return nil, err
	}
	return iv.jwt.Verify(ctx, token)
}

func (iv *issuerVerifier) introspect(ctx context.Context, token string) (*Principal, error) {
	if err := iv.ready(ctx); err != nil {
		return nil, err
	}
	return iv.opaque.Verify(ctx, token)
}
