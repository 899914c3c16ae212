package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/orgscope/orgscope/store"
)

// The shape of the store benchmarks: 1,000 orgs and 100,000 users, 20,000
// of them in one org, whose deep page starts 15,000 users in.
const (
	benchOrgs     = 1000
	benchUsers    = 100_000
	bigOrg        = "org_0000"
	bigOrgUsers   = 20_000
	deepPageStart = 15_000
)

// Benchmark runs the store benchmarks every backend shares — ListUsers
// first page, a deep page by cursor, GetUser, CreateUser, and CreateUser
// with its audit event in one InTx — as sub-benchmarks of b, on one store from open, seeded once. afterSeed, if
// not nil, runs after seeding (PostgreSQL analyzes the new rows there).
// Run from a backend's tests in one line, like Run.
func Benchmark(b *testing.B, open func(tb testing.TB) store.Store, afterSeed func(store.Store) error) {
	s := open(b)
	start := time.Now()
	bigIDs, err := seedBench(b, s)
	if err == nil && afterSeed != nil {
		err = afterSeed(s)
	}
	if err != nil {
		b.Fatalf("seeding: %v", err)
	}
	b.Logf("seeded %d orgs and %d users in %v", benchOrgs, benchUsers, time.Since(start).Round(time.Millisecond))
	deep := store.EncodeCursor(store.ListUsers, bigOrg, bigIDs[deepPageStart-1])
	page := store.Page{Limit: store.DefaultPageSize}

	b.Run("ListUsersFirstPage", func(b *testing.B) {
		for b.Loop() {
			users, next, err := s.ListUsers(b.Context(), bigOrg, store.UserFilter{}, page)
			if err != nil || len(users) != store.DefaultPageSize || next == "" || users[0].ID != bigIDs[0] {
				b.Fatalf("ListUsers: %d users, next %q, %v", len(users), next, err)
			}
		}
	})
	b.Run("ListUsersDeepPage", func(b *testing.B) {
		deepPage := store.Page{Cursor: deep, Limit: store.DefaultPageSize}
		for b.Loop() {
			users, _, err := s.ListUsers(b.Context(), bigOrg, store.UserFilter{}, deepPage)
			if err != nil || len(users) != store.DefaultPageSize || users[0].ID != bigIDs[deepPageStart] {
				b.Fatalf("ListUsers deep: %d users, %v", len(users), err)
			}
		}
	})
	b.Run("GetUser", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := s.GetUser(b.Context(), bigOrg, bigIDs[i%len(bigIDs)]); err != nil {
				b.Fatalf("GetUser: %v", err)
			}
			i++
		}
	})
	newUser := func() store.User {
		u := store.User{ID: store.NewID(store.UserIDPrefix), OrgCode: "org_0001", Status: store.UserActive, Role: store.RoleMember}
		u.Email = u.ID + "@example.com"
		return u
	}
	b.Run("CreateUser", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.CreateUser(b.Context(), newUser()); err != nil {
				b.Fatalf("CreateUser: %v", err)
			}
		}
	})
	// What a change and its audit event cost when they commit together.
	b.Run("CreateUserWithAuditInTx", func(b *testing.B) {
		ctx := b.Context()
		for b.Loop() {
			err := s.InTx(ctx, func(tx store.Tx) error {
				u, err := tx.CreateUser(ctx, newUser())
				if err != nil {
					return err
				}
				return tx.AppendAuditEvent(ctx, store.AuditEvent{OrgCode: u.OrgCode, ClientID: "bench", Subject: "bench",
					Action: "tools/call:create_user", Target: u.ID, Decision: store.DecisionAllow, Outcome: store.OutcomeOK})
			})
			if err != nil {
				b.Fatalf("InTx: %v", err)
			}
		}
	})
}

// seedBench fills s and returns the big org's user IDs in ID order.
func seedBench(b *testing.B, s store.Store) ([]string, error) {
	ctx := b.Context()
	orgs := make([]store.Org, benchOrgs)
	for i := range orgs {
		orgs[i] = store.Org{Code: fmt.Sprintf("org_%04d", i), Name: fmt.Sprintf("Org %d", i)}
	}
	if err := s.CreateOrgs(ctx, orgs); err != nil {
		return nil, err
	}
	users := make([]store.User, benchUsers)
	var bigIDs []string
	for i := range users {
		org := bigOrg
		if i >= bigOrgUsers {
			org = orgs[1+i%(benchOrgs-1)].Code
		}
		users[i] = store.User{
			ID: store.NewID(store.UserIDPrefix), OrgCode: org, Email: fmt.Sprintf("user%d@example.com", i),
			GivenName: "Given", FamilyName: fmt.Sprintf("Family%d", i), Status: store.UserActive, Role: store.RoleMember,
		}
		if org == bigOrg {
			bigIDs = append(bigIDs, users[i].ID)
		}
	}
	if err := s.CreateUsers(ctx, users); err != nil {
		return nil, err
	}
	slices.Sort(bigIDs)
	return bigIDs, nil
}

// MillionUsers checks the two scale promises on s: CreateUsers stores a
// million users within a minute, and a page deep into them costs what the
// first one does (a cursor, not an offset). It takes a while, so backends
// run it only when asked to.
func MillionUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.CreateOrg(ctx, store.Org{Code: "org_big"}); err != nil {
		t.Fatal(err)
	}
	const n = 1_000_000
	users := make([]store.User, n)
	for i := range users {
		users[i] = store.User{ID: store.NewID(store.UserIDPrefix), OrgCode: "org_big", Email: fmt.Sprintf("u%d@x.io", i),
			GivenName: "G", FamilyName: "F", Status: store.UserActive, Role: store.RoleMember}
	}
	start := time.Now()
	if err := s.CreateUsers(ctx, users); err != nil {
		t.Fatal(err)
	}
	insert := time.Since(start)
	t.Logf("CreateUsers of %d: %v", n, insert)
	if insert > time.Minute {
		t.Errorf("CreateUsers took %v", insert)
	}
	page := func(cursor string) time.Duration {
		start := time.Now()
		const rounds = 200
		for range rounds {
			got, _, err := s.ListUsers(ctx, "org_big", store.UserFilter{}, store.Page{Cursor: cursor, Limit: 20})
			if err != nil || len(got) != 20 {
				t.Fatalf("ListUsers: %d, %v", len(got), err)
			}
		}
		return time.Since(start) / rounds
	}
	deepCursor := store.EncodeCursor(store.ListUsers, "org_big", users[n-100].ID)
	page(deepCursor) // warm both ranges before timing
	first, deep := page(""), page(deepCursor)
	t.Logf("ListUsers first page %v, page 999,900 users in %v", first, deep)
	if deep > 10*first+time.Millisecond {
		t.Errorf("deep page %v vs first page %v: not O(limit)", deep, first)
	}
}
