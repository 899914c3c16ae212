package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/orgscope/orgscope/store"
)

var keyTests = []test{
	{"SigningKeyEnsure", testSigningKeyEnsure},
	{"SigningKeyRace", testSigningKeyRace},
	{"SigningKeyAdd", testSigningKeyAdd},
	{"SigningKeyRetire", testSigningKeyRetire},
	{"SigningKeyRetireRace", testSigningKeyRetireRace},
	{"SigningKeyDeleteRetired", testSigningKeyDeleteRetired},
}

func signingKey(id string) store.SigningKey {
	return store.SigningKey{ID: id, Algorithm: "RS256", PrivateKey: []byte("der-of-" + id + "\x00\xff")}
}

// scheduledKey is a sealed key with a public part that signs from
// activate and retires its predecessors at retirePrevious.
func scheduledKey(id string, activate, retirePrevious time.Time) store.SigningKey {
	return store.SigningKey{ID: id, Algorithm: "ES256", PrivateKey: []byte("sealed-" + id + "\x00\xff"), KEKID: "kek-1",
		PublicKey: []byte("spki-of-" + id), CreatedAt: activate.Add(-time.Hour), ActivateAt: activate, RetirePreviousAt: retirePrevious}
}

// states renders the schedule of the stored keys at now as "id:state".
func states(t *testing.T, s store.Store, now time.Time) []string {
	t.Helper()
	keys, err := s.SigningKeys(t.Context())
	ok(t, err, "SigningKeys")
	var out []string
	for _, st := range store.KeySchedule(keys, now) {
		out = append(out, st.Key.ID+":"+string(st.State))
	}
	return out
}

func testSigningKeyEnsure(t *testing.T, s store.Store) {
	keys, err := s.SigningKeys(t.Context())
	ok(t, err, "SigningKeys")
	equal(t, "keys of a fresh store", len(keys), 0)

	first, err := s.EnsureSigningKey(t.Context(), signingKey("k1"))
	ok(t, err, "EnsureSigningKey")
	if !isStamped(first.CreatedAt) {
		t.Fatalf("CreatedAt %v not set", first.CreatedAt)
	}
	want := signingKey("k1")
	want.CreatedAt, want.ActivateAt = first.CreatedAt, first.CreatedAt
	equal(t, "first key (signing from when it was made)", first, want)

	second, err := s.EnsureSigningKey(t.Context(), signingKey("k2"))
	ok(t, err, "EnsureSigningKey again")
	equal(t, "key after a second candidate", second, first)
	keys, err = s.SigningKeys(t.Context())
	ok(t, err, "SigningKeys")
	equal(t, "stored keys", keys, []store.SigningKey{first})
}

func testSigningKeyRace(t *testing.T, s store.Store) {
	const racers = 16
	got := make([]store.SigningKey, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			k, err := s.EnsureSigningKey(t.Context(), signingKey(fmt.Sprintf("k%d", i)))
			if err != nil {
				t.Errorf("EnsureSigningKey %d: %v", i, err)
			}
			got[i] = k
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for i, k := range got {
		equal(t, fmt.Sprintf("key of racer %d", i), k, got[0])
	}
	keys, err := s.SigningKeys(t.Context())
	ok(t, err, "SigningKeys")
	equal(t, "stored keys", keys, []store.SigningKey{got[0]})
}

// testSigningKeyAdd: a rotation's key keeps every field (sealed private
// key, public key, schedule), and an id is never stored twice.
func testSigningKeyAdd(t *testing.T, s store.Store) {
	ctx := t.Context()
	first, err := s.EnsureSigningKey(ctx, signingKey("k1"))
	ok(t, err, "EnsureSigningKey")
	next := scheduledKey("k2", future, future.Add(2*time.Hour))
	added, err := s.AddSigningKey(ctx, next)
	ok(t, err, "AddSigningKey")
	equal(t, "added key", added, next)
	keys, err := s.SigningKeys(ctx)
	ok(t, err, "SigningKeys")
	equal(t, "stored keys, newest first", keys, []store.SigningKey{next, first})

	_, err = s.AddSigningKey(ctx, scheduledKey("k2", past, past))
	wantErr(t, err, store.ErrConflict, "AddSigningKey with an id that exists")
	after, err := s.SigningKeys(ctx)
	ok(t, err, "SigningKeys")
	sameJSON(t, "keys after a refused AddSigningKey", keys, after)

	unscheduled, err := s.AddSigningKey(ctx, signingKey("k3"))
	ok(t, err, "AddSigningKey without times")
	if !isStamped(unscheduled.CreatedAt) || !unscheduled.ActivateAt.Equal(unscheduled.CreatedAt) {
		t.Fatalf("a key added without times: created %v, activates %v; want now, twice", unscheduled.CreatedAt, unscheduled.ActivateAt)
	}
}

// testSigningKeyRetire: retiring a key removes it; retiring the key that
// signs brings the next one forward, or makes one when there is none.
func testSigningKeyRetire(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := past.Add(24 * time.Hour)
	for _, k := range []store.SigningKey{
		scheduledKey("k0", now.Add(-2*time.Hour), time.Time{}),
		scheduledKey("k1", now.Add(-time.Hour), now.Add(time.Hour)),
		scheduledKey("k2", now.Add(time.Hour), now.Add(3*time.Hour)),
	} {
		_, err := s.AddSigningKey(ctx, k)
		ok(t, err, "AddSigningKey "+k.ID)
	}
	equal(t, "schedule", states(t, s, now), []string{"k2:next", "k1:active", "k0:retiring"})
	made := 0
	replacement := func() (store.SigningKey, error) {
		made++
		return scheduledKey("k3", future, future), nil
	}

	before, _ := s.SigningKeys(ctx)
	_, err := s.RetireSigningKey(ctx, "nope", now, replacement)
	wantErr(t, err, store.ErrNotFound, "RetireSigningKey of an unknown key")
	after, _ := s.SigningKeys(ctx)
	sameJSON(t, "keys after retiring an unknown one", before, after)

	r, err := s.RetireSigningKey(ctx, "k0", now, replacement)
	ok(t, err, "RetireSigningKey of a retiring key")
	equal(t, "retired", r.Retired.ID, "k0")
	equal(t, "successor of a retiring key", r.Successor.ID, "")
	equal(t, "schedule after retiring k0", states(t, s, now), []string{"k2:next", "k1:active"})

	r, err = s.RetireSigningKey(ctx, "k1", now, replacement)
	ok(t, err, "RetireSigningKey of the active key")
	if r.Retired.ID != "k1" || r.Successor.ID != "k2" || r.Made || !r.Successor.ActivateAt.Equal(now) {
		t.Fatalf("retiring the active key with a next one = %+v; want k2 brought forward to %v", r, now)
	}
	equal(t, "schedule after retiring k1", states(t, s, now), []string{"k2:active"})

	r, err = s.RetireSigningKey(ctx, "k2", now, replacement)
	ok(t, err, "RetireSigningKey of the only key")
	if r.Successor.ID != "k3" || !r.Made || made != 1 || !r.Successor.ActivateAt.Equal(now) {
		t.Fatalf("retiring the only key = %+v (replacements made: %d); want k3 made, signing from %v", r, made, now)
	}
	equal(t, "schedule after retiring k2", states(t, s, now), []string{"k3:active"})
	keys, _ := s.SigningKeys(ctx)
	want := scheduledKey("k3", future, future)
	want.ActivateAt = now
	equal(t, "stored replacement", keys, []store.SigningKey{want})

	failing := func() (store.SigningKey, error) { return store.SigningKey{}, errors.New("no entropy") }
	if _, err := s.RetireSigningKey(ctx, "k3", now, failing); err == nil {
		t.Fatal("retiring the only key when no replacement can be made succeeded")
	}
	after, _ = s.SigningKeys(ctx)
	equal(t, "keys after a retirement that failed", after, keys)
}

// testSigningKeyRetireRace: the key that signs and the next one retired at
// once, from two callers, still leave a key to sign with.
func testSigningKeyRetireRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := past.Add(24 * time.Hour)
	for _, k := range []store.SigningKey{
		scheduledKey("k1", now.Add(-time.Hour), time.Time{}),
		scheduledKey("k2", now.Add(time.Hour), now.Add(2*time.Hour)),
	} {
		_, err := s.AddSigningKey(ctx, k)
		ok(t, err, "AddSigningKey "+k.ID)
	}
	var wg sync.WaitGroup
	for _, id := range []string{"k1", "k2"} {
		wg.Go(func() {
			_, err := s.RetireSigningKey(ctx, id, now, func() (store.SigningKey, error) {
				return scheduledKey("made-for-"+id, future, future), nil
			})
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Errorf("RetireSigningKey %s: %v", id, err)
			}
		})
	}
	wg.Wait()
	got := states(t, s, now)
	if len(got) != 1 || (got[0] != "made-for-k1:active" && got[0] != "made-for-k2:active") {
		t.Fatalf("schedule after retiring both keys at once = %v; want one key, made to sign", got)
	}
}

func testSigningKeyDeleteRetired(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := past.Add(24 * time.Hour)
	for _, k := range []store.SigningKey{
		scheduledKey("k0", now.Add(-3*time.Hour), time.Time{}),
		scheduledKey("k1", now.Add(-2*time.Hour), now.Add(-time.Hour)),
		scheduledKey("k2", now.Add(-time.Minute), now.Add(time.Hour)),
	} {
		_, err := s.AddSigningKey(ctx, k)
		ok(t, err, "AddSigningKey "+k.ID)
	}
	equal(t, "schedule", states(t, s, now), []string{"k2:active", "k1:retiring", "k0:retired"})
	n, err := s.DeleteRetiredSigningKeys(ctx, now)
	ok(t, err, "DeleteRetiredSigningKeys")
	equal(t, "keys removed", n, 1)
	equal(t, "schedule after the sweep", states(t, s, now), []string{"k2:active", "k1:retiring"})
	n, err = s.DeleteRetiredSigningKeys(ctx, now.Add(time.Hour))
	ok(t, err, "DeleteRetiredSigningKeys an hour later")
	equal(t, "keys removed an hour later", n, 1)
	equal(t, "schedule an hour later", states(t, s, now.Add(time.Hour)), []string{"k2:active"})
}
