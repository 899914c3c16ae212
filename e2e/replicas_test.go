package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/orgscope/orgscope/cmd/orgscope/app"
	"github.com/orgscope/orgscope/internal/testdeps"
	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/postgres"
	"github.com/orgscope/orgscope/store/postgres/pgtest"
)

// cluster is several OrgScope replicas on one PostgreSQL schema behind a
// round-robin load balancer, the way the README says to run them.
type cluster struct {
	replicas []*testServer // all with the load balancer's URL as public URL
	dbURL    string
	schema   string
}

// startCluster starts n replicas at the same instant (all Run calls are
// released together), with dbURL and a fresh schema, behind a load
// balancer whose URL is every replica's public URL. edit, if any, changes
// every replica's configuration (rate limits are off unless it sets them).
func startCluster(t *testing.T, n int, dbURL string, edit ...func(*app.Config)) *cluster {
	t.Helper()
	c := &cluster{dbURL: dbURL, schema: pgtest.Schema(t)}
	lbLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	public := "http://" + lbLn.Addr().String()

	start := make(chan struct{})
	var backends []*url.URL
	var outs []*syncBuffer
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		out := &syncBuffer{}
		cfg := app.DefaultConfig()
		cfg.Listener, cfg.PublicURL, cfg.Stdout = ln, public, out
		cfg.DatabaseURL, cfg.DatabaseSchema = dbURL, c.schema
		cfg.PasswordCost = bcrypt.MinCost
		cfg.RateLimits = nil
		cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelError}))
		for _, e := range edit {
			e(&cfg)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			<-start
			done <- app.Run(ctx, cfg)
		}()
		t.Cleanup(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				t.Error("replica did not stop")
			}
		})
		u, _ := url.Parse("http://" + ln.Addr().String())
		backends = append(backends, u)
		outs = append(outs, out)
		lns = append(lns, ln)
		c.replicas = append(c.replicas, &testServer{URL: public, Resource: public + "/mcp", Stdout: out})
	}
	close(start) // every replica opens the database and makes its key at once

	for i, ln := range lns {
		waitHealthy(t, "http://"+ln.Addr().String(), nil)
		// Each replica is also reachable directly, with the same public
		// URL (and so the same issuer and resource) as the others.
		c.replicas[i].direct = "http://" + ln.Addr().String()
	}
	var next atomic.Uint64
	lb := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(backends[next.Add(1)%uint64(len(backends))])
		r.Out.Host = r.In.Host // replicas check Host against the public URL
	}}
	srv := &http.Server{Handler: lb}
	go srv.Serve(lbLn)
	t.Cleanup(func() { srv.Close() })

	// Exactly one replica seeded the demo and printed its credentials.
	printed := 0
	for _, out := range outs {
		if creds := parseCredentials(out.String()); len(creds) > 0 {
			printed++
			for _, r := range c.replicas {
				r.Clients, r.Users = creds, parseUsers(out.String())
			}
		}
	}
	if printed != 1 {
		t.Fatalf("%d replicas printed demo credentials, want exactly 1", printed)
	}
	return c
}

// via returns a copy of the test server that talks to replica i directly.
func (c *cluster) via(i int) *testServer {
	r := *c.replicas[i]
	r.Audience = r.Resource
	r.URL, r.Resource = r.direct, r.direct+"/mcp"
	return &r
}

func (c *cluster) openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := postgres.Open(t.Context(), c.dbURL, &postgres.Options{Schema: c.schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestReplicas: any replica serves any request because all shared state is
// in PostgreSQL.
func TestReplicas(t *testing.T) {
	c := startCluster(t, 2, testdeps.RequirePostgres(t))
	a, b := c.via(0), c.via(1)
	st := c.openStore(t)

	t.Run("replicas started together share one signing key", func(t *testing.T) {
		keys, err := st.SigningKeys(t.Context())
		if err != nil || len(keys) != 1 {
			t.Fatalf("%d keys: %v", len(keys), err)
		}
		ja, jb := getJSON[map[string]any](t, a.URL+"/oauth2/jwks"), getJSON[map[string]any](t, b.URL+"/oauth2/jwks")
		if fmt.Sprint(ja) != fmt.Sprint(jb) {
			t.Errorf("JWKS differ:\n%v\n%v", ja, jb)
		}
	})

	t.Run("a token minted by A is accepted by B", func(t *testing.T) {
		tok := a.token(t, a.Clients["org_acme"])
		if who := b.tool(t, tok, "whoami", nil); !strings.Contains(who.text(), `"org_code":"org_acme"`) {
			t.Errorf("B: %s", who.text())
		}
	})

	t.Run("a client created through A is usable through B", func(t *testing.T) {
		var out strings.Builder
		code := app.Main(t.Context(), []string{"clients", "create", "--database-url", c.dbURL, "--database-schema", c.schema,
			"--name", "replica client", "--org", "org_beta", "--scopes", "read:users", "--json"}, &out, io.Discard)
		if code != 0 {
			t.Fatalf("clients create: exit %d", code)
		}
		var created map[string]string
		if err := json.Unmarshal([]byte(out.String()), &created); err != nil {
			t.Fatalf("clients create --json printed %q", out.String())
		}
		cred := credentials{ID: created["client_id"], Secret: created["client_secret"]}
		if who := b.tool(t, a.token(t, cred), "whoami", nil); !strings.Contains(who.text(), created["client_id"]) {
			t.Errorf("%s", who.text())
		}
		// And a client registered (RFC 7591) through A signs a user in through B.
		client := publicClient(t, a, redirect)
		f := newFlow(t, b, client)
		q := f.code(a.Users["barbara@beta.example"])
		f.s = a
		if status, tok := f.exchange(q.Get("code"), nil); status != 200 {
			t.Errorf("code from B redeemed at A: %d %v", status, tok)
		}
	})

	t.Run("a user created through A is listed through B", func(t *testing.T) {
		created := a.tool(t, a.token(t, a.Clients["org_gamma"]), "create_user", map[string]any{"email": "replicated@gamma.example"})
		if created.Result.IsError {
			t.Fatal(created.text())
		}
		list := b.tool(t, b.token(t, b.Clients["org_gamma"]), "list_users", map[string]any{"email_prefix": "replicated@"})
		if !strings.Contains(list.text(), "replicated@gamma.example") {
			t.Errorf("B does not list it: %s", list.text())
		}
	})

	t.Run("a 2025-11-25 client may land on another replica", func(t *testing.T) {
		tok := a.token(t, a.Clients["org_acme"])
		init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`
		req, _ := http.NewRequest(http.MethodPost, a.Resource, strings.NewReader(init))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Mcp-Session-Id") != "" {
			t.Fatalf("initialize on A: %d session %q", resp.StatusCode, resp.Header.Get("Mcp-Session-Id"))
		}
		resp2, body := b.callTool(t, tok, "whoami", nil, "Mcp-Protocol-Version", "2025-11-25")
		if resp2.StatusCode != 200 || !strings.Contains(string(body), "org_acme") {
			t.Errorf("the next call on B: %d %s", resp2.StatusCode, body)
		}
	})

	t.Run("through the load balancer", func(t *testing.T) {
		lb := c.replicas[0]
		tok := lb.token(t, lb.Clients["global"])
		for range 4 { // alternates between the replicas
			if r := lb.tool(t, tok, "list_organizations", nil); !strings.Contains(r.text(), "org_acme") {
				t.Fatalf("%s", r.text())
			}
		}
	})
}

// TestReplicasConcurrentWrites: many writers through both replicas, each
// email tried once through each: every email exists exactly once, and
// every write that was answered success is there.
func TestReplicasConcurrentWrites(t *testing.T) {
	c := startCluster(t, 2, testdeps.RequirePostgres(t))
	st := c.openStore(t)
	tokens := []string{c.via(0).token(t, c.replicas[0].Clients["org_beta"]), c.via(1).token(t, c.replicas[0].Clients["org_beta"])}
	before := len(allUsers(t, st, "org_beta"))

	const emails = 60
	var created, conflicts atomic.Int64
	var wg sync.WaitGroup
	for i := range emails {
		for r := range 2 {
			wg.Go(func() {
				res := c.via(r).tool(t, tokens[r], "create_user", map[string]any{"email": fmt.Sprintf("writer-%d@beta.example", i)})
				switch {
				case !res.Result.IsError:
					created.Add(1)
				case strings.Contains(res.text(), "already exists"):
					conflicts.Add(1)
				default:
					t.Errorf("create_user: %s", res.text())
				}
			})
		}
	}
	wg.Wait()
	users := allUsers(t, st, "org_beta")
	seen := map[string]int{}
	for _, u := range users {
		seen[strings.ToLower(u.Email)]++
	}
	for email, n := range seen {
		if n != 1 {
			t.Errorf("%s exists %d times", email, n)
		}
	}
	if created.Load() != emails || conflicts.Load() != emails || len(users) != before+emails {
		t.Errorf("created %d, conflicts %d, users %d (before %d); want %d, %d, %d",
			created.Load(), conflicts.Load(), len(users), before, emails, emails, before+emails)
	}
}

func allUsers(t *testing.T, st store.Store, org string) []store.User {
	t.Helper()
	var out []store.User
	for page := (store.Page{Limit: 100}); ; {
		users, next, err := st.ListUsers(t.Context(), org, store.UserFilter{}, page)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, users...)
		if next == "" {
			return out
		}
		page.Cursor = next
	}
}

// TestDatabaseOutage: PostgreSQL becomes unreachable mid-run (a proxy in
// front of it stops and drops every connection). Calls that need it get 503
// with Retry-After, readiness goes down, nothing crashes, and once the
// database is back the replicas recover by themselves with no data lost.
func TestDatabaseOutage(t *testing.T) {
	real, err := url.Parse(testdeps.RequirePostgres(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := pgtest.NewProxy(t, real.Host)
	viaProxy := *real
	viaProxy.Host = proxy.Addr()
	c := startCluster(t, 2, viaProxy.String())
	a := c.via(0)
	token := a.token(t, a.Clients["org_acme"])
	if r := a.tool(t, token, "create_user", map[string]any{"email": "before.outage@acme.example"}); r.Result.IsError {
		t.Fatal(r.text())
	}

	// Writers keep going through both replicas while the database goes away
	// and comes back; every success must survive.
	var mu sync.Mutex
	var succeeded []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var unavailable atomic.Int64
	for r := range 2 {
		wg.Go(func() {
			s := c.via(r)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				email := fmt.Sprintf("during-%d-%d@acme.example", r, i)
				resp, body := s.callTool(t, token, "create_user", map[string]any{"email": email})
				switch resp.StatusCode {
				case http.StatusOK:
					if !strings.Contains(string(body), `"isError":true`) {
						mu.Lock()
						succeeded = append(succeeded, email)
						mu.Unlock()
					}
				case http.StatusServiceUnavailable:
					unavailable.Add(1)
					if resp.Header.Get("Retry-After") == "" {
						t.Errorf("503 without Retry-After")
					}
				default:
					t.Errorf("during the outage: HTTP %d %s", resp.StatusCode, body)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}

	time.Sleep(200 * time.Millisecond)
	proxy.Cut()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && unavailable.Load() < 4 {
		time.Sleep(50 * time.Millisecond)
	}
	if unavailable.Load() == 0 {
		t.Fatal("no request saw the outage")
	}
	resp, body := a.callTool(t, token, "list_users", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("list_users during the outage: %d %s", resp.StatusCode, body)
	}
	if r, _ := http.Get(a.URL + "/readyz"); r == nil || r.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readyz during the outage: %v", r)
	}
	if r, _ := http.Get(a.URL + "/healthz"); r == nil || r.StatusCode != http.StatusOK {
		t.Errorf("healthz during the outage: %v", r)
	}
	status, tokBody := formPost(t, a.URL+"/oauth2/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {a.Clients["org_acme"].ID}, "client_secret": {a.Clients["org_acme"].Secret}})
	if status != http.StatusServiceUnavailable || tokBody["error"] != "temporarily_unavailable" {
		t.Errorf("token endpoint during the outage: %d %v", status, tokBody)
	}

	proxy.Restore()
	recovered := false
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		r0, _ := a.callTool(t, token, "list_users", nil)
		r1, _ := c.via(1).callTool(t, token, "list_users", nil)
		if r0.StatusCode == 200 && r1.StatusCode == 200 {
			recovered = true
			break
		}
	}
	close(stop)
	wg.Wait()
	if !recovered {
		t.Fatal("the replicas did not recover after the database came back")
	}

	st := c.openStore(t)
	have := map[string]bool{}
	for _, u := range allUsers(t, st, "org_acme") {
		have[u.Email] = true
	}
	if !have["before.outage@acme.example"] {
		t.Error("a user written before the outage is gone")
	}
	for _, e := range succeeded {
		if !have[e] {
			t.Errorf("%s was answered success but is not stored", e)
		}
	}
	t.Logf("%d writes succeeded, %d got 503", len(succeeded), unavailable.Load())
}
