package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authserver"
	"github.com/orgscope/orgscope/store"
)

const usage = `OrgScope: an MCP server for the users, organizations and feature flags of a multi-tenant SaaS.

usage:
  orgscope [serve] [flags]          run the server (the default)
  orgscope orgs create --code org_x --name "X Corp"
  orgscope clients create --name NAME (--org org_x | --global) --scopes "read:users write:users" [--json]
  orgscope users set-password --org org_x --email ann@x.example   (prints a new password, or takes ORGSCOPE_PASSWORD)
  orgscope seed --orgs N --users M  fill a database with synthetic tenants (org_s00001…) for load tests
  orgscope version

Run "orgscope <command> -h" for a command's flags. Every flag can also be
set with an ORGSCOPE_* environment variable (--public-url: ORGSCOPE_PUBLIC_URL).
`

// Main runs the command line and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, stdout, stderr, os.Getenv)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		if err != errUsage {
			fmt.Fprintf(stderr, "orgscope: %v\n", err)
		}
		return 2
	}
	fmt.Fprintf(stderr, "orgscope: %v\n", err)
	return 1
}

// errUsage marks an error already reported with usage text.
var errUsage = errors.New("usage")

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serveCommand(ctx, args, stdout, stderr, getenv)
	case "orgs", "clients":
		if len(args) == 0 || args[0] != "create" {
			fmt.Fprintf(stderr, "orgscope %s: the only subcommand is create\n\n%s", cmd, usage)
			return errUsage
		}
		if cmd == "orgs" {
			return createOrgCommand(ctx, args[1:], stdout, stderr, getenv)
		}
		return createClientCommand(ctx, args[1:], stdout, stderr, getenv)
	case "users":
		if len(args) == 0 || args[0] != "set-password" {
			fmt.Fprintf(stderr, "orgscope users: the only subcommand is set-password\n\n%s", usage)
			return errUsage
		}
		return setPasswordCommand(ctx, args[1:], stdout, stderr, getenv)
	case "seed":
		return seedCommand(ctx, args, stdout, stderr, getenv)
	case "version":
		fmt.Fprintln(stdout, version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "orgscope: unknown command %q\n\n%s", cmd, usage)
	return errUsage
}

// storeFlags are the flags every command that opens the database has.
func storeFlags(fs *flag.FlagSet, cfg *Config) {
	fs.StringVar(&cfg.DBPath, "db", cfg.DBPath, "SQLite database file")
	fs.StringVar(&cfg.DatabaseURL, "database-url", cfg.DatabaseURL, "PostgreSQL URL (postgres://…); overrides --db")
	fs.StringVar(&cfg.DatabaseSchema, "database-schema", cfg.DatabaseSchema, "PostgreSQL schema for OrgScope's tables (default: the URL's search_path)")
}

func serveCommand(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg := DefaultConfig()
	fs := newFlagSet("serve", "orgscope [serve] [flags]", stderr)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address")
	fs.StringVar(&cfg.PublicURL, "public-url", "", "public base URL clients use (default: derived from --addr); the MCP resource is <public-url>/mcp")
	storeFlags(fs, &cfg)
	fs.BoolVar(&cfg.Demo, "demo", cfg.Demo, "seed demo tenants into an empty database and print their credentials once")
	fs.DurationVar(&cfg.TokenTTL, "token-ttl", cfg.TokenTTL, "lifetime of access tokens the embedded issuer signs")
	fs.Float64Var(&cfg.RateLimits.PerPrincipal, "rate-limit", cfg.RateLimits.PerPrincipal, "MCP calls per second per access token's principal (bursts of twice that); 0 disables")
	fs.Float64Var(&cfg.RateLimits.PerAddress, "signin-rate-limit", cfg.RateLimits.PerAddress, "POSTs per second per client address to the issuer's token, sign-in and registration endpoints (bursts of four times that); 0 disables")
	fs.Var((*stringList)(&cfg.AllowedOrigins), "allowed-origins", "comma-separated browser origins allowed to call /mcp (* for any)")
	var iss issuerFlags
	fs.Var(&iss.urls, "issuer", "trust this external issuer instead of the embedded one (repeatable, or comma-separated)")
	fs.StringVar(&iss.configFile, "issuers-config", "", "JSON file describing external issuers, for several or differently shaped ones")
	fs.StringVar(&iss.audience, "audience", "", "audience --issuer tokens must carry (default: the MCP resource URI)")
	fs.StringVar(&iss.tenantClaim, "tenant-claim", "org_code", "claim of --issuer tokens naming the organization (org_id, tid, o.id, …)")
	fs.Var(&iss.scopeClaims, "scope-claims", "claims of --issuer tokens carrying scopes (default: scope,scp,permissions)")
	fs.BoolVar(&iss.allowGlobal, "allow-global", false, "accept --issuer tokens without the tenant claim as global (administration) tokens")
	fs.BoolVar(&iss.requireType, "require-at-jwt", false, "refuse --issuer JWTs whose typ is not at+jwt")
	fs.DurationVar(&cfg.JWKSRefresh, "jwks-refresh", auth.DefaultKeyRefresh, "how long an external issuer's fetched keys are used before they are fetched again")
	fs.DurationVar(&cfg.JWKSCooldown, "jwks-cooldown", auth.DefaultRefetchCooldown, "least time between key fetches caused by tokens with an unknown key id")
	fs.BoolVar(&cfg.CIMDAllowPrivate, "cimd-allow-private", false, "development only: fetch client metadata documents from private and loopback addresses")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error")
	fs.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "text or json")
	if err := parse(fs, args, getenv); err != nil {
		return usageError(err)
	}
	issuers, err := iss.issuers()
	if err != nil {
		return err
	}
	cfg.RateLimits.PrincipalBurst = int(2 * cfg.RateLimits.PerPrincipal)
	cfg.RateLimits.AddressBurst = int(4 * cfg.RateLimits.PerAddress)
	cfg.Issuers = issuers
	cfg.Stdout, cfg.Stderr = stdout, stderr
	return Run(ctx, cfg)
}

func createOrgCommand(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg := DefaultConfig()
	var code, name string
	fs := newFlagSet("orgs create", `orgscope orgs create --code org_x --name "X Corp"`, stderr)
	fs.StringVar(&code, "code", "", "organization code, e.g. org_acme (required)")
	fs.StringVar(&name, "name", "", "display name (required)")
	storeFlags(fs, &cfg)
	if err := parse(fs, args, getenv); err != nil {
		return usageError(err)
	}
	if code == "" || name == "" {
		fs.Usage()
		return errUsage
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	org, err := st.CreateOrg(ctx, store.Org{Code: code, Name: name})
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("organization %s already exists", code)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created organization %s (%s)\n", org.Code, org.Name)
	return nil
}

func createClientCommand(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg := DefaultConfig()
	var name, org, scopes string
	var global, asJSON bool
	fs := newFlagSet("clients create",
		`orgscope clients create --name NAME (--org org_x | --global) --scopes "read:users write:users" [--json]`, stderr)
	fs.StringVar(&name, "name", "", "client name (required)")
	fs.StringVar(&org, "org", "", "bind the client to this organization")
	fs.BoolVar(&global, "global", false, "make a global (administration) client, bound to no organization")
	fs.StringVar(&scopes, "scopes", "", "space-separated scopes the client may be granted (required): "+strings.Join(auth.AllScopes, " "))
	fs.BoolVar(&asJSON, "json", false, `print {"client_id":…,"client_secret":…} for scripts`)
	storeFlags(fs, &cfg)
	if err := parse(fs, args, getenv); err != nil {
		return usageError(err)
	}
	if name == "" || scopes == "" || (org == "") == !global {
		fmt.Fprintln(stderr, "need --name, --scopes and exactly one of --org or --global")
		fs.Usage()
		return errUsage
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	c, secret, err := authserver.CreateMachineClient(ctx, st, authserver.MachineClient{
		Name: name, OrgCode: org, Scopes: auth.ParseScopes(scopes),
	})
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("organization %s does not exist (create it with: orgscope orgs create --code %s --name …)", org, org)
	}
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(stdout).Encode(map[string]string{"client_id": c.ID, "client_secret": secret})
	}
	bound := "global"
	if c.OrgCode != "" {
		bound = "bound to " + c.OrgCode
	}
	fmt.Fprintf(stdout, "created client %q (%s), scopes: %s\n  client_id:     %s\n  client_secret: %s\n"+
		"The secret is shown once and stored hashed; keep it now.\n",
		c.Name, bound, strings.Join(c.Scopes, " "), c.ID, secret)
	return nil
}

func usageError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return fmt.Errorf("%w: %v", errUsage, err)
}

func setPasswordCommand(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg := DefaultConfig()
	var org, email, password string
	fs := newFlagSet("users set-password", "orgscope users set-password --org org_x --email ann@x.example", stderr)
	fs.StringVar(&org, "org", "", "the user's organization (required)")
	fs.StringVar(&email, "email", "", "the user's email (required)")
	fs.StringVar(&password, "password", "", "the new password; prefer the environment variable, which ps does not show (default: generate one and print it)")
	storeFlags(fs, &cfg)
	if err := parse(fs, args, getenv); err != nil {
		return usageError(err)
	}
	if org == "" || email == "" {
		fs.Usage()
		return errUsage
	}
	generated := password == ""
	if generated {
		password = authserver.NewPassword()
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := authserver.SetPassword(ctx, st, org, email, password, 0)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("there is no user %s in %s", email, org)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "password set for %s (%s, %s, role %s)\n", u.Email, u.ID, u.OrgCode, u.Role)
	if generated {
		fmt.Fprintf(stdout, "  password: %s\nIt is shown once and stored hashed.\n", password)
	}
	return nil
}
