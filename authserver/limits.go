package authserver

import (
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Everything in this file is kept in memory, per replica: a client spread
// over N replicas gets N times each budget. That is the price of keeping
// the store out of the hot path of every request; DESIGN-NOTES.md has the
// reasoning.

// RateLimit bounds the requests one client address may send to the
// issuer's endpoints: PerSecond on average, Burst at once. The zero value
// disables the limit.
type RateLimit struct {
	PerSecond float64
	Burst     int
}

// Defaults for the per-address bounds of Options.
const (
	// DefaultRegistrationsPerAddress is how many clients one address may
	// register per hour.
	DefaultRegistrationsPerAddress = 10
	// DefaultPendingSignInsPerAddress is how many unfinished sign-ins one
	// address may have open at once.
	DefaultPendingSignInsPerAddress = 20
)

// registrationWindow is the period DefaultRegistrationsPerAddress counts.
const registrationWindow = time.Hour

// clientAddress is the key of the per-address limits: the TCP peer's
// address (X-Forwarded-For is anyone's to forge), IPv4 as is, IPv6 by its
// /64 — one subscriber's whole prefix, which costs an attacker nothing to
// hop through.
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// buckets keeps one token bucket per key. A bucket that has refilled is
// forgotten: a fresh one would be identical, so forgetting loses nothing
// and the map holds only keys that spent something recently.
type buckets struct {
	limit rate.Limit
	burst int

	mu    sync.Mutex
	byKey map[string]*rate.Limiter
	swept time.Time
}

func newBuckets(rl RateLimit) *buckets {
	if rl.PerSecond <= 0 {
		return nil
	}
	return &buckets{limit: rate.Limit(rl.PerSecond), burst: max(rl.Burst, 1), byKey: map[string]*rate.Limiter{}}
}

// take spends a token of key's bucket; when none is left it returns how
// long until one is.
func (b *buckets) take(key string, now time.Time) (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.Sub(b.swept) > time.Minute {
		for k, l := range b.byKey {
			if l.TokensAt(now) >= float64(b.burst) {
				delete(b.byKey, k)
			}
		}
		b.swept = now
	}
	l := b.byKey[key]
	if l == nil {
		l = rate.NewLimiter(b.limit, b.burst)
		b.byKey[key] = l
	}
	r := l.ReserveN(now, 1)
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now)
		return false, delay
	}
	return true, 0
}

// size is the number of buckets held (for tests of the eviction).
func (b *buckets) size() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.byKey)
}

// slots bounds how many live things a key may hold at once: each slot is
// taken for a lifetime and freed when that ends or when the thing is
// released early (a sign-in completed, a registration that failed).
type slots struct {
	max int
	ttl time.Duration

	mu    sync.Mutex
	byKey map[string][]slot
	keyOf map[string]string // slot id → key
	swept time.Time
}

type slot struct {
	id      string
	expires time.Time
}

// newSlots returns nil (no limit) when max is negative.
func newSlots(max int, ttl time.Duration) *slots {
	if max < 0 {
		return nil
	}
	return &slots{max: max, ttl: ttl, byKey: map[string][]slot{}, keyOf: map[string]string{}}
}

// take claims a slot named id for key, or says how long until the oldest
// of key's slots runs out.
func (s *slots) take(key, id string, now time.Time) (bool, time.Duration) {
	if s == nil {
		return true, 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.swept) > time.Minute {
		for k := range s.byKey {
			s.prune(k, now)
		}
		s.swept = now
	}
	live := s.prune(key, now)
	if len(live) >= s.max {
		return false, live[0].expires.Sub(now)
	}
	s.byKey[key] = append(live, slot{id: id, expires: now.Add(s.ttl)})
	s.keyOf[id] = key
	return true, 0
}

// prune drops key's expired slots and returns the live ones, oldest first.
func (s *slots) prune(key string, now time.Time) []slot {
	all := s.byKey[key]
	i := 0
	for i < len(all) && !now.Before(all[i].expires) {
		delete(s.keyOf, all[i].id)
		i++
	}
	live := all[i:]
	if len(live) == 0 {
		delete(s.byKey, key)
		return nil
	}
	s.byKey[key] = live
	return live
}

// release frees the slot named id, if it is still held.
func (s *slots) release(id string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key, ok := s.keyOf[id]
	if !ok {
		return
	}
	delete(s.keyOf, id)
	all := s.byKey[key]
	for i, sl := range all {
		if sl.id == id {
			all = append(all[:i:i], all[i+1:]...)
			break
		}
	}
	if len(all) == 0 {
		delete(s.byKey, key)
	} else {
		s.byKey[key] = all
	}
}

// pagePaths are the endpoints a person's browser opens: their refusals
// are HTML pages, not OAuth JSON.
var pagePaths = []string{AuthorizePath, LoginPath, ConsentPath}

// limited applies Options.RateLimit to every endpoint but the stylesheet
// (static bytes a page load fetches anyway). Over the limit: 429 with
// Retry-After, as the error page for the pages and as OAuth JSON for the
// rest.
func (s *Server) limited(next http.Handler) http.Handler {
	if s.rate == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, AssetsPath+"/") {
			next.ServeHTTP(w, r)
			return
		}
		addr := clientAddress(r)
		if ok, wait := s.rate.take(addr, s.opts.Now()); !ok {
			s.log.InfoContext(r.Context(), "rate limited", "path", r.URL.Path, "address", addr)
			if slices.Contains(pagePaths, r.URL.Path) {
				s.renderTooMany(w, wait, "Too many requests from your network address. Wait a little and try again.")
				return
			}
			writeOAuthError(w, errTooMany(wait, "too many requests from this address"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
