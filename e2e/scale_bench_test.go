package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/orgscope/orgscope/cmd/orgscope/app"
	"github.com/orgscope/orgscope/internal/testdeps"
	"github.com/orgscope/orgscope/service"
	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/postgres"
	"github.com/orgscope/orgscope/store/postgres/pgtest"
)

// BenchmarkScale measures what agents wait for on a big database: 10,000
// orgs and 1,000,000 users in SQLite, written by `orgscope seed` (the
// first org, org_s00001, holds 100,000 of them). Each operation is timed
// per call, and p50/p99 are reported besides the mean:
//
//	tool/…   a tools/call through the in-process handler (authenticated with
//	         a JWT and the verified-token cache, as shipped), as an agent of
//	         org_s00001
//	store/…  the store method alone
//
// Seeding takes about a minute, so the benchmark runs only when
// ORGSCOPE_SCALE=1 is set (ORGSCOPE_SCALE_ORGS and ORGSCOPE_SCALE_USERS
// change the size):
//
//	ORGSCOPE_SCALE=1 go test ./e2e/ -run '^$' -bench BenchmarkScale -benchtime 3s
//
// With ORGSCOPE_SCALE=postgres the same runs on PostgreSQL (a fresh schema
// of the pgtest database; set ORGSCOPE_TEST_DATABASE_URL or CI=true).
func BenchmarkScale(b *testing.B) {
	if os.Getenv("ORGSCOPE_SCALE") == "" {
		b.Skip("set ORGSCOPE_SCALE=1 to seed 10,000 orgs and 1,000,000 users (about a minute) and run this benchmark")
	}
	orgs, users := scaleEnv(b, "ORGSCOPE_SCALE_ORGS", 10_000), scaleEnv(b, "ORGSCOPE_SCALE_USERS", 1_000_000)
	target := []string{"--db", filepath.Join(b.TempDir(), "scale.db")}
	postgresDB := os.Getenv("ORGSCOPE_SCALE") == "postgres"
	var schema string
	if postgresDB {
		schema = pgtest.Schema(b)
		target = []string{"--database-url", testdeps.RequirePostgres(b), "--database-schema", schema}
	}
	var out bytes.Buffer
	start := time.Now()
	if code := app.Main(b.Context(), append([]string{"seed", "--orgs", strconv.Itoa(orgs), "--users", strconv.Itoa(users)}, target...),
		&out, &out); code != 0 {
		b.Fatalf("seed exited %d:\n%s", code, out.String())
	}
	b.Logf("orgscope seed --orgs %d --users %d %s: %v", orgs, users, target[0], time.Since(start).Round(time.Millisecond))

	var f *inproc
	if postgresDB {
		st, err := postgres.Open(b.Context(), testdeps.RequirePostgres(b), &postgres.Options{Schema: schema})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		f = newInprocOn(b, st)
	} else {
		f = newInproc(b, target[1])
	}
	ctx := b.Context()
	const big = "org_s00001"
	// The big org's user IDs in order, and the cursor of the page 90% deep,
	// read page by page as a client would.
	bigCount := users / 10
	deepAt := bigCount * 9 / 10 / store.MaxPageSize * store.MaxPageSize
	var ids []string
	var deep string
	for page := (store.Page{Limit: store.MaxPageSize}); ; {
		batch, next, err := f.store.ListUsers(ctx, big, store.UserFilter{}, page)
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, scaleIDs(batch)...)
		if len(ids) == deepAt {
			deep = next
		}
		if next == "" {
			break
		}
		page.Cursor = next
	}
	if len(ids) != bigCount || deep == "" {
		b.Fatalf("%s has %d users, want %d", big, len(ids), bigCount)
	}
	token := f.token(b, big, "read:users write:users read:flags", "scale-agent")
	r := rand.New(rand.NewPCG(1, 2))
	seq := 0

	type op struct {
		name  string
		args  func() map[string]any
		check func(body []byte) error // the first answer, fully
		store func() error
	}
	firstID, deepID := ids[0], ids[deepAt]
	ops := []op{
		{
			name: "list_users_first_page",
			args: func() map[string]any { return nil },
			check: func(body []byte) error {
				return scaleCheckUsersPage(body, firstID)
			},
			store: func() error {
				got, _, err := f.store.ListUsers(ctx, big, store.UserFilter{}, store.Page{})
				return scaleExpectFirst(got, err, firstID)
			},
		},
		{
			name:  "list_users_deep_page",
			args:  func() map[string]any { return map[string]any{"cursor": deep} },
			check: func(body []byte) error { return scaleCheckUsersPage(body, deepID) },
			store: func() error {
				got, _, err := f.store.ListUsers(ctx, big, store.UserFilter{}, store.Page{Cursor: deep})
				return scaleExpectFirst(got, err, deepID)
			},
		},
		{
			name: "get_user",
			args: func() map[string]any { return map[string]any{"user_id": ids[r.IntN(len(ids))]} },
			check: func(body []byte) error {
				var u store.User
				if err := scaleStructured(body, &u); err != nil || u.OrgCode != big {
					return fmt.Errorf("get_user: %+v %v", u, err)
				}
				return nil
			},
			store: func() error {
				_, err := f.store.GetUser(ctx, big, ids[r.IntN(len(ids))])
				return err
			},
		},
		{
			name: "create_user",
			args: func() map[string]any {
				seq++
				return map[string]any{"email": fmt.Sprintf("bench%d@tool.example", seq)}
			},
			check: func(body []byte) error {
				var u store.User
				if err := scaleStructured(body, &u); err != nil || u.OrgCode != big || u.ID == "" {
					return fmt.Errorf("create_user: %+v %v", u, err)
				}
				return nil
			},
			store: func() error {
				seq++
				_, err := f.store.CreateUser(ctx, store.User{ID: store.NewID(store.UserIDPrefix), OrgCode: big,
					Email: fmt.Sprintf("bench%d@store.example", seq), Status: store.UserActive, Role: store.RoleMember})
				return err
			},
		},
		{
			name: "list_feature_flags",
			args: func() map[string]any { return nil },
			check: func(body []byte) error {
				var page service.ListFlagsOutput
				if err := scaleStructured(body, &page); err != nil || len(page.Flags) != 5 {
					return fmt.Errorf("list_feature_flags: %d flags, %v", len(page.Flags), err)
				}
				return nil
			},
			store: func() error {
				flags, _, err := f.store.ListEffectiveFlags(ctx, big, store.Page{})
				if err == nil && len(flags) != 5 {
					err = fmt.Errorf("%d flags", len(flags))
				}
				return err
			},
		},
	}

	for _, o := range ops {
		b.Run("tool/"+o.name, func(b *testing.B) {
			tool := o.name
			if tool == "list_users_first_page" || tool == "list_users_deep_page" {
				tool = "list_users"
			}
			checked := false
			scaleLatencies(b, func() {
				rec := f.callTool(token, tool, o.args())
				if rec.Code != http.StatusOK || bytes.Contains(rec.Body.Bytes(), []byte(`"isError":true`)) {
					b.Fatalf("%s: %d %s", tool, rec.Code, rec.Body)
				}
				if !checked {
					checked = true
					if err := o.check(rec.Body.Bytes()); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
		b.Run("store/"+o.name, func(b *testing.B) {
			scaleLatencies(b, func() {
				if err := o.store(); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// scaleLatencies runs fn in a b.Loop, timing each call, and reports the 50th
// and 99th percentiles in microseconds.
func scaleLatencies(b *testing.B, fn func()) {
	var d []time.Duration
	for b.Loop() {
		start := time.Now()
		fn()
		d = append(d, time.Since(start))
	}
	slices.Sort(d)
	at := func(p float64) float64 {
		return float64(d[min(len(d)-1, int(p*float64(len(d))))]) / float64(time.Microsecond)
	}
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
}

func scaleEnv(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 2 {
		b.Fatalf("%s=%q: want a number of at least 2", name, v)
	}
	return n
}

func scaleIDs(users []store.User) []string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = u.ID
	}
	return out
}

func scaleExpectFirst(users []store.User, err error, first string) error {
	if err != nil {
		return err
	}
	if len(users) != store.DefaultPageSize || users[0].ID != first {
		return fmt.Errorf("page of %d users starting at %v, want %d from %s", len(users), scaleIDs(users[:min(1, len(users))]), store.DefaultPageSize, first)
	}
	return nil
}

func scaleCheckUsersPage(body []byte, first string) error {
	var page service.ListUsersOutput
	if err := scaleStructured(body, &page); err != nil {
		return err
	}
	if page.NextCursor == "" {
		return fmt.Errorf("no next_cursor")
	}
	return scaleExpectFirst(page.Users, nil, first)
}

// scaleStructured decodes the structured content of a tools/call answer.
func scaleStructured(body []byte, v any) error {
	var r struct {
		Result struct {
			StructuredContent json.RawMessage `json:"structuredContent"`
		} `json:"result"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return err
	}
	return json.Unmarshal(r.Result.StructuredContent, v)
}
