package app

import (
	"encoding/json"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orgscope/orgscope/internal/credential"
	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/sqlite"
)

// clientsCLI runs the clients commands against one SQLite database.
type clientsCLI struct {
	t  *testing.T
	db string
}

func newClientsCLI(t *testing.T) *clientsCLI {
	c := &clientsCLI{t: t, db: filepath.Join(t.TempDir(), "clients.db")}
	for _, code := range []string{"org_acme", "org_beta"} {
		c.ok("orgs", "create", "--code", code, "--name", code)
	}
	return c
}

// run runs a command with --db and returns its exit code and output.
func (c *clientsCLI) run(args ...string) (int, string, string) {
	c.t.Helper()
	return run(c.t, nil, append(args, "--db", c.db)...)
}

// ok requires exit 0 and returns stdout.
func (c *clientsCLI) ok(args ...string) string {
	c.t.Helper()
	code, out, errOut := c.run(args...)
	if code != 0 {
		c.t.Fatalf("%v: exit %d: %s", args, code, errOut)
	}
	return out
}

// fails requires exit code and stderr holding want.
func (c *clientsCLI) fails(code int, want string, args ...string) {
	c.t.Helper()
	got, out, errOut := c.run(args...)
	if got != code || !strings.Contains(errOut, want) || out != "" {
		c.t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d and %q", args, got, out, errOut, code, want)
	}
}

// jsonOf decodes a command's --json output into a generic value, keeping
// the shape.
func jsonOf(t *testing.T, out string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("not a JSON object: %q", out)
	}
	return v
}

// create makes a client and returns its id and secret.
func (c *clientsCLI) create(args ...string) (string, string) {
	c.t.Helper()
	v := jsonOf(c.t, c.ok(append([]string{"clients", "create", "--json"}, args...)...))
	if len(v) != 2 || v["client_id"] == "" || v["client_secret"] == "" {
		c.t.Fatalf("clients create --json printed %v, want exactly client_id and client_secret", v)
	}
	return v["client_id"].(string), v["client_secret"].(string)
}

func (c *clientsCLI) store() store.Store {
	c.t.Helper()
	st, err := sqlite.Open(c.t.Context(), c.db, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { st.Close() })
	return st
}

// clientKeys are the members of a client as list and show print it in JSON.
var clientKeys = []string{"client_id", "name", "org_code", "global", "scopes", "token_endpoint_auth_method", "secrets", "secret_count",
	"disabled", "token_ttl_seconds", "properties", "delegate", "created_at"}

func checkClientJSON(t *testing.T, what string, v map[string]any) {
	t.Helper()
	for _, k := range clientKeys {
		if _, ok := v[k]; !ok && k != "org_code" && k != "properties" {
			t.Errorf("%s: no %q in %v", what, k, v)
		}
	}
	for k := range v {
		if !slices.Contains(clientKeys, k) && k != "last_used_at" && k != "disabled_at" && k != "jwks_uri" && k != "key_ids" {
			t.Errorf("%s: unexpected member %q", what, k)
		}
	}
}

// TestClientsCommands: every clients command, in text and in JSON, on one
// database; list and show never print a secret or its hash.
func TestClientsCommands(t *testing.T) {
	c := newClientsCLI(t)
	ctx := t.Context()
	id, secret := c.create("--name", "Acme reporter", "--org", "org_acme", "--scopes", "read:users read:flags",
		"--property", "tier=gold", "--property", "region=eu")
	globalID, globalSecret := c.create("--name", "Admin", "--global", "--scopes", "read:orgs", "--token-ttl", "5m", "--delegate")
	betaID, _ := c.create("--name", "Beta", "--org", "org_beta", "--scopes", "read:users")
	st := c.store()
	hashes := func(id string) []string {
		cl, err := st.GetClient(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return cl.SecretHashes()
	}
	noSecret := func(what, out string) {
		t.Helper()
		for _, s := range append([]string{secret, globalSecret}, append(hashes(id), hashes(globalID)...)...) {
			if strings.Contains(out, s) {
				t.Errorf("%s printed a secret or a secret's hash:\n%s", what, out)
			}
		}
	}

	t.Run("create", func(t *testing.T) {
		cl, err := st.GetClient(ctx, id)
		if err != nil || cl.OrgCode != "org_acme" || cl.TokenTTL != 15*time.Minute || !maps.Equal(cl.Properties, map[string]string{"tier": "gold", "region": "eu"}) ||
			cl.Delegate || !credential.SecretMatchesAny(secret, cl.SecretHashes()) {
			t.Errorf("created %+v (%v)", cl, err)
		}
		g, err := st.GetClient(ctx, globalID)
		if err != nil || g.OrgCode != "" || g.TokenTTL != 5*time.Minute || !g.Delegate {
			t.Errorf("created %+v (%v)", g, err)
		}
		out := c.ok("clients", "create", "--name", "Text", "--org", "org_acme", "--scopes", "read:orgs")
		if !strings.Contains(out, "client_secret: ") || !strings.Contains(out, "bound to org_acme") || !strings.Contains(out, "tokens live 15m") {
			t.Errorf("clients create printed:\n%s", out)
		}
		c.fails(2, "--token-ttl (ORGSCOPE_TOKEN_TTL) must be a duration", "clients", "create", "--name", "x", "--org", "org_acme", "--scopes", "read:orgs", "--token-ttl", "soon")
		c.fails(1, "token_ttl_seconds must be between 60", "clients", "create", "--name", "x", "--org", "org_acme", "--scopes", "read:orgs", "--token-ttl", "10s")
		c.fails(2, "--property (ORGSCOPE_PROPERTY) must be", "clients", "create", "--name", "x", "--org", "org_acme", "--scopes", "read:orgs", "--property", "novalue")
	})

	t.Run("list", func(t *testing.T) {
		out := c.ok("clients", "list", "--json")
		noSecret("clients list --json", out)
		v := jsonOf(t, out)
		if len(v) != 1 {
			t.Errorf("clients list --json has members %v, want only clients", slices.Collect(maps.Keys(v)))
		}
		list, _ := v["clients"].([]any)
		if len(list) != 4 {
			t.Fatalf("clients list --json: %d clients, want 4", len(list))
		}
		for _, e := range list {
			checkClientJSON(t, "clients list --json", e.(map[string]any))
		}
		ids := func(out string) []string {
			var got []string
			for _, e := range jsonOf(t, out)["clients"].([]any) {
				got = append(got, e.(map[string]any)["client_id"].(string))
			}
			return got
		}
		if got := ids(c.ok("clients", "list", "--org", "org_beta", "--json")); !slices.Equal(got, []string{betaID}) {
			t.Errorf("--org org_beta lists %v", got)
		}
		if got := ids(c.ok("clients", "list", "--global", "--json")); !slices.Equal(got, []string{globalID}) {
			t.Errorf("--global lists %v", got)
		}
		text := c.ok("clients", "list")
		noSecret("clients list", text)
		for _, want := range []string{"CLIENT_ID", id, "Acme reporter", "org_acme", "(global)", "enabled", "read:users read:flags", "15m", "5m", "never"} {
			if !strings.Contains(text, want) {
				t.Errorf("clients list has no %q:\n%s", want, text)
			}
		}
		c.fails(2, "not both", "clients", "list", "--org", "org_acme", "--global")
		c.fails(1, `organization "org_nope" not found`, "clients", "list", "--org", "org_nope")
	})

	t.Run("show", func(t *testing.T) {
		out := c.ok("clients", "show", id, "--json")
		noSecret("clients show --json", out)
		v := jsonOf(t, out)
		checkClientJSON(t, "clients show --json", v)
		if v["client_id"] != id || v["org_code"] != "org_acme" || v["secret_count"] != float64(1) || v["token_ttl_seconds"] != float64(900) ||
			v["delegate"] != false || v["disabled"] != false || v["global"] != false {
			t.Errorf("clients show --json: %v", v)
		}
		// The id may come after the flags, too.
		if again := c.ok("clients", "show", "--json", id); again != out {
			t.Errorf("show with the id last printed %s, want %s", again, out)
		}
		text := c.ok("clients", "show", globalID)
		noSecret("clients show", text)
		for _, want := range []string{"client_id:", globalID, "(global)", "read:orgs", "5m", "delegate:", "true", "secrets:", "works until rotated", "last used:"} {
			if !strings.Contains(text, want) {
				t.Errorf("clients show has no %q:\n%s", want, text)
			}
		}
		c.fails(2, "need CLIENT_ID", "clients", "show")
		c.fails(2, `unexpected argument "extra"`, "clients", "show", id, "extra")
		c.fails(1, `client "0123456789abcdef0123456789abcdef" not found`, "clients", "show", "0123456789abcdef0123456789abcdef")
	})

	t.Run("rotate-secret", func(t *testing.T) {
		before := time.Now()
		v := jsonOf(t, c.ok("clients", "rotate-secret", id, "--grace", "24h", "--json"))
		newSecret, _ := v["client_secret"].(string)
		exp, err := time.Parse(time.RFC3339Nano, v["previous_secrets_expire_at"].(string))
		if err != nil || exp.Before(before.Add(24*time.Hour)) || exp.After(time.Now().Add(24*time.Hour)) || len(v) != 3 {
			t.Errorf("rotate-secret --json: %v", v)
		}
		client := v["client"].(map[string]any)
		checkClientJSON(t, "rotate-secret --json", client)
		if client["secret_count"] != float64(2) {
			t.Errorf("after a rotation with grace: %v", client)
		}
		if h := hashes(id); !credential.SecretMatchesAny(newSecret, h) || !credential.SecretMatchesAny(secret, h) {
			t.Error("after a rotation with grace both secrets should work")
		}
		show := c.ok("clients", "show", id)
		if !strings.Contains(show, "works until "+exp.UTC().Truncate(time.Second).Format(time.RFC3339)[:16]) {
			t.Errorf("show does not give the old secret's end:\n%s", show)
		}
		text := c.ok("clients", "rotate-secret", id)
		if !strings.Contains(text, "client_secret: ") || !strings.Contains(text, "The previous secret no longer works.") {
			t.Errorf("rotate-secret printed:\n%s", text)
		}
		if h := hashes(id); len(h) != 1 || credential.SecretMatchesAny(newSecret, h) || credential.SecretMatchesAny(secret, h) {
			t.Error("after a rotation without grace only the newest secret should work")
		}
		c.fails(2, "--grace (ORGSCOPE_GRACE) must be whole seconds", "clients", "rotate-secret", id, "--grace", "-1h")
		c.fails(1, "grace_seconds must be between 0 and", "clients", "rotate-secret", id, "--grace", "800h")
	})

	t.Run("update", func(t *testing.T) {
		v := jsonOf(t, c.ok("clients", "update", id, "--scopes", "read:users", "--name", "Renamed", "--token-ttl", "2m",
			"--property", "tier=", "--property", "plan=pro", "--json"))
		checkClientJSON(t, "update --json", v)
		props, _ := v["properties"].(map[string]any)
		if v["name"] != "Renamed" || v["token_ttl_seconds"] != float64(120) || len(props) != 2 || props["plan"] != "pro" || props["region"] != "eu" ||
			len(v["scopes"].([]any)) != 1 {
			t.Errorf("update --json: %v", v)
		}
		text := c.ok("clients", "update", id, "--delegate=true")
		if !strings.Contains(text, "updated client:") || !strings.Contains(text, "delegate:") {
			t.Errorf("update printed:\n%s", text)
		}
		if cl, _ := st.GetClient(ctx, id); !cl.Delegate || cl.Name != "Renamed" {
			t.Errorf("after update: %+v", cl)
		}
		c.fails(2, "nothing to change", "clients", "update", id)
		c.fails(1, `unknown scope "admin"`, "clients", "update", id, "--scopes", "admin")
	})

	t.Run("disable, enable, delete", func(t *testing.T) {
		v := jsonOf(t, c.ok("clients", "disable", betaID, "--json"))
		checkClientJSON(t, "disable --json", v["client"].(map[string]any))
		if v["client"].(map[string]any)["disabled"] != true || v["tokens_cut_off_at"] == nil || len(v) != 2 {
			t.Errorf("disable --json: %v", v)
		}
		if cut, err := st.GetClientCutoff(ctx, betaID); err != nil || cut.ExpiresAt.Before(time.Now().Add(23*time.Hour)) {
			t.Errorf("cutoff after disable: %+v (%v)", cut, err)
		}
		if text := c.ok("clients", "list", "--org", "org_beta"); !strings.Contains(text, "disabled since") {
			t.Errorf("list does not show the client disabled:\n%s", text)
		}
		v = jsonOf(t, c.ok("clients", "enable", betaID, "--json"))
		checkClientJSON(t, "enable --json", v)
		if v["disabled"] != false {
			t.Errorf("enable --json: %v", v)
		}
		if text := c.ok("clients", "disable", betaID); !strings.Contains(text, "disabled client "+betaID) {
			t.Errorf("disable printed %q", text)
		}
		if text := c.ok("clients", "enable", betaID); !strings.Contains(text, "enabled client "+betaID) {
			t.Errorf("enable printed %q", text)
		}
		v = jsonOf(t, c.ok("clients", "delete", betaID, "--json"))
		if v["deleted"] != true || v["client_id"] != betaID || v["org_code"] != "org_beta" || len(v) != 3 {
			t.Errorf("delete --json: %v", v)
		}
		if _, err := st.GetClient(ctx, betaID); err == nil {
			t.Error("the client is still there")
		}
		if text := c.ok("clients", "delete", globalID); !strings.Contains(text, "deleted client "+globalID) {
			t.Errorf("delete printed %q", text)
		}
		c.fails(1, "not found", "clients", "delete", betaID)
		c.fails(1, "not found", "clients", "enable", betaID)
	})

	t.Run("audited", func(t *testing.T) {
		events, _, err := st.ListAuditEvents(ctx, "org_beta", store.AuditFilter{}, store.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range events {
			if e.Target == betaID && e.Decision == "allow" {
				actions = append(actions, e.Action)
			}
		}
		want := []string{"cli:clients delete", "cli:clients enable", "cli:clients disable", "cli:clients enable", "cli:clients disable", "cli:clients create"}
		if !slices.Equal(actions, want) {
			t.Errorf("beta's client's events %v, want %v", actions, want)
		}
	})
}

func TestClientsHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"clients", "-h"}, []string{"list|show|rotate-secret|disable|enable|delete|update"}},
		{[]string{"clients", "rotate-secret", "-h"}, []string{"CLIENT_ID", "--grace  [ORGSCOPE_GRACE]", "--json", "stop at once"}},
		{[]string{"clients", "update", "-h"}, []string{"--scopes", "--token-ttl", "--property", "--delegate", "--name"}},
		{[]string{"clients", "create", "-h"}, []string{"--token-ttl", "--property", "--delegate"}},
		{[]string{"-h"}, []string{"clients list|show|rotate-secret|disable|enable|delete|update"}},
	} {
		code, out, errOut := run(t, nil, tc.args...)
		if code != 0 || errOut != "" {
			t.Errorf("%v: exit %d, stderr %q", tc.args, code, errOut)
		}
		for _, want := range tc.want {
			if !strings.Contains(out, want) {
				t.Errorf("%v: no %q in:\n%s", tc.args, want, out)
			}
		}
	}
}
