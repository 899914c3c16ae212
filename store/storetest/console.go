package storetest

import (
	"testing"
	"time"

	"github.com/orgscope/orgscope/store"
)

var consoleTests = []test{
	{"ConsoleSessionLifecycle", testConsoleSessionLifecycle},
	{"ConsoleSessionTouch", testConsoleSessionTouch},
	{"ConsoleSessionExpiry", testConsoleSessionExpiry},
	{"PlatformAdmin", testPlatformAdmin},
	{"ListApprovals", testListApprovals},
}

func newConsoleSession(org, user string, expires time.Time) store.ConsoleSession {
	return store.ConsoleSession{
		TokenHash: store.NewID("") + store.NewID(""), ID: store.NewID(store.ConsoleSessionIDPrefix),
		OrgCode: org, UserID: user, ClientID: "orgscope-console-0123", ExpiresAt: expires,
	}
}

// testConsoleSessionLifecycle: a session reads back by its token's hash
// with every field; a second one with the same hash or id is a conflict
// and changes nothing; sign-out removes it, once.
func testConsoleSessionLifecycle(t *testing.T, s store.Store) {
	ctx := t.Context()
	sess := newConsoleSession("org_a", "usr_ann", future)
	created, err := s.CreateConsoleSession(ctx, sess)
	ok(t, err, "CreateConsoleSession")
	if !isStamped(created.CreatedAt) || !created.LastSeenAt.Equal(created.CreatedAt) || !created.ExpiresAt.Equal(future) {
		t.Fatalf("created %+v", created)
	}
	got, err := s.GetConsoleSession(ctx, sess.TokenHash)
	ok(t, err, "GetConsoleSession")
	equal(t, "read back", got, created)

	again := newConsoleSession("org_b", "usr_bob", future)
	again.TokenHash = sess.TokenHash
	_, err = s.CreateConsoleSession(ctx, again)
	wantErr(t, err, store.ErrConflict, "a second session with the same token hash")
	again = newConsoleSession("org_b", "usr_bob", future)
	again.ID = sess.ID
	_, err = s.CreateConsoleSession(ctx, again)
	wantErr(t, err, store.ErrConflict, "a second session with the same id")
	_, err = s.GetConsoleSession(ctx, again.TokenHash)
	wantErr(t, err, store.ErrNotFound, "the refused session")
	got, err = s.GetConsoleSession(ctx, sess.TokenHash)
	ok(t, err, "GetConsoleSession after the conflicts")
	equal(t, "unchanged by the conflicts", got, created)

	gone, err := s.DeleteConsoleSession(ctx, sess.TokenHash)
	ok(t, err, "DeleteConsoleSession")
	if !gone {
		t.Fatal("DeleteConsoleSession reported no session")
	}
	_, err = s.GetConsoleSession(ctx, sess.TokenHash)
	wantErr(t, err, store.ErrNotFound, "GetConsoleSession after sign-out")
	gone, err = s.DeleteConsoleSession(ctx, sess.TokenHash)
	ok(t, err, "DeleteConsoleSession again")
	if gone {
		t.Fatal("a second sign-out found a session")
	}
}

// testConsoleSessionTouch: a use less than TouchInterval after the last
// recorded one writes nothing; a later one moves LastSeenAt forward; an
// earlier one never moves it back.
func testConsoleSessionTouch(t *testing.T, s store.Store) {
	ctx := t.Context()
	sess := newConsoleSession("org_a", "usr_ann", future)
	sess.CreatedAt = past
	created, err := s.CreateConsoleSession(ctx, sess)
	ok(t, err, "CreateConsoleSession")
	seen := func() time.Time {
		got, err := s.GetConsoleSession(ctx, sess.TokenHash)
		ok(t, err, "GetConsoleSession")
		return got.LastSeenAt
	}
	ok(t, s.TouchConsoleSession(ctx, sess.TokenHash, past.Add(store.TouchInterval/2)), "touch within the interval")
	equal(t, "last seen after a touch within the interval", seen(), created.LastSeenAt)
	later := past.Add(2 * store.TouchInterval)
	ok(t, s.TouchConsoleSession(ctx, sess.TokenHash, later), "touch after the interval")
	equal(t, "last seen after a touch after the interval", seen(), later)
	ok(t, s.TouchConsoleSession(ctx, sess.TokenHash, past), "touch in the past")
	equal(t, "last seen after a touch in the past", seen(), later)
	ok(t, s.TouchConsoleSession(ctx, "no-such-hash", later), "touch of a session that does not exist")
}

// testConsoleSessionExpiry: DeleteExpired removes the sessions whose
// absolute limit passed, and only those.
func testConsoleSessionExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.Now()
	old := newConsoleSession("org_a", "usr_ann", now.Add(-time.Minute))
	old.CreatedAt = now.Add(-time.Hour)
	live := newConsoleSession("org_a", "usr_ann", now.Add(time.Hour))
	for _, sess := range []store.ConsoleSession{old, live} {
		_, err := s.CreateConsoleSession(ctx, sess)
		ok(t, err, "CreateConsoleSession")
	}
	n, err := s.DeleteExpired(ctx, now)
	ok(t, err, "DeleteExpired")
	if n != 1 {
		t.Fatalf("DeleteExpired removed %d rows, want 1 (the expired session)", n)
	}
	_, err = s.GetConsoleSession(ctx, old.TokenHash)
	wantErr(t, err, store.ErrNotFound, "the expired session")
	_, err = s.GetConsoleSession(ctx, live.TokenHash)
	ok(t, err, "the live session")
}

// testPlatformAdmin: the platform administrator mark is kept by every way
// a user is written and read: create, bulk create, update (on and off),
// and the sign-in lookup.
func testPlatformAdmin(t *testing.T, s store.Store) {
	ctx := t.Context()
	createOrg(t, s, "org_a")
	admin := newUser("org_a", "root@a.example", "Root", "Admin")
	admin.Role, admin.PlatformAdmin = store.RoleAdmin, true
	created, err := s.CreateUser(ctx, admin)
	ok(t, err, "CreateUser")
	got, err := s.GetUser(ctx, "org_a", admin.ID)
	ok(t, err, "GetUser")
	equal(t, "read back", got, created)
	if !got.PlatformAdmin {
		t.Fatal("the platform administrator mark was not kept")
	}
	bulk := newUser("org_a", "bulk@a.example", "Bulk", "Admin")
	bulk.PlatformAdmin = true
	ok(t, s.CreateUsers(ctx, []store.User{bulk, newUser("org_a", "plain@a.example", "Plain", "Member")}), "CreateUsers")
	marked := map[string]bool{}
	for _, u := range allUsers(t, s, "org_a", store.UserFilter{}, 10) {
		marked[u.Email] = u.PlatformAdmin
	}
	equal(t, "marks after CreateUsers", marked, map[string]bool{"root@a.example": true, "bulk@a.example": true, "plain@a.example": false})

	off, err := s.UpdateUser(ctx, "org_a", admin.ID, store.UserUpdate{PlatformAdmin: ptr(false)})
	ok(t, err, "UpdateUser off")
	if off.PlatformAdmin || off.Role != store.RoleAdmin {
		t.Fatalf("after turning the mark off: %+v", off)
	}
	got, err = s.GetUser(ctx, "org_a", admin.ID)
	ok(t, err, "GetUser")
	equal(t, "read back after the update", got, off)
	unrelated, err := s.UpdateUser(ctx, "org_a", bulk.ID, store.UserUpdate{GivenName: ptr("Renamed")})
	ok(t, err, "UpdateUser of another field")
	if !unrelated.PlatformAdmin {
		t.Fatal("an update of another field dropped the mark")
	}
	creds, err := s.UserCredentials(ctx, "BULK@a.example")
	ok(t, err, "UserCredentials")
	if len(creds) != 1 || !creds[0].User.PlatformAdmin {
		t.Fatalf("UserCredentials: %+v", creds)
	}
}

// testListApprovals: newest first, narrowed by status and by expiry, at
// most the limit, and only the org's own.
func testListApprovals(t *testing.T, s store.Store) {
	ctx := t.Context()
	createOrg(t, s, "org_a")
	createOrg(t, s, "org_b")
	now := time.Now().UTC().Truncate(time.Microsecond)
	var ids []string
	for i := range 4 {
		a := newApproval("org_a", future)
		a.CreatedAt = now.Add(time.Duration(i) * time.Second)
		if i == 1 {
			a.ExpiresAt = now.Add(-time.Minute) // expired, still pending
			a.CreatedAt = now.Add(-time.Hour)
		}
		_, err := s.CreateApproval(ctx, a)
		ok(t, err, "CreateApproval")
		ids = append(ids, a.ID)
	}
	_, err := s.DecideApproval(ctx, "org_a", ids[2], store.ApprovalDenied, "usr_boss", now)
	ok(t, err, "DecideApproval")
	other := newApproval("org_b", future)
	_, err = s.CreateApproval(ctx, other)
	ok(t, err, "CreateApproval in org_b")

	idsOf := func(as []store.Approval) []string { return keys(as, func(a store.Approval) string { return a.ID }) }
	all, err := s.ListApprovals(ctx, "org_a", store.ApprovalFilter{}, 0)
	ok(t, err, "ListApprovals")
	equal(t, "every approval, newest first", idsOf(all), []string{ids[3], ids[2], ids[0], ids[1]})
	pending, err := s.ListApprovals(ctx, "org_a", store.ApprovalFilter{Status: store.ApprovalPending, LiveAt: now}, 0)
	ok(t, err, "ListApprovals pending")
	equal(t, "pending and live", idsOf(pending), []string{ids[3], ids[0]})
	got, err := s.GetApproval(ctx, "org_a", ids[3])
	ok(t, err, "GetApproval")
	equal(t, "a listed approval reads as GetApproval's", pending[0], got)
	one, err := s.ListApprovals(ctx, "org_a", store.ApprovalFilter{Status: store.ApprovalPending}, 1)
	ok(t, err, "ListApprovals limit 1")
	equal(t, "limit 1", idsOf(one), []string{ids[3]})
	b, err := s.ListApprovals(ctx, "org_b", store.ApprovalFilter{}, 0)
	ok(t, err, "ListApprovals org_b")
	equal(t, "org_b's", idsOf(b), []string{other.ID})
	none, err := s.ListApprovals(ctx, "org_c", store.ApprovalFilter{}, 0)
	ok(t, err, "ListApprovals of an org without any")
	if len(none) != 0 {
		t.Fatalf("org_c: %+v", none)
	}
}
