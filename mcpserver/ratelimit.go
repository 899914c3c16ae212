package mcpserver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/internal/problem"
	"github.com/orgscope/orgscope/store"
)

// RateLimits bounds how fast one caller may go. A zero rate disables that
// limit.
type RateLimits struct {
	// PerPrincipal limits MCP calls per authenticated principal (per
	// second), with PrincipalBurst calls allowed at once.
	PerPrincipal   float64
	PrincipalBurst int
	// PerOrg limits the MCP calls of every principal of one organization
	// together (per second), with OrgBurst at once: the organization's
	// clients share it. Global principals belong to no organization and
	// are limited per principal only.
	PerOrg   float64
	OrgBurst int
	// PerAddress limits POSTs to the issuer's endpoints (token, sign-in,
	// consent, registration) per client address — the address the server
	// sees, which behind a proxy is the proxy's, so set it with that in
	// mind — with AddressBurst at once. Sign-in hashes passwords slowly on
	// purpose; this keeps guessing (and burning CPU) slow too.
	PerAddress   float64
	AddressBurst int
	// Shared, when set, keeps the per-principal and per-organization
	// buckets where every replica finds them (PostgreSQL), so that the
	// limits hold for the deployment as a whole; each replica takes tokens
	// from them a few at a time (see sharedLimiter). Nil keeps them in this
	// process's memory, right for a single process (SQLite). The
	// per-address limit is always per process.
	Shared SharedBuckets
}

// DefaultRateLimits are generous for agents and tight enough for guessing.
// There is no per-organization limit by default.
var DefaultRateLimits = RateLimits{PerPrincipal: 50, PrincipalBurst: 100, PerAddress: 5, AddressBurst: 20}

// SharedBuckets keeps token buckets that every replica shares (the store's
// TakeTokens, adapted by the command). TakeTokens takes up to want tokens
// from the bucket key (perSecond, at most burst), as many as there are if
// that is at least need, none otherwise.
type SharedBuckets interface {
	TakeTokens(ctx context.Context, key string, perSecond float64, burst, need, want int) (BucketTake, error)
}

// BucketTake is what SharedBuckets.TakeTokens did: how many tokens it
// took, how many whole tokens are left, how long until need are there
// again (when it took none), and until the bucket is full.
type BucketTake struct {
	Taken, Remaining int
	Wait, Full       time.Duration
}

// verdict is a limiter's answer for one request.
type verdict struct {
	ok bool
	// unavailable: the shared buckets were found unreachable while this
	// request waited on them; nothing was decided.
	unavailable bool
	// remaining is what the bucket holds afterwards (whole tokens); wait,
	// when refused, how long until the request would pass; reset, how long
	// until the bucket is full.
	remaining   int
	wait, reset time.Duration
}

// limiter takes n tokens for key.
type limiter interface {
	take(ctx context.Context, key string, n int) verdict
}

// limiters keeps one token bucket per key in memory, forgetting idle ones.
type limiters struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	*rate.Limiter
	seen time.Time
}

func newLimiters(perSecond float64, burst int) *limiters {
	if perSecond <= 0 {
		return nil
	}
	return &limiters{limit: rate.Limit(perSecond), burst: max(burst, 1), buckets: map[string]*bucket{}}
}

// take takes n tokens for key; when there are not enough it takes none
// and says how long until there are.
func (l *limiters) take(_ context.Context, key string, n int) verdict {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute {
		for k, b := range l.buckets {
			if now.Sub(b.seen) > 10*time.Minute {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{Limiter: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	r := b.ReserveN(now, n)
	if !r.OK() {
		return l.state(b, now, verdict{wait: time.Duration(float64(n) / float64(l.limit) * float64(time.Second))})
	}
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now)
		return l.state(b, now, verdict{wait: delay})
	}
	return l.state(b, now, verdict{ok: true})
}

// state fills in what the bucket holds and when it is full.
func (l *limiters) state(b *bucket, now time.Time, v verdict) verdict {
	tokens := b.TokensAt(now)
	v.remaining = max(0, int(tokens))
	v.reset = time.Duration((float64(l.burst) - tokens) / float64(l.limit) * float64(time.Second))
	return v
}

// Leasing from the shared buckets. A replica takes tokens a few at a time
// and spends them locally, so most calls cost no database round trip. What
// a replica holds was taken from the shared bucket already, so replicas
// together never pass more than the shared bucket allows, plus at most one
// lease each still unspent; tokens leased and not spent within leaseTTL are
// dropped, which can only refuse a little early, never pass too much.
const (
	// leaseWindow sizes a lease: the tokens the rate refills in this long.
	leaseWindow = 100 * time.Millisecond
	// leaseTTL is how long leased tokens may be spent.
	leaseTTL = time.Second
)

// sharedLimiter is a limiter over SharedBuckets, leasing tokens per key.
// When the shared buckets cannot be reached it falls back to a bucket in
// memory (the replica then limits on its own, as without Shared) and logs
// that at most once a minute.
//
// A database that stops answering costs each caller the store's whole
// deadline, and the call behind the limit would then wait as long again.
// So the request that finds the buckets unreachable (and any that waited
// on the same lease meanwhile) is answered 503 at once, and for
// sharedPause after a failure the limiters of the server use memory
// without asking; then one request at a time asks again (see
// bucketHealth).
type sharedLimiter struct {
	buckets   SharedBuckets
	perSecond float64
	burst     int
	lease     int
	fallback  *limiters
	logger    *slog.Logger
	health    *bucketHealth

	mu       sync.Mutex
	held     map[string]*lease
	swept    time.Time
	warnedAt time.Time
}

type lease struct {
	mu       sync.Mutex
	tokens   int       // leased and not spent
	expires  time.Time // of the tokens held
	shared   int       // what the shared bucket held after the last lease
	full     time.Time // when the shared bucket is full, as of the last lease
	lastUsed time.Time
	// After a refusal the shared bucket cannot hold blockedNeed tokens
	// before blockedUntil (it only refills with time), so calls needing as
	// many are refused here until then, without a round trip: a client
	// hammering past its limit costs the database one statement per wait.
	blockedUntil time.Time
	blockedNeed  int
}

// sharedPause is how long the limiters use memory alone after the shared
// buckets failed, before a request asks them again.
const sharedPause = 5 * time.Second

// bucketHealth is what the shared limiters of one server know of the
// shared buckets: when they last failed, and whether a request is asking
// them again after the pause.
type bucketHealth struct {
	mu       sync.Mutex
	failedAt time.Time
	probing  bool
}

// ask reports whether a request arriving at now should ask the shared
// buckets, and whether it is the one probe allowed after a failure (it
// must then call done).
func (h *bucketHealth) ask(now time.Time) (ask, probe bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.failedAt.IsZero():
		return true, false
	case h.probing || now.Sub(h.failedAt) < sharedPause:
		return false, false
	}
	h.probing = true
	return true, true
}

// done ends a probe.
func (h *bucketHealth) done() {
	h.mu.Lock()
	h.probing = false
	h.mu.Unlock()
}

// answered records whether the shared buckets answered.
func (h *bucketHealth) answered(ok bool, now time.Time) {
	h.mu.Lock()
	if ok {
		h.failedAt = time.Time{}
	} else {
		h.failedAt = now
	}
	h.mu.Unlock()
}

// failedSince reports whether the shared buckets failed after t.
func (h *bucketHealth) failedSince(t time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.failedAt.After(t)
}

func newSharedLimiter(b SharedBuckets, perSecond float64, burst int, logger *slog.Logger, health *bucketHealth) *sharedLimiter {
	if perSecond <= 0 {
		return nil
	}
	if health == nil {
		health = &bucketHealth{}
	}
	burst = max(burst, 1)
	size := int(math.Ceil(perSecond * leaseWindow.Seconds()))
	size = min(max(size, 1), max(1, burst/4))
	return &sharedLimiter{buckets: b, perSecond: perSecond, burst: burst, lease: size,
		fallback: newLimiters(perSecond, burst), logger: logger, health: health, held: map[string]*lease{}}
}

func (s *sharedLimiter) leaseOf(key string, now time.Time) *lease {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.swept) > time.Minute {
		for k, l := range s.held {
			if now.Sub(l.lastUsed) > 10*time.Minute {
				delete(s.held, k)
			}
		}
		s.swept = now
	}
	l := s.held[key]
	if l == nil {
		l = &lease{}
		s.held[key] = l
	}
	l.lastUsed = now
	return l
}

func (s *sharedLimiter) take(ctx context.Context, key string, n int) verdict {
	arrived := time.Now()
	ask, probe := s.health.ask(arrived)
	if !ask {
		return s.fallback.take(ctx, key, n)
	}
	if probe {
		defer s.health.done()
	}
	l := s.leaseOf(key, arrived)
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.health.failedSince(arrived) {
		// It waited for a request that found the buckets unreachable.
		return verdict{unavailable: true}
	}
	now := time.Now()
	if now.After(l.expires) {
		l.tokens = 0
	}
	if l.tokens >= n {
		l.tokens -= n
		return verdict{ok: true, remaining: l.tokens + l.shared, reset: max(0, l.full.Sub(now))}
	}
	need := n - l.tokens
	if now.Before(l.blockedUntil) && need >= l.blockedNeed {
		wait := l.blockedUntil.Sub(now)
		return verdict{remaining: l.tokens, wait: wait, reset: max(wait, l.full.Sub(now))}
	}
	got, err := s.buckets.TakeTokens(ctx, key, s.perSecond, s.burst, need, max(need, s.lease))
	if err != nil {
		if ctx.Err() != nil { // merely a caller that went away
			return s.fallback.take(ctx, key, n)
		}
		s.warn(ctx, err)
		s.health.answered(false, time.Now())
		if errors.Is(err, store.ErrUnavailable) {
			return verdict{unavailable: true}
		}
		return s.fallback.take(ctx, key, n)
	}
	s.health.answered(true, time.Now())
	l.shared, l.full = got.Remaining, now.Add(got.Full)
	if got.Taken == 0 {
		l.blockedUntil, l.blockedNeed = now.Add(got.Wait), need
		return verdict{remaining: l.tokens + got.Remaining, wait: got.Wait, reset: got.Full}
	}
	l.tokens += got.Taken - n
	l.expires = now.Add(leaseTTL)
	return verdict{ok: true, remaining: l.tokens + got.Remaining, reset: got.Full}
}

func (s *sharedLimiter) warn(ctx context.Context, err error) {
	s.mu.Lock()
	now := time.Now()
	quiet := now.Sub(s.warnedAt) < time.Minute
	if !quiet {
		s.warnedAt = now
	}
	s.mu.Unlock()
	if !quiet {
		s.logger.WarnContext(ctx, "shared rate limits unreachable; limiting in this replica's memory until they answer", "err", err)
	}
}

// policy is one limit on MCP calls, named as the RateLimit fields name it.
type policy struct {
	name    string
	limiter limiter
	// field is the policy's RateLimit-Policy item.
	field string
	// key returns the bucket for p, or false when the policy does not
	// apply to it.
	key func(p *auth.Principal) (string, bool)
	// refusal is the problem detail of a refused call.
	refusal string
}

// callLimits are the limits on MCP calls, checked in order: the
// principal's own first, so that a principal over its limit does not spend
// its organization's tokens.
type callLimits struct {
	policies []policy
	// policyField is the RateLimit-Policy field, the same on every answer.
	policyField string
}

// newCallLimits builds the MCP call limits of rl (nil: none).
func newCallLimits(rl *RateLimits, logger *slog.Logger) *callLimits {
	if rl == nil {
		return nil
	}
	health := &bucketHealth{} // one database behind every shared limiter
	build := func(perSecond float64, burst int) limiter {
		if perSecond <= 0 {
			return nil
		}
		if rl.Shared != nil {
			return newSharedLimiter(rl.Shared, perSecond, burst, logger, health)
		}
		return newLimiters(perSecond, burst)
	}
	c := &callLimits{}
	if l := build(rl.PerPrincipal, rl.PrincipalBurst); l != nil {
		c.policies = append(c.policies, policy{name: "principal", limiter: l,
			field: policyItem("principal", rl.PerPrincipal, rl.PrincipalBurst),
			key: func(p *auth.Principal) (string, bool) {
				// Hashed: a subject can be long, and is nobody's business here.
				sum := sha256.Sum256([]byte(p.Key()))
				return "mcp:principal:" + hex.EncodeToString(sum[:16]), true
			},
			refusal: "too many calls for this access token"})
	}
	if l := build(rl.PerOrg, rl.OrgBurst); l != nil {
		c.policies = append(c.policies, policy{name: "organization", limiter: l,
			field: policyItem("organization", rl.PerOrg, rl.OrgBurst),
			key: func(p *auth.Principal) (string, bool) {
				return "mcp:org:" + p.OrgCode, p.OrgCode != ""
			},
			refusal: "too many calls for this organization (its clients share one limit)"})
	}
	if len(c.policies) == 0 {
		return nil
	}
	var fields []string
	for _, p := range c.policies {
		fields = append(fields, p.field)
	}
	c.policyField = strings.Join(fields, ", ")
	return c
}

// policyItem describes a token bucket as a RateLimit-Policy item
// (draft-ietf-httpapi-ratelimit-headers): a quota of burst calls in the
// window the rate takes to refill them, so q/w is the rate and q the most
// at once.
func policyItem(name string, perSecond float64, burst int) string {
	burst = max(burst, 1)
	window := max(1, int(math.Ceil(float64(burst)/perSecond)))
	return fmt.Sprintf("%q;q=%d;w=%d", name, burst, window)
}

// rateLimitItem is one item of the RateLimit field: what is left and the
// seconds until the quota is whole again.
func rateLimitItem(name string, v verdict) string {
	return fmt.Sprintf("%q;r=%d;t=%d", name, v.remaining, ceilSeconds(v.reset))
}

func ceilSeconds(d time.Duration) int {
	return max(0, int(math.Ceil(d.Seconds())))
}

// limit runs behind authentication: it limits each principal's calls, and
// each organization's, counting every message of a batch. Every answer it
// passes or refuses carries RateLimit-Policy and RateLimit.
func (c *callLimits) limit(next http.Handler) http.Handler {
	if c == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := recordOf(r.Context())
		p := rec.Principal()
		if p == nil {
			next.ServeHTTP(w, r)
			return
		}
		n := max(1, len(rec.Calls))
		var items []string
		for _, pol := range c.policies {
			key, ok := pol.key(p)
			if !ok {
				continue
			}
			v := pol.limiter.take(r.Context(), key, n)
			if v.unavailable {
				// The database the limits are kept in did not answer within
				// its deadline: the call would wait as long again.
				rec.MarkUnavailable()
				w.Header().Set("Retry-After", "5")
				problem.Error(w, http.StatusServiceUnavailable, "the database holding the rate limits is unavailable; nothing was done, retry shortly")
				return
			}
			if !v.ok {
				w.Header().Set("RateLimit-Policy", c.policyField)
				refuse(w, v, pol.name, pol.refusal)
				return
			}
			items = append(items, rateLimitItem(pol.name, v))
		}
		w.Header().Set("RateLimit-Policy", c.policyField)
		if len(items) > 0 {
			w.Header().Set("RateLimit", strings.Join(items, ", "))
		}
		next.ServeHTTP(w, r)
	})
}

// refuse answers 429 with Retry-After (whole seconds, rounded up, at least
// one) and the RateLimit field of the policy that refused.
func refuse(w http.ResponseWriter, v verdict, policyName, what string) {
	secs := max(1, ceilSeconds(v.wait))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	v.reset = max(v.reset, time.Duration(secs)*time.Second)
	w.Header().Set("RateLimit", rateLimitItem(policyName, v))
	problem.Error(w, http.StatusTooManyRequests, what+"; retry after "+strconv.Itoa(secs)+" s")
}
