package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Defaults of RemoteKeySetOptions.
const (
	DefaultKeyRefresh      = 10 * time.Minute
	DefaultRefetchCooldown = 30 * time.Second
	DefaultFetchTimeout    = 5 * time.Second
)

// RemoteKeySetOptions configures NewRemoteKeySet.
type RemoteKeySetOptions struct {
	// JWKSURL is the issuer's jwks_uri. Required.
	JWKSURL string
	// Client makes the requests; nil means a client with FetchTimeout.
	Client *http.Client
	// Refresh is how long fetched keys are used before they are fetched
	// again, so that a key removed upstream stops verifying. Zero means
	// DefaultKeyRefresh.
	Refresh time.Duration
	// Cooldown is the least time between two fetches caused by tokens
	// whose kid is unknown: a storm of random kids costs one fetch per
	// cooldown, not one per token. Zero means DefaultRefetchCooldown.
	Cooldown time.Duration
	// FetchTimeout bounds one fetch when Client is nil. Zero means
	// DefaultFetchTimeout.
	FetchTimeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnFetch, when set, is called before every fetch of the JWKS (metrics).
	OnFetch func()
}

// RemoteKeySet is an oidc.KeySet over an issuer's JWKS. go-oidc's own
// RemoteKeySet refetches on every unknown kid and never expires keys; this
// one refetches unknown kids at most once per cooldown, refreshes on a TTL,
// and keeps serving the keys it has while the issuer is unreachable.
type RemoteKeySet struct {
	opts RemoteKeySetOptions

	mu          sync.Mutex
	keys        []jose.JSONWebKey
	fetchedAt   time.Time // last successful fetch
	attemptedAt time.Time // last fetch attempt
	inflight    chan struct{}
	lastErr     error
}

// NewRemoteKeySet returns a key set that fetches lazily, on first use.
func NewRemoteKeySet(opts RemoteKeySetOptions) *RemoteKeySet {
	if opts.Refresh <= 0 {
		opts.Refresh = DefaultKeyRefresh
	}
	if opts.Cooldown <= 0 {
		opts.Cooldown = DefaultRefetchCooldown
	}
	if opts.FetchTimeout <= 0 {
		opts.FetchTimeout = DefaultFetchTimeout
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: opts.FetchTimeout}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &RemoteKeySet{opts: opts}
}

// VerifySignature implements oidc.KeySet. The algorithm allow-list has
// been applied by the verifier already; here each key is pinned to its
// JWK alg, or to its type when the JWKS gives none (KeyAllows).
func (k *RemoteKeySet) VerifySignature(ctx context.Context, token string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(token, allowedJOSEAlgorithms)
	if err != nil {
		return nil, fmt.Errorf("malformed jws: %v", err)
	}
	kid := jws.Signatures[0].Header.KeyID

	keys, err := k.current(ctx)
	if err != nil {
		return nil, err
	}
	payload, err := verifyWithKeys(jws, keys, true)
	if err == nil || errors.Is(err, errKeyAlgorithm) {
		return payload, err
	}
	if kid != "" && !hasKid(keys, kid) {
		// Perhaps a new key: fetch again, unless we did a moment ago.
		if keys, err = k.refetch(ctx); err != nil {
			return nil, err
		}
		return verifyWithKeys(jws, keys, true)
	}
	return nil, err
}

// allowedJOSEAlgorithms is DefaultAlgorithms as go-jose values.
var allowedJOSEAlgorithms = func() []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, len(DefaultAlgorithms))
	for i, a := range DefaultAlgorithms {
		out[i] = jose.SignatureAlgorithm(a)
	}
	return out
}()

func hasKid(keys []jose.JSONWebKey, kid string) bool {
	for _, key := range keys {
		if key.KeyID == kid {
			return true
		}
	}
	return false
}

// current returns the keys, refreshing them when they are older than the
// refresh interval. A failed refresh keeps the old keys; having none at
// all is ErrUnavailable.
func (k *RemoteKeySet) current(ctx context.Context) ([]jose.JSONWebKey, error) {
	k.mu.Lock()
	keys, fresh := k.keys, k.opts.Now().Sub(k.fetchedAt) < k.opts.Refresh && k.keys != nil
	k.mu.Unlock()
	if fresh {
		return keys, nil
	}
	return k.refetch(ctx)
}

// refetch fetches the JWKS unless another fetch is running (it waits for
// that one) or the last attempt is within the cooldown (it returns what it
// has). Concurrent callers share one fetch.
func (k *RemoteKeySet) refetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	k.mu.Lock()
	if wait := k.inflight; wait != nil {
		k.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %v", ErrUnavailable, ctx.Err())
		}
		return k.snapshot()
	}
	if !k.attemptedAt.IsZero() && k.opts.Now().Sub(k.attemptedAt) < k.opts.Cooldown {
		k.mu.Unlock()
		return k.snapshot()
	}
	done := make(chan struct{})
	k.inflight, k.attemptedAt = done, k.opts.Now()
	k.mu.Unlock()

	keys, err := k.fetch(ctx)

	k.mu.Lock()
	if err == nil {
		k.keys, k.fetchedAt, k.lastErr = keys, k.opts.Now(), nil
	} else {
		k.lastErr = err
	}
	k.inflight = nil
	close(done)
	k.mu.Unlock()
	return k.snapshot()
}

// snapshot returns the keys held, or ErrUnavailable if there are none.
func (k *RemoteKeySet) snapshot() ([]jose.JSONWebKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.keys == nil {
		return nil, fmt.Errorf("%w: no keys fetched from %s: %v", ErrUnavailable, k.opts.JWKSURL, k.lastErr)
	}
	return k.keys, nil
}

func (k *RemoteKeySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	if k.opts.OnFetch != nil {
		k.opts.OnFetch()
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.opts.FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.opts.JWKSURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := k.opts.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", k.opts.JWKSURL, resp.StatusCode)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return nil, fmt.Errorf("GET %s: %v", k.opts.JWKSURL, err)
	}
	var keys []jose.JSONWebKey
	for _, key := range set.Keys {
		if key.Valid() && key.IsPublic() && (key.Use == "" || key.Use == "sig") {
			keys = append(keys, key)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("GET %s: no public signing keys", k.opts.JWKSURL)
	}
	return keys, nil
}
