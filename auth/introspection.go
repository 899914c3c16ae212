package auth

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// IntrospectionOptions configures NewIntrospectionVerifier.
type IntrospectionOptions struct {
	// Issuer names the principal's issuer when the response has no iss.
	Issuer string
	// Endpoint is the issuer's RFC 7662 introspection endpoint. Required.
	Endpoint string
	// ClientID and ClientSecret authenticate this server (HTTP Basic).
	ClientID, ClientSecret string
	// Audience is the resource the token must be for (same rule as JWTs).
	// Required.
	Audience string
	// Claims maps the response onto a principal, as for JWTs.
	Claims ClaimMapping
	// MaxCache bounds how long an active answer is reused (never beyond
	// the token's exp). Zero means one minute; negative means no caching.
	MaxCache time.Duration
	// Client makes the requests; nil means one with a 5 s timeout.
	Client *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// IntrospectionVerifier accepts opaque tokens by asking the issuer
// (RFC 7662). Inactive tokens are refused; an active answer passes the same
// audience and tenant rules a JWT does, and is cached no longer than the
// token lives and MaxCache allows, which is also how long a revocation
// upstream may take to be noticed.
type IntrospectionVerifier struct {
	opts  IntrospectionOptions
	mu    sync.Mutex
	cache map[[sha256.Size]byte]cacheEntry
}

// NewIntrospectionVerifier returns a verifier for opaque tokens.
func NewIntrospectionVerifier(opts IntrospectionOptions) *IntrospectionVerifier {
	if opts.MaxCache == 0 {
		opts.MaxCache = time.Minute
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: DefaultFetchTimeout}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &IntrospectionVerifier{opts: opts, cache: map[[sha256.Size]byte]cacheEntry{}}
}

// Verify implements Verifier.
func (v *IntrospectionVerifier) Verify(ctx context.Context, token string) (*Principal, error) {
	key := sha256.Sum256([]byte(token))
	now := v.opts.Now()
	v.mu.Lock()
	e, ok := v.cache[key]
	v.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.principal, nil
	}

	claims, err := v.introspect(ctx, token)
	if err != nil {
		return nil, err
	}
	var active bool
	if raw, ok := claims["active"]; !ok || json.Unmarshal(raw, &active) != nil || !active {
		return nil, invalid(reasonInactive, nil)
	}
	if _, ok := claims["iss"]; !ok {
		claims["iss"], _ = json.Marshal(v.opts.Issuer)
	}
	if !ResourceMatches(stringsClaim(claims, "aud"), v.opts.Audience) {
		return nil, invalid(reasonAudience, fmt.Errorf("aud %v, want %q", stringsClaim(claims, "aud"), v.opts.Audience))
	}
	p, err := v.opts.Claims.Principal(claims)
	if err != nil {
		return nil, err
	}
	if !p.Expiry.IsZero() && !now.Before(p.Expiry) {
		return nil, invalid(reasonExpired, nil)
	}
	if v.opts.MaxCache > 0 {
		until := now.Add(v.opts.MaxCache)
		if !p.Expiry.IsZero() && p.Expiry.Before(until) {
			until = p.Expiry
		}
		v.mu.Lock()
		if len(v.cache) > 10_000 {
			clear(v.cache)
		}
		v.cache[key] = cacheEntry{principal: p, until: until}
		v.mu.Unlock()
	}
	return p, nil
}

func (v *IntrospectionVerifier) introspect(ctx context.Context, token string) (map[string]json.RawMessage, error) {
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.opts.Endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(v.opts.ClientID), url.QueryEscape(v.opts.ClientSecret))
	resp, err := v.opts.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: introspection: %v", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// A refused client or a broken endpoint is not the token's fault.
		return nil, fmt.Errorf("%w: introspection: HTTP %d", ErrUnavailable, resp.StatusCode)
	}
	var claims map[string]json.RawMessage
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&claims); err != nil {
		return nil, fmt.Errorf("%w: introspection: %v", ErrUnavailable, err)
	}
	return claims, nil
}
