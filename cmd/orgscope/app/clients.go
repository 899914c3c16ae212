package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/service"
)

// The clients commands: one machine identity per agent and per tenant,
// managed through the service like every tool call, recorded as
// cli:clients <subcommand>. list and show never print a secret; create and
// rotate-secret print the new one once.

// propertyFlags is --property key=value, repeatable; key= (an empty
// value) removes the property in an update.
type propertyFlags map[string]string

func (p propertyFlags) String() string {
	var parts []string
	for k, v := range p {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (p propertyFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return errors.New("want key=value")
	}
	p[k] = v
	return nil
}

// jsonOut writes v as indented JSON.
func jsonOut(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// clientCommand is a command on one client: CLIENT_ID, the store flags and
// --json.
func clientCommand(name, synopsis string, cfg *Config, asJSON *bool) *command {
	cmd := newCommand(name, synopsis)
	cmd.positional = "CLIENT_ID"
	cmd.fs.BoolVar(asJSON, "json", false, "print JSON for scripts")
	storeFlags(cmd.fs, cfg)
	return cmd
}

func (c cli) createClient(ctx context.Context, args []string) error {
	cfg := DefaultConfig()
	var name, org, scopes string
	var global, asJSON, delegate bool
	var ttl time.Duration
	props := propertyFlags{}
	var keys keyFlags
	cmd := newCommand("clients create",
		`orgscope clients create --name NAME (--org org_x | --global) --scopes "read:users write:users" [--token-ttl 15m] [--property key=value …] [--delegate] [--jwks-file F | --jwks-uri URL] [--json] [--db …]`)
	cmd.fs.StringVar(&name, "name", "", "client name (required)")
	cmd.fs.StringVar(&org, "org", "", "bind the client to this organization")
	cmd.fs.BoolVar(&global, "global", false, "make a global (administration) client, bound to no organization")
	cmd.fs.StringVar(&scopes, "scopes", "", "space-separated scopes the client may be granted (required): "+strings.Join(auth.AllScopes, " "))
	cmd.fs.DurationVar(&ttl, "token-ttl", 0, fmt.Sprintf("lifetime of the client's access tokens, %s to %s (default %s); the server caps it at its own",
		fmtDuration(service.MinClientTokenTTL), fmtDuration(service.MaxClientTokenTTL), fmtDuration(service.DefaultClientTokenTTL)))
	cmd.fs.Var(props, "property", "an application property, key=value, carried in its tokens' application_properties claim (repeatable)")
	cmd.fs.BoolVar(&delegate, "delegate", false, "allow the client to act for people (token exchange)")
	keys.register(cmd)
	cmd.fs.BoolVar(&asJSON, "json", false, `print {"client_id":…,"client_secret":…} for scripts (no client_secret for a client with keys)`)
	storeFlags(cmd.fs, &cfg)
	if err := cmd.parse(args, c.stdout, c.getenv); err != nil {
		return err
	}
	if name == "" || scopes == "" || (org == "") == !global {
		return &usageError{err: errors.New("need --name, --scopes and exactly one of --org or --global"), hint: cmd.hint()}
	}
	in := service.CreateClientInput{Name: name, OrgCode: org, Global: global, Scopes: auth.ParseScopes(scopes), Delegate: delegate}
	if cmd.given("token-ttl") {
		in.TokenTTLSeconds = int64(ttl / time.Second)
		if ttl%time.Second != 0 || in.TokenTTLSeconds == 0 {
			return &usageError{err: fmt.Errorf("%s must be whole seconds of at least %s, got %s", flagRef("token-ttl"), service.MinClientTokenTTL, ttl), hint: cmd.hint()}
		}
	}
	if len(props) > 0 {
		in.Properties = props
	}
	var err error
	if in.JWKS, in.JWKSURI, err = keys.read(cmd); err != nil {
		return err
	}
	return c.withService(ctx, cfg, "clients create", func(svc *service.Service, caller service.Caller) error {
		out, err := svc.CreateClient(ctx, caller, in)
		var se *service.Error
		if errors.As(err, &se) && se.Kind == service.KindNotFound {
			return fmt.Errorf("organization %s does not exist (create it with: orgscope orgs create --code %s --name …)", org, org)
		}
		if err != nil {
			return err
		}
		cl, secret := out.Client, out.ClientSecret
		if secret == "" {
			return printKeyClient(c.stdout, cl, asJSON)
		}
		if asJSON {
			return json.NewEncoder(c.stdout).Encode(map[string]string{"client_id": cl.ClientID, "client_secret": secret})
		}
		fmt.Fprintf(c.stdout, "created client %q (%s), scopes: %s, tokens live %s\n  client_id:     %s\n  client_secret: %s\n"+
			"The secret is shown once and stored hashed; keep it now.\n",
			cl.Name, boundTo(cl), strings.Join(cl.Scopes, " "), tokenTTL(cl), cl.ClientID, secret)
		return nil
	})
}

func (c cli) listClients(ctx context.Context, args []string) error {
	cfg := DefaultConfig()
	var org string
	var global, asJSON bool
	cmd := newCommand("clients list", "orgscope clients list [--org org_x | --global] [--json] [--db …]")
	cmd.fs.StringVar(&org, "org", "", "only this organization's clients")
	cmd.fs.BoolVar(&global, "global", false, "only global clients (bound to no organization)")
	cmd.fs.BoolVar(&asJSON, "json", false, `print {"clients": […]} for scripts`)
	storeFlags(cmd.fs, &cfg)
	if err := cmd.parse(args, c.stdout, c.getenv); err != nil {
		return err
	}
	if org != "" && global {
		return &usageError{err: errors.New("give --org or --global, not both"), hint: cmd.hint()}
	}
	return c.withService(ctx, cfg, "clients list", func(svc *service.Service, caller service.Caller) error {
		in := service.ListClientsInput{OrgArg: service.OrgArg{OrgCode: org}, Global: global, Limit: 100}
		all := []service.ClientInfo{}
		for {
			page, err := svc.ListClients(ctx, caller, in)
			if err != nil {
				return err
			}
			all = append(all, page.Clients...)
			if in.Cursor = page.NextCursor; in.Cursor == "" {
				break
			}
		}
		if asJSON {
			return jsonOut(c.stdout, map[string]any{"clients": all})
		}
		if len(all) == 0 {
			fmt.Fprintln(c.stdout, "no machine clients")
			return nil
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CLIENT_ID\tNAME\tORG\tSTATUS\tSCOPES\tTOKENS\tAUTH\tSECRETS\tLAST USED")
		for _, cl := range all {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", cl.ClientID, cl.Name, orgOrGlobal(cl), status(cl),
				strings.Join(cl.Scopes, " "), tokenTTL(cl), cl.AuthMethod, cl.SecretCount, lastUsed(cl))
		}
		return tw.Flush()
	})
}

func (c cli) showClient(ctx context.Context, args []string) error {
	cfg := DefaultConfig()
	var asJSON bool
	cmd := clientCommand("clients show", "orgscope clients show CLIENT_ID [--json] [--db …]", &cfg, &asJSON)
	if err := cmd.parse(args, c.stdout, c.getenv); err != nil {
		return err
	}
	return c.withService(ctx, cfg, "clients show", func(svc *service.Service, caller service.Caller) error {
		cl, err := svc.GetClient(ctx, caller, service.ClientIDInput{ClientID: cmd.arg})
		if err != nil {
			return err
		}
		if asJSON {
			return jsonOut(c.stdout, cl)
		}
		printClient(c.stdout, cl)
		return nil
	})
}

func (c cli) rotateSecret(ctx context.Context, args []string) error {
	cfg := DefaultConfig()
	var asJSON bool
	var grace time.Duration
	cmd := clientCommand("clients rotate-secret", "orgscope clients rotate-secret CLIENT_ID [--grace 24h] [--json] [--db …]", &cfg, &asJSON)
	cmd.fs.DurationVar(&grace, "grace", 0, fmt.Sprintf("how long the client's current secrets keep working, up to %s (default 0: they stop at once)",
		fmtDuration(service.MaxSecretGrace)))
	cmd.about = "Gives the client a new secret, printed once. Its current secrets keep working until the grace period ends, " +
		"so its agents can switch; without --grace they stop at once (a leaked secret)."
	if err := cmd.parse(args, c.stdout, c.getenv); err != nil {
		return err
	}
	if grace < 0 || grace%time.Second != 0 {
		return &usageError{err: fmt.Errorf("%s must be whole seconds, 0 or more, got %s", flagRef("grace"), grace), hint: cmd.hint()}
	}
	return c.withService(ctx, cfg, "clients rotate-secret", func(svc *service.Service, caller service.Caller) error {
		out, err := svc.RotateClientSecret(ctx, caller, service.RotateSecretInput{ClientID: cmd.arg, GraceSeconds: int64(grace / time.Second)})
		if err != nil {
			return err
		}
		if asJSON {
			return jsonOut(c.stdout, out)
		}
		fmt.Fprintf(c.stdout, "new secret for client %s (%q)\n  client_secret: %s\nThe secret is shown once and stored hashed; keep it now.\n",
			out.Client.ClientID, out.Client.Name, out.ClientSecret)
		if grace > 0 {
			fmt.Fprintf(c.stdout, "The previous secret works until %s.\n", out.PreviousSecretsExpireAt.Format(time.RFC3339))
		} else {
			fmt.Fprintln(c.stdout, "The previous secret no longer works.")
		}
		return nil
	})
}

func (c cli) disableClient(ctx context.Context, args []string) error {
	cfg := DefaultConfig()
	var asJSON bool
	cmd := clientCommand("clients disable", "orgscope clients disable CLIENT_ID [--json] [--db …]", &cfg, &asJSON)
	cmd.about = "Disables the client at once: it gets no new token, and every running server refuses the tokens it holds from their next call."
	if err := cmd.parse(args, c.stdout, c.getenv); err != nil {
		return err
	}
	return c.withService(ctx, cfg, "clients disable", func(svc *service.Service, caller service.Caller) error {
		out, err := svc.DisableClient(ctx, caller, service.ClientIDInput{ClientID: cmd.arg})
		if err != nil {
			return err
		}
		if asJSON {
			return jsonOut(c.stdout, out)
		}
		fmt.Fprintf(c.stdout, "disabled client %s (%q); its tokens issued up to %s are refused\n",
			out.Client.ClientID, out.Client.Name, out.TokensCutOffAt.Format(time.RFC3339))
		return nil
	})
}

func (c cli) enableClient(ctx context.Context, args []string) error {
	cfg := DefaultConfig()
	var asJSON bool
	cmd := clientCommand("clients enable", "orgscope clients enable CLIENT_ID [--json] [--db …]", &cfg, &asJSON)
	cmd.about = "Lets a disabled client get tokens again. The tokens it held when it was disabled stay refused."
	if err := cmd.parse(args, c.stdout, c.getenv); err != nil {
		return err
	}
	return c.withService(ctx, cfg, "clients enable", func(svc *service.Service, caller service.Caller) error {
		cl, err := svc.EnableClient(ctx, caller, service.ClientIDInput{ClientID: cmd.arg})
		if err != nil {
			return err
		}
		if asJSON {
			return jsonOut(c.stdout, cl)
		}
		fmt.Fprintf(c.stdout, "enabled client %s (%q)\n", cl.ClientID, cl.Name)
		return nil
	})
}

func (c cli) deleteClient(ctx context.Context, args []string) error {
	cfg := DefaultConfig()
	var asJSON bool
	cmd := clientCommand("clients delete", "orgscope clients delete CLIENT_ID [--json] [--db …]", &cfg, &asJSON)
	cmd.about = "Deletes the client and its secrets; every running server refuses its tokens from their next call."
	if err := cmd.parse(args, c.stdout, c.getenv); err != nil {
		return err
	}
	return c.withService(ctx, cfg, "clients delete", func(svc *service.Service, caller service.Caller) error {
		out, err := svc.DeleteClient(ctx, caller, service.ClientIDInput{ClientID: cmd.arg})
		if err != nil {
			return err
		}
		if asJSON {
			return jsonOut(c.stdout, out)
		}
		fmt.Fprintf(c.stdout, "deleted client %s; its tokens are refused\n", out.ClientID)
		return nil
	})
}

func (c cli) updateClient(ctx context.Context, args []string) error {
	cfg := DefaultConfig()
	var asJSON, delegate bool
	var name, scopes string
	var ttl time.Duration
	props := propertyFlags{}
	var keys keyFlags
	cmd := clientCommand("clients update",
		`orgscope clients update CLIENT_ID [--scopes "…"] [--name N] [--token-ttl 15m] [--property key=value …] [--delegate=true|false] [--jwks-file F | --jwks-uri URL] [--json] [--db …]`,
		&cfg, &asJSON)
	cmd.fs.StringVar(&name, "name", "", "new name")
	cmd.fs.StringVar(&scopes, "scopes", "", "the scopes the client may be granted from now on (its next tokens carry only these)")
	cmd.fs.DurationVar(&ttl, "token-ttl", 0, fmt.Sprintf("lifetime of its access tokens, %s to %s; the server caps it at its own",
		fmtDuration(service.MinClientTokenTTL), fmtDuration(service.MaxClientTokenTTL)))
	cmd.fs.Var(props, "property", "set an application property, key=value; key= removes it (repeatable)")
	cmd.fs.BoolVar(&delegate, "delegate", false, "whether the client may act for people (token exchange)")
	keys.register(cmd)
	cmd.about = "Changes only what is given. Tokens the client holds keep what they were issued with until they expire. " +
		"--jwks-file or --jwks-uri replace the keys of a client that authenticates with assertions (private_key_jwt)."
	if err := cmd.parse(args, c.stdout, c.getenv); err != nil {
		return err
	}
	in := service.UpdateClientInput{ClientID: cmd.arg}
	if cmd.given("name") {
		in.Name = &name
	}
	if cmd.given("scopes") {
		in.Scopes = auth.ParseScopes(scopes)
		if len(in.Scopes) == 0 {
			return &usageError{err: fmt.Errorf("%s must name at least one scope", flagRef("scopes")), hint: cmd.hint()}
		}
	}
	if cmd.given("token-ttl") {
		if ttl%time.Second != 0 {
			return &usageError{err: fmt.Errorf("%s must be whole seconds, got %s", flagRef("token-ttl"), ttl), hint: cmd.hint()}
		}
		seconds := int64(ttl / time.Second)
		in.TokenTTLSeconds = &seconds
	}
	if len(props) > 0 {
		in.Properties = map[string]*string{}
		for k, v := range props {
			if v == "" {
				in.Properties[k] = nil
			} else {
				in.Properties[k] = &v
			}
		}
	}
	if cmd.given("delegate") {
		in.Delegate = &delegate
	}
	if keys.given() {
		jwks, uri, err := keys.read(cmd)
		if err != nil {
			return err
		}
		in.JWKS = jwks
		if uri != "" {
			in.JWKSURI = &uri
		}
	}
	if in.Name == nil && in.Scopes == nil && in.TokenTTLSeconds == nil && in.Properties == nil && in.Delegate == nil && !keys.given() {
		return &usageError{err: errors.New("nothing to change: give --name, --scopes, --token-ttl, --property, --delegate, --jwks-file or --jwks-uri"), hint: cmd.hint()}
	}
	return c.withService(ctx, cfg, "clients update", func(svc *service.Service, caller service.Caller) error {
		cl, err := svc.UpdateClient(ctx, caller, in)
		if err != nil {
			return err
		}
		if asJSON {
			return jsonOut(c.stdout, cl)
		}
		fmt.Fprintln(c.stdout, "updated client:")
		printClient(c.stdout, cl)
		return nil
	})
}

// printClient writes what show prints: every setting, one a line, and the
// working secrets' dates (never a secret).
func printClient(w io.Writer, cl service.ClientInfo) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	line := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	line("client_id", cl.ClientID)
	line("name", cl.Name)
	line("organization", orgOrGlobal(cl))
	line("status", status(cl))
	line("scopes", strings.Join(cl.Scopes, " "))
	line("auth method", cl.AuthMethod+", "+keysLine(cl))
	line("token lifetime", tokenTTL(cl))
	line("delegate", fmt.Sprint(cl.Delegate))
	line("created", cl.CreatedAt.Format(time.RFC3339))
	line("last used", lastUsed(cl))
	var props []string
	for k, v := range cl.Properties {
		props = append(props, k+"="+v)
	}
	sort.Strings(props)
	line("properties", strings.Join(props, " "))
	line("secrets", fmt.Sprint(cl.SecretCount))
	for i, s := range cl.Secrets {
		exp := "until rotated"
		if s.ExpiresAt != nil {
			exp = "until " + s.ExpiresAt.Format(time.RFC3339)
		}
		line(fmt.Sprintf("  secret %d", i+1), "created "+s.CreatedAt.Format(time.RFC3339)+", works "+exp)
	}
	tw.Flush()
}

func orgOrGlobal(cl service.ClientInfo) string {
	if cl.Global {
		return "(global)"
	}
	return cl.OrgCode
}

func boundTo(cl service.ClientInfo) string {
	if cl.Global {
		return "global"
	}
	return "bound to " + cl.OrgCode
}

func status(cl service.ClientInfo) string {
	if cl.Disabled {
		return "disabled since " + cl.DisabledAt.Format(time.RFC3339)
	}
	return "enabled"
}

func tokenTTL(cl service.ClientInfo) string {
	if cl.TokenTTLSeconds == 0 {
		return "the server's lifetime"
	}
	return fmtDuration(time.Duration(cl.TokenTTLSeconds) * time.Second)
}

func lastUsed(cl service.ClientInfo) string {
	if cl.LastUsedAt == nil {
		return "never"
	}
	return cl.LastUsedAt.Format(time.RFC3339)
}
