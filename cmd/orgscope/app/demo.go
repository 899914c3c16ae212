package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authserver"
	"github.com/orgscope/orgscope/store"
)

// demoClient is one provisioned demo client, with the secret shown once.
type demoClient struct {
	Label, OrgCode, ID, Secret string
}

// demoUser is a demo user with the password shown once.
type demoUser struct {
	Email, OrgCode, Password string
	Role                     store.Role
}

// demoSeed is what the first start prints, once.
type demoSeed struct {
	clients []demoClient
	users   []demoUser
}

type demoOrg struct {
	code, name string
	properties map[string]string
	users      [][3]string // email, given, family; the first is the org's admin
}

var demoOrgs = []demoOrg{
	{"org_acme", "Acme Corp", map[string]string{"plan": "enterprise", "region": "eu-west"}, [][3]string{
		{"ada@acme.example", "Ada", "Lovelace"}, {"grace@acme.example", "Grace", "Hopper"},
		{"alan@acme.example", "Alan", "Turing"}, {"katherine@acme.example", "Katherine", "Johnson"},
	}},
	{"org_beta", "Beta Inc", map[string]string{"plan": "team", "region": "us-east"}, [][3]string{
		{"barbara@beta.example", "Barbara", "Liskov"}, {"ken@beta.example", "Ken", "Thompson"},
		{"frances@beta.example", "Frances", "Allen"},
	}},
	{"org_gamma", "Gamma Ltd", map[string]string{"plan": "free", "region": "ap-south"}, [][3]string{
		{"margaret@gamma.example", "Margaret", "Hamilton"}, {"dennis@gamma.example", "Dennis", "Ritchie"},
		{"radia@gamma.example", "Radia", "Perlman"},
	}},
}

var demoFlags = []store.FlagDefinition{
	{Key: "dark_mode", Type: store.FlagBoolean, DefaultValue: json.RawMessage(`false`), Description: "Dark theme in the web app."},
	{Key: "max_seats", Type: store.FlagInteger, DefaultValue: json.RawMessage(`10`), Description: "Seats the organization may use."},
	{Key: "theme", Type: store.FlagString, DefaultValue: json.RawMessage(`"classic"`), Description: "Colour theme name."},
	{Key: "onboarding", Type: store.FlagJSON, DefaultValue: json.RawMessage(`{"steps":3,"video":true}`), Description: "Onboarding checklist settings."},
}

// seedDemo fills an empty database with three demo tenants (see
// seedDemoTenants), gives their users passwords so they can sign in, and
// provisions one machine client per org and one global admin client. It
// returns the credentials, for printing once, or nil when the database was
// not empty or demo seeding is off.
func seedDemo(ctx context.Context, st store.Store, enabled bool, passwordCost int) (*demoSeed, error) {
	if !enabled {
		return nil, nil
	}
	users, err := seedDemoTenants(ctx, st)
	if err != nil || users == nil {
		return nil, err
	}
	seed := &demoSeed{users: users}
	for i := range seed.users {
		seed.users[i].Password = authserver.NewPassword()
	}
	for _, o := range demoOrgs {
		c, secret, err := authserver.CreateMachineClient(ctx, st, authserver.MachineClient{
			Name:       o.name + " agent",
			OrgCode:    o.code,
			Scopes:     auth.AllScopes,
			Properties: map[string]string{"agent_name": o.name + " agent"},
		})
		if err != nil {
			return nil, fmt.Errorf("demo client for %s: %w", o.code, err)
		}
		seed.clients = append(seed.clients, demoClient{Label: o.name, OrgCode: o.code, ID: c.ID, Secret: secret})
	}
	c, secret, err := authserver.CreateMachineClient(ctx, st, authserver.MachineClient{
		Name: "Global admin", Scopes: auth.AllScopes,
	})
	if err != nil {
		return nil, fmt.Errorf("demo global client: %w", err)
	}
	seed.clients = append(seed.clients, demoClient{Label: "Global admin", ID: c.ID, Secret: secret})
	if err := setDemoPasswords(ctx, st, seed.users, passwordCost); err != nil {
		return nil, err
	}
	return seed, nil
}

// seedDemoTenants seeds the demo organizations, their users, the flags and
// a few overrides — no credentials, which is all external-issuer mode
// wants (the issuer owns identities). It returns the users, or nil when
// the database already has an organization (the demo is seeded only
// into an empty one).
func seedDemoTenants(ctx context.Context, st store.Store) ([]demoUser, error) {
	existing, _, err := st.ListOrgs(ctx, store.Page{Limit: 1})
	if err != nil || len(existing) > 0 {
		return nil, err
	}
	for i, f := range demoFlags {
		_, err := st.CreateFlag(ctx, f)
		if i == 0 && errors.Is(err, store.ErrConflict) {
			// Another replica, started at the same moment on the same
			// database, is seeding: the first write tells which one won.
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("demo flag %s: %w", f.Key, err)
		}
	}
	var users []demoUser
	for _, o := range demoOrgs {
		if _, err := st.CreateOrg(ctx, store.Org{Code: o.code, Name: o.name, Properties: o.properties}); err != nil {
			return nil, fmt.Errorf("demo org %s: %w", o.code, err)
		}
		for i, u := range o.users {
			role := store.RoleMember
			if i == 0 {
				role = store.RoleAdmin
			}
			_, err := st.CreateUser(ctx, store.User{
				ID: store.NewID(store.UserIDPrefix), OrgCode: o.code, Email: u[0],
				GivenName: u[1], FamilyName: u[2], Status: store.UserActive, Role: role,
			})
			if err != nil {
				return nil, fmt.Errorf("demo user %s: %w", u[0], err)
			}
			users = append(users, demoUser{Email: u[0], OrgCode: o.code, Role: role})
		}
	}
	overrides := []struct {
		org, key, value string
	}{{"org_acme", "dark_mode", `true`}, {"org_acme", "theme", `"sunset"`}, {"org_beta", "max_seats", `50`}}
	for _, ov := range overrides {
		if _, err := st.SetFlagOverride(ctx, ov.org, ov.key, json.RawMessage(ov.value)); err != nil {
			return nil, fmt.Errorf("demo flag override: %w", err)
		}
	}
	return users, nil
}

// setDemoPasswords hashes the demo passwords in parallel: bcrypt is slow
// on purpose, and there are a dozen of them.
func setDemoPasswords(ctx context.Context, st store.Store, users []demoUser, cost int) error {
	errs := make([]error, len(users))
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Go(func() {
			_, errs[i] = authserver.SetPassword(ctx, st, u.OrgCode, u.Email, u.Password, cost)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// firstSteps is what the banner says when the database has no machine
// client: how to make the first organization (unless one exists) and a
// client that can call the tools.
type firstSteps struct {
	// existingOrg is an organization the database has, or "".
	existingOrg string
}

// needFirstSteps returns the first steps to print, or nil when the
// database already has a machine client.
func needFirstSteps(ctx context.Context, st store.Store) (*firstSteps, error) {
	n, err := st.CountClients(ctx, store.ClientMachine)
	if err != nil || n > 0 {
		return nil, err
	}
	orgs, _, err := st.ListOrgs(ctx, store.Page{Limit: 1})
	if err != nil {
		return nil, err
	}
	steps := &firstSteps{}
	if len(orgs) > 0 {
		steps.existingOrg = orgs[0].Code
	}
	return steps, nil
}

// printBanner tells the operator where the server is and, on the first
// start, the demo credentials and a curl walkthrough, or how to make the
// first client.
func printBanner(w io.Writer, publicURL, resource string, cfg Config, seed *demoSeed, steps *firstSteps) {
	fmt.Fprintf(w, "OrgScope %s\n", cfg.Version)
	fmt.Fprintf(w, "  MCP endpoint:        %s\n", resource)
	fmt.Fprintf(w, "  Resource metadata:   %s/.well-known/oauth-protected-resource/mcp\n", publicURL)
	if len(cfg.Issuers) > 0 {
		for _, is := range cfg.Issuers {
			fmt.Fprintf(w, "  Trusted issuer:      %s\n", is.URL)
		}
	} else {
		fmt.Fprintf(w, "  Issuer metadata:     %s/.well-known/oauth-authorization-server\n", publicURL)
	}
	fmt.Fprintf(w, "  Database:            %s\n", databaseLabel(cfg))
	if steps != nil {
		printFirstSteps(w, cfg, publicURL, steps)
	}
	if seed == nil {
		fmt.Fprintln(w)
		return
	}
	fmt.Fprintf(w, "\nFirst start: seeded demo tenants. These secrets and passwords are shown once (stored hashed).\n\nMachine clients (client_credentials):\n")
	for _, c := range seed.clients {
		org := c.OrgCode
		if org == "" {
			org = "(global)"
		}
		fmt.Fprintf(w, "  %-13s %-10s client_id=%s  client_secret=%s\n", c.Label, org, c.ID, c.Secret)
	}
	fmt.Fprintf(w, "\nPeople who can sign in (authorization code flow, e.g. from Claude Code or Cursor):\n")
	for _, u := range seed.users {
		fmt.Fprintf(w, "  %-26s %-10s %-7s password=%s\n", u.Email, u.OrgCode, u.Role, u.Password)
	}
	acme := seed.clients[0]
	fmt.Fprintf(w, `
Try the discovery flow (as Acme's agent):

  curl -i -X POST %[1]s
  curl %[2]s/.well-known/oauth-protected-resource/mcp
  curl %[2]s/.well-known/oauth-authorization-server
  TOKEN=$(curl -s -u '%[3]s:%[4]s' -d grant_type=client_credentials \
    --data-urlencode resource=%[1]s %[2]s/oauth2/token | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
  curl -s --json '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami"}}' \
    -H "Authorization: Bearer $TOKEN" %[1]s
  curl -s --json '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_users","arguments":{"limit":2}}}' \
    -H "Authorization: Bearer $TOKEN" %[1]s

`, resource, publicURL, acme.ID, acme.Secret)
}

func databaseLabel(cfg Config) string {
	if cfg.DatabaseURL != "" {
		return "PostgreSQL"
	}
	return "SQLite " + cfg.DBPath
}

// printFirstSteps prints the commands that make the first organization
// and client, on the database the server uses.
func printFirstSteps(w io.Writer, cfg Config, publicURL string, steps *firstSteps) {
	db, elided := databaseArgs(cfg)
	why := "the database already has organizations, so no demo was seeded"
	switch {
	case cfg.Demo == DemoOff:
		why = "demo seeding is off (--demo=false)"
	case cfg.Demo == DemoAuto && !isLoopbackURL(publicURL):
		why = "no demo is seeded for a public URL that is not loopback unless --demo=true"
	}
	fmt.Fprintf(w, "\nNo machine client can call the tools yet: %s. To make one:\n\n", why)
	org := steps.existingOrg
	if org == "" {
		org = "org_example"
		fmt.Fprintf(w, "  orgscope orgs create %s --code %s --name \"Example Inc\"\n", db, org)
	}
	fmt.Fprintf(w, "  orgscope clients create %s --name \"First agent\" --org %s --scopes \"read:users read:orgs read:flags\"\n", db, org)
	if elided {
		fmt.Fprintf(w, "\n(The database password is elided above; use the --database-url the server was given.)\n")
	}
	fmt.Fprintf(w, "\nThe second command prints the client id and secret once. Without an installed orgscope, use go run ./cmd/orgscope.\n")
}

// databaseArgs returns the flags naming cfg's database for the admin
// commands, with a PostgreSQL password elided (it would otherwise land in
// the terminal's scrollback and the service's log).
func databaseArgs(cfg Config) (args string, elided bool) {
	if cfg.DatabaseURL == "" {
		return "--db " + shellQuote(cfg.DBPath), false
	}
	u, err := url.Parse(cfg.DatabaseURL)
	if err != nil {
		return "--database-url '…'", true
	}
	if _, has := u.User.Password(); has {
		u.User, elided = url.UserPassword(u.User.Username(), "PASSWORD"), true
	}
	args = "--database-url " + shellQuote(u.String())
	if cfg.DatabaseSchema != "" {
		args += " --database-schema " + shellQuote(cfg.DatabaseSchema)
	}
	return args, elided
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:@%+=,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
