package auth_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/orgscope/orgscope/auth"
)

// fixedVerifier hands out the principal registered for each token.
type fixedVerifier map[string]*auth.Principal

func (f fixedVerifier) Verify(_ context.Context, token string) (*auth.Principal, error) {
	if p, ok := f[token]; ok {
		return p, nil
	}
	return nil, auth.ErrInvalidToken
}

// feedState is a revocation feed the test controls: what it holds, and
// whether it answers.
type feedState struct {
	mu   sync.Mutex
	rev  auth.Revocations
	down bool
	asks []time.Time
}

func (f *feedState) feed(_ context.Context, since time.Time) (auth.Revocations, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asks = append(f.asks, since)
	if f.down {
		return auth.Revocations{}, errors.New("database down")
	}
	var out auth.Revocations
	for _, t := range f.rev.Tokens {
		if !t.RevokedAt.Before(since) {
			out.Tokens = append(out.Tokens, t)
		}
	}
	for _, c := range f.rev.Cutoffs {
		if !c.ChangedAt.Before(since) {
			out.Cutoffs = append(out.Cutoffs, c)
		}
	}
	return out, nil
}

func (f *feedState) add(fn func(r *auth.Revocations)) {
	f.mu.Lock()
	fn(&f.rev)
	f.mu.Unlock()
}

func TestDenylist(t *testing.T) {
	now := time.Now()
	early := &auth.Principal{TokenID: "jti-early", ClientID: "agent", IssuedAt: now.Add(-time.Minute).Truncate(time.Second)}
	late := &auth.Principal{TokenID: "jti-late", ClientID: "agent", IssuedAt: now.Add(time.Minute).Truncate(time.Second)}
	other := &auth.Principal{TokenID: "jti-other", ClientID: "other", IssuedAt: now.Add(-time.Minute)}
	delegated := &auth.Principal{TokenID: "jti-del", ClientID: "sub-agent", ActorChain: []string{"sub-agent", "agent"},
		IssuedAt: now.Add(-time.Minute)}
	next := fixedVerifier{"early": early, "late": late, "other": other, "delegated": delegated}
	f := &feedState{rev: auth.Revocations{Tokens: []auth.RevokedToken{{TokenID: "jti-other", RevokedAt: now, ExpiresAt: now.Add(time.Hour)}}}}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	v := auth.NewDenylistVerifier(ctx, next, f.feed, &auth.DenylistOptions{Interval: 10 * time.Millisecond})

	refused := func(token string) bool {
		_, err := v.Verify(ctx, token)
		var te *auth.TokenError
		if err != nil && !errors.As(err, &te) {
			t.Fatalf("%s: %v is not a token refusal", token, err)
		}
		return err != nil
	}
	// The first poll happens before NewDenylistVerifier returns.
	if !refused("other") || refused("early") || refused("late") || refused("delegated") {
		t.Fatal("after the first poll: only the revoked jti is refused")
	}

	// A cutoff of agent refuses its tokens issued before it, and tokens it
	// acts in, but not those issued after.
	f.add(func(r *auth.Revocations) {
		r.Cutoffs = append(r.Cutoffs, auth.ClientCutoff{ClientID: "agent", Cutoff: now, ChangedAt: time.Now(), ExpiresAt: now.Add(time.Hour)})
	})
	deadline := time.Now().Add(2 * time.Second)
	for !refused("early") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !refused("early") || !refused("delegated") || refused("late") {
		t.Errorf("after the cutoff: early %v delegated %v late %v", refused("early"), refused("delegated"), refused("late"))
	}

	// While the feed is down, what is known stays known.
	f.mu.Lock()
	f.down = true
	f.mu.Unlock()
	time.Sleep(50 * time.Millisecond)
	if !refused("other") || !refused("early") {
		t.Error("an outage of the feed forgot revocations")
	}

	// Polls reach back by the overlap, so a revocation stamped a little
	// before the last poll (another replica's clock) is not missed.
	f.mu.Lock()
	f.down = false
	asks := f.asks
	f.mu.Unlock()
	if len(asks) < 3 || !asks[0].IsZero() {
		t.Fatalf("polls since %v", asks)
	}
	f.add(func(r *auth.Revocations) {
		r.Tokens = append(r.Tokens, auth.RevokedToken{TokenID: "jti-late", RevokedAt: time.Now().Add(-2 * time.Second), ExpiresAt: now.Add(time.Hour)})
	})
	deadline = time.Now().Add(2 * time.Second)
	for !refused("late") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !refused("late") {
		t.Error("a revocation stamped two seconds back was missed")
	}
}
