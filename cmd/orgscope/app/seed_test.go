package app

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/sqlite"
)

func TestSeedUserCounts(t *testing.T) {
	for _, tc := range []struct {
		orgs, users int
		want        []int
	}{
		{1, 7, []int{7}},
		{2, 100, []int{10, 90}},
		{5, 103, []int{10, 24, 23, 23, 23}},
		{4, 0, []int{0, 0, 0, 0}},
		{3, 5, []int{0, 3, 2}},
	} {
		got := seedUserCounts(tc.orgs, tc.users)
		sum := 0
		for _, n := range got {
			sum += n
		}
		if !slices.Equal(got, tc.want) || sum != tc.users {
			t.Errorf("seedUserCounts(%d, %d) = %v, want %v", tc.orgs, tc.users, got, tc.want)
		}
	}
}

// TestSeedCommand runs `orgscope seed` on a small scale, with a batch size
// that does not divide the number of users, and reads the result back.
func TestSeedCommand(t *testing.T) {
	db := filepath.Join(t.TempDir(), "seed.db")
	var out, errOut bytes.Buffer
	args := []string{"seed", "--orgs", "5", "--users", "103", "--batch", "40", "--db", db}
	if code := Main(t.Context(), args, &out, &errOut); code != 0 {
		t.Fatalf("seed exited %d: %s %s", code, out.String(), errOut.String())
	}
	for _, want := range []string{"orgs: 5 in ", "users: 40/103 (39%)", "users: 80/103", "users: 103/103 (100%)",
		"seeded 5 orgs and 103 users (10 in org_s00001), 5 flags and 0 overrides in "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	st, err := sqlite.Open(t.Context(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := t.Context()
	orgs, _, err := st.ListOrgs(ctx, store.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, o := range orgs {
		codes = append(codes, o.Code)
	}
	if !slices.Equal(codes, []string{"org_s00001", "org_s00002", "org_s00003", "org_s00004", "org_s00005"}) {
		t.Errorf("orgs %v", codes)
	}
	emails := map[string]bool{}
	for i, want := range []int{10, 24, 23, 23, 23} {
		users, _, err := st.ListUsers(ctx, codes[i], store.UserFilter{}, store.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(users) != want {
			t.Errorf("%s has %d users, want %d", codes[i], len(users), want)
		}
		for j, u := range users {
			if emails[u.Email] || !strings.HasSuffix(u.Email, "@seed.example") || u.GivenName == "" || u.FamilyName == "" {
				t.Errorf("user %+v (duplicate email or empty name)", u)
			}
			emails[u.Email] = true
			if (j == 0) != (u.Role == store.RoleAdmin) {
				t.Errorf("%s's user %d has role %s", codes[i], j, u.Role)
			}
		}
	}
	suspended, _, _ := st.ListUsers(ctx, "org_s00002", store.UserFilter{Status: store.UserSuspended}, store.Page{Limit: 100})
	if len(suspended) != 1 { // users 10..33 overall; number 24 is suspended
		t.Errorf("%d suspended users in org_s00002, want 1", len(suspended))
	}
	flags, _, err := st.ListEffectiveFlags(ctx, "org_s00005", store.Page{Limit: 100})
	if err != nil || len(flags) != len(seedFlags) {
		t.Fatalf("%d flags (%v)", len(flags), err)
	}

	// A second run refuses: the database is seeded already.
	out.Reset()
	errOut.Reset()
	if code := Main(t.Context(), args, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "seeded already (org_s00001 exists)") {
		t.Errorf("second seed exited %d: %s", code, errOut.String())
	}
}

// TestSeedOverrides: every 10th org overrides beta_dashboard, every 7th
// max_projects, every 25th ui_theme; flags that existed are kept and get
// no overrides. Flags come from the environment as every flag does.
func TestSeedOverrides(t *testing.T) {
	ctx := t.Context()
	db := filepath.Join(t.TempDir(), "seed.db")
	st, err := sqlite.Open(ctx, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.CreateFlag(ctx, store.FlagDefinition{Key: "ui_theme", Type: store.FlagInteger, DefaultValue: []byte(`1`)}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"ORGSCOPE_ORGS": "30", "ORGSCOPE_USERS": "60", "ORGSCOPE_DB": db}
	var out bytes.Buffer
	if err := dispatch(ctx, []string{"seed"}, &out, &out, func(k string) string { return env[k] }); err != nil {
		t.Fatalf("seed: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "flag ui_theme exists; kept") ||
		!strings.Contains(out.String(), "4 flags and 7 overrides") { // 3 of beta_dashboard, 4 of max_projects
		t.Errorf("output:\n%s", out.String())
	}
	for i := 1; i <= 30; i++ {
		code := seedOrgCode(i)
		for _, tc := range []struct {
			key   string
			every int
			value string
		}{{"beta_dashboard", 10, "true"}, {"max_projects", 7, "100"}, {"ui_theme", 0, ""}} {
			f, err := st.GetEffectiveFlag(ctx, code, tc.key)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.every > 0 && i%tc.every == 0
			if (f.Override != nil) != want || (want && string(f.Override.Value) != tc.value) {
				t.Errorf("%s %s: override %v, want %v", code, tc.key, f.Override, want)
			}
		}
	}
}

func TestSeedUsage(t *testing.T) {
	for _, args := range [][]string{
		{"seed"},
		{"seed", "--orgs", "0", "--users", "5"},
		{"seed", "--orgs", "2", "--users", "-1"},
		{"seed", "--orgs", "2", "--batch", "0"},
		{"seed", "--orgs", "two"},
		{"seed", "--orgs", "2", "extra"},
	} {
		var out, errOut bytes.Buffer
		db := filepath.Join(t.TempDir(), "seed.db")
		if code := Main(context.Background(), append(args, "--db", db), &out, &errOut); code != 2 {
			t.Errorf("%v exited %d, want 2: %s", args, code, errOut.String())
		}
	}
	var out bytes.Buffer
	if code := Main(t.Context(), []string{"help"}, &out, &out); code != 0 || !strings.Contains(out.String(), "orgscope seed --orgs N --users M") {
		t.Errorf("usage does not mention seed:\n%s", out.String())
	}
}

// TestSeedRefusesAPopulatedDatabase: seeding a database with organizations
// (a live demo, say) would give every one of them the synthetic flags; it
// is refused, saying so, and changes nothing, unless --force.
func TestSeedRefusesAPopulatedDatabase(t *testing.T) {
	ctx := t.Context()
	db := filepath.Join(t.TempDir(), "live.db")
	if code, _, errOut := run(t, nil, "orgs", "create", "--code", "org_acme", "--name", "Acme", "--db", db); code != 0 {
		t.Fatalf("orgs create: %s", errOut)
	}
	args := []string{"seed", "--orgs", "3", "--users", "9", "--db", db}
	code, out, errOut := run(t, nil, args...)
	if code != 1 || out != "" {
		t.Fatalf("seed of a populated database: exit %d, stdout %q", code, out)
	}
	for _, want := range []string{"already has organizations (org_acme, …)", "would add 3 synthetic organizations (org_s00001…) with 9 users",
		"define the flags beta_dashboard, max_projects, ui_theme, rate_limits, audit_export", "every existing organization", "--force"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("message lacks %q:\n%s", want, errOut)
		}
	}
	st, err := sqlite.Open(ctx, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	orgs, _, _ := st.ListOrgs(ctx, store.Page{Limit: 10})
	flags, _, _ := st.ListEffectiveFlags(ctx, "org_acme", store.Page{Limit: 10})
	if len(orgs) != 1 || len(flags) != 0 {
		t.Fatalf("refused seed changed the database: %d orgs, %d flags", len(orgs), len(flags))
	}

	if code, out, errOut := run(t, nil, append(args, "--force")...); code != 0 || !strings.Contains(out, "seeded 3 orgs") {
		t.Fatalf("seed --force: exit %d\n%s%s", code, out, errOut)
	}
	orgs, _, _ = st.ListOrgs(ctx, store.Page{Limit: 10})
	if len(orgs) != 4 {
		t.Errorf("%d orgs after seed --force, want 4", len(orgs))
	}
}
