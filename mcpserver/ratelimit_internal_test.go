package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/postgres"
	"github.com/orgscope/orgscope/store/postgres/pgtest"
)

// countingBuckets is one shared bucket per key kept in memory, counting the
// round trips a limiter makes to it; fail makes it unreachable.
type countingBuckets struct {
	mu      sync.Mutex
	calls   int
	fail    bool
	tokens  map[string]int
	perCall []int // want of each call
	// stall, when set, makes a call wait for it to close and then fail as
	// a database that stopped answering does.
	stall chan struct{}
}

func (c *countingBuckets) TakeTokens(_ context.Context, key string, _ float64, burst, need, want int) (BucketTake, error) {
	c.mu.Lock()
	c.calls++
	stall := c.stall
	c.mu.Unlock()
	if stall != nil {
		<-stall
		return BucketTake{}, fmt.Errorf("take tokens: %w: context deadline exceeded", store.ErrUnavailable)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.perCall = append(c.perCall, want)
	if c.fail {
		return BucketTake{}, errors.New("database unreachable")
	}
	if c.tokens == nil {
		c.tokens = map[string]int{}
	}
	left, seen := c.tokens[key]
	if !seen {
		left = burst
	}
	if left < need {
		return BucketTake{Remaining: left, Wait: time.Second, Full: time.Second}, nil
	}
	got := min(want, left)
	c.tokens[key] = left - got
	return BucketTake{Taken: got, Remaining: left - got, Full: time.Second}, nil
}

// TestSharedLimiterLeases: a replica takes tokens from the shared bucket a
// lease at a time, so most calls make no round trip, and together with
// another replica it never passes more than the shared bucket held.
func TestSharedLimiterLeases(t *testing.T) {
	shared := &countingBuckets{}
	// 100/s: leases of 10 tokens (100 ms of rate), burst 200 in the bucket.
	a := newSharedLimiter(shared, 100, 200, slog.New(slog.DiscardHandler), nil)
	b := newSharedLimiter(shared, 100, 200, slog.New(slog.DiscardHandler), nil)
	if a.lease != 10 {
		t.Fatalf("lease %d, want 10", a.lease)
	}
	passed := 0
	for i := range 400 {
		l := a
		if i%2 == 1 {
			l = b
		}
		if l.take(t.Context(), "k", 1).ok {
			passed++
		}
	}
	if passed != 200 {
		t.Errorf("two replicas passed %d calls from a shared bucket of 200 (nothing refills in this fake), want exactly 200", passed)
	}
	// 200 tokens in leases of 10, then one refused round trip per
	// replica: the refusal is remembered for the wait it named.
	if shared.calls != 22 {
		t.Errorf("%d round trips for 200 passed and 200 refused calls, want 20 leases and 2 refusals", shared.calls)
	}
}

// TestSharedLimiterBatch: a batch needing more than is leased takes the
// difference, and a lease never exceeds a quarter of the burst.
func TestSharedLimiterBatch(t *testing.T) {
	shared := &countingBuckets{}
	l := newSharedLimiter(shared, 1000, 8, slog.New(slog.DiscardHandler), nil)
	if l.lease != 2 {
		t.Fatalf("lease %d, want a quarter of the burst (2)", l.lease)
	}
	if v := l.take(t.Context(), "k", 5); !v.ok || shared.perCall[0] != 5 {
		t.Fatalf("batch of 5: %+v, asked for %v", v, shared.perCall)
	}
	if v := l.take(t.Context(), "k", 4); v.ok || v.wait <= 0 {
		t.Errorf("batch of 4 with 3 left: %+v, want refused with a wait", v)
	}
}

// TestSharedLimiterFallback: when the shared buckets do not answer, the
// replica limits on its own, in memory.
func TestSharedLimiterFallback(t *testing.T) {
	shared := &countingBuckets{fail: true}
	var log strings.Builder
	l := newSharedLimiter(shared, 0.001, 3, slog.New(slog.NewTextHandler(&log, nil)), nil)
	passed := 0
	for range 10 {
		if l.take(t.Context(), "k", 1).ok {
			passed++
		}
	}
	if passed != 3 {
		t.Errorf("with the database down %d of 10 calls passed, want the local burst of 3", passed)
	}
	if n := strings.Count(log.String(), "shared rate limits unreachable"); n != 1 {
		t.Errorf("warned %d times, want once a minute:\n%s", n, log.String())
	}
}

// TestSharedLimiterOutage: the request that finds the shared buckets not
// answering, and one that waited on the same lease meanwhile, are told so
// (the server answers them 503 at once: the call behind the limit would
// wait the database's deadline again). For sharedPause after, every
// limiter of the server uses memory without a round trip; then one request
// asks again.
func TestSharedLimiterOutage(t *testing.T) {
	shared := &countingBuckets{stall: make(chan struct{})}
	health := &bucketHealth{}
	byPrincipal := newSharedLimiter(shared, 100, 200, slog.New(slog.DiscardHandler), health)
	byOrg := newSharedLimiter(shared, 100, 200, slog.New(slog.DiscardHandler), health)
	calls := func() int {
		shared.mu.Lock()
		defer shared.mu.Unlock()
		return shared.calls
	}
	lastUsed := func() time.Time {
		byPrincipal.mu.Lock()
		defer byPrincipal.mu.Unlock()
		if l := byPrincipal.held["k"]; l != nil {
			return l.lastUsed
		}
		return time.Time{}
	}
	first, second := make(chan verdict, 1), make(chan verdict, 1)
	go func() { first <- byPrincipal.take(t.Context(), "k", 1) }()
	for calls() == 0 {
		time.Sleep(time.Millisecond)
	}
	asking := lastUsed()
	go func() { second <- byPrincipal.take(t.Context(), "k", 1) }()
	for lastUsed().Equal(asking) { // the second has its lease and waits for its lock
		time.Sleep(time.Millisecond)
	}
	close(shared.stall)
	if v := <-first; !v.unavailable || v.ok {
		t.Errorf("the request that found the buckets unreachable: %+v, want unavailable", v)
	}
	if v := <-second; !v.unavailable || v.ok {
		t.Errorf("the request that waited on it: %+v, want unavailable", v)
	}

	shared.mu.Lock()
	shared.stall = nil
	shared.mu.Unlock()
	for _, l := range []*sharedLimiter{byPrincipal, byOrg} {
		if v := l.take(t.Context(), "k", 1); !v.ok {
			t.Errorf("within the pause: %+v, want passed by the bucket in memory", v)
		}
	}
	if n := calls(); n != 1 {
		t.Errorf("%d round trips: within the pause the buckets were asked again", n)
	}

	health.mu.Lock()
	health.failedAt = health.failedAt.Add(-sharedPause)
	health.mu.Unlock()
	if v := byOrg.take(t.Context(), "k", 1); !v.ok || calls() != 2 {
		t.Errorf("after the pause: %+v after %d round trips, want the buckets asked again", v, calls())
	}
	if health.failedSince(time.Time{}) {
		t.Error("the buckets answered, and are still taken for failing")
	}
}

// TestLeaseExpires: leased tokens not spent within leaseTTL are dropped.
func TestLeaseExpires(t *testing.T) {
	shared := &countingBuckets{}
	l := newSharedLimiter(shared, 100, 200, slog.New(slog.DiscardHandler), nil)
	l.take(t.Context(), "k", 1) // leases 10, spends 1
	l.held["k"].expires = time.Now().Add(-time.Millisecond)
	l.take(t.Context(), "k", 1)
	if shared.calls != 2 {
		t.Errorf("%d round trips: an expired lease was spent", shared.calls)
	}
}

func TestPolicyItem(t *testing.T) {
	for _, tc := range []struct {
		rate  float64
		burst int
		want  string
	}{
		{50, 100, `"p";q=100;w=2`},
		{0.5, 2, `"p";q=2;w=4`},
		{3, 1, `"p";q=1;w=1`},
	} {
		if got := policyItem("p", tc.rate, tc.burst); got != tc.want {
			t.Errorf("policyItem(%v, %d) = %s, want %s", tc.rate, tc.burst, got, tc.want)
		}
	}
}

// TestRefusalIsRemembered: after the shared bucket refused, calls needing
// as much are refused locally until the wait is over.
func TestRefusalIsRemembered(t *testing.T) {
	shared := &countingBuckets{}
	l := newSharedLimiter(shared, 0.001, 1, slog.New(slog.DiscardHandler), nil)
	if !l.take(t.Context(), "k", 1).ok {
		t.Fatal("first call refused")
	}
	for range 5 {
		if v := l.take(t.Context(), "k", 1); v.ok || v.wait <= 0 {
			t.Fatalf("over the limit: %+v", v)
		}
	}
	if shared.calls != 2 {
		t.Errorf("%d round trips for 1 pass and 5 refusals, want 2", shared.calls)
	}
	l.held["k"].blockedUntil = time.Now().Add(-time.Millisecond)
	l.take(t.Context(), "k", 1)
	if shared.calls != 3 {
		t.Errorf("after the wait the shared bucket was not asked again")
	}
}

// BenchmarkTakeTokensPostgres measures one lease: the statement a replica
// runs when its local tokens are spent. ("logged" sets the table LOGGED,
// to show what UNLOGGED saves.)
func BenchmarkTakeTokensPostgres(b *testing.B) {
	url, schema := pgtest.URL(b), pgtest.Schema(b)
	st, err := postgres.Open(b.Context(), url, &postgres.Options{Schema: schema})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	limit := store.RateLimit{PerSecond: 1e6, Burst: 1 << 30}
	run := func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := st.TakeTokens(b.Context(), "bench:"+strconv.Itoa(i%64), limit, 1, 5); err != nil {
				b.Fatal(err)
			}
			i++
		}
	}
	b.Run("unlogged", run)
	conn, err := pgx.Connect(b.Context(), url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(b.Context())
	if _, err := conn.Exec(b.Context(), `ALTER TABLE `+pgx.Identifier{schema, "rate_buckets"}.Sanitize()+` SET LOGGED`); err != nil {
		b.Fatal(err)
	}
	b.Run("logged", run)
}
