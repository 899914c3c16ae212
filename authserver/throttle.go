package authserver

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"time"
)

// Password guessing is slowed per account, whoever guesses and from
// wherever: after signInFreeAttempts attempts that did not succeed, each
// further attempt must wait a delay that doubles from signInBaseDelay up
// to signInMaxDelay. An attempt inside the delay is refused before the
// store is read or bcrypt runs. The cap keeps the worst an attacker can do
// to a person at a minute's wait; it still holds one account to about 60
// guesses an hour. Accounts are keyed by the case-folded email whether or
// not it exists, so an unknown email is throttled exactly like a real one.
const (
	signInFreeAttempts = 5
	signInBaseDelay    = time.Second
	signInMaxDelay     = time.Minute
	// signInForget: an account left alone this long starts afresh.
	signInForget = 15 * time.Minute
	// signInMaxAccounts bounds the memory; bcrypt bounds how fast new
	// accounts can be added (a handful a second per core), so it is a
	// backstop rather than a limit anyone reaches.
	signInMaxAccounts = 100_000
)

// signInThrottle counts unsuccessful sign-ins per account, in memory.
type signInThrottle struct {
	mu       sync.Mutex
	accounts map[string]*signInAttempts
	swept    time.Time
}

type signInAttempts struct {
	// n counts attempts admitted since the last success; an attempt is
	// counted when it is admitted, before its password is checked, so that
	// parallel guesses cannot all slip through before the first one fails.
	n         int
	last      time.Time
	notBefore time.Time
}

func newSignInThrottle() *signInThrottle {
	return &signInThrottle{accounts: map[string]*signInAttempts{}}
}

// accountKey is the throttle's key for an email: trimmed and case-folded.
func accountKey(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// accountRef names an account in logs without naming the person: the first
// 16 hex digits of the SHA-256 of its key.
func accountRef(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:8])
}

// admit decides whether an attempt for key may check a password now. When
// it may not, wait is how long until it may; failures is the number of
// unsuccessful attempts so far.
func (t *signInThrottle) admit(key string, now time.Time) (ok bool, wait time.Duration, failures int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if now.Sub(t.swept) > time.Minute || len(t.accounts) >= signInMaxAccounts {
		t.sweep(now)
	}
	a := t.accounts[key]
	if a != nil && now.Sub(a.last) > signInForget && !now.Before(a.notBefore) {
		a = nil
	}
	if a == nil {
		a = &signInAttempts{}
		t.accounts[key] = a
	}
	if now.Before(a.notBefore) {
		return false, a.notBefore.Sub(now), a.n
	}
	a.n++
	a.last = now
	if over := a.n - signInFreeAttempts; over > 0 {
		delay := signInMaxDelay
		if over <= 16 {
			delay = min(signInBaseDelay<<(over-1), signInMaxDelay)
		}
		a.notBefore = now.Add(delay)
	}
	return true, 0, a.n - 1
}

// succeeded forgets key's attempts: its password was right.
func (t *signInThrottle) succeeded(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.accounts, key)
}

// sweep forgets accounts left alone, and when the map is still full, an
// arbitrary account that is not being delayed.
func (t *signInThrottle) sweep(now time.Time) {
	for k, a := range t.accounts {
		if now.Sub(a.last) > signInForget && !now.Before(a.notBefore) {
			delete(t.accounts, k)
		}
	}
	t.swept = now
	if len(t.accounts) < signInMaxAccounts {
		return
	}
	for k, a := range t.accounts {
		if !now.Before(a.notBefore) {
			delete(t.accounts, k)
			return
		}
	}
}
