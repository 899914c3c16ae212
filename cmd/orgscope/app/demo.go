package app

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/internal/credential"
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
	PlatformAdmin            bool
	id                       string
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

// demoPlatformAdmin is the demo person who manages every organization in
// the console: Acme's administrator.
const demoPlatformAdmin = "ada@acme.example"

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
// seedTenants), gives their users passwords so they can sign in, and
// provisions one machine client per org and one global admin client — all
// in one transaction, so that an interrupted first start leaves nothing
// half done. It returns the credentials, for printing once, or nil when the
// database was not empty or demo seeding is off.
func seedDemo(ctx context.Context, st store.Store, enabled bool, passwordCost int) (*demoSeed, error) {
	if !enabled {
		return nil, nil
	}
	if empty, err := isEmpty(ctx, st); err != nil || !empty {
		return nil, err
	}
	seed := &demoSeed{}
	var clients []store.Client
	for _, o := range demoOrgs {
		c, secret := demoMachineClient(o.name+" agent", o.code, map[string]string{"agent_name": o.name + " agent"})
		clients = append(clients, c)
		seed.clients = append(seed.clients, demoClient{Label: o.name, OrgCode: o.code, ID: c.ID, Secret: secret})
	}
	c, secret := demoMachineClient("Global admin", "", nil)
	clients = append(clients, c)
	seed.clients = append(seed.clients, demoClient{Label: "Global admin", ID: c.ID, Secret: secret})

	// The passwords are hashed before the transaction: bcrypt at its
	// default cost takes a quarter of a second a password, far too long to
	// hold the database's write lock (on a busy machine the transaction ran
	// out of its deadline).
	n := 0
	for _, o := range demoOrgs {
		n += len(o.users)
	}
	passwords, hashes, err := demoPasswords(n, passwordCost)
	if err != nil {
		return nil, err
	}
	err = st.InTx(ctx, func(tx store.Tx) error {
		users, err := seedTenants(ctx, tx)
		if err != nil {
			return err
		}
		if len(users) != n {
			return fmt.Errorf("demo: %d users seeded, %d passwords made", len(users), n)
		}
		for _, c := range clients {
			if _, err := tx.CreateClient(ctx, c); err != nil {
				return fmt.Errorf("demo client %s: %w", c.Name, err)
			}
		}
		for i, u := range users {
			users[i].Password = passwords[i]
			if err := tx.SetUserPassword(ctx, u.OrgCode, u.id, hashes[i]); err != nil {
				return fmt.Errorf("demo password for %s: %w", u.Email, err)
			}
		}
		seed.users = users
		return tx.AppendAuditEvent(ctx, seedEvent("demo seed"))
	})
	if errors.Is(err, store.ErrConflict) || errors.Is(err, errNotEmpty) {
		return nil, nil // another replica, started at the same moment, seeded it
	}
	if err != nil {
		return nil, err
	}
	return seed, nil
}

// seedDemoTenants seeds the demo organizations, their users, the flags and
// a few overrides — no credentials, which is all external-issuer mode
// wants (the issuer owns identities) — in one transaction, into an empty
// database only.
func seedDemoTenants(ctx context.Context, st store.Store) error {
	if empty, err := isEmpty(ctx, st); err != nil || !empty {
		return err
	}
	err := st.InTx(ctx, func(tx store.Tx) error {
		if _, err := seedTenants(ctx, tx); err != nil {
			return err
		}
		return tx.AppendAuditEvent(ctx, seedEvent("demo seed"))
	})
	if errors.Is(err, store.ErrConflict) || errors.Is(err, errNotEmpty) {
		return nil
	}
	return err
}

var errNotEmpty = errors.New("the database is not empty")

func isEmpty(ctx context.Context, q store.Tx) (bool, error) {
	existing, _, err := q.ListOrgs(ctx, store.Page{Limit: 1})
	return len(existing) == 0, err
}

// seedTenants writes the demo organizations, users, flags and overrides
// through tx, and returns the users. A database with an organization is
// not seeded (errNotEmpty); a replica seeding at the same moment makes the
// first write a conflict.
func seedTenants(ctx context.Context, tx store.Tx) ([]demoUser, error) {
	if empty, err := isEmpty(ctx, tx); err != nil || !empty {
		return nil, cmp.Or(err, errNotEmpty)
	}
	for _, f := range demoFlags {
		if _, err := tx.CreateFlag(ctx, f); err != nil {
			return nil, fmt.Errorf("demo flag %s: %w", f.Key, err)
		}
	}
	var users []demoUser
	for _, o := range demoOrgs {
		if _, err := tx.CreateOrg(ctx, store.Org{Code: o.code, Name: o.name, Properties: o.properties}); err != nil {
			return nil, fmt.Errorf("demo org %s: %w", o.code, err)
		}
		for i, u := range o.users {
			role := store.RoleMember
			if i == 0 {
				role = store.RoleAdmin
			}
			created, err := tx.CreateUser(ctx, store.User{
				ID: store.NewID(store.UserIDPrefix), OrgCode: o.code, Email: u[0],
				GivenName: u[1], FamilyName: u[2], Status: store.UserActive, Role: role,
				PlatformAdmin: u[0] == demoPlatformAdmin,
			})
			if err != nil {
				return nil, fmt.Errorf("demo user %s: %w", u[0], err)
			}
			users = append(users, demoUser{Email: u[0], OrgCode: o.code, Role: role, PlatformAdmin: created.PlatformAdmin, id: created.ID})
		}
	}
	overrides := []struct {
		org, key, value string
	}{{"org_acme", "dark_mode", `true`}, {"org_acme", "theme", `"sunset"`}, {"org_beta", "max_seats", `50`}}
	for _, ov := range overrides {
		if _, err := tx.SetFlagOverride(ctx, ov.org, ov.key, json.RawMessage(ov.value)); err != nil {
			return nil, fmt.Errorf("demo flag override: %w", err)
		}
	}
	return users, nil
}

// demoMachineClient makes a machine client with every scope, and its
// secret.
func demoMachineClient(name, org string, props map[string]string) (store.Client, string) {
	secret := credential.NewSecret()
	return store.Client{
		ID: credential.RandomHex(16), Name: name, Kind: store.ClientMachine, OrgCode: org,
		Secrets: []store.ClientSecret{{Hash: credential.HashSecret(secret)}}, Scopes: auth.AllScopes,
		GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: "client_secret_basic", Properties: props,
	}, secret
}

// demoPasswords makes n new passwords and returns them with their hashes,
// computed in parallel: bcrypt is slow on purpose, and there are a dozen.
func demoPasswords(n int, cost int) (passwords, hashes []string, err error) {
	passwords, hashes = make([]string, n), make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		passwords[i] = credential.NewPassword()
		wg.Go(func() { hashes[i], errs[i] = credential.HashPassword(passwords[i], cost) })
	}
	wg.Wait()
	return passwords, hashes, errors.Join(errs...)
}

// seedEvent is the audit record of a seeding, written with it.
func seedEvent(what string) store.AuditEvent {
	return store.AuditEvent{ID: store.NewID(store.EventIDPrefix), Time: time.Now().UTC(),
		ClientID: "orgscope", Subject: "orgscope", Action: "system:" + what, Decision: "allow", Outcome: "ok"}
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
		fmt.Fprintf(w, "  Console:             %s/console/\n", publicURL)
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
		fmt.Fprintf(w, "  %-26s %-10s %-7s password=%s", u.Email, u.OrgCode, u.Role, u.Password)
		if u.PlatformAdmin {
			fmt.Fprint(w, "  (platform administrator: manages every organization in the console)")
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "Administrators sign in to the console at %s/console/.\n", publicURL)
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
