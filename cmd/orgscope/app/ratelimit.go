package app

import (
	"context"

	"github.com/orgscope/orgscope/mcpserver"
	"github.com/orgscope/orgscope/store"
)

// sharedRateLimits returns cfg's rate limits, with the per-principal and
// per-organization buckets in the database when it is PostgreSQL, so that
// they hold across replicas. SQLite serves one process, whose memory is
// the right place for them.
func sharedRateLimits(cfg Config, st store.Store) *mcpserver.RateLimits {
	if cfg.RateLimits == nil || cfg.DatabaseURL == "" {
		return cfg.RateLimits
	}
	rl := *cfg.RateLimits
	rl.Shared = storeBuckets{st}
	return &rl
}

// storeBuckets adapts the store's token buckets to mcpserver's.
type storeBuckets struct{ st store.RateStore }

func (b storeBuckets) TakeTokens(ctx context.Context, key string, perSecond float64, burst, need, want int) (mcpserver.BucketTake, error) {
	got, err := b.st.TakeTokens(ctx, key, store.RateLimit{PerSecond: perSecond, Burst: burst}, need, want)
	return mcpserver.BucketTake{Taken: got.Taken, Remaining: got.Remaining, Wait: got.Wait, Full: got.Full}, err
}
