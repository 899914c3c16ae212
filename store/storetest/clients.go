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
	{"ClientSecrets", testClientSecrets},
	{"ClientRotateSecret", testClientRotateSecret},
	{"ClientRotateSecretInTx", testClientRotateSecretInTx},
	{"ClientList", testClientList},
	{"ClientUpdate", testClientUpdate},
	{"ClientDelete", testClientDelete},
	{"ClientCutoffGet", testClientCutoffGet},
}

func testClientCreateGet(t *testing.T, s store.Store) {
	createOrg(t, s, "org_a")
	clients := []store.Client{
		{
			ID:                      "m2m_bound",
			Name:                    "Reporting bot",
			Kind:                    store.ClientMachine,
			OrgCode:                 "org_a",
			Secrets:                 []store.ClientSecret{{Hash: "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8", CreatedAt: past}},
			Scopes:                  []string{"read:users", "read:flags"},
			GrantTypes:              []string{"client_credentials"},
			TokenEndpointAuthMethod: "client_secret_basic",
			Properties:              map[string]string{"owner": "ops"},
			TokenTTL:                15 * time.Minute,
			Delegate:                true,
			CreatedAt:               past,
			LastUsedAt:              past.Add(time.Hour),
		},
		{
			ID:   "m2m_global",
			Name: "Admin bot",
			Kind: store.ClientMachine,
			Secrets: []store.ClientSecret{
				{Hash: "older", CreatedAt: past, ExpiresAt: future},
				{Hash: "newer", CreatedAt: past.Add(time.Minute)},
			},
			Scopes:                  []string{"admin"},
			GrantTypes:              []string{"client_credentials"},
			TokenEndpointAuthMethod: "client_secret_post",
			DisabledAt:              past.Add(2 * time.Hour),
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
		if len(want.Secrets) == 2 { // read back newest first
			want.Secrets = []store.ClientSecret{want.Secrets[1], want.Secrets[0]}
		}
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

// testClientTouch: a use is recorded, and then not again until a
// TouchInterval later.
func testClientTouch(t *testing.T, s store.Store) {
	ctx := t.Context()
	c, err := s.CreateClient(ctx, store.Client{ID: "c1", Kind: store.ClientRegistered, CreatedAt: past})
	ok(t, err, "CreateClient")
	used := time.Date(2024, 3, 4, 5, 6, 7, 8009, time.FixedZone("X", -7200))
	ok(t, s.TouchClient(ctx, "c1", used), "TouchClient")
	got, err := s.GetClient(ctx, "c1")
	ok(t, err, "GetClient")
	c.LastUsedAt = time.Date(2024, 3, 4, 7, 6, 7, 8000, time.UTC)
	equal(t, "client after touch", got, c)

	ok(t, s.TouchClient(ctx, "c1", used.Add(store.TouchInterval-time.Millisecond)), "TouchClient within the interval")
	got, err = s.GetClient(ctx, "c1")
	ok(t, err, "GetClient")
	equal(t, "client touched again within the interval", got, c)

	ok(t, s.TouchClient(ctx, "c1", used.Add(store.TouchInterval)), "TouchClient an interval later")
	got, err = s.GetClient(ctx, "c1")
	ok(t, err, "GetClient")
	c.LastUsedAt = c.LastUsedAt.Add(store.TouchInterval)
	equal(t, "client touched an interval later", got, c)

	ok(t, s.TouchClient(ctx, "c1", used), "TouchClient with an earlier time")
	got, err = s.GetClient(ctx, "c1")
	ok(t, err, "GetClient")
	equal(t, "a use never moves back", got, c)

	ok(t, s.TouchClient(ctx, "nope", used), "TouchClient of a missing client does nothing")
	_, err = s.GetClient(ctx, "nope")
	wantErr(t, err, store.ErrNotFound, "GetClient after touching a missing client")
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

// machineClient is a machine client of org ("" for global) with one
// secret, not yet stored.
func machineClient(id, org, secretHash string) store.Client {
	return store.Client{ID: id, Name: "Agent " + id, Kind: store.ClientMachine, OrgCode: org,
		Secrets: []store.ClientSecret{{Hash: secretHash}}, Scopes: []string{"read:users"},
		GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: "client_secret_basic"}
}

func hashes(c store.Client) []string { return c.SecretHashes() }

// testClientSecrets: only the secrets that have not expired are read, newest
// first; DeleteExpired removes the others.
func testClientSecrets(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.Now()
	c := machineClient("c1", "", "")
	c.Secrets = []store.ClientSecret{
		{Hash: "expired", CreatedAt: past, ExpiresAt: now.Add(-time.Hour)},
		{Hash: "grace", CreatedAt: past.Add(time.Hour), ExpiresAt: now.Add(time.Hour)},
		{Hash: "current", CreatedAt: past.Add(2 * time.Hour)},
	}
	created, err := s.CreateClient(ctx, c)
	ok(t, err, "CreateClient")
	equal(t, "secrets created", hashes(created), []string{"current", "grace"})
	got, err := s.GetClient(ctx, "c1")
	ok(t, err, "GetClient")
	equal(t, "secrets read", got, created)
	if !got.Secrets[1].ExpiresAt.Equal(normalized(now.Add(time.Hour))) || !got.Secrets[0].ExpiresAt.IsZero() {
		t.Fatalf("expiries %+v", got.Secrets)
	}

	n, err := s.DeleteExpired(ctx, now.Add(-time.Minute))
	ok(t, err, "DeleteExpired")
	equal(t, "rows removed (the expired secret)", n, 1)
	n, err = s.DeleteExpired(ctx, now.Add(-time.Minute))
	ok(t, err, "DeleteExpired again")
	equal(t, "rows removed the second time", n, 0)
	got, err = s.GetClient(ctx, "c1")
	ok(t, err, "GetClient")
	equal(t, "secrets after DeleteExpired", got, created)

	public, err := s.CreateClient(ctx, store.Client{ID: "public", Kind: store.ClientRegistered})
	ok(t, err, "CreateClient")
	if public.Secrets != nil {
		t.Fatalf("a client without secrets has %v", public.Secrets)
	}
}

// normalized is t as a store returns it.
func normalized(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// testClientRotateSecret: the new secret is added, the others expire at the
// end of the grace at the latest, and a missing client is not found.
func testClientRotateSecret(t *testing.T, s store.Store) {
	ctx := t.Context()
	createOrg(t, s, "org_a")
	_, err := s.CreateClient(ctx, machineClient("c1", "org_a", "first"))
	ok(t, err, "CreateClient")
	grace := normalized(time.Now().Add(time.Hour))

	rotated, err := s.RotateClientSecret(ctx, "c1", store.ClientSecret{Hash: "second"}, grace)
	ok(t, err, "RotateClientSecret with a grace period")
	equal(t, "secrets after the first rotation", hashes(rotated), []string{"second", "first"})
	if !isStamped(rotated.Secrets[0].CreatedAt) || !rotated.Secrets[0].ExpiresAt.IsZero() || !rotated.Secrets[1].ExpiresAt.Equal(grace) {
		t.Fatalf("secrets %+v: want the new one stamped and open-ended, the old one expiring at %v", rotated.Secrets, grace)
	}
	got, err := s.GetClient(ctx, "c1")
	ok(t, err, "GetClient")
	equal(t, "GetClient after rotation", got, rotated)

	// A second rotation with a longer grace does not extend the first
	// secret's; the second gets the new grace.
	longer := grace.Add(time.Hour)
	rotated, err = s.RotateClientSecret(ctx, "c1", store.ClientSecret{Hash: "third"}, longer)
	ok(t, err, "RotateClientSecret again")
	equal(t, "secrets after the second rotation", hashes(rotated), []string{"third", "second", "first"})
	if !rotated.Secrets[1].ExpiresAt.Equal(longer) || !rotated.Secrets[2].ExpiresAt.Equal(grace) {
		t.Fatalf("secrets %+v: the first keeps %v, the second gets %v", rotated.Secrets, grace, longer)
	}

	// No grace: every other secret stops at once.
	rotated, err = s.RotateClientSecret(ctx, "c1", store.ClientSecret{Hash: "fourth"}, time.Now().Add(-time.Second))
	ok(t, err, "RotateClientSecret without grace")
	equal(t, "secrets after a rotation without grace", hashes(rotated), []string{"fourth"})
	got, err = s.GetClient(ctx, "c1")
	ok(t, err, "GetClient")
	equal(t, "GetClient after a rotation without grace", got, rotated)

	_, err = s.RotateClientSecret(ctx, "nope", store.ClientSecret{Hash: "x"}, grace)
	wantErr(t, err, store.ErrNotFound, "RotateClientSecret of a missing client")
	_, err = s.RotateClientSecret(ctx, "c1", store.ClientSecret{Hash: "fourth"}, grace)
	wantErr(t, err, store.ErrConflict, "RotateClientSecret to a secret the client has")
	got, err = s.GetClient(ctx, "c1")
	ok(t, err, "GetClient")
	equal(t, "client after refused rotations", got, rotated)
}

// testClientRotateSecretInTx: a rotation that fails inside InTx changes
// nothing and leaves the transaction usable; one that succeeds commits with
// it or not at all.
func testClientRotateSecretInTx(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.CreateClient(ctx, machineClient("c1", "", "first"))
	ok(t, err, "CreateClient")
	err = s.InTx(ctx, func(tx store.Tx) error {
		if _, err := tx.RotateClientSecret(ctx, "nope", store.ClientSecret{Hash: "x"}, future); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("rotation of a missing client: %v", err)
		}
		_, err := tx.RotateClientSecret(ctx, "c1", store.ClientSecret{Hash: "second"}, future)
		return err
	})
	ok(t, err, "InTx")
	got, err := s.GetClient(ctx, "c1")
	ok(t, err, "GetClient")
	equal(t, "secrets after the transaction", hashes(got), []string{"second", "first"})

	err = s.InTx(ctx, func(tx store.Tx) error {
		if _, err := tx.RotateClientSecret(ctx, "c1", store.ClientSecret{Hash: "third"}, past); err != nil {
			return err
		}
		return errRollback
	})
	wantErr(t, err, errRollback, "InTx rolled back")
	after, err := s.GetClient(ctx, "c1")
	ok(t, err, "GetClient")
	equal(t, "secrets after a rolled-back rotation", after, got)
}

// testClientList: filters by kind and by org or none, pages in ID order,
// carries the secrets, and refuses a cursor of another listing.
func testClientList(t *testing.T, s store.Store) {
	ctx := t.Context()
	createOrg(t, s, "org_a")
	createOrg(t, s, "org_b")
	var want = map[string][]string{}
	for i := range 7 {
		org := []string{"org_a", "org_b", ""}[i%3]
		id := fmt.Sprintf("m%02d", i)
		_, err := s.CreateClient(ctx, machineClient(id, org, "hash-"+id))
		ok(t, err, "CreateClient "+id)
		want[org] = append(want[org], id)
	}
	_, err := s.CreateClient(ctx, store.Client{ID: "r00", Kind: store.ClientRegistered})
	ok(t, err, "CreateClient registered")

	all := func(filter store.ClientFilter, limit int) ([]store.Client, int) {
		t.Helper()
		var out []store.Client
		pages := 0
		for page := (store.Page{Limit: limit}); pages < maxPages; pages++ {
			got, next, err := s.ListClients(ctx, filter, page)
			ok(t, err, "ListClients")
			out = append(out, got...)
			if next == "" {
				return out, pages + 1
			}
			page.Cursor = next
		}
		t.Fatal("ListClients never ends")
		return nil, 0
	}
	ids := func(cs []store.Client) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	for _, tc := range []struct {
		filter store.ClientFilter
		want   []string
	}{
		{store.ClientFilter{Kind: store.ClientMachine, OrgCode: "org_a"}, want["org_a"]},
		{store.ClientFilter{Kind: store.ClientMachine, OrgCode: "org_b"}, want["org_b"]},
		{store.ClientFilter{Kind: store.ClientMachine, Global: true}, want[""]},
		{store.ClientFilter{Kind: store.ClientMachine}, []string{"m00", "m01", "m02", "m03", "m04", "m05", "m06"}},
		{store.ClientFilter{}, []string{"m00", "m01", "m02", "m03", "m04", "m05", "m06", "r00"}},
		{store.ClientFilter{Kind: store.ClientMachine, OrgCode: "org_nope"}, nil},
	} {
		got, pages := all(tc.filter, 2)
		equal(t, fmt.Sprintf("ListClients %+v", tc.filter), ids(got), tc.want)
		if wantPages := max(1, (len(tc.want)+1)/2); pages != wantPages {
			t.Errorf("ListClients %+v: %d pages of 2, want %d", tc.filter, pages, wantPages)
		}
		for _, c := range got {
			stored, err := s.GetClient(ctx, c.ID)
			ok(t, err, "GetClient")
			equal(t, "listed client "+c.ID, c, stored)
		}
	}

	_, next, err := s.ListClients(ctx, store.ClientFilter{Kind: store.ClientMachine, OrgCode: "org_a"}, store.Page{Limit: 1})
	ok(t, err, "ListClients")
	for _, other := range []store.ClientFilter{
		{Kind: store.ClientMachine, OrgCode: "org_b"}, {Kind: store.ClientMachine, Global: true}, {Kind: store.ClientMachine}, {OrgCode: "org_a"},
	} {
		_, _, err = s.ListClients(ctx, other, store.Page{Cursor: next})
		wantErr(t, err, store.ErrInvalidCursor, fmt.Sprintf("a cursor of org_a's listing in %+v", other))
	}
	_, _, err = s.ListClients(ctx, store.ClientFilter{}, store.Page{Cursor: "garbage"})
	wantErr(t, err, store.ErrInvalidCursor, "ListClients with a garbage cursor")
}

// testClientUpdate: each field of the update, properties merged, disable
// and enable, and a missing client.
func testClientUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := machineClient("c1", "", "h")
	c.Properties = map[string]string{"keep": "1", "drop": "2"}
	created, err := s.CreateClient(ctx, c)
	ok(t, err, "CreateClient")

	disabledAt := time.Date(2025, 6, 7, 8, 9, 10, 11000, time.UTC)
	got, err := s.UpdateClient(ctx, "c1", store.ClientUpdate{
		Name: ptr("Renamed"), Scopes: []string{"read:orgs", "write:flags"}, TokenTTL: ptr(90 * time.Second),
		Properties: map[string]*string{"drop": nil, "add": ptr("3")}, Delegate: ptr(true), DisabledAt: &disabledAt,
	})
	ok(t, err, "UpdateClient")
	want := created
	want.Name, want.Scopes, want.TokenTTL, want.Delegate, want.DisabledAt = "Renamed", []string{"read:orgs", "write:flags"}, 90*time.Second, true, disabledAt
	want.Properties = map[string]string{"keep": "1", "add": "3"}
	equal(t, "UpdateClient result", got, want)
	stored, err := s.GetClient(ctx, "c1")
	ok(t, err, "GetClient")
	equal(t, "client after update", stored, want)
	if !stored.Disabled() {
		t.Fatal("Disabled() is false for a disabled client")
	}

	got, err = s.UpdateClient(ctx, "c1", store.ClientUpdate{DisabledAt: &time.Time{}, Properties: map[string]*string{"keep": nil, "add": nil}})
	ok(t, err, "UpdateClient enable")
	want.DisabledAt, want.Properties = time.Time{}, nil
	equal(t, "client enabled", got, want)
	if got.Disabled() {
		t.Fatal("Disabled() is true for an enabled client")
	}
	got, err = s.UpdateClient(ctx, "c1", store.ClientUpdate{})
	ok(t, err, "UpdateClient with nothing to change")
	equal(t, "client after an empty update", got, want)

	_, err = s.UpdateClient(ctx, "nope", store.ClientUpdate{Name: ptr("x")})
	wantErr(t, err, store.ErrNotFound, "UpdateClient of a missing client")
}

// testClientDelete: the client and its secrets go; the ID may be used
// again and starts without the old secrets.
func testClientDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.CreateClient(ctx, machineClient("c1", "", "old"))
	ok(t, err, "CreateClient")
	_, err = s.RotateClientSecret(ctx, "c1", store.ClientSecret{Hash: "older"}, future)
	ok(t, err, "RotateClientSecret")
	other, err := s.CreateClient(ctx, machineClient("c2", "", "other"))
	ok(t, err, "CreateClient")

	ok(t, s.DeleteClient(ctx, "c1"), "DeleteClient")
	_, err = s.GetClient(ctx, "c1")
	wantErr(t, err, store.ErrNotFound, "GetClient after delete")
	wantErr(t, s.DeleteClient(ctx, "c1"), store.ErrNotFound, "DeleteClient again")

	again, err := s.CreateClient(ctx, store.Client{ID: "c1", Kind: store.ClientMachine})
	ok(t, err, "CreateClient with the deleted ID")
	got, err := s.GetClient(ctx, "c1")
	ok(t, err, "GetClient")
	if got.Secrets != nil {
		t.Fatalf("a new client with a deleted one's ID has secrets %+v", got.Secrets)
	}
	equal(t, "client re-created", got, again)
	got, err = s.GetClient(ctx, "c2")
	ok(t, err, "GetClient")
	equal(t, "another client after the delete", got, other)
}

func testClientCutoffGet(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetClientCutoff(ctx, "c1")
	wantErr(t, err, store.ErrNotFound, "GetClientCutoff without one")
	cut, err := s.CutOffClient(ctx, "c1", future)
	ok(t, err, "CutOffClient")
	got, err := s.GetClientCutoff(ctx, "c1")
	ok(t, err, "GetClientCutoff")
	equal(t, "GetClientCutoff", got, cut)
	_, err = s.CutOffClient(ctx, "c-old", past)
	ok(t, err, "CutOffClient expired")
	_, err = s.GetClientCutoff(ctx, "c-old")
	wantErr(t, err, store.ErrNotFound, "GetClientCutoff of an expired cutoff")

	// GetClient reads the cutoff in force with the client.
	for _, id := range []string{"c1", "c-old", "c-none"} {
		_, err := s.CreateClient(ctx, store.Client{ID: id, Kind: store.ClientMachine})
		ok(t, err, "CreateClient "+id)
	}
	for id, want := range map[string]time.Time{"c1": cut.Cutoff, "c-old": {}, "c-none": {}} {
		c, err := s.GetClient(ctx, id)
		ok(t, err, "GetClient "+id)
		if !c.Cutoff.Equal(want) {
			t.Errorf("GetClient(%s).Cutoff = %v, want %v", id, c.Cutoff, want)
		}
	}
}
