package mcpserver

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/orgscope/orgscope/internal/problem"
)

// RateLimits bounds how fast one caller may go. A zero rate disables that
// limit.
type RateLimits struct {
	// PerPrincipal limits MCP calls per authenticated principal (per
	// second), with PrincipalBurst calls allowed at once.
	PerPrincipal   float64
	PrincipalBurst int
	// PerAddress limits POSTs to the issuer's endpoints (token, sign-in,
	// consent, registration) per client address — the address the server
	// sees, which behind a proxy is the proxy's, so set it with that in
	// mind — with AddressBurst at once. Sign-in hashes passwords slowly on
	// purpose; this keeps guessing (and burning CPU) slow too.
	PerAddress   float64
	AddressBurst int
}

// DefaultRateLimits are generous for agents and tight enough for guessing.
var DefaultRateLimits = RateLimits{PerPrincipal: 50, PrincipalBurst: 100, PerAddress: 5, AddressBurst: 20}

// limiters keeps one token bucket per key, forgetting idle ones.
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

// allow takes n tokens for key; when there are not enough it takes none
// and returns how long until there are.
func (l *limiters) allow(key string, n int) (bool, time.Duration) {
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
		return false, time.Duration(float64(n) / float64(l.limit) * float64(time.Second))
	}
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now)
		return false, delay
	}
	return true, 0
}

// refuse answers 429 with Retry-After (whole seconds, rounded up).
func refuse(w http.ResponseWriter, wait time.Duration, what string) {
	secs := strconv.Itoa(int(math.Ceil(wait.Seconds())))
	w.Header().Set("Retry-After", secs)
	problem.Error(w, http.StatusTooManyRequests, what+"; retry after "+secs+" s")
}

// limitCalls runs behind authentication: it limits each principal's
// calls, counting every message of a batch.
func (l *limiters) limitCalls(next http.Handler) http.Handler {
	if l == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := recordOf(r.Context())
		if p := rec.Principal(); p != nil {
			if ok, wait := l.allow(p.Key(), max(1, len(rec.Calls))); !ok {
				refuse(w, wait, "too many calls for this access token")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
