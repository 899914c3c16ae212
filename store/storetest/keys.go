package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/orgscope/orgscope/store"
)

var keyTests = []test{
	{"SigningKeyEnsure", testSigningKeyEnsure},
	{"SigningKeyRace", testSigningKeyRace},
}

func signingKey(id string) store.SigningKey {
	return store.SigningKey{ID: id, Algorithm: "RS256", PrivateKey: []byte("der-of-" + id + "\x00\xff")}
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
	want.CreatedAt = first.CreatedAt
	equal(t, "first key", first, want)

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
