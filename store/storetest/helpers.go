package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/orgscope/orgscope/store"
)

// Fixed times, whole microseconds in UTC, for records whose timestamps the
// test sets itself.
var (
	past   = time.Date(2020, 1, 2, 3, 4, 5, 6000, time.UTC)
	future = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// ok fails the test now if err is not nil.
func ok(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", what, err)
	}
}

// wantErr fails the test now unless errors.Is(err, target).
func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

// equal fails the test now unless got and want are deeply equal.
func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got: %s\nwant: %s", what, show(got), show(want))
	}
}

// show renders v for a failure message: JSON says more than %v about
// nested structs, nil and times.
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}

// sameJSON fails the test now unless before and after render the same:
// the "nothing changed" check after a refused write.
func sameJSON(t *testing.T, what string, before, after any) {
	t.Helper()
	b, a := show(before), show(after)
	if a != b {
		t.Fatalf("%s changed:\nbefore: %s\n after: %s", what, b, a)
	}
}

// isStamped reports whether t has the form a backend returns: UTC, whole
// microseconds, not zero.
func isStamped(t time.Time) bool {
	return !t.IsZero() && t.Location() == time.UTC && t.Nanosecond()%1000 == 0
}

func ptr[T any](v T) *T { return &v }

func createOrg(t *testing.T, s store.Store, code string) store.Org {
	t.Helper()
	o, err := s.CreateOrg(t.Context(), store.Org{Code: code, Name: "Org " + code})
	ok(t, err, "CreateOrg "+code)
	return o
}

// newUser returns an active member with a fresh ID (not yet stored).
func newUser(org, email, given, family string) store.User {
	return store.User{
		ID:         store.NewID(store.UserIDPrefix),
		OrgCode:    org,
		Email:      email,
		GivenName:  given,
		FamilyName: family,
		Status:     store.UserActive,
		Role:       store.RoleMember,
	}
}

func createUser(t *testing.T, s store.Store, org, email, given, family string) store.User {
	t.Helper()
	u, err := s.CreateUser(t.Context(), newUser(org, email, given, family))
	ok(t, err, "CreateUser "+email)
	return u
}

// seedUsers stores n users named user<i> in org with one CreateUsers call
// and returns their IDs in ID order.
func seedUsers(t *testing.T, s store.Store, org string, n int) []string {
	t.Helper()
	users := make([]store.User, n)
	ids := make([]string, n)
	for i := range users {
		users[i] = newUser(org, fmt.Sprintf("user%d@%s.example", i, org), fmt.Sprintf("Given%d", i), "Seeded")
		ids[i] = users[i].ID
	}
	ok(t, s.CreateUsers(t.Context(), users), "CreateUsers")
	return sortedCopy(ids)
}

// maxPages bounds every traversal, so that a backend whose cursor never
// ends fails instead of hanging.
const maxPages = 1000

// pager fetches one page of a listing.
type pager[T any] func(page store.Page) ([]T, string, error)

// traverse reads every page of a listing with the given limit, checking
// that no page is larger than the limit and that only the last one is
// short or ends the listing.
func traverse[T any](t *testing.T, limit int, list pager[T]) []T {
	t.Helper()
	var all []T
	cursor := ""
	for range maxPages {
		page, next, err := list(store.Page{Cursor: cursor, Limit: limit})
		ok(t, err, "list page")
		if size := (store.Page{Limit: limit}).Size(); len(page) > size {
			t.Fatalf("page of %d items, limit %d", len(page), size)
		}
		all = append(all, page...)
		if next == "" {
			return all
		}
		if len(page) == 0 {
			t.Fatalf("empty page with a next cursor")
		}
		cursor = next
	}
	t.Fatalf("listing did not end after %d pages", maxPages)
	return nil
}

func allUsers(t *testing.T, s store.Store, org string, filter store.UserFilter, limit int) []store.User {
	t.Helper()
	return traverse(t, limit, func(p store.Page) ([]store.User, string, error) {
		return s.ListUsers(t.Context(), org, filter, p)
	})
}

func allOrgs(t *testing.T, s store.Store, limit int) []store.Org {
	t.Helper()
	return traverse(t, limit, func(p store.Page) ([]store.Org, string, error) {
		return s.ListOrgs(t.Context(), p)
	})
}

func allFlags(t *testing.T, s store.Store, org string, limit int) []store.EffectiveFlag {
	t.Helper()
	return traverse(t, limit, func(p store.Page) ([]store.EffectiveFlag, string, error) {
		return s.ListEffectiveFlags(t.Context(), org, p)
	})
}

func allEvents(t *testing.T, s store.Store, org string, limit int) []store.AuditEvent {
	t.Helper()
	return traverse(t, limit, func(p store.Page) ([]store.AuditEvent, string, error) {
		return s.ListAuditEvents(t.Context(), org, store.AuditFilter{}, p)
	})
}

// keys maps records to their keys, in order.
func keys[T any](records []T, key func(T) string) []string {
	out := make([]string, len(records))
	for i, r := range records {
		out[i] = key(r)
	}
	return out
}

func userID(u store.User) string           { return u.ID }
func orgCode(o store.Org) string           { return o.Code }
func flagKey(f store.EffectiveFlag) string { return f.Definition.Key }

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}
