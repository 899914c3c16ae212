package storetest

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orgscope/orgscope/store"
)

var approvalTests = []test{
	{"ApprovalLifecycle", testApprovalLifecycle},
	{"ApprovalUseChecksTheCall", testApprovalUseChecksTheCall},
	{"ApprovalExpiry", testApprovalExpiry},
	{"ApprovalDecidedOnce", testApprovalDecidedOnce},
	{"ApprovalUsedOnceUnderConcurrency", testApprovalUsedOnce},
	{"ApprovalIsolation", testApprovalIsolation},
}

func newApproval(org string, expires time.Time) store.Approval {
	return store.Approval{
		ID: store.NewID(store.ApprovalIDPrefix), OrgCode: org, ClientID: "agent-1", Subject: "usr_ann",
		ActorChain: []string{"agent-1"}, Purpose: "cleanup", Tool: "delete_user", ParamsSHA256: strings.Repeat("ab", 32),
		Args: `{"user_id":"usr_0123456789abcdef0123456789abcdef"}`, Policies: []string{"delete-with-approval"},
		Status: store.ApprovalPending, ExpiresAt: expires,
	}
}

// testApprovalLifecycle: pending, found again for the same call, approved
// by a person, used once; every field survives the round trip.
func testApprovalLifecycle(t *testing.T, s store.Store) {
	ctx := t.Context()
	createOrg(t, s, "org_a")
	now := time.Now().UTC()
	a := newApproval("org_a", future)
	created, err := s.CreateApproval(ctx, a)
	ok(t, err, "CreateApproval")
	if !isStamped(created.CreatedAt) {
		t.Fatalf("CreatedAt %v", created.CreatedAt)
	}
	got, err := s.GetApproval(ctx, "org_a", a.ID)
	ok(t, err, "GetApproval")
	equal(t, "read back", got, created)

	pending, err := s.PendingApproval(ctx, a.Key(), now)
	ok(t, err, "PendingApproval")
	equal(t, "pending", pending.ID, a.ID)
	n, err := s.CountPendingApprovals(ctx, "org_a", "agent-1", now)
	ok(t, err, "CountPendingApprovals")
	equal(t, "pending count", n, 1)

	// Not yet approved: it cannot be used.
	_, err = s.UseApproval(ctx, a.Key(), a.ID, now)
	wantErr(t, err, store.ErrConflict, "UseApproval while pending")

	decided, err := s.DecideApproval(ctx, "org_a", a.ID, store.ApprovalApproved, "usr_boss", now)
	ok(t, err, "DecideApproval")
	if decided.Status != store.ApprovalApproved || decided.DecidedBy != "usr_boss" || !isStamped(decided.DecidedAt) {
		t.Fatalf("decided: %s", show(decided))
	}
	_, err = s.PendingApproval(ctx, a.Key(), now)
	wantErr(t, err, store.ErrNotFound, "PendingApproval after the decision")

	used, err := s.UseApproval(ctx, a.Key(), a.ID, now)
	ok(t, err, "UseApproval")
	if used.Status != store.ApprovalUsed || !isStamped(used.UsedAt) {
		t.Fatalf("used: %s", show(used))
	}
	again, err := s.UseApproval(ctx, a.Key(), a.ID, now)
	wantErr(t, err, store.ErrConflict, "a second UseApproval")
	equal(t, "the approval as it stands", again.Status, store.ApprovalUsed)
	_, err = s.UseApproval(ctx, a.Key(), "apr_missing", now)
	wantErr(t, err, store.ErrNotFound, "UseApproval of a missing approval")

	_, err = s.CreateApproval(ctx, a)
	wantErr(t, err, store.ErrConflict, "CreateApproval with an existing ID")
}

// testApprovalUseChecksTheCall: an approval is for one client, subject,
// tool and hash of arguments; any other call cannot use it.
func testApprovalUseChecksTheCall(t *testing.T, s store.Store) {
	ctx := t.Context()
	createOrg(t, s, "org_a")
	now := time.Now().UTC()
	a := newApproval("org_a", future)
	_, err := s.CreateApproval(ctx, a)
	ok(t, err, "CreateApproval")
	_, err = s.DecideApproval(ctx, "org_a", a.ID, store.ApprovalApproved, "usr_boss", now)
	ok(t, err, "DecideApproval")
	for name, change := range map[string]func(*store.ApprovalKey){
		"client":    func(k *store.ApprovalKey) { k.ClientID = "agent-2" },
		"subject":   func(k *store.ApprovalKey) { k.Subject = "usr_bob" },
		"tool":      func(k *store.ApprovalKey) { k.Tool = "update_user" },
		"arguments": func(k *store.ApprovalKey) { k.ParamsSHA256 = strings.Repeat("cd", 32) },
	} {
		k := a.Key()
		change(&k)
		got, err := s.UseApproval(ctx, k, a.ID, now)
		wantErr(t, err, store.ErrConflict, "UseApproval with another "+name)
		equal(t, "status after a refused use ("+name+")", got.Status, store.ApprovalApproved)
	}
	_, err = s.UseApproval(ctx, a.Key(), a.ID, now)
	ok(t, err, "UseApproval for the call itself")
}

// testApprovalExpiry: an expired approval can be neither decided nor used,
// is no longer pending, and is removed after it expired.
func testApprovalExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	createOrg(t, s, "org_a")
	now := time.Now().UTC()
	soon := now.Add(time.Minute)
	a, b := newApproval("org_a", soon), newApproval("org_a", soon)
	for _, x := range []store.Approval{a, b} {
		_, err := s.CreateApproval(ctx, x)
		ok(t, err, "CreateApproval")
	}
	_, err := s.DecideApproval(ctx, "org_a", b.ID, store.ApprovalApproved, "usr_boss", now)
	ok(t, err, "DecideApproval before expiry")
	later := soon.Add(time.Second)
	got, err := s.DecideApproval(ctx, "org_a", a.ID, store.ApprovalApproved, "usr_boss", later)
	wantErr(t, err, store.ErrConflict, "DecideApproval after expiry")
	equal(t, "status", got.Status, store.ApprovalPending)
	_, err = s.UseApproval(ctx, b.Key(), b.ID, later)
	wantErr(t, err, store.ErrConflict, "UseApproval after expiry")
	_, err = s.PendingApproval(ctx, a.Key(), later)
	wantErr(t, err, store.ErrNotFound, "PendingApproval after expiry")
	n, err := s.CountPendingApprovals(ctx, "org_a", "agent-1", later)
	ok(t, err, "CountPendingApprovals")
	equal(t, "pending after expiry", n, 0)

	keep := newApproval("org_a", future)
	_, err = s.CreateApproval(ctx, keep)
	ok(t, err, "CreateApproval")
	removed, err := s.DeleteApprovalsExpiredBefore(ctx, later)
	ok(t, err, "DeleteApprovalsExpiredBefore")
	equal(t, "removed", removed, 2)
	_, err = s.GetApproval(ctx, "org_a", a.ID)
	wantErr(t, err, store.ErrNotFound, "GetApproval of a removed approval")
	_, err = s.GetApproval(ctx, "org_a", keep.ID)
	ok(t, err, "GetApproval of a live approval")
}

// testApprovalDecidedOnce: a decision is final; a denied approval cannot
// be approved or used.
func testApprovalDecidedOnce(t *testing.T, s store.Store) {
	ctx := t.Context()
	createOrg(t, s, "org_a")
	now := time.Now().UTC()
	a := newApproval("org_a", future)
	_, err := s.CreateApproval(ctx, a)
	ok(t, err, "CreateApproval")
	_, err = s.DecideApproval(ctx, "org_a", a.ID, store.ApprovalDenied, "usr_boss", now)
	ok(t, err, "deny")
	got, err := s.DecideApproval(ctx, "org_a", a.ID, store.ApprovalApproved, "usr_other", now)
	wantErr(t, err, store.ErrConflict, "approve after a denial")
	if got.Status != store.ApprovalDenied || got.DecidedBy != "usr_boss" {
		t.Fatalf("after a second decision: %s", show(got))
	}
	_, err = s.UseApproval(ctx, a.Key(), a.ID, now)
	wantErr(t, err, store.ErrConflict, "use a denied approval")
	_, err = s.DecideApproval(ctx, "org_a", a.ID, store.ApprovalUsed, "usr_boss", now)
	if err == nil {
		t.Fatal("DecideApproval accepted status used")
	}
}

// testApprovalUsedOnce: many calls presenting one approval at once, on
// separate connections: exactly one uses it.
func testApprovalUsedOnce(t *testing.T, s store.Store) {
	ctx := t.Context()
	createOrg(t, s, "org_a")
	now := time.Now().UTC()
	a := newApproval("org_a", future)
	_, err := s.CreateApproval(ctx, a)
	ok(t, err, "CreateApproval")
	_, err = s.DecideApproval(ctx, "org_a", a.ID, store.ApprovalApproved, "usr_boss", now)
	ok(t, err, "DecideApproval")
	const callers = 8
	var wg sync.WaitGroup
	results := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			_, err := s.UseApproval(ctx, a.Key(), a.ID, now)
			results <- err
		})
	}
	wg.Wait()
	close(results)
	used := 0
	for err := range results {
		switch {
		case err == nil:
			used++
		case !isConflict(err):
			t.Errorf("UseApproval: %v", err)
		}
	}
	equal(t, "calls that used the approval", used, 1)
}

func isConflict(err error) bool { return errors.Is(err, store.ErrConflict) }

// testApprovalIsolation: another org's approval is not found, whatever the
// method.
func testApprovalIsolation(t *testing.T, s store.Store) {
	ctx := t.Context()
	createOrg(t, s, "org_a")
	createOrg(t, s, "org_b")
	now := time.Now().UTC()
	a := newApproval("org_a", future)
	_, err := s.CreateApproval(ctx, a)
	ok(t, err, "CreateApproval")
	_, err = s.GetApproval(ctx, "org_b", a.ID)
	wantErr(t, err, store.ErrNotFound, "GetApproval from another org")
	_, err = s.DecideApproval(ctx, "org_b", a.ID, store.ApprovalApproved, "usr_mallory", now)
	wantErr(t, err, store.ErrNotFound, "DecideApproval from another org")
	k := a.Key()
	k.OrgCode = "org_b"
	_, err = s.UseApproval(ctx, k, a.ID, now)
	wantErr(t, err, store.ErrNotFound, "UseApproval from another org")
	got, err := s.GetApproval(ctx, "org_a", a.ID)
	ok(t, err, "GetApproval")
	equal(t, "status", got.Status, store.ApprovalPending)
}
