package authserver

import (
	"context"
	"time"

	"github.com/orgscope/orgscope/store"
)

// Sweep removes what the interactive flow leaves behind and nothing can use
// any more — expired pending sign-ins, codes and refresh tokens, revoked
// or exhausted grants — and registered clients idle for longer than
// RegisteredClientIdle, and signing keys past their retirement (their
// private keys with them). The cutoff for grants stays a day (or a token
// lifetime) behind, so no live access token loses its grant.
func (s *Server) Sweep(ctx context.Context) error {
	now := s.opts.Now()
	keep := max(24*time.Hour, s.opts.TokenTTL+time.Hour)
	expired, err := s.opts.Store.DeleteExpired(ctx, now.Add(-keep))
	if err != nil {
		return err
	}
	idle, err := s.opts.Store.DeleteIdleClients(ctx, store.ClientRegistered,
		now.Add(-s.opts.RegistrationUnusedTTL), now.Add(-s.opts.RegisteredClientIdle))
	if err != nil {
		return err
	}
	retired, err := s.opts.Store.DeleteRetiredSigningKeys(ctx, now)
	if err != nil {
		return err
	}
	if expired+idle+retired > 0 {
		s.log.InfoContext(ctx, "swept", "expired_rows", expired, "idle_clients", idle, "retired_signing_keys", retired)
	}
	return nil
}

// Janitor sweeps now and then every interval until ctx ends. Every replica
// may run one: sweeping is idempotent.
func (s *Server) Janitor(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "sweep failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
