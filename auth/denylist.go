package auth

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// RevokedToken is an access token revoked before it expired.
type RevokedToken struct {
	TokenID   string
	ExpiresAt time.Time // zero: kept until the feed drops it
	RevokedAt time.Time
}

// ClientCutoff invalidates the tokens of a client issued before Cutoff.
type ClientCutoff struct {
	ClientID  string
	Cutoff    time.Time
	ExpiresAt time.Time
	ChangedAt time.Time
}

// Revocations are what a RevocationFeed reports.
type Revocations struct {
	Tokens  []RevokedToken
	Cutoffs []ClientCutoff
}

// RevocationFeed returns the revocations made at or after since (all of
// them for a zero since). The embedded issuer's store is one: every replica
// writes its revocations there and reads everyone's.
type RevocationFeed func(ctx context.Context, since time.Time) (Revocations, error)

// DenylistOptions configures NewDenylistVerifier.
type DenylistOptions struct {
	// Interval is how often the feed is polled: the most a revocation made
	// on another replica stays unnoticed here. Zero means one second.
	Interval time.Duration
	// Overlap is how far before the last poll each poll reaches back, to
	// cover replicas whose clocks differ and revocations committed late.
	// Zero means five seconds.
	Overlap time.Duration
	// Logger receives failed polls; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewDenylistVerifier wraps next (after any cache) so that a token revoked
// by its jti, or issued to a client before that client's cutoff (it was
// disabled or deleted), is refused with invalid_token — at the next call, on
// every replica within about Interval. It polls feed until ctx ends; the
// first poll happens before it returns (a failure is logged, and polling
// goes on). Checking costs two map lookups per call.
func NewDenylistVerifier(ctx context.Context, next Verifier, feed RevocationFeed, opts *DenylistOptions) *Denylist {
	d := &Denylist{next: next, feed: feed, tokens: map[string]time.Time{}, cutoffs: map[string]ClientCutoff{}}
	if opts != nil {
		d.opts = *opts
	}
	if d.opts.Interval <= 0 {
		d.opts.Interval = time.Second
	}
	if d.opts.Overlap <= 0 {
		d.opts.Overlap = 5 * time.Second
	}
	if d.opts.Logger == nil {
		d.opts.Logger = slog.New(slog.DiscardHandler)
	}
	if d.opts.Now == nil {
		d.opts.Now = time.Now
	}
	first, cancel := context.WithTimeout(ctx, 5*time.Second)
	d.poll(first)
	cancel()
	go d.loop(ctx)
	return d
}

// Denylist is the verifier NewDenylistVerifier returns. Besides what it
// polls, it takes revocations made by this process at once (Add), so the
// replica that revoked refuses at the very next call.
type Denylist struct {
	next Verifier
	feed RevocationFeed
	opts DenylistOptions

	mu       sync.RWMutex
	tokens   map[string]time.Time // jti → expiry (zero: none known)
	cutoffs  map[string]ClientCutoff
	polledAt time.Time // start of the last successful poll
}

func (d *Denylist) loop(ctx context.Context) {
	t := time.NewTicker(d.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, max(d.opts.Interval, 2*time.Second))
			d.poll(pctx)
			cancel()
		}
	}
}

// poll reads what was revoked since the last poll (less the overlap) and
// forgets what has expired.
func (d *Denylist) poll(ctx context.Context) {
	start := d.opts.Now()
	d.mu.RLock()
	since := d.polledAt
	d.mu.RUnlock()
	if !since.IsZero() {
		since = since.Add(-d.opts.Overlap)
	}
	rev, err := d.feed(ctx, since)
	if err != nil {
		if ctx.Err() == nil || since.IsZero() {
			d.opts.Logger.WarnContext(ctx, "revocations could not be read; the denylist may be stale", "err", err)
		}
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, t := range rev.Tokens {
		d.tokens[t.TokenID] = t.ExpiresAt
	}
	for _, c := range rev.Cutoffs {
		if old, ok := d.cutoffs[c.ClientID]; !ok || c.Cutoff.After(old.Cutoff) {
			d.cutoffs[c.ClientID] = c
		}
	}
	for id, exp := range d.tokens {
		if !exp.IsZero() && exp.Before(start) {
			delete(d.tokens, id)
		}
	}
	for id, c := range d.cutoffs {
		if c.ExpiresAt.Before(start) {
			delete(d.cutoffs, id)
		}
	}
	d.polledAt = start
}

// Verify implements Verifier.
func (d *Denylist) Verify(ctx context.Context, token string) (*Principal, error) {
	p, err := d.next.Verify(ctx, token)
	if err != nil {
		return nil, err
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if _, revoked := d.tokens[p.TokenID]; revoked && p.TokenID != "" {
		return nil, invalid(reasonRevoked, fmt.Errorf("jti %s is on the denylist", p.TokenID))
	}
	for _, client := range append([]string{p.ClientID}, p.ActorChain...) {
		c, ok := d.cutoffs[client]
		// iat has whole seconds: a token of the cutoff's second is taken
		// for one issued before it.
		if ok && !p.IssuedAt.After(c.Cutoff) {
			return nil, invalid(reasonRevoked, fmt.Errorf("client %s was cut off at %s", client, c.Cutoff))
		}
	}
	return p, nil
}

// Add takes revocations made by this process, ahead of the next poll.
func (d *Denylist) Add(r Revocations) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, t := range r.Tokens {
		d.tokens[t.TokenID] = t.ExpiresAt
	}
	for _, c := range r.Cutoffs {
		if old, ok := d.cutoffs[c.ClientID]; !ok || c.Cutoff.After(old.Cutoff) {
			d.cutoffs[c.ClientID] = c
		}
	}
}
