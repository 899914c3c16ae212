package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/orgscope/orgscope/store"
)

var txTests = []test{
	{"TxCommitsTogether", testTxCommitsTogether},
	{"TxErrorRollsBack", testTxErrorRollsBack},
	{"TxPanicRollsBack", testTxPanicRollsBack},
	{"TxReadsOwnWrites", testTxReadsOwnWrites},
	{"TxAtomicMethods", testTxAtomicMethods},
	{"TxFailedCallChangesNothing", testTxFailedCallChangesNothing},
	{"TxConcurrentUpdates", testTxConcurrentUpdates},
	{"TxEnded", testTxEnded},
}

// auditOf returns an event recording the creation of u.
func auditOf(u store.User) store.AuditEvent {
	return store.AuditEvent{ID: store.NewID(store.EventIDPrefix), OrgCode: u.OrgCode, ClientID: "c", Subject: "s",
		Action: "tools/call:create_user", Target: u.ID, Decision: store.DecisionAllow, Outcome: store.OutcomeOK}
}

// userAndEvent reports whether u and an event targeting it are stored.
func userAndEvent(t *testing.T, s store.Store, u store.User) (userStored, eventStored bool) {
	t.Helper()
	_, err := s.GetUser(t.Context(), u.OrgCode, u.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetUser: %v", err)
	}
	for _, e := range allEvents(t, s, u.OrgCode, 100) {
		if e.Target == u.ID {
			eventStored = true
		}
	}
	return err == nil, eventStored
}

func testTxCommitsTogether(t *testing.T, s store.Store) {
	createOrg(t, s, "org_a")
	u := newUser("org_a", "ann@a.io", "Ann", "A")
	var created store.User
	err := s.InTx(t.Context(), func(tx store.Tx) error {
		var err error
		if created, err = tx.CreateUser(t.Context(), u); err != nil {
			return err
		}
		return tx.AppendAuditEvent(t.Context(), auditOf(u))
	})
	ok(t, err, "InTx")
	user, event := userAndEvent(t, s, u)
	if !user || !event {
		t.Fatalf("after commit: user stored %v, event stored %v; want both", user, event)
	}
	got, err := s.GetUser(t.Context(), "org_a", u.ID)
	ok(t, err, "GetUser")
	equal(t, "user created in a transaction", got, created)
}

func testTxErrorRollsBack(t *testing.T, s store.Store) {
	createOrg(t, s, "org_a")
	u := newUser("org_a", "ann@a.io", "Ann", "A")
	refusal := errors.New("the policy says no")
	err := s.InTx(t.Context(), func(tx store.Tx) error {
		if _, err := tx.CreateUser(t.Context(), u); err != nil {
			return err
		}
		if err := tx.AppendAuditEvent(t.Context(), auditOf(u)); err != nil {
			return err
		}
		return refusal
	})
	if err != refusal {
		t.Fatalf("InTx returned %v, want fn's error unchanged", err)
	}
	if user, event := userAndEvent(t, s, u); user || event {
		t.Fatalf("after an error: user stored %v, event stored %v; want neither", user, event)
	}

	// A store error returned by fn comes back as it was, and undoes the
	// writes before it too.
	createUser(t, s, "org_a", "taken@a.io", "T", "T")
	v := newUser("org_a", "new@a.io", "N", "N")
	err = s.InTx(t.Context(), func(tx store.Tx) error {
		if _, err := tx.CreateUser(t.Context(), v); err != nil {
			return err
		}
		_, err := tx.CreateUser(t.Context(), newUser("org_a", "TAKEN@a.io", "T", "T"))
		return err
	})
	wantErr(t, err, store.ErrConflict, "InTx with a conflicting write")
	if user, _ := userAndEvent(t, s, v); user {
		t.Fatal("a write before the conflict was committed")
	}
}

func testTxPanicRollsBack(t *testing.T, s store.Store) {
	createOrg(t, s, "org_a")
	u := newUser("org_a", "ann@a.io", "Ann", "A")
	recovered := func() (p any) {
		defer func() { p = recover() }()
		s.InTx(t.Context(), func(tx store.Tx) error {
			if _, err := tx.CreateUser(t.Context(), u); err != nil {
				return err
			}
			if err := tx.AppendAuditEvent(t.Context(), auditOf(u)); err != nil {
				return err
			}
			panic("boom")
		})
		return nil
	}()
	if recovered != "boom" {
		t.Fatalf("InTx re-panicked with %v, want boom", recovered)
	}
	if user, event := userAndEvent(t, s, u); user || event {
		t.Fatalf("after a panic: user stored %v, event stored %v; want neither", user, event)
	}
	// The store is usable after the panic: nothing is left holding a
	// connection or a lock.
	createUser(t, s, "org_a", "after@a.io", "After", "Panic")
	ok(t, s.InTx(t.Context(), func(tx store.Tx) error { return tx.AppendAuditEvent(t.Context(), auditOf(u)) }), "InTx after a panic")
}

func testTxReadsOwnWrites(t *testing.T, s store.Store) {
	ctx := t.Context()
	err := s.InTx(ctx, func(tx store.Tx) error {
		org, err := tx.CreateOrg(ctx, store.Org{Code: "org_a", Name: "A"})
		if err != nil {
			return err
		}
		got, err := tx.GetOrg(ctx, "org_a")
		if err != nil {
			return fmt.Errorf("GetOrg of the org created in the transaction: %w", err)
		}
		equal(t, "org read inside", got, org)
		if _, err := s.GetOrg(ctx, "org_a"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the store, outside the transaction, read the org before commit: %v", err)
		}
		// Not found is an answer, not a failure: the transaction goes on.
		if _, err := tx.GetUser(ctx, "org_a", "usr_nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetUser of a missing user inside: %v, want ErrNotFound", err)
		}
		u, err := tx.CreateUser(ctx, newUser("org_a", "ann@a.io", "Ann", "A"))
		if err != nil {
			return err
		}
		updated, err := tx.UpdateUser(ctx, "org_a", u.ID, store.UserUpdate{GivenName: ptr("Anna")})
		if err != nil {
			return err
		}
		users, _, err := tx.ListUsers(ctx, "org_a", store.UserFilter{NamePrefix: "anna"}, store.Page{})
		if err != nil {
			return err
		}
		equal(t, "users listed inside", users, []store.User{updated})
		if err := tx.AppendAuditEvent(ctx, auditOf(u)); err != nil {
			return err
		}
		events, _, err := tx.ListAuditEvents(ctx, "org_a", store.AuditFilter{}, store.Page{})
		if err != nil {
			return err
		}
		equal(t, "events listed inside", len(events), 1)
		return nil
	})
	ok(t, err, "InTx")
	equal(t, "users after commit", len(allUsers(t, s, "org_a", store.UserFilter{}, 10)), 1)
}

// testTxAtomicMethods runs the methods that are transactions of their own
// inside InTx: they join it, committing with it or not at all.
func testTxAtomicMethods(t *testing.T, s store.Store) {
	ctx := t.Context()
	createOrg(t, s, "org_a")
	createGrant(t, s, "grt_1")
	createToken(t, s, "t1", "grt_1", future)
	ok(t, s.CreateAuthCode(ctx, store.AuthCode{CodeHash: "c1", ExpiresAt: future}), "CreateAuthCode")
	_, err := s.CreateClient(ctx, store.Client{ID: "idle", Kind: store.ClientRegistered, CreatedAt: past})
	ok(t, err, "CreateClient")
	bulk := []store.User{newUser("org_a", "b1@a.io", "B", "1"), newUser("org_a", "b2@a.io", "B", "2")}

	work := func(tx store.Tx) error {
		steps := []error{
			tx.CreateUsers(ctx, bulk),
			tx.CreateOrgs(ctx, []store.Org{{Code: "org_bulk"}}),
		}
		_, err := tx.RotateRefreshToken(ctx, "t1", store.RefreshToken{TokenHash: "t2", ExpiresAt: future}, 0)
		steps = append(steps, err)
		_, err = tx.RedeemAuthCode(ctx, "c1", "grt_1")
		steps = append(steps, err)
		_, err = tx.EnsureSigningKey(ctx, signingKey("k1"))
		steps = append(steps, err)
		_, err = tx.CreateClientWithin(ctx, store.Client{ID: "dcr_1", Kind: store.ClientRegistered}, 5)
		steps = append(steps, err)
		_, err = tx.DeleteIdleClients(ctx, store.ClientRegistered, past.Add(time.Second), past.Add(time.Second))
		steps = append(steps, err)
		_, err = tx.UpdateOrg(ctx, "org_a", store.OrgUpdate{Name: ptr("A2")})
		steps = append(steps, err)
		return errors.Join(steps...)
	}
	state := func() string {
		t.Helper()
		org, err := s.GetOrg(ctx, "org_a")
		ok(t, err, "GetOrg")
		keys, err := s.SigningKeys(ctx)
		ok(t, err, "SigningKeys")
		_, idleErr := s.GetClient(ctx, "idle")
		_, dcrErr := s.GetClient(ctx, "dcr_1")
		_, bulkErr := s.GetOrg(ctx, "org_bulk")
		_, _, t2Err := s.LookupRefreshToken(ctx, "t2")
		return fmt.Sprintf("name %s, users %d, org_bulk %v, t1 rotated %v, t2 %v, keys %d, idle %v, dcr_1 %v",
			org.Name, len(allUsers(t, s, "org_a", store.UserFilter{}, 10)), bulkErr == nil,
			!lookupToken(t, s, "t1").RotatedAt.IsZero(), t2Err == nil, len(keys), idleErr == nil, dcrErr == nil)
	}
	before := state()
	undo := errors.New("undo")
	err = s.InTx(ctx, func(tx store.Tx) error {
		if err := work(tx); err != nil {
			return err
		}
		return undo
	})
	if err != undo {
		t.Fatalf("InTx = %v, want the undo error (every step succeeding)", err)
	}
	equal(t, "state after the rolled back transaction", state(), before)

	ok(t, s.InTx(ctx, work), "InTx")
	equal(t, "state after the committed transaction", state(),
		"name A2, users 2, org_bulk true, t1 rotated true, t2 true, keys 1, idle false, dcr_1 true")
}

// testTxFailedCallChangesNothing: a call that is a transaction of its own
// and fails inside InTx leaves nothing half done, and the transaction can
// go on and commit what else it did.
func testTxFailedCallChangesNothing(t *testing.T, s store.Store) {
	ctx := t.Context()
	createOrg(t, s, "org_a")
	createGrant(t, s, "grt_1")
	t1 := createToken(t, s, "t1", "grt_1", future)
	createToken(t, s, "taken", "grt_1", future)
	err := s.InTx(ctx, func(tx store.Tx) error {
		// Marks t1 rotated, then fails to store its successor.
		_, err := tx.RotateRefreshToken(ctx, "t1", store.RefreshToken{TokenHash: "taken", ExpiresAt: future}, 0)
		if !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("RotateRefreshToken to a taken hash: %v, want ErrConflict", err)
		}
		_, err = tx.UpdateOrg(ctx, "org_a", store.OrgUpdate{Name: ptr("A2")})
		return err
	})
	ok(t, err, "InTx")
	equal(t, "t1 after the failed rotation", lookupToken(t, s, "t1"), t1)
	org, err := s.GetOrg(ctx, "org_a")
	ok(t, err, "GetOrg")
	equal(t, "org name committed after the failed call", org.Name, "A2")
}

// testTxConcurrentUpdates: transactions updating the same row at once
// queue on it; none loses another's update.
func testTxConcurrentUpdates(t *testing.T, s store.Store) {
	ctx := t.Context()
	createOrg(t, s, "org_a")
	const writers = 16
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			key := fmt.Sprintf("k%02d", i)
			err := s.InTx(ctx, func(tx store.Tx) error {
				if _, err := tx.UpdateOrg(ctx, "org_a", store.OrgUpdate{Properties: map[string]*string{key: ptr("v")}}); err != nil {
					return err
				}
				return tx.AppendAuditEvent(ctx, store.AuditEvent{OrgCode: "org_a", Action: "tools/call:update_organization",
					Target: key, Decision: store.DecisionAllow, Outcome: store.OutcomeOK})
			})
			if err != nil {
				t.Errorf("writer %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	org, err := s.GetOrg(ctx, "org_a")
	ok(t, err, "GetOrg")
	want := map[string]string{}
	for i := range writers {
		want[fmt.Sprintf("k%02d", i)] = "v"
	}
	equal(t, "properties after concurrent transactions", org.Properties, want)
	equal(t, "events after concurrent transactions", len(allEvents(t, s, "org_a", 100)), writers)
}

// testTxEnded: a Tx kept after its InTx returned refuses every call.
func testTxEnded(t *testing.T, s store.Store) {
	ctx := t.Context()
	var kept store.Tx
	ok(t, s.InTx(ctx, func(tx store.Tx) error { kept = tx; return nil }), "InTx")
	if _, err := kept.CreateOrg(ctx, store.Org{Code: "org_late"}); err == nil {
		t.Fatal("CreateOrg through a Tx whose InTx returned succeeded")
	}
	if _, err := kept.GetOrg(ctx, "org_late"); err == nil {
		t.Fatal("GetOrg through a Tx whose InTx returned succeeded")
	}
	_, err := s.GetOrg(ctx, "org_late")
	wantErr(t, err, store.ErrNotFound, "org written through an ended Tx")
}
