package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/postgres"
	"github.com/orgscope/orgscope/store/postgres/pgtest"
)

// The benchmarks mirror store/sqlite's, with the same seeding, so that the
// two backends can be compared side by side. They share one store, seeded
// once per test binary in a schema of its own: 1,000 orgs and 100,000
// users, 20,000 of them in bigOrg.
const (
	benchOrgs     = 1000
	benchUsers    = 100_000
	bigOrg        = "org_0000"
	bigOrgUsers   = 20_000
	deepPageStart = 15_000 // the deep page starts this many users into bigOrg
)

var bench struct {
	once    sync.Once
	err     error
	url     string
	schema  string
	s       *postgres.Store
	bigIDs  []string // bigOrg's user IDs in ID order
	deep    string   // cursor of the page starting at bigIDs[deepPageStart]
	seeding time.Duration
}

// TestMain drops the benchmarks' schema, if they made one, once they are
// done.
func TestMain(m *testing.M) {
	code := m.Run()
	if bench.s != nil {
		bench.s.Close()
	}
	if bench.schema != "" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := pgtest.DropSchema(ctx, bench.url, bench.schema); err != nil {
			fmt.Fprintf(os.Stderr, "dropping schema %s: %v\n", bench.schema, err)
		}
		cancel()
	}
	os.Exit(code)
}

// benchStore returns the shared seeded store, seeding it on first use.
func benchStore(b *testing.B) *postgres.Store {
	url := pgtest.URL(b)
	bench.once.Do(func() {
		start := time.Now()
		bench.err = seedBench(context.Background(), url)
		bench.seeding = time.Since(start)
	})
	if bench.err != nil {
		b.Fatalf("seeding: %v", bench.err)
	}
	return bench.s
}

func seedBench(ctx context.Context, url string) error {
	var random [8]byte
	rand.Read(random[:])
	bench.url, bench.schema = url, "bench_"+hex.EncodeToString(random[:])
	var err error
	if bench.s, err = postgres.Open(ctx, url, &postgres.Options{Schema: bench.schema}); err != nil {
		return err
	}
	orgs := make([]store.Org, benchOrgs)
	for i := range orgs {
		orgs[i] = store.Org{Code: fmt.Sprintf("org_%04d", i), Name: fmt.Sprintf("Org %d", i)}
	}
	if err := bench.s.CreateOrgs(ctx, orgs); err != nil {
		return err
	}
	users := make([]store.User, benchUsers)
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
			bench.bigIDs = append(bench.bigIDs, users[i].ID)
		}
	}
	if err := bench.s.CreateUsers(ctx, users); err != nil {
		return err
	}
	// Autovacuum would analyze the new rows eventually; the benchmarks
	// should not depend on when.
	if _, err := bench.s.Pool().Exec(ctx, `ANALYZE`); err != nil {
		return err
	}
	slices.Sort(bench.bigIDs)
	bench.deep = store.EncodeCursor(store.ListUsers, bigOrg, bench.bigIDs[deepPageStart-1])
	return nil
}

func BenchmarkListUsersFirstPage(b *testing.B) {
	s := benchStore(b)
	b.Logf("seeded %d orgs and %d users in %v", benchOrgs, benchUsers, bench.seeding.Round(time.Millisecond))
	for b.Loop() {
		users, next, err := s.ListUsers(b.Context(), bigOrg, store.UserFilter{}, store.Page{Limit: store.DefaultPageSize})
		if err != nil || len(users) != store.DefaultPageSize || next == "" || users[0].ID != bench.bigIDs[0] {
			b.Fatalf("ListUsers: %d users, next %q, %v", len(users), next, err)
		}
	}
}

func BenchmarkListUsersDeepPage(b *testing.B) {
	s := benchStore(b)
	for b.Loop() {
		users, _, err := s.ListUsers(b.Context(), bigOrg, store.UserFilter{}, store.Page{Cursor: bench.deep, Limit: store.DefaultPageSize})
		if err != nil || len(users) != store.DefaultPageSize || users[0].ID != bench.bigIDs[deepPageStart] {
			b.Fatalf("ListUsers deep: %d users, %v", len(users), err)
		}
	}
}

func BenchmarkGetUser(b *testing.B) {
	s := benchStore(b)
	i := 0
	for b.Loop() {
		id := bench.bigIDs[i%len(bench.bigIDs)]
		if _, err := s.GetUser(b.Context(), bigOrg, id); err != nil {
			b.Fatalf("GetUser: %v", err)
		}
		i++
	}
}

func BenchmarkCreateUser(b *testing.B) {
	s := benchStore(b)
	for b.Loop() {
		u := store.User{ID: store.NewID(store.UserIDPrefix), OrgCode: "org_0001", Status: store.UserActive, Role: store.RoleMember}
		u.Email = u.ID + "@example.com"
		if _, err := s.CreateUser(b.Context(), u); err != nil {
			b.Fatalf("CreateUser: %v", err)
		}
	}
}

// TestMillionUsers checks the two scale promises: CreateUsers stores a
// million users well within a minute, and a page deep into them costs what
// the first one does. It takes a while, so it runs only when
// ORGSCOPE_POSTGRES_1M is set.
func TestMillionUsers(t *testing.T) {
	if os.Getenv("ORGSCOPE_POSTGRES_1M") == "" {
		t.Skip("set ORGSCOPE_POSTGRES_1M=1 to run")
	}
	s := pgtest.Open(t)
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
	if _, err := s.Pool().Exec(ctx, `ANALYZE users`); err != nil {
		t.Fatal(err)
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
