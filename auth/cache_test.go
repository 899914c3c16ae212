package auth_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/orgscope/orgscope/auth"
)

// countingVerifier accepts tokens starting with "ok" and counts calls.
type countingVerifier struct {
	calls  int
	expiry time.Time
}

func (c *countingVerifier) Verify(_ context.Context, token string) (*auth.Principal, error) {
	c.calls++
	if token[:2] != "ok" {
		return nil, fmt.Errorf("%w: bad", auth.ErrInvalidToken)
	}
	return &auth.Principal{Subject: token, Expiry: c.expiry}, nil
}

func TestCachingVerifier(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	inner := &countingVerifier{expiry: now.Add(30 * time.Second)}
	v := auth.NewCachingVerifier(inner, &auth.CacheOptions{Size: 4, MaxAge: time.Minute, Now: func() time.Time { return now }})
	ctx := t.Context()

	for range 3 {
		p, err := v.Verify(ctx, "ok-1")
		if err != nil || p.Subject != "ok-1" {
			t.Fatalf("Verify = %v, %v", p, err)
		}
	}
	if inner.calls != 1 {
		t.Errorf("inner calls = %d, want 1 (cached)", inner.calls)
	}
	for range 2 {
		if _, err := v.Verify(ctx, "bad"); !errors.Is(err, auth.ErrInvalidToken) {
			t.Fatal("bad token accepted")
		}
	}
	if inner.calls != 3 {
		t.Errorf("inner calls = %d, want 3 (refusals are not cached)", inner.calls)
	}

	now = now.Add(31 * time.Second) // past the token's expiry
	v.Verify(ctx, "ok-1")
	if inner.calls != 4 {
		t.Errorf("inner calls = %d, want 4 (an expired entry is verified again)", inner.calls)
	}

	inner.expiry = now.Add(time.Hour)
	for i := range 20 { // far more tokens than Size
		v.Verify(ctx, fmt.Sprint("ok-many-", i))
	}
	before := inner.calls
	v.Verify(ctx, "ok-many-19")
	if inner.calls != before {
		t.Error("the most recent token was evicted")
	}
}
