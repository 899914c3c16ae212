package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/orgscope/orgscope/store"
)

var rateTests = []test{
	{"TakeTokens/partial, exhausted and independent buckets", testTakeTokens},
	{"TakeTokens/refills", testTakeTokensRefill},
	{"TakeTokens/concurrent callers take exactly the burst", testTakeTokensConcurrent},
	{"TakeTokens/refuses a bucket without a rate", testTakeTokensInvalid},
}

// slow refills one token in 1,000 s: nothing refills during a test.
var slow = store.RateLimit{PerSecond: 0.001, Burst: 5}

func take(t *testing.T, s store.Store, key string, l store.RateLimit, need, want int) store.RateTake {
	t.Helper()
	got, err := s.TakeTokens(t.Context(), key, l, need, want)
	if err != nil {
		t.Fatalf("TakeTokens(%s, %d, %d): %v", key, need, want, err)
	}
	return got
}

func testTakeTokens(t *testing.T, s store.Store) {
	if got := take(t, s, "a", slow, 1, 2); got.Taken != 2 || got.Remaining != 3 || got.Wait != 0 {
		t.Errorf("first take from a full bucket: %+v, want 2 taken, 3 left", got)
	}
	if got := take(t, s, "a", slow, 1, 10); got.Taken != 3 || got.Remaining != 0 {
		t.Errorf("take more than is left: %+v, want the 3 left", got)
	}
	got := take(t, s, "a", slow, 1, 1)
	if got.Taken != 0 || got.Remaining != 0 || got.Wait < 990*time.Second || got.Wait > 1000*time.Second {
		t.Errorf("empty bucket: %+v, want nothing taken and a wait of one period (1000 s)", got)
	}
	if got.Full < 4990*time.Second || got.Full > 5000*time.Second {
		t.Errorf("empty bucket full again in %v, want 5000 s", got.Full)
	}
	if got := take(t, s, "b", slow, 1, 4); got.Taken != 4 || got.Remaining != 1 {
		t.Errorf("another key: %+v, want a full bucket of its own", got)
	}
	if got := take(t, s, "b", slow, 2, 3); got.Taken != 0 || got.Wait < 990*time.Second {
		t.Errorf("need 2 of 1 left: %+v, want nothing taken", got)
	}
	if got := take(t, s, "b", slow, 1, 3); got.Taken != 1 || got.Remaining != 0 {
		t.Errorf("need 1 of 1 left: %+v, want the last one", got)
	}
	if got := take(t, s, "c", slow, 6, 6); got.Taken != 0 {
		t.Errorf("need above the burst: %+v, want nothing taken", got)
	}
	if got := take(t, s, "c", slow, 5, 5); got.Taken != 5 {
		t.Errorf("after a refused need above the burst the bucket is still full: %+v", got)
	}
}

func testTakeTokensRefill(t *testing.T, s store.Store) {
	fast := store.RateLimit{PerSecond: 1000, Burst: 2}
	take(t, s, "fast", fast, 2, 2)
	time.Sleep(10 * time.Millisecond) // ten periods: full again
	if got := take(t, s, "fast", fast, 2, 2); got.Taken != 2 {
		t.Errorf("after ten periods: %+v, want a full bucket", got)
	}
}

func testTakeTokensConcurrent(t *testing.T, s store.Store) {
	l := store.RateLimit{PerSecond: 0.001, Burst: 50}
	var mu sync.Mutex
	taken := 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				got, err := s.TakeTokens(t.Context(), "shared", l, 1, 1)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				taken += got.Taken
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if taken != 50 {
		t.Errorf("80 concurrent takes of one token from a bucket of 50 took %d", taken)
	}
}

func testTakeTokensInvalid(t *testing.T, s store.Store) {
	for _, tc := range []struct {
		l          store.RateLimit
		need, want int
	}{
		{store.RateLimit{PerSecond: 0, Burst: 1}, 1, 1},
		{store.RateLimit{PerSecond: 1, Burst: 0}, 1, 1},
		{slow, 0, 1},
		{slow, 2, 1},
	} {
		if _, err := s.TakeTokens(t.Context(), "x", tc.l, tc.need, tc.want); err == nil {
			t.Errorf("TakeTokens(%+v, %d, %d) succeeded", tc.l, tc.need, tc.want)
		}
	}
}
