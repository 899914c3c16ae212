package app

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"slices"
	"strings"
	"time"

	"github.com/orgscope/orgscope/internal/buildinfo"
	"github.com/orgscope/orgscope/internal/credential"
	"github.com/orgscope/orgscope/service"
	"github.com/orgscope/orgscope/store"
)

const usage = `OrgScope: an MCP server for the users, organizations and feature flags of a multi-tenant SaaS.

usage: orgscope [command] [flags]

Commands:
  serve             run the server (the default when no command is given)
  orgs create       create an organization
  clients create    create a machine client (client_credentials) and print its secret once
  clients list|show|rotate-secret|disable|enable|delete|update
                    manage machine clients: secrets rotated with a grace period, one agent cut off at once
  clients assertion print a private key's JWKS, or sign a client assertion with it (private_key_jwt demos)
  users set-password
                    set a user's password (prints a new one, or takes ORGSCOPE_PASSWORD)
  grants list|revoke
                    what acts for people: the grants they gave apps, the agents acting
                    through them (token exchange); revoke one at once
  users set-platform-admin EMAIL [--org X] [--off]
                    let a person manage every organization and the platform in the web console
  audit export      write the audit trail as JSON lines, for a log pipeline
  keys list|rotate|retire
                    the embedded issuer's signing keys: list them, rotate to a new
                    one, or retire one at once
  policy            the access policy: default, schema, validate, test, explain
  backup FILE       copy the SQLite database while the server runs (PostgreSQL: print the pg_dump command)
  doctor URL        check a deployment from outside, as MCP clients see it
  healthcheck URL   exit 0 when URL (/healthz) answers 200: a container's HEALTHCHECK
  seed              fill a database with synthetic tenants (org_s00001…) for load tests
  version           print the version, commit, build time and Go version (also --version)
  help              print this help (also -h, --help)

Examples:
  orgscope                                           serve on http://127.0.0.1:8080 with ./orgscope.db
  orgscope serve --public-url https://mcp.example.com --addr 0.0.0.0:8080 --database-url postgres://…
  orgscope orgs create --code org_x --name "X Corp"
  orgscope clients create --name NAME (--org org_x | --global) --scopes "read:users write:users" [--json]
  orgscope clients create --name NAME --org org_x --scopes read:users --jwks-file keys.json   # no secret: private_key_jwt
  orgscope clients rotate-secret CLIENT_ID --grace 24h
  orgscope clients disable CLIENT_ID
  orgscope users set-password --org org_x --email ann@x.example
  orgscope grants list --org org_x --user ann@x.example
  orgscope grants revoke GRANT_ID
  orgscope users set-platform-admin ann@x.example
  orgscope audit export [--org org_x] [--since 2026-11-01T00:00:00Z] --format jsonl
  orgscope keys rotate --key-encryption-key-file /etc/orgscope/kek
  orgscope keys retire KID
  orgscope policy default > policy.cedar && orgscope policy test --policy policy.cedar tests.json
  orgscope backup /backups/orgscope.db [--force]
  orgscope doctor https://mcp.example.com/mcp [--token T] [--json]
  orgscope seed --orgs N --users M

Run "orgscope <command> -h" for a command's flags ("orgscope serve -h" for the
server's). Every flag can also be set with an ORGSCOPE_* environment variable
(--public-url: ORGSCOPE_PUBLIC_URL); the command line wins.
`

// Main runs the command line and returns the process exit code: 0, 1 when
// the command failed, 2 when it was called wrongly (a bad flag value, an
// unknown command).
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, stdout, stderr, os.Getenv)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintf(stderr, "orgscope: %s\n", line)
	}
	if ue, ok := errors.AsType[*usageError](err); ok {
		if ue.hint != "" {
			fmt.Fprintf(stderr, "orgscope: %s\n", ue.hint)
		}
		return 2
	}
	return 1
}

// subcommands lists the commands that have subcommands of their own.
var subcommands = map[string][]string{
	"orgs":    {"create"},
	"clients": {"create", "list", "show", "rotate-secret", "disable", "enable", "delete", "update", "assertion"},
	"users":   {"set-password", "set-platform-admin"},
	"grants":  {"list", "revoke"},
	"audit":   {"export"},
	"keys":    {"list", "rotate", "retire"},
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cmd := "serve"
	if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help", "help":
			fmt.Fprint(stdout, usage)
			return nil
		case "-version", "--version", "version":
			if len(args) > 1 && args[0] == "version" && isHelp(args[1]) {
				fmt.Fprintln(stdout, "usage: orgscope version\n\nPrints the version, commit, build time and Go version of this binary.")
				return nil
			}
			fmt.Fprintf(stdout, "orgscope %s\n", buildinfo.Read())
			return nil
		}
		if !strings.HasPrefix(args[0], "-") {
			cmd, args = args[0], args[1:]
		}
	}
	if subs, ok := subcommands[cmd]; ok {
		if len(args) == 0 || isHelp(args[0]) || !slices.Contains(subs, args[0]) {
			which := strings.Join(subs, "|")
			help := fmt.Sprintf("usage: orgscope %s %s [flags]\n\nRun \"orgscope %s %s -h\" for its flags.\n", cmd, which, cmd, subs[0])
			if len(args) > 0 && isHelp(args[0]) {
				fmt.Fprint(stdout, help)
				return nil
			}
			got := "nothing"
			if len(args) > 0 {
				got = fmt.Sprintf("%q", args[0])
			}
			msg := fmt.Sprintf("%s: the only subcommand is %s, got %s", cmd, subs[0], got)
			if len(subs) > 1 {
				msg = fmt.Sprintf("%s: the subcommands are %s, got %s", cmd, strings.Join(subs, ", "), got)
			}
			return &usageError{err: errors.New(msg), hint: fmt.Sprintf("run \"orgscope %s %s -h\" for the flags", cmd, subs[0])}
		}
		cmd, args = cmd+" "+args[0], args[1:]
	}
	c := cli{stdout: stdout, stderr: stderr, getenv: getenv}
	switch cmd {
	case "serve":
		return c.serve(ctx, args)
	case "orgs create":
		return c.createOrg(ctx, args)
	case "clients create":
		return c.createClient(ctx, args)
	case "clients list":
		return c.listClients(ctx, args)
	case "clients show":
		return c.showClient(ctx, args)
	case "clients rotate-secret":
		return c.rotateSecret(ctx, args)
	case "clients disable":
		return c.disableClient(ctx, args)
	case "clients enable":
		return c.enableClient(ctx, args)
	case "clients delete":
		return c.deleteClient(ctx, args)
	case "clients update":
		return c.updateClient(ctx, args)
	case "clients assertion":
		return c.clientAssertion(ctx, args)
	case "users set-password":
		return c.setPassword(ctx, args)
	case "grants list":
		return c.listGrants(ctx, args)
	case "grants revoke":
		return c.revokeGrant(ctx, args)
	case "users set-platform-admin":
		return c.setPlatformAdmin(ctx, args)
	case "audit export":
		return c.exportAudit(ctx, args)
	case "keys list":
		return c.keysList(ctx, args)
	case "keys rotate":
		return c.keysRotate(ctx, args)
	case "keys retire":
		return c.keysRetire(ctx, args)
	case "seed":
		return c.seed(ctx, args)
	case "policy":
		return c.policyCommand(ctx, args)
	case "backup":
		return c.backup(ctx, args)
	case "doctor":
		return c.doctor(ctx, args)
	case "healthcheck":
		return c.healthcheck(ctx, args)
	}
	return &usageError{err: fmt.Errorf("unknown command %q", cmd), hint: `run "orgscope -h" for the commands`}
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help"
}

// cli is what every command gets: where to write, and the environment.
type cli struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

// storeFlags are the flags every command that opens the database has.
func storeFlags(fs *flag.FlagSet, cfg *Config) {
	fs.StringVar(&cfg.DBPath, "db", cfg.DBPath, "SQLite database file (its directory must exist)")
	fs.StringVar(&cfg.DatabaseURL, "database-url", cfg.DatabaseURL, "PostgreSQL URL (postgres://…); overrides --db")
	fs.StringVar(&cfg.DatabaseSchema, "database-schema", cfg.DatabaseSchema, "PostgreSQL schema for OrgScope's tables (default: the URL's search_path)")
	fs.DurationVar(&cfg.StoreTimeout, "store-timeout", cfg.StoreTimeout, "how long one database call may take before it fails (a request then gets 503), "+
		fmtDuration(MinStoreTimeout)+" to "+fmtDuration(MaxStoreTimeout)+"; PostgreSQL also stops a statement after the URL's statement_timeout (5s if it has none)")
}

// withService opens the database and runs fn with a service over it, as
// the operator at the command line: every change goes through the same
// validation, decision and audit as a tool call, recorded as
// cli:<command>.
func (c cli) withService(ctx context.Context, cfg Config, command string, fn func(*service.Service, service.Caller) error) error {
	return c.withServiceOptions(ctx, cfg, command, nil, fn)
}

// withServiceOptions is withService with a service that edit completes
// (the signing-key manager of the keys commands).
func (c cli) withServiceOptions(ctx context.Context, cfg Config, command string, edit func(*service.Options), fn func(*service.Service, service.Caller) error) error {
	st, err := openStore(ctx, cfg, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	opts := service.Options{Store: st, PasswordCost: cfg.PasswordCost}
	if edit != nil {
		edit(&opts)
	}
	svc := service.New(opts)
	defer svc.Close()
	return fn(svc, service.Caller{Principal: service.Operator(operatorName(c.getenv)), Via: service.ViaCLI, Command: command})
}

// operatorName is who runs the command, for the audit trail.
func operatorName(getenv func(string) string) string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return cmpOr(getenv("USER"), "operator")
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (c cli) createOrg(ctx context.Context, args []string) error {
	cfg := DefaultConfig()
	var code, name string
	cmd := newCommand("orgs create", `orgscope orgs create --code org_x --name "X Corp" [--db orgscope.db | --database-url postgres://…]`)
	cmd.fs.StringVar(&code, "code", "", "organization code: 1 to 64 letters, digits, '_', '-' or '.', e.g. org_acme (required)")
	cmd.fs.StringVar(&name, "name", "", "display name (required)")
	storeFlags(cmd.fs, &cfg)
	if err := cmd.parse(args, c.stdout, c.getenv); err != nil {
		return err
	}
	if code == "" || name == "" {
		return &usageError{err: errors.New("need --code and --name"), hint: cmd.hint()}
	}
	return c.withService(ctx, cfg, "orgs create", func(svc *service.Service, caller service.Caller) error {
		org, err := svc.CreateOrg(ctx, caller, service.CreateOrgInput{OrgCode: code, Name: name})
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "created organization %s (%s)\n", org.Code, org.Name)
		return nil
	})
}

func (c cli) setPassword(ctx context.Context, args []string) error {
	cfg := DefaultConfig()
	var org, email, password string
	cmd := newCommand("users set-password", "orgscope users set-password --org org_x --email ann@x.example [--db …]")
	cmd.fs.StringVar(&org, "org", "", "the user's organization (required)")
	cmd.fs.StringVar(&email, "email", "", "the user's email (required)")
	cmd.fs.StringVar(&password, "password", "", "the new password; prefer the environment variable, which ps does not show (default: generate one and print it)")
	storeFlags(cmd.fs, &cfg)
	if err := cmd.parse(args, c.stdout, c.getenv); err != nil {
		return err
	}
	if org == "" || email == "" {
		return &usageError{err: errors.New("need --org and --email"), hint: cmd.hint()}
	}
	generated := password == ""
	if generated {
		password = credential.NewPassword()
	}
	return c.withService(ctx, cfg, "users set-password", func(svc *service.Service, caller service.Caller) error {
		out, err := svc.SetPassword(ctx, caller, service.SetPasswordInput{OrgArg: service.OrgArg{OrgCode: org}, Email: email, Password: password})
		if err != nil {
			return err
		}
		u := out.User
		fmt.Fprintf(c.stdout, "password set for %s (%s, %s, role %s)\n", u.Email, u.ID, u.OrgCode, u.Role)
		if generated {
			fmt.Fprintf(c.stdout, "  password: %s\nIt is shown once and stored hashed.\n", password)
		}
		return nil
	})
}

func (c cli) setPlatformAdmin(ctx context.Context, args []string) error {
	cfg := DefaultConfig()
	var org string
	var off bool
	cmd := newCommand("users set-platform-admin", "orgscope users set-platform-admin EMAIL [--org org_x] [--off] [--db …]")
	cmd.positional, cmd.missing = "EMAIL", "need the EMAIL of the person"
	cmd.about = `Makes a person a platform administrator: signed in to the web console
(/console/), they manage every organization and the platform (flag
definitions, signing keys). --off makes them an ordinary person again. Only
the operator, who can open the database, can do this; it is recorded in the
audit trail of the person's organization.`
	cmd.fs.StringVar(&org, "org", "", "the person's organization, when the email is in more than one")
	cmd.fs.BoolVar(&off, "off", false, "stop the person being a platform administrator")
	storeFlags(cmd.fs, &cfg)
	if err := cmd.parse(args, c.stdout, c.getenv); err != nil {
		return err
	}
	return c.withService(ctx, cfg, "users set-platform-admin", func(svc *service.Service, caller service.Caller) error {
		out, err := svc.SetPlatformAdmin(ctx, caller, service.SetPlatformAdminInput{OrgCode: org, Email: cmd.arg, PlatformAdmin: !off})
		if err != nil {
			return err
		}
		u := out.User
		state := "is now a platform administrator: signed in to the console, they manage every organization"
		switch {
		case off && out.Changed:
			state = "is no longer a platform administrator"
		case off:
			state = "was not a platform administrator; nothing changed"
		case !out.Changed:
			state = "was a platform administrator already; nothing changed"
		}
		fmt.Fprintf(c.stdout, "%s (%s, %s) %s\n", u.Email, u.ID, u.OrgCode, state)
		return nil
	})
}

func (c cli) exportAudit(ctx context.Context, args []string) error {
	cfg := DefaultConfig()
	var org, since, format string
	cmd := newCommand("audit export", "orgscope audit export [--org org_x] [--since RFC3339] --format jsonl [--db …]")
	cmd.fs.StringVar(&org, "org", "", "only this organization's events (default: every organization's, and the platform-wide ones)")
	cmd.fs.StringVar(&since, "since", "", "only events at or after this time (RFC 3339, e.g. 2026-11-01T00:00:00Z)")
	cmd.fs.StringVar(&format, "format", "", "output format; jsonl (one JSON object a line) is the one there is (required)")
	storeFlags(cmd.fs, &cfg)
	if err := cmd.parse(args, c.stdout, c.getenv); err != nil {
		return err
	}
	if format != "jsonl" {
		return &usageError{err: fmt.Errorf("--format must be jsonl, got %q", format), hint: cmd.hint()}
	}
	in := service.ExportAuditInput{OrgCode: org, AllOrgs: org == ""}
	if since != "" {
		t, err := time.Parse(time.RFC3339Nano, since)
		if err != nil {
			return &usageError{err: fmt.Errorf("--since %q is not an RFC 3339 time (like 2026-11-01T00:00:00Z)", since), hint: cmd.hint()}
		}
		in.Since = t
	}
	return c.withService(ctx, cfg, "audit export", func(svc *service.Service, caller service.Caller) error {
		w := bufio.NewWriter(c.stdout)
		enc := json.NewEncoder(w)
		err := svc.ExportAuditEvents(ctx, caller, in, func(e store.AuditEvent) error { return enc.Encode(e) })
		if ferr := w.Flush(); err == nil {
			err = ferr
		}
		return err
	})
}
