package tools_test

import (
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/service"
	"github.com/orgscope/orgscope/store"
)

var userIDRE = regexp.MustCompile(`^usr_[0-9a-f]{32}$`)

func TestCreateUser(t *testing.T) {
	e := newEnv(t)
	p := orgP(acme, auth.ScopeWriteUsers)

	u := ok[store.User](e, p, "create_user", map[string]any{
		"email": "ann@acme.example", "given_name": "  Ann ", "family_name": "Lee",
	})
	if !userIDRE.MatchString(u.ID) || u.OrgCode != acme || u.Email != "ann@acme.example" || u.GivenName != "Ann" ||
		u.FamilyName != "Lee" || u.Status != store.UserActive || u.Role != store.RoleMember ||
		u.CreatedAt.IsZero() || !u.UpdatedAt.Equal(u.CreatedAt) {
		t.Errorf("created %+v", u)
	}
	stored, err := e.st.GetUser(t.Context(), acme, u.ID)
	if err != nil || !reflect.DeepEqual(stored, u) {
		t.Errorf("stored %+v (%v), returned %+v", stored, err, u)
	}
	e.lastEvent(acme, p, "create_user", u.ID)

	admin := ok[store.User](e, p, "create_user", map[string]any{"email": "boss@acme.example", "role": "admin"})
	if admin.Role != store.RoleAdmin || admin.GivenName != "" {
		t.Errorf("admin %+v", admin)
	}

	t.Run("invalid", func(t *testing.T) {
		e := e.with(t)
		before := e.dump()
		for _, email := range []string{"not-an-email", "", "Ann <ann@acme.example>", "ann@", "a b@acme.example"} {
			e.fails(p, "create_user", map[string]any{"email": email}, "is not a valid address (want a bare address like ann@example.com)")
		}
		e.fails(p, "create_user", map[string]any{"email": strings.Repeat("a", 250) + "@x.io"}, "is not a valid address")
		e.fails(p, "create_user", map[string]any{"email": "x@acme.example", "role": "owner"}, `role "owner" is not valid (want admin or member)`)
		e.fails(p, "create_user", map[string]any{"email": "x@acme.example", "role": "Admin"}, `role "Admin" is not valid`)
		e.fails(p, "create_user", map[string]any{"email": "x@acme.example", "given_name": strings.Repeat("n", 101)}, "given_name is longer than 100 characters")
		e.fails(p, "create_user", map[string]any{"email": "x@acme.example", "status": "active"}, `unknown argument "status"`)
		e.fails(p, "create_user", map[string]any{}, "email")
		e.unchanged(before, "refused create_user")
	})

	t.Run("conflict", func(t *testing.T) {
		e := e.with(t)
		before := e.dump()
		e.fails(p, "create_user", map[string]any{"email": "ann@acme.example"},
			`a user with email "ann@acme.example" already exists in org_acme`)
		e.fails(p, "create_user", map[string]any{"email": "ANN@Acme.Example"}, `already exists in org_acme`)
		e.unchanged(before, "a conflicting create_user")

		// The same address in another org is another person.
		pb := orgP(beta, auth.ScopeWriteUsers)
		other := ok[store.User](e, pb, "create_user", map[string]any{"email": "ann@acme.example"})
		if other.OrgCode != beta || other.ID == u.ID {
			t.Errorf("beta's ann: %+v", other)
		}
		e.lastEvent(beta, pb, "create_user", other.ID)
	})
}

func TestListUsers(t *testing.T) {
	e := newEnv(t)
	var want []store.User
	for _, email := range []string{"ann@a.io", "bob@a.io", "cy@a.io", "dee@a.io", "eve@a.io"} {
		want = append(want, e.addUser(acme, email))
	}
	betaUser := e.addUser(beta, "zed@b.io")
	suspended := store.UserSuspended
	if _, err := e.st.UpdateUser(t.Context(), acme, want[2].ID, store.UserUpdate{Status: &suspended}); err != nil {
		t.Fatal(err)
	}
	want[2], _ = e.st.GetUser(t.Context(), acme, want[2].ID)
	p := orgP(acme, auth.ScopeReadUsers)

	t.Run("one page", func(t *testing.T) {
		e := e.with(t)
		got := ok[service.ListUsersOutput](e, p, "list_users", nil)
		if !reflect.DeepEqual(got.Users, want) || got.NextCursor != "" {
			t.Errorf("list_users = %+v, want acme's five users and no cursor", got)
		}
	})

	t.Run("cursor round trip", func(t *testing.T) {
		e := e.with(t)
		var all []store.User
		cursor, pages := "", 0
		for {
			args := map[string]any{"limit": 2}
			if cursor != "" {
				args["cursor"] = cursor
			}
			page := ok[service.ListUsersOutput](e, p, "list_users", args)
			pages++
			if len(page.Users) > 2 {
				t.Fatalf("page of %d users with limit 2", len(page.Users))
			}
			all = append(all, page.Users...)
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
			if pages > 5 {
				t.Fatal("the cursor never ends")
			}
		}
		if pages != 3 || !reflect.DeepEqual(all, want) {
			t.Errorf("%d pages, users %v; want 3 pages with every acme user once", pages, ids(all))
		}
	})

	t.Run("filters", func(t *testing.T) {
		e := e.with(t)
		for _, tc := range []struct {
			args map[string]any
			want []store.User
		}{
			{map[string]any{"email_prefix": "B"}, want[1:2]},
			{map[string]any{"email_prefix": "zed"}, nil}, // beta's user
			{map[string]any{"name_prefix": "given fam"}, want},
			{map[string]any{"status": "suspended"}, want[2:3]},
			{map[string]any{"status": "active", "email_prefix": "c"}, nil},
		} {
			got := ok[service.ListUsersOutput](e, p, "list_users", tc.args)
			if !slices.Equal(ids(got.Users), ids(tc.want)) {
				t.Errorf("list_users %v = %v, want %v", tc.args, ids(got.Users), ids(tc.want))
			}
		}
	})

	t.Run("invalid", func(t *testing.T) {
		e := e.with(t)
		e.fails(p, "list_users", map[string]any{"limit": "ten"}, "argument limit has the wrong type: want an integer")
		e.fails(p, "list_users", map[string]any{"limit": 101}, "limit must be between 1 and 100")
		e.fails(p, "list_users", map[string]any{"limit": -1}, "limit must be between 1 and 100")
		e.fails(p, "list_users", map[string]any{"status": "deleted"}, `status "deleted" is not valid (want active or suspended)`)
		const badCursor = "cursor is not valid for this listing"
		e.fails(p, "list_users", map[string]any{"cursor": "garbage"}, badCursor)
		// A cursor of beta's listing, or of another listing, is refused.
		pb := orgP(beta, auth.ScopeReadUsers, auth.ScopeReadFlags)
		e.addUser(beta, "yan@b.io")
		bp := ok[service.ListUsersOutput](e, pb, "list_users", map[string]any{"limit": 1})
		if bp.NextCursor == "" || bp.Users[0].ID != betaUser.ID {
			t.Fatalf("beta's first page: %+v", bp)
		}
		e.fails(p, "list_users", map[string]any{"cursor": bp.NextCursor}, badCursor)
		fp := ok[service.ListFlagsOutput](e, orgP(acme, auth.ScopeReadFlags), "list_feature_flags", map[string]any{"limit": 1})
		e.fails(p, "list_users", map[string]any{"cursor": fp.NextCursor}, badCursor)
	})

	t.Run("org_code", func(t *testing.T) {
		e := e.with(t)
		// An org-scoped principal may name its own org, and finds nothing in another.
		got := ok[service.ListUsersOutput](e, p, "list_users", map[string]any{"org_code": acme})
		if len(got.Users) != len(want) {
			t.Errorf("with its own org_code: %d users", len(got.Users))
		}
		e.fails(p, "list_users", map[string]any{"org_code": beta}, `organization "org_beta" not found`)
		g := globalP(auth.ScopeReadUsers)
		e.fails(g, "list_users", nil, "org_code is required with a global token")
		e.fails(g, "list_users", map[string]any{"org_code": "org_nope"}, `organization "org_nope" not found`)
		gb := ok[service.ListUsersOutput](e, g, "list_users", map[string]any{"org_code": beta})
		if len(gb.Users) != 2 || gb.Users[0].ID != betaUser.ID || gb.Users[1].OrgCode != beta {
			t.Errorf("global, beta: %+v", gb.Users)
		}
	})
}

func ids(users []store.User) []string {
	var out []string
	for _, u := range users {
		out = append(out, u.ID)
	}
	return out
}

func TestGetUser(t *testing.T) {
	e := newEnv(t)
	ann := e.addUser(acme, "ann@a.io")
	zed := e.addUser(beta, "zed@b.io")
	p := orgP(acme, auth.ScopeReadUsers)

	if got := ok[store.User](e, p, "get_user", map[string]any{"user_id": ann.ID}); !reflect.DeepEqual(got, ann) {
		t.Errorf("get_user = %+v, want %+v", got, ann)
	}
	// Another org's user is "not found", exactly like a user that does not exist.
	cross := e.fails(p, "get_user", map[string]any{"user_id": zed.ID}, `user "`+zed.ID+`" not found in org_acme`)
	const missing = "usr_0123456789abcdef0123456789abcdef"
	none := e.fails(p, "get_user", map[string]any{"user_id": missing})
	if strings.ReplaceAll(cross, zed.ID, missing) != none {
		t.Errorf("another org's user (%q) and a missing user (%q) are told apart", cross, none)
	}
	e.fails(p, "get_user", map[string]any{"user_id": zed.ID, "org_code": beta}, `organization "org_beta" not found`)
	e.fails(p, "get_user", map[string]any{"user_id": "usr_XYZ"}, "user ids are usr_ followed by 32 hex digits")
	e.fails(p, "get_user", nil, "user_id")

	g := globalP(auth.ScopeReadUsers)
	if got := ok[store.User](e, g, "get_user", map[string]any{"user_id": zed.ID, "org_code": beta}); got.ID != zed.ID {
		t.Errorf("global get_user in beta = %+v", got)
	}
	e.fails(g, "get_user", map[string]any{"user_id": zed.ID, "org_code": acme}, `user "`+zed.ID+`" not found in org_acme`)
	e.fails(g, "get_user", map[string]any{"user_id": zed.ID}, "org_code is required with a global token")
}

func TestUpdateUser(t *testing.T) {
	e := newEnv(t)
	ann := e.addUser(acme, "ann@a.io")
	bob := e.addUser(acme, "bob@a.io")
	zed := e.addUser(beta, "zed@b.io")
	p := orgP(acme, auth.ScopeWriteUsers)

	t.Run("partial", func(t *testing.T) {
		e := e.with(t)
		got := ok[store.User](e, p, "update_user", map[string]any{"user_id": ann.ID, "given_name": " Annabel "})
		want := ann
		want.GivenName, want.UpdatedAt = "Annabel", got.UpdatedAt
		if !reflect.DeepEqual(got, want) || got.UpdatedAt.Before(ann.UpdatedAt) {
			t.Errorf("update given_name:\n got %+v\nwant %+v", got, want)
		}
		e.lastEvent(acme, p, "update_user", ann.ID)

		got = ok[store.User](e, p, "update_user", map[string]any{
			"user_id": ann.ID, "email": "ANN@a.io", "status": "suspended", "role": "admin", "family_name": "",
		})
		want.Email, want.Status, want.Role, want.FamilyName, want.UpdatedAt = "ANN@a.io", store.UserSuspended, store.RoleAdmin, "", got.UpdatedAt
		if !reflect.DeepEqual(got, want) {
			t.Errorf("update four fields:\n got %+v\nwant %+v", got, want)
		}
		if stored, _ := e.st.GetUser(t.Context(), acme, ann.ID); !reflect.DeepEqual(stored, got) {
			t.Errorf("stored %+v, returned %+v", stored, got)
		}
		// Nothing given: nothing but updated_at changes.
		again := ok[store.User](e, p, "update_user", map[string]any{"user_id": ann.ID})
		again.UpdatedAt = got.UpdatedAt
		if !reflect.DeepEqual(again, got) {
			t.Errorf("empty update: %+v", again)
		}
	})

	t.Run("invalid", func(t *testing.T) {
		e := e.with(t)
		before := e.dump()
		e.fails(p, "update_user", map[string]any{"user_id": bob.ID, "email": "bob"}, `email "bob" is not a valid address`)
		e.fails(p, "update_user", map[string]any{"user_id": bob.ID, "status": "deleted"}, `status "deleted" is not valid (want active or suspended)`)
		e.fails(p, "update_user", map[string]any{"user_id": bob.ID, "role": "root"}, `role "root" is not valid`)
		e.fails(p, "update_user", map[string]any{"user_id": bob.ID, "status": 7}, "argument status has the wrong type: want a string")
		e.fails(p, "update_user", map[string]any{"email": "x@a.io"}, "user_id")
		e.fails(p, "update_user", map[string]any{"user_id": bob.ID, "email": "ann@a.io"},
			`another user in org_acme already has email "ann@a.io"`)
		e.fails(p, "update_user", map[string]any{"user_id": "usr_0123456789abcdef0123456789abcdef", "given_name": "X"},
			`user "usr_0123456789abcdef0123456789abcdef" not found in org_acme`)
		e.fails(p, "update_user", map[string]any{"user_id": zed.ID, "given_name": "Mallory"}, `user "`+zed.ID+`" not found in org_acme`)
		e.fails(p, "update_user", map[string]any{"user_id": zed.ID, "given_name": "Mallory", "org_code": beta}, `organization "org_beta" not found`)
		e.unchanged(before, "refused update_user")
	})

	t.Run("email of another org", func(t *testing.T) {
		e := e.with(t)
		got := ok[store.User](e, p, "update_user", map[string]any{"user_id": bob.ID, "email": "zed@b.io"})
		if got.Email != "zed@b.io" || got.OrgCode != acme {
			t.Errorf("bob = %+v", got)
		}
	})
}

func TestDeleteUser(t *testing.T) {
	e := newEnv(t)
	ann := e.addUser(acme, "ann@a.io")
	bob := e.addUser(acme, "bob@a.io")
	zed := e.addUser(beta, "zed@b.io")
	p := orgP(acme, auth.ScopeDeleteUsers)

	got := ok[service.DeleteUserOutput](e, p, "delete_user", map[string]any{"user_id": ann.ID})
	if got != (service.DeleteUserOutput{Deleted: true, UserID: ann.ID}) {
		t.Errorf("delete_user = %+v", got)
	}
	if _, err := e.st.GetUser(t.Context(), acme, ann.ID); err == nil {
		t.Error("the user is still there")
	}
	e.lastEvent(acme, p, "delete_user", ann.ID)

	before := e.dump()
	e.fails(p, "delete_user", map[string]any{"user_id": ann.ID}, `user "`+ann.ID+`" not found in org_acme`)
	e.fails(p, "delete_user", map[string]any{"user_id": zed.ID}, `user "`+zed.ID+`" not found in org_acme`)
	e.fails(p, "delete_user", map[string]any{"user_id": zed.ID, "org_code": beta}, `organization "org_beta" not found`)
	e.fails(p, "delete_user", map[string]any{"user_id": "bob"}, "user ids are usr_ followed by 32 hex digits")
	// write:users does not grant delete:users.
	e.fails(orgP(acme, auth.ScopeWriteUsers, auth.ScopeReadUsers), "delete_user", map[string]any{"user_id": bob.ID},
		"delete_user needs scope delete:users, which this access token lacks")
	e.unchanged(before, "refused delete_user")

	g := globalP(auth.ScopeDeleteUsers)
	ok[service.DeleteUserOutput](e, g, "delete_user", map[string]any{"user_id": zed.ID, "org_code": beta})
	e.lastEvent(beta, g, "delete_user", zed.ID)
}

// TestListUsersPrefixIsLiteral: % and _ in a prefix match themselves, not
// any characters.
func TestListUsersPrefixIsLiteral(t *testing.T) {
	e := newEnv(t)
	ann, under, percent := e.addUser(acme, "ann@a.io"), e.addUser(acme, "a_b@a.io"), e.addUser(acme, "a%c@a.io")
	p := orgP(acme, auth.ScopeReadUsers)
	for prefix, want := range map[string][]store.User{
		"%": nil, "_": nil, "a_": {under}, "a%": {percent}, "A": {ann, under, percent}, "AN": {ann},
	} {
		got := ok[service.ListUsersOutput](e, p, "list_users", map[string]any{"email_prefix": prefix})
		if !slices.Equal(ids(got.Users), ids(want)) {
			t.Errorf("email_prefix %q: %v, want %v", prefix, ids(got.Users), ids(want))
		}
	}
}
