package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/orgscope/orgscope/store"
)

var clientTests = []test{
	{"ClientCreateGet", testClientCreateGet},
	{"ClientEmptyCollections", testClientEmptyCollections},
	{"ClientRefused", testClientRefused},
	{"ClientTouch", testClientTouch},
	{"ClientCountAndDeleteIdle", testClientCountAndDeleteIdle},
	{"ClientDeleteIdleTwoCutoffs", testClientDeleteIdleTwoCutoffs},
	{"ClientCreateWithin", testClientCreateWithin},
	{"ClientCreateWithinConcurrent", testClientCreateWithinConcurrent},
}

func testClientCreateGet(t *testing.T, s store.Store) {
	createOrg(t, s, "org_a")
	clients := []store.Client{
		{
			ID:                      "m2m_bound",
			Name:                    "Reporting bot",
			Kind:                    store.ClientMachine,
			OrgCode:                 "org_a",
			SecretHash:              "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
			Scopes:                  []string{"read:users", "read:flags"},
			GrantTypes:              []string{"client_credentials"},
			TokenEndpointAuthMethod: "client_secret_basic",
			Properties:              map[string]string{"owner": "ops"},
			CreatedAt:               past,
			LastUsedAt:              past.Add(time.Hour),
		},
		{
			ID:                      "m2m_global",
			Name:                    "Admin bot",
			Kind:                    store.ClientMachine,
			SecretHash:              "abc",
			Scopes:                  []string{"admin"},
			GrantTypes:              []string{"client_credentials"},
			TokenEndpointAuthMethod: "client_secret_post",
			CreatedAt:               past,
		},
		{
			ID:                      "dcr_1",
			Name:                    "Claude Code",
			Kind:                    store.ClientRegistered,
			Scopes:                  []string{"read:users"},
			RedirectURIs:            []string{"http://127.0.0.1:33418/callback", "http://localhost/cb"},
			GrantTypes:              []string{"authorization_code", "refresh_token"},
			TokenEndpointAuthMethod: "none",
			CreatedAt:               past,
		},
	}
	for _, want := range clients {
		got, err := s.CreateClient(t.Context(), want)
		ok(t, err, "CreateClient "+want.ID)
		equal(t, "CreateClient result", got, want)
		got, err = s.GetClient(t.Context(), want.ID)
		ok(t, err, "GetClient "+want.ID)
		equal(t, "GetClient", got, want)
	}

	fresh, err := s.CreateClient(t.Context(), store.Client{ID: "dcr_2", Kind: store.ClientRegistered})
	ok(t, err, "CreateClient")
	if !isStamped(fresh.CreatedAt) || !fresh.LastUsedAt.IsZero() {
		t.Fatalf("CreatedAt %v, LastUsedAt %v: want set and zero", fresh.CreatedAt, fresh.LastUsedAt)
	}
	got, err := s.GetClient(t.Context(), "dcr_2")
	ok(t, err, "GetClient")
	equal(t, "GetClient with default times", got, fresh)

	_, err = s.GetClient(t.Context(), "nope")
	wantErr(t, err, store.ErrNotFound, "GetClient missing")
}

// testClientEmptyCollections pins the suite's choice: empty lists and maps
// read back nil, like nil ones.
func testClientEmptyCollections(t *testing.T, s store.Store) {
	for _, c := range []store.Client{
		{ID: "empty", Kind: store.ClientRegistered, Scopes: []string{}, RedirectURIs: []string{}, GrantTypes: []string{}, Properties: map[string]string{}},
		{ID: "nil", Kind: store.ClientRegistered},
	} {
		want := store.Client{ID: c.ID, Kind: c.Kind}
		created, err := s.CreateClient(t.Context(), c)
		ok(t, err, "CreateClient")
		want.CreatedAt = created.CreatedAt
		equal(t, "CreateClient "+c.ID, created, want)
		got, err := s.GetClient(t.Context(), c.ID)
		ok(t, err, "GetClient")
		equal(t, "GetClient "+c.ID, got, want)
	}
}

func testClientRefused(t *testing.T, s store.Store) {
	first, err := s.CreateClient(t.Context(), store.Client{ID: "c1", Name: "First", Kind: store.ClientMachine})
	ok(t, err, "CreateClient")
	_, err = s.CreateClient(t.Context(), store.Client{ID: "c1", Name: "Second", Kind: store.ClientRegistered})
	wantErr(t, err, store.ErrConflict, "CreateClient duplicate ID")
	got, err := s.GetClient(t.Context(), "c1")
	ok(t, err, "GetClient")
	equal(t, "client after refused duplicate", got, first)

	_, err = s.CreateClient(t.Context(), store.Client{ID: "c2", Kind: store.ClientMachine, OrgCode: "org_nope"})
	wantErr(t, err, store.ErrNotFound, "CreateClient bound to a missing org")
	_, err = s.GetClient(t.Context(), "c2")
	wantErr(t, err, store.ErrNotFound, "GetClient after refused create")
}

func testClientTouch(t *testing.T, s store.Store) {
	c, err := s.CreateClient(t.Context(), store.Client{ID: "c1", Kind: store.ClientRegistered, CreatedAt: past})
	ok(t, err, "CreateClient")
	used := time.Date(2024, 3, 4, 5, 6, 7, 8009, time.FixedZone("X", -7200))
	ok(t, s.TouchClient(t.Context(), "c1", used), "TouchClient")
	got, err := s.GetClient(t.Context(), "c1")
	ok(t, err, "GetClient")
	c.LastUsedAt = time.Date(2024, 3, 4, 7, 6, 7, 8000, time.UTC)
	equal(t, "client after touch", got, c)
	wantErr(t, s.TouchClient(t.Context(), "nope", used), store.ErrNotFound, "TouchClient missing")
}

func testClientCountAndDeleteIdle(t *testing.T, s store.Store) {
	ctx := t.Context()
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	for _, c := range []store.Client{
		{ID: "idle", Kind: store.ClientRegistered, CreatedAt: base.Add(-10 * day)},
		{ID: "used_recently", Kind: store.ClientRegistered, CreatedAt: base.Add(-10 * day), LastUsedAt: base.Add(-time.Hour)},
		{ID: "used_long_ago", Kind: store.ClientRegistered, CreatedAt: base.Add(-10 * day), LastUsedAt: base.Add(-3 * day)},
		{ID: "new", Kind: store.ClientRegistered, CreatedAt: base},
		{ID: "at_cutoff", Kind: store.ClientRegistered, CreatedAt: base.Add(-day)},
		{ID: "machine_idle", Kind: store.ClientMachine, CreatedAt: base.Add(-10 * day)},
	} {
		_, err := s.CreateClient(ctx, c)
		ok(t, err, "CreateClient "+c.ID)
	}
	count := func(kind store.ClientKind) int {
		t.Helper()
		n, err := s.CountClients(ctx, kind)
		ok(t, err, "CountClients")
		return n
	}
	equal(t, "registered clients", count(store.ClientRegistered), 5)
	equal(t, "machine clients", count(store.ClientMachine), 1)

	n, err := s.DeleteIdleClients(ctx, store.ClientRegistered, base.Add(-day), base.Add(-day))
	ok(t, err, "DeleteIdleClients")
	equal(t, "deleted", n, 2)
	for id, want := range map[string]error{
		"idle": store.ErrNotFound, "used_long_ago": store.ErrNotFound,
		"used_recently": nil, "new": nil, "at_cutoff": nil, "machine_idle": nil,
	} {
		_, err := s.GetClient(ctx, id)
		if want == nil {
			ok(t, err, "GetClient "+id)
		} else {
			wantErr(t, err, want, "GetClient "+id)
		}
	}
	equal(t, "registered clients after delete", count(store.ClientRegistered), 3)
	equal(t, "machine clients after delete", count(store.ClientMachine), 1)
}

// testClientDeleteIdleTwoCutoffs: clients never used go by their creation
// and one cutoff, clients used go by their last use and the other.
func testClientDeleteIdleTwoCutoffs(t *testing.T, s store.Store) {
	ctx := t.Context()
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	neverUsedBefore, idleBefore := base.Add(-day), base.Add(-30*day)
	for _, c := range []store.Client{
		{ID: "unused_old", Kind: store.ClientRegistered, CreatedAt: base.Add(-2 * day)},                                      // goes
		{ID: "unused_new", Kind: store.ClientRegistered, CreatedAt: base.Add(-time.Hour)},                                    // stays
		{ID: "used_long_ago", Kind: store.ClientRegistered, CreatedAt: base.Add(-90 * day), LastUsedAt: base.Add(-31 * day)}, // goes
		{ID: "used_lately", Kind: store.ClientRegistered, CreatedAt: base.Add(-90 * day), LastUsedAt: base.Add(-2 * day)},    // stays
		{ID: "used_at_cutoff", Kind: store.ClientRegistered, CreatedAt: base.Add(-90 * day), LastUsedAt: idleBefore},         // stays
		{ID: "machine_unused", Kind: store.ClientMachine, CreatedAt: base.Add(-90 * day)},                                    // another kind
	} {
		_, err := s.CreateClient(ctx, c)
		ok(t, err, "CreateClient "+c.ID)
	}
	n, err := s.DeleteIdleClients(ctx, store.ClientRegistered, neverUsedBefore, idleBefore)
	ok(t, err, "DeleteIdleClients")
	equal(t, "deleted", n, 2)
	for id, gone := range map[string]bool{"unused_old": true, "used_long_ago": true,
		"unused_new": false, "used_lately": false, "used_at_cutoff": false, "machine_unused": false} {
		_, err := s.GetClient(ctx, id)
		if gone {
			wantErr(t, err, store.ErrNotFound, "GetClient "+id)
		} else {
			ok(t, err, "GetClient "+id)
		}
	}
}

func testClientCreateWithin(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.CreateClient(ctx, store.Client{ID: "machine", Kind: store.ClientMachine})
	ok(t, err, "CreateClient")
	for i := range 2 {
		c, err := s.CreateClientWithin(ctx, store.Client{ID: fmt.Sprintf("dcr_%d", i), Name: "App", Kind: store.ClientRegistered,
			RedirectURIs: []string{"http://127.0.0.1/cb"}}, 2)
		ok(t, err, "CreateClientWithin")
		got, err := s.GetClient(ctx, c.ID)
		ok(t, err, "GetClient")
		equal(t, "created within the limit", got, c)
	}
	_, err = s.CreateClientWithin(ctx, store.Client{ID: "dcr_2", Kind: store.ClientRegistered}, 2)
	wantErr(t, err, store.ErrLimitReached, "CreateClientWithin at the limit")
	_, err = s.GetClient(ctx, "dcr_2")
	wantErr(t, err, store.ErrNotFound, "client refused at the limit")
	// The limit counts one kind: the machine client does not use it up.
	_, err = s.CreateClientWithin(ctx, store.Client{ID: "machine_2", Kind: store.ClientMachine}, 2)
	ok(t, err, "CreateClientWithin of another kind")
	_, err = s.CreateClientWithin(ctx, store.Client{ID: "dcr_0", Kind: store.ClientRegistered}, 10)
	wantErr(t, err, store.ErrConflict, "CreateClientWithin of a taken ID")
	n, err := s.CountClients(ctx, store.ClientRegistered)
	ok(t, err, "CountClients")
	equal(t, "registered clients", n, 2)
}

// testClientCreateWithinConcurrent: 64 callers at once, a limit of 20,
// exactly 20 clients.
func testClientCreateWithinConcurrent(t *testing.T, s store.Store) {
	const callers, limit = 64, 20
	errs := make([]error, callers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			<-start
			_, errs[i] = s.CreateClientWithin(t.Context(), store.Client{ID: fmt.Sprintf("dcr_%02d", i), Kind: store.ClientRegistered}, limit)
		})
	}
	close(start)
	wg.Wait()
	created, refused := 0, 0
	for i, err := range errs {
		switch {
		case err == nil:
			created++
		case errors.Is(err, store.ErrLimitReached):
			refused++
		default:
			t.Fatalf("caller %d: %v", i, err)
		}
	}
	n, err := s.CountClients(t.Context(), store.ClientRegistered)
	ok(t, err, "CountClients")
	if created != limit || refused != callers-limit || n != limit {
		t.Fatalf("%d created, %d refused, %d stored; want %d, %d, %d", created, refused, n, limit, callers-limit, limit)
	}
}
