package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/orgscope/orgscope/store"
)

// seedOptions says what `orgscope seed` writes.
type seedOptions struct {
	// Orgs is the number of organizations, org_s00001 onwards.
	Orgs int
	// Users is the number of users. The first org gets a tenth of them
	// (all of them when it is the only one); the others share the rest
	// evenly.
	Users int
	// Batch is the number of users written per CreateUsers call (one
	// transaction each).
	Batch int
	// Force seeds a database that already has organizations.
	Force bool
}

// defaultSeedBatch keeps a transaction's work (and the batch in memory)
// bounded while amortising the commit.
const defaultSeedBatch = 50_000

// seedOrgCode names the i-th seeded org, counting from 1.
func seedOrgCode(i int) string { return fmt.Sprintf("org_s%05d", i) }

// seedUserCounts returns how many users each of the n orgs gets.
func seedUserCounts(orgs, users int) []int {
	counts := make([]int, orgs)
	if orgs == 1 {
		counts[0] = users
		return counts
	}
	counts[0] = users / 10
	rest := users - counts[0]
	for i := 1; i < orgs; i++ {
		counts[i] = rest / (orgs - 1)
		if i <= rest%(orgs-1) {
			counts[i]++
		}
	}
	return counts
}

// seedFlags are the flag definitions a seeded database has; existing
// definitions with these keys are kept.
var seedFlags = []store.FlagDefinition{
	{Key: "beta_dashboard", Type: store.FlagBoolean, DefaultValue: json.RawMessage(`false`), Description: "The new dashboard."},
	{Key: "max_projects", Type: store.FlagInteger, DefaultValue: json.RawMessage(`10`), Description: "Projects an organization may create."},
	{Key: "ui_theme", Type: store.FlagString, DefaultValue: json.RawMessage(`"light"`), Description: "Colour theme."},
	{Key: "rate_limits", Type: store.FlagJSON, DefaultValue: json.RawMessage(`{"rps":50,"burst":100}`), Description: "API rate limits."},
	{Key: "audit_export", Type: store.FlagBoolean, DefaultValue: json.RawMessage(`false`), Description: "Export of the audit log."},
}

// seedOverride says which orgs override a flag: every nth, with value.
var seedOverrides = []struct {
	every      int
	key, value string
}{
	{10, "beta_dashboard", `true`},
	{7, "max_projects", `100`},
	{25, "ui_theme", `"dark"`},
}

var (
	seedGiven  = []string{"Ada", "Grace", "Alan", "Barbara", "Ken", "Frances", "Margaret", "Dennis", "Radia", "Edsger"}
	seedFamily = []string{"Lovelace", "Hopper", "Turing", "Liskov", "Thompson", "Allen", "Hamilton", "Ritchie", "Perlman", "Dijkstra"}
)

// seedStore is what seeding writes through.
type seedStore interface {
	GetOrg(ctx context.Context, code string) (store.Org, error)
	ListOrgs(ctx context.Context, page store.Page) ([]store.Org, string, error)
	CreateOrgs(ctx context.Context, orgs []store.Org) error
	CreateUsers(ctx context.Context, users []store.User) error
	CreateFlag(ctx context.Context, def store.FlagDefinition) (store.FlagDefinition, error)
	SetFlagOverride(ctx context.Context, orgCode, key string, value json.RawMessage) (store.FlagOverride, error)
}

func (c cli) seed(ctx context.Context, args []string) error {
	cfg := DefaultConfig()
	opts := seedOptions{Batch: defaultSeedBatch}
	cmd := newCommand("seed", "orgscope seed --orgs N --users M [--force] [--db orgscope.db | --database-url postgres://…]")
	cmd.about = `Fills a database with synthetic tenants for load tests. It refuses a
database that already has organizations unless --force: seeding adds its flag
definitions, which every existing organization then sees.`
	cmd.fs.IntVar(&opts.Orgs, "orgs", 0, "organizations to create, org_s00001 onwards (required)")
	cmd.fs.IntVar(&opts.Users, "users", 0, "users to create: a tenth in org_s00001, the rest spread evenly over the others")
	cmd.fs.IntVar(&opts.Batch, "batch", opts.Batch, "users written per transaction")
	cmd.fs.BoolVar(&opts.Force, "force", false, "seed even though the database already has organizations")
	storeFlags(cmd.fs, &cfg)
	if err := cmd.parse(args, c.stdout, c.getenv); err != nil {
		return err
	}
	if opts.Orgs < 1 || opts.Users < 0 || opts.Batch < 1 {
		return &usageError{err: errors.New("need --orgs of at least 1, --users of at least 0 and --batch of at least 1"), hint: cmd.hint()}
	}
	st, err := openStore(ctx, cfg, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	return seed(ctx, st, opts, c.stdout)
}

// seed writes opts.Orgs orgs and opts.Users users in batches, the seed
// flags and some overrides, reporting progress to out. It refuses a
// database that was seeded already, and one that has any organization
// unless opts.Force.
func seed(ctx context.Context, st seedStore, opts seedOptions, out io.Writer) error {
	start := time.Now()
	elapsed := func() string { return time.Since(start).Round(time.Millisecond).String() }
	switch _, err := st.GetOrg(ctx, seedOrgCode(1)); {
	case err == nil:
		return fmt.Errorf("this database was seeded already (%s exists); seed an empty one", seedOrgCode(1))
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	existing, _, err := st.ListOrgs(ctx, store.Page{Limit: 1})
	if err != nil {
		return err
	}
	if len(existing) > 0 && !opts.Force {
		keys := make([]string, len(seedFlags))
		for i, f := range seedFlags {
			keys[i] = f.Key
		}
		return fmt.Errorf("this database already has organizations (%s, …); seeding it would add %d synthetic organizations "+
			"(%s…) with %d users, and define the flags %s, which every existing organization would then see "+
			"(with their default values). Seed an empty database, or give --force to do it anyway",
			existing[0].Code, opts.Orgs, seedOrgCode(1), opts.Users, strings.Join(keys, ", "))
	}

	flags, kept := 0, map[string]bool{}
	for _, f := range seedFlags {
		_, err := st.CreateFlag(ctx, f)
		switch {
		case err == nil:
			flags++
		case errors.Is(err, store.ErrConflict):
			kept[f.Key] = true // its type may differ: no overrides either
			fmt.Fprintf(out, "flag %s exists; kept\n", f.Key)
		default:
			return fmt.Errorf("flag %s: %w", f.Key, err)
		}
	}

	plans := []string{"free", "team", "enterprise"}
	for lo := 0; lo < opts.Orgs; lo += opts.Batch {
		hi := min(lo+opts.Batch, opts.Orgs)
		orgs := make([]store.Org, 0, hi-lo)
		for i := lo; i < hi; i++ {
			orgs = append(orgs, store.Org{Code: seedOrgCode(i + 1), Name: fmt.Sprintf("Seed Org %d", i+1),
				Properties: map[string]string{"plan": plans[i%len(plans)], "seeded": "true"}})
		}
		if err := st.CreateOrgs(ctx, orgs); err != nil {
			return fmt.Errorf("orgs %s to %s: %w", seedOrgCode(lo+1), seedOrgCode(hi), err)
		}
	}
	fmt.Fprintf(out, "orgs: %d in %s\n", opts.Orgs, elapsed())

	// Users are generated org by org, with increasing IDs and emails, so
	// every index grows at its end.
	counts := seedUserCounts(opts.Orgs, opts.Users)
	batch := make([]store.User, 0, min(opts.Batch, opts.Users))
	written, n := 0, 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := st.CreateUsers(ctx, batch); err != nil {
			return fmt.Errorf("users %d to %d: %w", written+1, written+len(batch), err)
		}
		written += len(batch)
		batch = batch[:0]
		fmt.Fprintf(out, "users: %d/%d (%.0f%%) in %s\n", written, opts.Users, 100*float64(written)/float64(opts.Users), elapsed())
		return nil
	}
	for org, count := range counts {
		code := seedOrgCode(org + 1)
		for j := range count {
			role, status := store.RoleMember, store.UserActive
			if j == 0 {
				role = store.RoleAdmin
			}
			if n%25 == 24 {
				status = store.UserSuspended
			}
			batch = append(batch, store.User{
				ID: store.NewID(store.UserIDPrefix), OrgCode: code, Email: fmt.Sprintf("u%08d@seed.example", n),
				GivenName: seedGiven[n%len(seedGiven)], FamilyName: seedFamily[(n/len(seedGiven))%len(seedFamily)],
				Status: status, Role: role,
			})
			n++
			if len(batch) == opts.Batch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}

	overrides := 0
	for _, ov := range seedOverrides {
		if kept[ov.key] {
			continue
		}
		for i := ov.every; i <= opts.Orgs; i += ov.every {
			if _, err := st.SetFlagOverride(ctx, seedOrgCode(i), ov.key, json.RawMessage(ov.value)); err != nil {
				return fmt.Errorf("override of %s in %s: %w", ov.key, seedOrgCode(i), err)
			}
			overrides++
		}
	}

	took := time.Since(start)
	fmt.Fprintf(out, "seeded %d orgs and %d users (%d in %s), %d flags and %d overrides in %s (%.0f users/s)\n",
		opts.Orgs, opts.Users, counts[0], seedOrgCode(1), flags, overrides, took.Round(time.Millisecond),
		float64(opts.Users)/took.Seconds())
	return nil
}
