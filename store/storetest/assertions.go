package storetest

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/orgscope/orgscope/store"
)

// Clients that authenticate with signed assertions (private_key_jwt): their
// public keys, and the single use of each assertion.
var assertionTests = []test{
	{"ClientKeys", testClientKeys},
	{"ClientAssertionSingleUse", testClientAssertionSingleUse},
	{"ClientAssertionConcurrent", testClientAssertionConcurrent},
	{"ClientAssertionExpiry", testClientAssertionExpiry},
}

const testJWKS = `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"k1","alg":"EdDSA","use":"sig"}]}`

func keyClient(id string) store.Client {
	return store.Client{ID: id, Name: "Signer " + id, Kind: store.ClientMachine, Scopes: []string{"read:users"},
		GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: "private_key_jwt"}
}

// testClientKeys: a client's JWKS reads back byte for byte, its jwks_uri
// as given; an update replaces either (an empty value clears it) and leaves
// them alone when it does not name them.
func testClientKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	withSet := keyClient("k_set")
	withSet.JWKS = json.RawMessage(testJWKS)
	withURI := keyClient("k_uri")
	withURI.JWKSURI = "https://agent.example/.well-known/jwks.json"
	for _, c := range []store.Client{withSet, withURI} {
		created, err := s.CreateClient(ctx, c)
		ok(t, err, "CreateClient "+c.ID)
		if string(created.JWKS) != string(c.JWKS) || created.JWKSURI != c.JWKSURI || created.Secrets != nil {
			t.Fatalf("CreateClient %s returned jwks %s, jwks_uri %q, %d secrets", c.ID, created.JWKS, created.JWKSURI, len(created.Secrets))
		}
		got, err := s.GetClient(ctx, c.ID)
		ok(t, err, "GetClient "+c.ID)
		equal(t, "client "+c.ID, got, created)
	}
	listed, _, err := s.ListClients(ctx, store.ClientFilter{Kind: store.ClientMachine}, store.Page{})
	ok(t, err, "ListClients")
	if len(listed) != 2 || string(listed[0].JWKS) != testJWKS || listed[1].JWKSURI != withURI.JWKSURI {
		t.Fatalf("ListClients: %s", show(listed))
	}

	// From a set to a URI, and back.
	got, err := s.UpdateClient(ctx, "k_set", store.ClientUpdate{JWKS: ptr(json.RawMessage(nil)), JWKSURI: ptr("https://agent.example/keys")})
	ok(t, err, "UpdateClient to a URI")
	if got.JWKS != nil || got.JWKSURI != "https://agent.example/keys" {
		t.Fatalf("after the update to a URI: jwks %s, jwks_uri %q", got.JWKS, got.JWKSURI)
	}
	got, err = s.UpdateClient(ctx, "k_set", store.ClientUpdate{Name: ptr("Renamed")})
	ok(t, err, "UpdateClient of the name")
	if got.JWKSURI != "https://agent.example/keys" {
		t.Fatalf("an update that does not name the keys changed them: %q", got.JWKSURI)
	}
	got, err = s.UpdateClient(ctx, "k_set", store.ClientUpdate{JWKS: ptr(json.RawMessage(testJWKS)), JWKSURI: ptr("")})
	ok(t, err, "UpdateClient to a set")
	stored, err := s.GetClient(ctx, "k_set")
	ok(t, err, "GetClient")
	equal(t, "client after the update to a set", stored, got)
	if string(stored.JWKS) != testJWKS || stored.JWKSURI != "" {
		t.Fatalf("after the update to a set: jwks %s, jwks_uri %q", stored.JWKS, stored.JWKSURI)
	}

	// A client with secrets has neither.
	plain, err := s.CreateClient(ctx, machineClient("plain", "", "h"))
	ok(t, err, "CreateClient plain")
	if plain.JWKS != nil || plain.JWKSURI != "" {
		t.Fatalf("a client with a secret reads back keys: %s %q", plain.JWKS, plain.JWKSURI)
	}
}

// testClientAssertionSingleUse: a jti works once per client; another
// client's jti of the same value, and another jti, are independent.
func testClientAssertionSingleUse(t *testing.T, s store.Store) {
	ctx := t.Context()
	until := time.Now().Add(5 * time.Minute)
	ok(t, s.UseClientAssertion(ctx, "c1", "jti-1", until), "first use")
	wantErr(t, s.UseClientAssertion(ctx, "c1", "jti-1", until), store.ErrReplayed, "second use")
	wantErr(t, s.UseClientAssertion(ctx, "c1", "jti-1", until.Add(time.Hour)), store.ErrReplayed, "second use with a later expiry")
	ok(t, s.UseClientAssertion(ctx, "c2", "jti-1", until), "another client's jti of the same value")
	ok(t, s.UseClientAssertion(ctx, "c1", "jti-2", until), "another jti")
	ok(t, s.UseClientAssertion(ctx, "https://agent.example/client.json", "jti-1", until), "a metadata-document client")

	// Inside a transaction that rolls back, the use is forgotten.
	rollback := errors.New("roll back")
	err := s.InTx(ctx, func(tx store.Tx) error {
		ok(t, tx.UseClientAssertion(ctx, "c3", "jti-1", until), "use in a transaction")
		return rollback
	})
	wantErr(t, err, rollback, "InTx")
	ok(t, s.UseClientAssertion(ctx, "c3", "jti-1", until), "use after the rollback")
}

// testClientAssertionConcurrent: of many callers presenting one assertion
// at once, exactly one succeeds.
func testClientAssertionConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	until := time.Now().Add(5 * time.Minute)
	const callers = 16
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { errs[i] = s.UseClientAssertion(ctx, "c1", "raced", until) })
	}
	wg.Wait()
	used := 0
	for _, err := range errs {
		switch {
		case err == nil:
			used++
		case !errors.Is(err, store.ErrReplayed):
			t.Fatalf("UseClientAssertion: %v", err)
		}
	}
	if used != 1 {
		t.Fatalf("%d of %d concurrent uses of one assertion succeeded, want exactly 1", used, callers)
	}
}

// testClientAssertionExpiry: an expired record no longer blocks its jti
// (the assertion itself has expired by then), and DeleteExpired removes
// expired records only.
func testClientAssertionExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.Now()
	ok(t, s.UseClientAssertion(ctx, "c1", "old", now.Add(-time.Minute)), "use of an assertion that expired")
	ok(t, s.UseClientAssertion(ctx, "c1", "old", now.Add(5*time.Minute)), "the jti again after its record expired")
	wantErr(t, s.UseClientAssertion(ctx, "c1", "old", now.Add(5*time.Minute)), store.ErrReplayed, "and once more")

	ok(t, s.UseClientAssertion(ctx, "c1", "gone", now.Add(-time.Minute)), "another expired use")
	n, err := s.DeleteExpired(ctx, now)
	ok(t, err, "DeleteExpired")
	if n != 1 {
		t.Fatalf("DeleteExpired removed %d rows, want 1 (the expired assertion)", n)
	}
	wantErr(t, s.UseClientAssertion(ctx, "c1", "old", now.Add(5*time.Minute)), store.ErrReplayed, "a live record after DeleteExpired")
}
