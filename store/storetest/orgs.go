package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/orgscope/orgscope/store"
)

var orgTests = []test{
	{"OrgCreateGet", testOrgCreateGet},
	{"OrgTimestamps", testOrgTimestamps},
	{"OrgDuplicate", testOrgDuplicate},
	{"OrgMissing", testOrgMissing},
	{"OrgList", testOrgList},
	{"OrgListBadCursor", testOrgListBadCursor},
	{"OrgUpdate", testOrgUpdate},
	{"OrgUpdateMissing", testOrgUpdateMissing},
	{"OrgCreateBatch", testOrgCreateBatch},
}

func testOrgCreateGet(t *testing.T, s store.Store) {
	want := store.Org{
		Code:       "org_acme",
		Name:       "Acme",
		Properties: map[string]string{"plan": "pro", "region": "eu"},
		CreatedAt:  past,
		UpdatedAt:  past.Add(time.Hour),
	}
	got, err := s.CreateOrg(t.Context(), want)
	ok(t, err, "CreateOrg")
	equal(t, "CreateOrg result", got, want)
	got, err = s.GetOrg(t.Context(), "org_acme")
	ok(t, err, "GetOrg")
	equal(t, "GetOrg", got, want)
}

// testOrgTimestamps: zero timestamps are set, others are normalized to
// UTC microseconds, and an org without properties reads back nil.
func testOrgTimestamps(t *testing.T, s store.Store) {
	created, err := s.CreateOrg(t.Context(), store.Org{Code: "org_new", Name: "New", Properties: map[string]string{}})
	ok(t, err, "CreateOrg")
	if !isStamped(created.CreatedAt) || !created.UpdatedAt.Equal(created.CreatedAt) {
		t.Fatalf("CreatedAt %v, UpdatedAt %v: want equal, set, UTC microseconds", created.CreatedAt, created.UpdatedAt)
	}
	equal(t, "empty properties", created.Properties, nil)
	got, err := s.GetOrg(t.Context(), "org_new")
	ok(t, err, "GetOrg")
	equal(t, "GetOrg", got, created)

	paris := time.FixedZone("Paris", 3600)
	precise := time.Date(2023, 5, 6, 7, 8, 9, 123456789, paris)
	created, err = s.CreateOrg(t.Context(), store.Org{Code: "org_precise", CreatedAt: precise, UpdatedAt: precise})
	ok(t, err, "CreateOrg")
	want := time.Date(2023, 5, 6, 6, 8, 9, 123456000, time.UTC)
	equal(t, "normalized CreatedAt", created.CreatedAt, want)
	got, err = s.GetOrg(t.Context(), "org_precise")
	ok(t, err, "GetOrg")
	equal(t, "stored CreatedAt", got.CreatedAt, want)
}

func testOrgDuplicate(t *testing.T, s store.Store) {
	first := createOrg(t, s, "org_acme")
	_, err := s.CreateOrg(t.Context(), store.Org{Code: "org_acme", Name: "Impostor"})
	wantErr(t, err, store.ErrConflict, "CreateOrg duplicate")
	got, err := s.GetOrg(t.Context(), "org_acme")
	ok(t, err, "GetOrg")
	equal(t, "org after refused duplicate", got, first)
}

func testOrgMissing(t *testing.T, s store.Store) {
	_, err := s.GetOrg(t.Context(), "org_nope")
	wantErr(t, err, store.ErrNotFound, "GetOrg missing")
}

func testOrgList(t *testing.T, s store.Store) {
	// Created out of order; listed by code.
	codes := []string{"org_k", "org_c", "org_a", "org_j", "org_b", "org_i", "org_d", "org_h", "org_e", "org_g", "org_f"}
	for _, c := range codes {
		createOrg(t, s, c)
	}
	want := sortedCopy(codes)
	for _, limit := range []int{1, 3, 11, 0} {
		got := keys(allOrgs(t, s, limit), orgCode)
		equal(t, fmt.Sprintf("codes listed with limit %d", limit), got, want)
	}
	page, next, err := s.ListOrgs(t.Context(), store.Page{Limit: 4})
	ok(t, err, "ListOrgs")
	equal(t, "first page", keys(page, orgCode), want[:4])
	if next == "" {
		t.Fatal("first of three pages has no next cursor")
	}
	// A listing that ends exactly at a page boundary has no empty page after it.
	_, next, err = s.ListOrgs(t.Context(), store.Page{Limit: len(codes)})
	ok(t, err, "ListOrgs")
	equal(t, "cursor after a full last page", next, "")
}

func testOrgListBadCursor(t *testing.T, s store.Store) {
	createOrg(t, s, "org_a")
	createOrg(t, s, "org_b")
	seedUsers(t, s, "org_a", 2)
	_, usersCursor, err := s.ListUsers(t.Context(), "org_a", store.UserFilter{}, store.Page{Limit: 1})
	ok(t, err, "ListUsers")
	for _, c := range []string{"garbage", "!!!", "eyJ2IjoxfQ", usersCursor} {
		_, _, err := s.ListOrgs(t.Context(), store.Page{Cursor: c, Limit: 5})
		wantErr(t, err, store.ErrInvalidCursor, fmt.Sprintf("ListOrgs cursor %q", c))
	}
}

func testOrgUpdate(t *testing.T, s store.Store) {
	org, err := s.CreateOrg(t.Context(), store.Org{
		Code:       "org_acme",
		Name:       "Acme",
		Properties: map[string]string{"plan": "pro", "region": "eu"},
		CreatedAt:  past,
		UpdatedAt:  past,
	})
	ok(t, err, "CreateOrg")

	// Name only: properties stay.
	got, err := s.UpdateOrg(t.Context(), "org_acme", store.OrgUpdate{Name: ptr("Acme Corp")})
	ok(t, err, "UpdateOrg name")
	if !got.UpdatedAt.After(past) || !isStamped(got.UpdatedAt) {
		t.Fatalf("UpdatedAt %v did not advance from %v", got.UpdatedAt, past)
	}
	org.Name, org.UpdatedAt = "Acme Corp", got.UpdatedAt
	equal(t, "after name update", got, org)

	// Properties: set one, add one, delete one (nil), delete an absent one.
	got, err = s.UpdateOrg(t.Context(), "org_acme", store.OrgUpdate{Properties: map[string]*string{
		"plan": ptr("enterprise"), "tier": ptr("1"), "region": nil, "absent": nil,
	}})
	ok(t, err, "UpdateOrg properties")
	org.Properties, org.UpdatedAt = map[string]string{"plan": "enterprise", "tier": "1"}, got.UpdatedAt
	equal(t, "after property update", got, org)
	stored, err := s.GetOrg(t.Context(), "org_acme")
	ok(t, err, "GetOrg")
	equal(t, "GetOrg after updates", stored, org)

	// Deleting every property leaves none.
	got, err = s.UpdateOrg(t.Context(), "org_acme", store.OrgUpdate{Properties: map[string]*string{"plan": nil, "tier": nil}})
	ok(t, err, "UpdateOrg delete all")
	equal(t, "properties after deleting all", got.Properties, nil)
	stored, err = s.GetOrg(t.Context(), "org_acme")
	ok(t, err, "GetOrg")
	equal(t, "GetOrg after deleting all", stored, got)
}

func testOrgUpdateMissing(t *testing.T, s store.Store) {
	_, err := s.UpdateOrg(t.Context(), "org_nope", store.OrgUpdate{Name: ptr("x")})
	wantErr(t, err, store.ErrNotFound, "UpdateOrg missing")
	_, err = s.GetOrg(t.Context(), "org_nope")
	wantErr(t, err, store.ErrNotFound, "GetOrg after refused update")
}

func testOrgCreateBatch(t *testing.T, s store.Store) {
	ok(t, s.CreateOrgs(t.Context(), []store.Org{{Code: "org_a"}, {Code: "org_b"}, {Code: "org_c"}}), "CreateOrgs")
	before := allOrgs(t, s, 100)
	equal(t, "codes after batch", keys(before, orgCode), []string{"org_a", "org_b", "org_c"})

	for name, batch := range map[string][]store.Org{
		"existing code": {{Code: "org_d"}, {Code: "org_b"}, {Code: "org_e"}},
		"repeated code": {{Code: "org_d"}, {Code: "org_e"}, {Code: "org_d"}},
	} {
		err := s.CreateOrgs(t.Context(), batch)
		wantErr(t, err, store.ErrConflict, "CreateOrgs with "+name)
		sameJSON(t, "orgs after batch with "+name, before, allOrgs(t, s, 100))
	}
}
