package store

import (
	"slices"
	"time"
)

// KeyState is where a signing key is in its life.
type KeyState string

// The states of a signing key. Every state but retired is published in the
// JWKS and trusted by the resource server.
const (
	// KeyNext: published, not signing yet (its ActivateAt is to come), so
	// that every replica and every JWKS cache knows it before it signs.
	KeyNext KeyState = "next"
	// KeyActive: the key that signs, the newest whose ActivateAt has come.
	KeyActive KeyState = "active"
	// KeyRetiring: a newer key signs; still published until every token
	// this one signed has expired (RetireAfter).
	KeyRetiring KeyState = "retiring"
	// KeyRetired: past RetireAfter; neither published nor trusted, and
	// removed from the store.
	KeyRetired KeyState = "retired"
)

// KeyStatus is a key's state at a moment.
type KeyStatus struct {
	Key   SigningKey
	State KeyState
	// RetireAfter is when the key leaves the JWKS and stops being trusted:
	// the RetirePreviousAt of the keys after it (the earliest); zero while
	// no key follows it.
	RetireAfter time.Time
}

// Published reports whether the key is in the JWKS (and trusted).
func (s KeyStatus) Published() bool { return s.State != KeyRetired }

// activateAt is when k begins to sign.
func (k SigningKey) activateAt() time.Time {
	if k.ActivateAt.IsZero() {
		return k.CreatedAt
	}
	return k.ActivateAt
}

// retirePreviousAt is when the keys before k retire once k signs.
func (k SigningKey) retirePreviousAt() time.Time {
	if k.RetirePreviousAt.IsZero() {
		return k.activateAt()
	}
	return k.RetirePreviousAt
}

// KeySchedule returns the state of every key at now, newest first (by
// ActivateAt, then ID). It is the one rule every replica applies to the
// keys it reads, so they agree on which key signs and which are published
// without talking to each other:
//
//   - a key whose ActivateAt is to come is next;
//   - of the others, the newest is active: it signs;
//   - an older one is retiring until the RetirePreviousAt of the earliest
//     key after it, and retired from then on.
//
// Removing the active key would make an older one active again;
// RetireSigningKey therefore makes another key sign at once instead.
func KeySchedule(keys []SigningKey, now time.Time) []KeyStatus {
	sorted := slices.Clone(keys)
	slices.SortFunc(sorted, func(a, b SigningKey) int {
		if c := a.activateAt().Compare(b.activateAt()); c != 0 {
			return -c
		}
		switch {
		case a.ID > b.ID:
			return -1
		case a.ID < b.ID:
			return 1
		}
		return 0
	})
	out := make([]KeyStatus, len(sorted))
	var retire time.Time // earliest RetirePreviousAt of the keys seen (newer ones)
	active := false
	for i, k := range sorted {
		s := KeyStatus{Key: k, RetireAfter: retire}
		switch {
		case k.activateAt().After(now):
			s.State = KeyNext
		case !active:
			s.State, active = KeyActive, true
		case retire.After(now):
			s.State = KeyRetiring
		default:
			s.State = KeyRetired
		}
		out[i] = s
		if r := k.retirePreviousAt(); retire.IsZero() || r.Before(retire) {
			retire = r
		}
	}
	return out
}

// KeyRetirement is what RetireSigningKey did.
type KeyRetirement struct {
	// Retired is the key removed.
	Retired SigningKey
	// Successor, when Retired was the key signing, is the key that signs in
	// its place from now on; zero otherwise.
	Successor SigningKey
	// Made reports that Successor was made for the occasion (there was no
	// next key to bring forward).
	Made bool
}
