package auth

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// CacheOptions configures NewCachingVerifier.
type CacheOptions struct {
	// Size bounds the number of remembered tokens. Zero means 10,000.
	Size int
	// MaxAge bounds how long a verified token is remembered, whatever its
	// exp. Zero means one minute.
	MaxAge time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Observe, when set, is told of every verification whether the cache
	// answered it (metrics).
	Observe func(hit bool)
}

// NewCachingVerifier remembers the principals of tokens next has accepted,
// keyed by the SHA-256 of the token, until the earlier of the token's expiry
// and MaxAge. Refusals are never cached. Agents send the same token for many
// calls, and signature verification is most of what authentication costs;
// this makes it a hash and a map lookup.
func NewCachingVerifier(next Verifier, opts *CacheOptions) Verifier {
	c := &cachingVerifier{next: next, entries: make(map[[sha256.Size]byte]cacheEntry)}
	if opts != nil {
		c.opts = *opts
	}
	if c.opts.Size <= 0 {
		c.opts.Size = 10_000
	}
	if c.opts.MaxAge <= 0 {
		c.opts.MaxAge = time.Minute
	}
	if c.opts.Now == nil {
		c.opts.Now = time.Now
	}
	return c
}

type cachingVerifier struct {
	next    Verifier
	opts    CacheOptions
	mu      sync.Mutex
	entries map[[sha256.Size]byte]cacheEntry
}

type cacheEntry struct {
	principal *Principal
	until     time.Time
}

func (c *cachingVerifier) Verify(ctx context.Context, token string) (*Principal, error) {
	key := sha256.Sum256([]byte(token))
	now := c.opts.Now()
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	hit := ok && now.Before(e.until)
	if c.opts.Observe != nil {
		c.opts.Observe(hit)
	}
	trace.SpanFromContext(ctx).SetAttributes(attribute.Bool("orgscope.token.cached", hit))
	if hit {
		return e.principal, nil
	}

	p, err := c.next.Verify(ctx, token)
	if err != nil {
		return nil, err
	}
	until := now.Add(c.opts.MaxAge)
	if !p.Expiry.IsZero() && p.Expiry.Before(until) {
		until = p.Expiry
	}
	c.mu.Lock()
	if len(c.entries) >= c.opts.Size {
		c.evictLocked(now)
	}
	c.entries[key] = cacheEntry{principal: p, until: until}
	c.mu.Unlock()
	return p, nil
}

// evictLocked drops expired entries and, if that frees too little, an
// arbitrary half of the rest (map iteration order is random).
func (c *cachingVerifier) evictLocked(now time.Time) {
	for k, e := range c.entries {
		if !now.Before(e.until) {
			delete(c.entries, k)
		}
	}
	for k := range c.entries {
		if len(c.entries) < c.opts.Size/2 {
			break
		}
		delete(c.entries, k)
	}
}
