package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/orgscope/orgscope/store"
)

var userTests = []test{
	{"UserCreateGet", testUserCreateGet},
	{"UserCreateMissingOrg", testUserCreateMissingOrg},
	{"UserEmailUnique", testUserEmailUnique},
	{"UserUpdate", testUserUpdate},
	{"UserUpdateConflict", testUserUpdateConflict},
	{"UserUpdateMissing", testUserUpdateMissing},
	{"UserDelete", testUserDelete},
	{"UserFilters", testUserFilters},
	{"UserLimits", testUserLimits},
	{"UserTraversal", testUserTraversal},
	{"UserPaginationConcurrentInserts", testUserPaginationConcurrentInserts},
	{"UserListBadCursor", testUserListBadCursor},
	{"UserCreateBatch", testUserCreateBatch},
	{"UserCredentials", testUserCredentials},
}

func testUserCreateGet(t *testing.T, s store.Store) {
	createOrg(t, s, "org_acme")
	want := store.User{
		ID:         store.NewID(store.UserIDPrefix),
		OrgCode:    "org_acme",
		Email:      "Ann.Lee@Example.COM", // stored as given
		GivenName:  "Ann",
		FamilyName: "Lee",
		Status:     store.UserSuspended,
		Role:       store.RoleAdmin,
		CreatedAt:  past,
		UpdatedAt:  past.Add(time.Minute),
	}
	got, err := s.CreateUser(t.Context(), want)
	ok(t, err, "CreateUser")
	equal(t, "CreateUser result", got, want)
	got, err = s.GetUser(t.Context(), "org_acme", want.ID)
	ok(t, err, "GetUser")
	equal(t, "GetUser", got, want)

	fresh := createUser(t, s, "org_acme", "bob@example.com", "Bob", "")
	if !isStamped(fresh.CreatedAt) || !fresh.UpdatedAt.Equal(fresh.CreatedAt) {
		t.Fatalf("CreatedAt %v, UpdatedAt %v: want equal, set, UTC microseconds", fresh.CreatedAt, fresh.UpdatedAt)
	}
	got, err = s.GetUser(t.Context(), "org_acme", fresh.ID)
	ok(t, err, "GetUser")
	equal(t, "GetUser of user with default times", got, fresh)

	_, err = s.GetUser(t.Context(), "org_acme", store.NewID(store.UserIDPrefix))
	wantErr(t, err, store.ErrNotFound, "GetUser unknown ID")
	_, err = s.GetUser(t.Context(), "org_nope", want.ID)
	wantErr(t, err, store.ErrNotFound, "GetUser unknown org")
}

func testUserCreateMissingOrg(t *testing.T, s store.Store) {
	u := newUser("org_nope", "ann@x.io", "Ann", "Lee")
	_, err := s.CreateUser(t.Context(), u)
	wantErr(t, err, store.ErrNotFound, "CreateUser in missing org")
	_, err = s.GetUser(t.Context(), "org_nope", u.ID)
	wantErr(t, err, store.ErrNotFound, "GetUser after refused create")
	creds, err := s.UserCredentials(t.Context(), "ann@x.io")
	ok(t, err, "UserCredentials")
	equal(t, "credentials after refused create", len(creds), 0)
}

func testUserEmailUnique(t *testing.T, s store.Store) {
	createOrg(t, s, "org_a")
	createOrg(t, s, "org_b")
	ann := createUser(t, s, "org_a", "Ann@x.io", "Ann", "Lee")

	_, err := s.CreateUser(t.Context(), newUser("org_a", "ann@X.io", "Other", "Ann"))
	wantErr(t, err, store.ErrConflict, "CreateUser with the email in another case")
	sameID := newUser("org_a", "other@x.io", "Other", "")
	sameID.ID = ann.ID
	_, err = s.CreateUser(t.Context(), sameID)
	wantErr(t, err, store.ErrConflict, "CreateUser with a taken ID")
	sameJSON(t, "org_a's users", []store.User{ann}, allUsers(t, s, "org_a", store.UserFilter{}, 10))

	// Emails and IDs are unique per org only.
	inB := newUser("org_b", "ann@X.io", "Ann", "Elsewhere")
	inB.ID = ann.ID
	_, err = s.CreateUser(t.Context(), inB)
	ok(t, err, "CreateUser with the same email and ID in another org")
	got, err := s.GetUser(t.Context(), "org_a", ann.ID)
	ok(t, err, "GetUser")
	equal(t, "org_a's user", got, ann)
}

func testUserUpdate(t *testing.T, s store.Store) {
	createOrg(t, s, "org_a")
	u := newUser("org_a", "ann@x.io", "Ann", "Lee")
	u.CreatedAt, u.UpdatedAt = past, past
	u, err := s.CreateUser(t.Context(), u)
	ok(t, err, "CreateUser")

	steps := []struct {
		name   string
		update store.UserUpdate
		apply  func(*store.User)
	}{
		{"given name only", store.UserUpdate{GivenName: ptr("Anna")}, func(u *store.User) { u.GivenName = "Anna" }},
		{"every field", store.UserUpdate{
			Email:      ptr("ANNA@x.io"), // its own email in another case is no conflict
			GivenName:  ptr("Annabel"),
			FamilyName: ptr("Smith"),
			Status:     ptr(store.UserSuspended),
			Role:       ptr(store.RoleAdmin),
		}, func(u *store.User) {
			u.Email, u.GivenName, u.FamilyName, u.Status, u.Role = "ANNA@x.io", "Annabel", "Smith", store.UserSuspended, store.RoleAdmin
		}},
		{"nothing", store.UserUpdate{}, func(*store.User) {}},
	}
	for _, step := range steps {
		got, err := s.UpdateUser(t.Context(), "org_a", u.ID, step.update)
		ok(t, err, "UpdateUser "+step.name)
		if !got.UpdatedAt.After(past) || !isStamped(got.UpdatedAt) {
			t.Fatalf("%s: UpdatedAt %v did not advance from %v", step.name, got.UpdatedAt, past)
		}
		step.apply(&u)
		u.UpdatedAt = got.UpdatedAt
		equal(t, "UpdateUser "+step.name, got, u)
		got, err = s.GetUser(t.Context(), "org_a", u.ID)
		ok(t, err, "GetUser")
		equal(t, "GetUser after "+step.name, got, u)
	}
}

func testUserUpdateConflict(t *testing.T, s store.Store) {
	createOrg(t, s, "org_a")
	createUser(t, s, "org_a", "ann@x.io", "Ann", "Lee")
	bob := createUser(t, s, "org_a", "bob@x.io", "Bob", "Stone")
	_, err := s.UpdateUser(t.Context(), "org_a", bob.ID, store.UserUpdate{Email: ptr("ANN@x.io"), GivenName: ptr("Robert")})
	wantErr(t, err, store.ErrConflict, "UpdateUser to a taken email")
	got, err := s.GetUser(t.Context(), "org_a", bob.ID)
	ok(t, err, "GetUser")
	equal(t, "user after refused update", got, bob)

	createOrg(t, s, "org_b")
	carl := createUser(t, s, "org_b", "carl@x.io", "Carl", "")
	_, err = s.UpdateUser(t.Context(), "org_b", carl.ID, store.UserUpdate{Email: ptr("ann@x.io")})
	ok(t, err, "UpdateUser to an email taken in another org")
}

func testUserUpdateMissing(t *testing.T, s store.Store) {
	createOrg(t, s, "org_a")
	_, err := s.UpdateUser(t.Context(), "org_a", store.NewID(store.UserIDPrefix), store.UserUpdate{GivenName: ptr("x")})
	wantErr(t, err, store.ErrNotFound, "UpdateUser unknown user")
	equal(t, "users after refused update", len(allUsers(t, s, "org_a", store.UserFilter{}, 10)), 0)
}

func testUserDelete(t *testing.T, s store.Store) {
	createOrg(t, s, "org_a")
	ann := createUser(t, s, "org_a", "ann@x.io", "Ann", "Lee")
	bob := createUser(t, s, "org_a", "bob@x.io", "Bob", "Stone")
	ok(t, s.SetUserPassword(t.Context(), "org_a", ann.ID, "hash-ann"), "SetUserPassword")

	ok(t, s.DeleteUser(t.Context(), "org_a", ann.ID), "DeleteUser")
	_, err := s.GetUser(t.Context(), "org_a", ann.ID)
	wantErr(t, err, store.ErrNotFound, "GetUser after delete")
	creds, err := s.UserCredentials(t.Context(), "ann@x.io")
	ok(t, err, "UserCredentials")
	equal(t, "credentials of a deleted user", len(creds), 0)
	wantErr(t, s.DeleteUser(t.Context(), "org_a", ann.ID), store.ErrNotFound, "DeleteUser again")
	sameJSON(t, "remaining users", []store.User{bob}, allUsers(t, s, "org_a", store.UserFilter{}, 10))

	// The email is free again, and the new user has no password.
	again := createUser(t, s, "org_a", "ann@x.io", "Ann", "Again")
	creds, err = s.UserCredentials(t.Context(), "ann@x.io")
	ok(t, err, "UserCredentials")
	equal(t, "credentials of the new user", creds, []store.UserCredential{{User: again}})
}

func testUserFilters(t *testing.T, s store.Store) {
	createOrg(t, s, "org_a")
	add := func(email, given, family string, status store.UserStatus) store.User {
		u := newUser("org_a", email, given, family)
		u.Status = status
		u, err := s.CreateUser(t.Context(), u)
		ok(t, err, "CreateUser "+email)
		return u
	}
	ann := add("Ann.Lee@Example.com", "Ann", "Lee", store.UserActive)
	anna := add("anna@other.io", "Anna", "Smith", store.UserSuspended)
	bob := add("bob@example.com", "Bob", "Annan", store.UserActive)
	zoe := add("zoe_x@example.com", "Zoë", "Ångström", store.UserActive)
	carl := add("carl@example.com", "Carl", "Lee-Jones", store.UserSuspended)

	cases := []struct {
		name   string
		filter store.UserFilter
		want   []store.User
	}{
		{"email prefix", store.UserFilter{EmailPrefix: "ann"}, []store.User{ann, anna}},
		{"email prefix, other case", store.UserFilter{EmailPrefix: "ANN.LEE@EX"}, []store.User{ann}},
		{"email prefix is not substring", store.UserFilter{EmailPrefix: "example"}, nil},
		{"name prefix: given or family", store.UserFilter{NamePrefix: "ann"}, []store.User{ann, anna, bob}},
		{"name prefix: family", store.UserFilter{NamePrefix: "LEE"}, []store.User{ann, carl}},
		{"name prefix: given family", store.UserFilter{NamePrefix: "ann l"}, []store.User{ann}},
		{"name prefix: full name", store.UserFilter{NamePrefix: "Anna Smith"}, []store.User{anna}},
		{"name prefix: not in the middle", store.UserFilter{NamePrefix: "nna"}, nil},
		{"name prefix: non-ASCII case", store.UserFilter{NamePrefix: "ZOË Å"}, []store.User{zoe}},
		{"name prefix: family, non-ASCII case", store.UserFilter{NamePrefix: "ångs"}, []store.User{zoe}},
		{"status", store.UserFilter{Status: store.UserSuspended}, []store.User{anna, carl}},
		{"status and name", store.UserFilter{Status: store.UserActive, NamePrefix: "ann"}, []store.User{ann, bob}},
		{"all three", store.UserFilter{EmailPrefix: "ann", NamePrefix: "smith", Status: store.UserSuspended}, []store.User{anna}},
		{"underscore is literal", store.UserFilter{EmailPrefix: "zoe_"}, []store.User{zoe}},
		{"underscore is not a wildcard", store.UserFilter{EmailPrefix: "z_e"}, nil},
		{"percent is not a wildcard", store.UserFilter{EmailPrefix: "%"}, nil},
		{"no match", store.UserFilter{NamePrefix: "xavier"}, nil},
	}
	for _, c := range cases {
		want := slices.SortedFunc(slices.Values(c.want), func(a, b store.User) int { return cmp.Compare(a.ID, b.ID) })
		for _, limit := range []int{1, 100} {
			got := allUsers(t, s, "org_a", c.filter, limit)
			if len(want) == 0 {
				equal(t, fmt.Sprintf("%s (limit %d): count", c.name, limit), len(got), 0)
				continue
			}
			equal(t, fmt.Sprintf("%s (limit %d)", c.name, limit), got, want)
		}
	}
}

func testUserLimits(t *testing.T, s store.Store) {
	createOrg(t, s, "org_a")
	ids := seedUsers(t, s, "org_a", store.MaxPageSize+20)
	for _, c := range []struct{ limit, want int }{
		{0, store.DefaultPageSize},
		{-5, store.DefaultPageSize},
		{1, 1},
		{store.MaxPageSize, store.MaxPageSize},
		{500, store.MaxPageSize},
	} {
		page, next, err := s.ListUsers(t.Context(), "org_a", store.UserFilter{}, store.Page{Limit: c.limit})
		ok(t, err, "ListUsers")
		equal(t, fmt.Sprintf("IDs with limit %d", c.limit), keys(page, userID), ids[:c.want])
		if next == "" {
			t.Fatalf("limit %d: no next cursor", c.limit)
		}
	}
}

func testUserTraversal(t *testing.T, s store.Store) {
	createOrg(t, s, "org_a")
	ids := seedUsers(t, s, "org_a", 45)
	for _, limit := range []int{7, 1, 45, 100} {
		equal(t, fmt.Sprintf("IDs listed with limit %d", limit), keys(allUsers(t, s, "org_a", store.UserFilter{}, limit), userID), ids)
	}
	// Listed records are the stored records.
	for _, u := range allUsers(t, s, "org_a", store.UserFilter{}, 10)[:5] {
		got, err := s.GetUser(t.Context(), "org_a", u.ID)
		ok(t, err, "GetUser")
		equal(t, "listed user", u, got)
	}

	// A listing that ends at a page boundary has no empty page after it.
	createOrg(t, s, "org_b")
	idsB := seedUsers(t, s, "org_b", 14)
	first, next, err := s.ListUsers(t.Context(), "org_b", store.UserFilter{}, store.Page{Limit: 7})
	ok(t, err, "ListUsers")
	second, last, err := s.ListUsers(t.Context(), "org_b", store.UserFilter{}, store.Page{Cursor: next, Limit: 7})
	ok(t, err, "ListUsers")
	equal(t, "two full pages", append(keys(first, userID), keys(second, userID)...), idsB)
	equal(t, "cursor after the last full page", last, "")
}

// testUserPaginationConcurrentInserts pages through an org while users are
// inserted into it, both between pages (some with IDs below the cursor) and
// concurrently: every user that existed before the first page must be seen
// exactly once, and no user twice.
func testUserPaginationConcurrentInserts(t *testing.T, s store.Store) {
	createOrg(t, s, "org_a")
	existing := seedUsers(t, s, "org_a", 60)

	var wg sync.WaitGroup
	defer wg.Wait() // also when the test fails early: the writers use t
	for w := range 4 {
		wg.Go(func() {
			for i := range 25 {
				u := newUser("org_a", fmt.Sprintf("writer%d-%d@x.io", w, i), "Writer", "")
				if _, err := s.CreateUser(t.Context(), u); err != nil {
					t.Errorf("concurrent CreateUser: %v", err)
					return
				}
			}
		})
	}

	seen := map[string]int{}
	var order []string
	cursor := ""
	for page := 0; ; page++ {
		users, next, err := s.ListUsers(t.Context(), "org_a", store.UserFilter{}, store.Page{Cursor: cursor, Limit: 7})
		ok(t, err, "ListUsers")
		for _, u := range users {
			seen[u.ID]++
			order = append(order, u.ID)
		}
		if next == "" {
			break
		}
		if page > maxPages {
			t.Fatal("listing did not end")
		}
		cursor = next
		// One insert sorting before everything listed so far, one after.
		low := newUser("org_a", fmt.Sprintf("low%d@x.io", page), "Low", "")
		low.ID = fmt.Sprintf("%s%032x", store.UserIDPrefix, page)
		_, err = s.CreateUser(t.Context(), low)
		ok(t, err, "CreateUser below the cursor")
		createUser(t, s, "org_a", fmt.Sprintf("high%d@x.io", page), "High", "")
	}
	wg.Wait()

	for _, id := range existing {
		if seen[id] != 1 {
			t.Errorf("pre-existing user %s seen %d times", id, seen[id])
		}
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("user %s seen %d times", id, n)
		}
	}
	if !slices.IsSorted(order) {
		t.Errorf("users not listed in ID order")
	}
}

func testUserListBadCursor(t *testing.T, s store.Store) {
	createOrg(t, s, "org_a")
	createOrg(t, s, "org_b")
	seedUsers(t, s, "org_a", 3)
	seedUsers(t, s, "org_b", 3)
	_, cursorA, err := s.ListUsers(t.Context(), "org_a", store.UserFilter{}, store.Page{Limit: 1})
	ok(t, err, "ListUsers")
	_, orgsCursor, err := s.ListOrgs(t.Context(), store.Page{Limit: 1})
	ok(t, err, "ListOrgs")

	for _, c := range []struct{ org, cursor, what string }{
		{"org_a", "garbage", "garbage"},
		{"org_a", "%%%", "not base64"},
		{"org_a", orgsCursor, "a ListOrgs cursor"},
		{"org_b", cursorA, "another org's cursor"},
	} {
		_, _, err := s.ListUsers(t.Context(), c.org, store.UserFilter{}, store.Page{Cursor: c.cursor, Limit: 2})
		wantErr(t, err, store.ErrInvalidCursor, "ListUsers with "+c.what)
	}
}

func testUserCreateBatch(t *testing.T, s store.Store) {
	createOrg(t, s, "org_a")
	createOrg(t, s, "org_b")
	createUser(t, s, "org_a", "ann@x.io", "Ann", "Lee")
	snapshot := func() any {
		return []any{allUsers(t, s, "org_a", store.UserFilter{}, 100), allUsers(t, s, "org_b", store.UserFilter{}, 100)}
	}
	before := snapshot()

	refused := []struct {
		name  string
		batch []store.User
		err   error
	}{
		{"email taken in another case", []store.User{
			newUser("org_a", "b1@x.io", "B", "1"), newUser("org_a", "ANN@x.io", "Ann", "Again"), newUser("org_a", "b3@x.io", "B", "3"),
		}, store.ErrConflict},
		{"email repeated in the batch", []store.User{
			newUser("org_b", "c@x.io", "C", ""), newUser("org_b", "C@X.IO", "C", "Again"),
		}, store.ErrConflict},
		{"missing org", []store.User{
			newUser("org_a", "d@x.io", "D", ""), newUser("org_nope", "e@x.io", "E", ""),
		}, store.ErrNotFound},
	}
	for _, c := range refused {
		wantErr(t, s.CreateUsers(t.Context(), c.batch), c.err, "CreateUsers with "+c.name)
		sameJSON(t, "users after CreateUsers with "+c.name, before, snapshot())
	}

	batch := []store.User{newUser("org_a", "f@x.io", "F", ""), newUser("org_b", "g@x.io", "G", ""), newUser("org_a", "h@x.io", "H", "")}
	ok(t, s.CreateUsers(t.Context(), batch), "CreateUsers")
	for _, want := range batch {
		got, err := s.GetUser(t.Context(), want.OrgCode, want.ID)
		ok(t, err, "GetUser")
		if !isStamped(got.CreatedAt) || !got.UpdatedAt.Equal(got.CreatedAt) {
			t.Fatalf("batch user times %v, %v: want equal, set", got.CreatedAt, got.UpdatedAt)
		}
		want.CreatedAt, want.UpdatedAt = got.CreatedAt, got.UpdatedAt
		equal(t, "batch user", got, want)
	}
}

func testUserCredentials(t *testing.T, s store.Store) {
	ctx := t.Context()
	createOrg(t, s, "org_a")
	createOrg(t, s, "org_b")
	a := createUser(t, s, "org_a", "Ann@x.io", "Ann", "A")
	b := createUser(t, s, "org_b", "ann@X.IO", "Ann", "B")
	createUser(t, s, "org_a", "bob@x.io", "Bob", "")
	ok(t, s.SetUserPassword(ctx, "org_a", a.ID, "hash-a"), "SetUserPassword")

	creds := func(email string) []store.UserCredential {
		t.Helper()
		c, err := s.UserCredentials(ctx, email)
		ok(t, err, "UserCredentials "+email)
		slices.SortFunc(c, func(x, y store.UserCredential) int { return cmp.Compare(x.User.OrgCode, y.User.OrgCode) })
		return c
	}
	equal(t, "credentials in two orgs", creds("ANN@x.io"), []store.UserCredential{cred(a, "hash-a"), cred(b, "")})

	ok(t, s.SetUserPassword(ctx, "org_b", b.ID, "hash-b"), "SetUserPassword")
	ok(t, s.SetUserPassword(ctx, "org_a", a.ID, "hash-a2"), "SetUserPassword again")
	equal(t, "credentials after setting passwords", creds("ann@x.io"), []store.UserCredential{cred(a, "hash-a2"), cred(b, "hash-b")})
	equal(t, "credentials of an unknown email", len(creds("nobody@x.io")), 0)
	equal(t, "credentials by prefix", len(creds("ann@x")), 0)

	wantErr(t, s.SetUserPassword(ctx, "org_a", store.NewID(store.UserIDPrefix), "h"), store.ErrNotFound, "SetUserPassword unknown user")

	// The password follows the user to a new email.
	a, err := s.UpdateUser(ctx, "org_a", a.ID, store.UserUpdate{Email: ptr("ann.new@x.io")})
	ok(t, err, "UpdateUser")
	equal(t, "credentials at the new email", creds("Ann.New@x.io"), []store.UserCredential{cred(a, "hash-a2")})
	equal(t, "credentials at the old email", creds("ann@x.io"), []store.UserCredential{cred(b, "hash-b")})

	ok(t, s.DeleteUser(ctx, "org_b", b.ID), "DeleteUser")
	equal(t, "credentials after delete", len(creds("ann@x.io")), 0)
}

func cred(u store.User, hash string) store.UserCredential {
	return store.UserCredential{User: u, PasswordHash: hash}
}
