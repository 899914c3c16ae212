package authserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/orgscope/orgscope/store"
)

// keyRing is a server's view of the signing keys in the store: read at
// start and every poll interval, and applied at every instant by
// store.KeySchedule, so that every replica switches to a rotated key at
// the moment the store says, publishes and trusts the same keys, and
// drops a retired key at its next poll. The keys' parsed forms are kept
// between polls; a poll that fails leaves the view as it was.
type keyRing struct {
	manager *KeyManager
	store   Store
	log     *slog.Logger
	now     func() time.Time

	mu         sync.Mutex // one refresh at a time
	snap       atomic.Pointer[ringSnapshot]
	lastActive atomic.Pointer[string] // for the log line when it changes
}

// ringKey is one key as the server uses it.
type ringKey struct {
	public jose.JSONWebKey
	// signer signs with the key; nil when its private key cannot be opened
	// here (openErr says why): the key is still published and trusted.
	signer  jose.Signer
	openErr error
}

// ringSnapshot is what one read of the store found.
type ringSnapshot struct {
	stored []store.SigningKey
	keys   map[string]*ringKey
	view   atomic.Pointer[keyView]
}

// keyView is a snapshot applied at a moment; it holds for every instant in
// [from, until) (until zero: no end), since nothing changes in between.
type keyView struct {
	from, until time.Time
	active      *ringKey
	activeID    string
	// activeRetires is when the active key leaves the JWKS (a successor
	// is scheduled); zero while none is.
	activeRetires time.Time
	published     []jose.JSONWebKey
}

// load reads the keys, making the first one if there is none (replicas
// starting together agree on one through EnsureSigningKey). Every
// published key must open: a database whose keys are sealed is not served
// without their key-encryption key.
func (r *keyRing) load(ctx context.Context) error {
	keys, err := r.store.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("authserver: load signing keys: %w", err)
	}
	if len(keys) == 0 {
		candidate, err := r.manager.Make()
		if err != nil {
			return err
		}
		candidate.CreatedAt = r.now()
		if _, err := r.store.EnsureSigningKey(ctx, candidate); err != nil {
			return fmt.Errorf("authserver: store signing key: %w", err)
		}
	}
	if err := r.refresh(ctx); err != nil {
		return err
	}
	snap := r.snap.Load()
	var errs []error
	for _, s := range store.KeySchedule(snap.stored, r.now()) {
		if !s.Published() {
			continue
		}
		switch k := snap.keys[s.Key.ID]; {
		case k == nil:
			_, err := r.manager.publicKey(s.Key)
			errs = append(errs, err)
		case k.openErr != nil:
			errs = append(errs, k.openErr)
		}
	}
	return errors.Join(errs...)
}

// refresh reads the keys from the store and swaps the view.
func (r *keyRing) refresh(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	stored, err := r.store.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("authserver: read signing keys: %w", err)
	}
	old := r.snap.Load()
	next := &ringSnapshot{stored: stored, keys: make(map[string]*ringKey, len(stored))}
	for _, k := range stored {
		if old != nil {
			if known, ok := old.keys[k.ID]; ok && sameKey(old.stored, k) {
				next.keys[k.ID] = known
				continue
			}
		}
		rk, err := r.open(k)
		if err != nil {
			// A key whose public part is unreadable is not ours to trust.
			r.log.ErrorContext(ctx, "signing key unusable", "kid", k.ID, "err", err)
			continue
		}
		next.keys[k.ID] = rk
		if old != nil {
			r.log.InfoContext(ctx, "signing key published", "kid", k.ID, "alg", k.Algorithm, "signs_from", k.ActivateAt)
		}
		if rk.openErr != nil {
			r.log.ErrorContext(ctx, "signing key cannot sign here", "kid", k.ID, "err", rk.openErr)
		}
	}
	if old != nil {
		for id := range old.keys {
			if _, ok := next.keys[id]; !ok {
				r.log.InfoContext(ctx, "signing key withdrawn", "kid", id)
			}
		}
	}
	r.snap.Store(next)
	return nil
}

// sameKey reports whether stored has k unchanged (a retirement may bring
// a key's ActivateAt forward; its material never changes).
func sameKey(stored []store.SigningKey, k store.SigningKey) bool {
	for _, s := range stored {
		if s.ID == k.ID {
			return s.KEKID == k.KEKID && string(s.PrivateKey) == string(k.PrivateKey)
		}
	}
	return false
}

// open parses k: its public key always, its private key if it opens.
func (r *keyRing) open(k store.SigningKey) (*ringKey, error) {
	pub, err := r.manager.publicKey(k)
	if err != nil {
		return nil, err
	}
	rk := &ringKey{public: jose.JSONWebKey{Key: pub, KeyID: k.ID, Algorithm: k.Algorithm, Use: "sig"}}
	priv, err := r.manager.privateKey(k)
	if err != nil {
		rk.openErr = err
		return rk, nil
	}
	rk.signer, err = jose.NewSigner(
		jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Algorithm), Key: jose.JSONWebKey{Key: priv, KeyID: k.ID}},
		(&jose.SignerOptions{}).WithType("at+jwt"),
	)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: signer: %w", k.ID, err)
	}
	return rk, nil
}

// watch refreshes every interval until ctx ends. A failure is logged
// once, and so is the recovery, however many polls fail in between.
func (r *keyRing) watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, max(interval, 2*time.Second))
		err := r.refresh(pctx)
		cancel()
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			r.log.WarnContext(ctx, "signing keys could not be read; using the ones read before", "err", err)
			failing = true
		case err == nil && failing:
			r.log.InfoContext(ctx, "signing keys read again")
			failing = false
		}
	}
}

// view returns the keys as they stand at now.
func (r *keyRing) view(now time.Time) *keyView {
	snap := r.snap.Load()
	if v := snap.view.Load(); v != nil && !now.Before(v.from) && (v.until.IsZero() || now.Before(v.until)) {
		return v
	}
	v := &keyView{}
	for _, s := range store.KeySchedule(snap.stored, now) {
		for _, t := range []time.Time{s.Key.ActivateAt, s.RetireAfter} {
			switch {
			case t.IsZero():
			case t.After(now):
				if v.until.IsZero() || t.Before(v.until) {
					v.until = t
				}
			case t.After(v.from):
				v.from = t
			}
		}
		k := snap.keys[s.Key.ID]
		if k == nil || !s.Published() {
			continue
		}
		v.published = append(v.published, k.public)
		if s.State == store.KeyActive {
			v.active, v.activeID, v.activeRetires = k, s.Key.ID, s.RetireAfter
		}
	}
	snap.view.Store(v)
	if last := r.lastActive.Load(); v.activeID != "" && (last == nil || *last != v.activeID) {
		id := v.activeID
		if r.lastActive.Swap(&id) != nil {
			r.log.Info("signing with another key", "kid", id)
		}
	}
	return v
}

// published returns the keys in the JWKS at now, newest first. The slice
// is shared: callers must not change it.
func (r *keyRing) published(now time.Time) []jose.JSONWebKey {
	return r.view(now).published
}

// key returns the published key kid at now.
func (r *keyRing) key(kid string, now time.Time) (jose.JSONWebKey, bool) {
	for _, k := range r.view(now).published {
		if k.KeyID == kid {
			return k, true
		}
	}
	return jose.JSONWebKey{}, false
}

// signer returns the key that signs at now, and the latest expiry a token
// it signs may have (zero: no bound), which keeps every token inside its
// key's time in the JWKS even if this server's token lifetime is longer
// than the one the rotation was scheduled with.
func (r *keyRing) signer(now time.Time) (jose.Signer, time.Time, error) {
	v := r.view(now)
	switch {
	case v.active == nil:
		return nil, time.Time{}, errNoSigningKey
	case v.active.signer == nil:
		return nil, time.Time{}, v.active.openErr
	}
	var notAfter time.Time
	if !v.activeRetires.IsZero() {
		notAfter = v.activeRetires.Add(-keyRetireMargin)
	}
	return v.active.signer, notAfter, nil
}

// sign signs claims with the key active at now, first bringing their
// expiry within the key's time in the JWKS.
func (s *Server) sign(now time.Time, claims *tokenClaims) (string, error) {
	signer, notAfter, err := s.keys.signer(now)
	if err != nil {
		return "", err
	}
	if !notAfter.IsZero() && claims.Expiry != nil && claims.Expiry.Time().After(notAfter) {
		claims.Expiry = jwt.NewNumericDate(notAfter)
	}
	// The claims are one struct, so the payload is its JSON: go-jose's
	// jwt builder would marshal it, unmarshal it into a map to merge
	// claim sets, and marshal it again — a tenth of a token's cost.
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}
