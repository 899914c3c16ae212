package e2e

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/orgscope/orgscope/authserver"
	"github.com/orgscope/orgscope/cmd/orgscope/app"
	"github.com/orgscope/orgscope/internal/tokentest"
	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/sqlite"
)

// syncBuffer collects the server's stdout.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type credentials struct{ ID, Secret string }

// testServer is one running OrgScope.
type testServer struct {
	URL      string // public base URL
	Resource string // URL + /mcp
	DBPath   string
	Stdout   *syncBuffer
	// Clients are the demo machine clients printed at first start, by org
	// code ("global" for the admin client).
	Clients map[string]credentials
	// Users are the demo people printed at first start, by email.
	Users map[string]demoUser
	// direct is a replica's own address, when the public URL is a load
	// balancer's (see cluster); Audience is then the public resource, which
	// tokens are for, while Resource is where requests go.
	direct   string
	Audience string

	stop func()
}

// serverOptions tweak a test server.
type serverOptions struct {
	dbPath string // reuse a database (restart tests)
	addr   string // listen here instead of a fresh port
	config func(*app.Config)
	// rsaKeys makes the server sign with RS256 keys, which the forger
	// needs (the default is EdDSA).
	rsaKeys bool
}

// startServer runs app.Run on loopback, waits until it is healthy, and stops
// it when the test ends.
func startServer(t *testing.T, o serverOptions) *testServer {
	t.Helper()
	if o.dbPath == "" {
		o.dbPath = filepath.Join(t.TempDir(), "orgscope.db")
	}
	if o.addr == "" {
		o.addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	cfg := app.DefaultConfig()
	cfg.Listener = ln
	cfg.DBPath = o.dbPath
	cfg.Stdout = out
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg.PasswordCost = bcrypt.MinCost // the demo passwords; production keeps the default
	cfg.RateLimits = nil              // tests call faster than any agent; TestRateLimits checks them
	if o.rsaKeys {
		cfg.SigningAlgorithm = authserver.RS256
	}
	if o.config != nil {
		o.config(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, cfg) }()

	s := &testServer{URL: "http://" + ln.Addr().String(), DBPath: o.dbPath, Stdout: out}
	if cfg.PublicURL != "" {
		s.URL = cfg.PublicURL
	}
	s.Resource = s.URL + "/mcp"
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Error("server did not shut down within 15s")
			}
		})
	}
	t.Cleanup(s.stop)
	waitHealthy(t, "http://"+ln.Addr().String(), done)
	s.Clients = parseCredentials(out.String())
	s.Users = parseUsers(out.String())
	return s
}

// demoUser is a person printed at first start.
type demoUser struct{ Email, Org, Role, Password string }

var userLine = regexp.MustCompile(`(\S+@\S+)\s+(org_\w+)\s+(admin|member)\s+password=(\S+)`)

func parseUsers(banner string) map[string]demoUser {
	out := map[string]demoUser{}
	for _, m := range userLine.FindAllStringSubmatch(banner, -1) {
		out[m[1]] = demoUser{Email: m[1], Org: m[2], Role: m[3], Password: m[4]}
	}
	return out
}

func waitHealthy(t *testing.T, base string, done <-chan error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if done != nil {
			select {
			case err := <-done:
				t.Fatalf("server exited: %v", err)
			default:
			}
		}
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("server not healthy after 20s")
}

var credentialLine = regexp.MustCompile(`(org_\w+|\(global\))\s+client_id=(\S+)\s+client_secret=(\S+)`)

// parseCredentials reads the demo clients from the first-start banner.
func parseCredentials(banner string) map[string]credentials {
	out := map[string]credentials{}
	for _, m := range credentialLine.FindAllStringSubmatch(banner, -1) {
		key := m[1]
		if key == "(global)" {
			key = "global"
		}
		out[key] = credentials{ID: m[2], Secret: m[3]}
	}
	return out
}

// token gets an access token with client_credentials, as an agent would.
func (s *testServer) token(t *testing.T, c credentials, scopes ...string) string {
	t.Helper()
	cfg := clientcredentials.Config{
		ClientID:       c.ID,
		ClientSecret:   c.Secret,
		TokenURL:       s.URL + "/oauth2/token",
		Scopes:         scopes,
		EndpointParams: map[string][]string{"resource": {s.audience()}},
	}
	tok, err := cfg.Token(t.Context())
	if err != nil {
		t.Fatalf("token for %s: %v", c.ID, err)
	}
	return tok.AccessToken
}

// audience is the resource tokens must be for.
func (s *testServer) audience() string {
	if s.Audience != "" {
		return s.Audience
	}
	return s.Resource
}

// rpcResult is a JSON-RPC response to tools/call.
type rpcResult struct {
	Result *struct {
		IsError           bool            `json:"isError"`
		StructuredContent json.RawMessage `json:"structuredContent"`
		Content           []struct {
			Text string `json:"text"`
		} `json:"content"`
	} `json:"result"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// text returns the first text content of a tool result.
func (r rpcResult) text() string {
	if r.Result == nil || len(r.Result.Content) == 0 {
		return ""
	}
	return r.Result.Content[0].Text
}

// callTool posts a bare tools/call, as curl would, and returns the HTTP
// response (body read into the second value).
func (s *testServer) callTool(t *testing.T, token, tool string, args any, headers ...string) (*http.Response, []byte) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"jsonrpc": "2.0", "id": 1, "method": "tools/call",
		"params": map[string]any{"name": tool, "arguments": args},
	})
	req, _ := http.NewRequest(http.MethodPost, s.Resource, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// tool calls a tool and decodes a successful JSON-RPC answer.
func (s *testServer) tool(t *testing.T, token, tool string, args any) rpcResult {
	t.Helper()
	resp, body := s.callTool(t, token, tool, args)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: HTTP %d: %s", tool, resp.StatusCode, body)
	}
	var r rpcResult
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("%s: %v: %s", tool, err, body)
	}
	if r.Error != nil {
		t.Fatalf("%s: JSON-RPC error %d %s", tool, r.Error.Code, r.Error.Message)
	}
	return r
}

// openStore opens the server's database beside it (SQLite in WAL mode
// allows it), for forging tokens with the real key and for snapshots.
func (s *testServer) openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), s.DBPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// forger signs arbitrary tokens with the server's own signing key, so each
// refusal test breaks exactly one rule.
func (s *testServer) forger(t *testing.T) *tokentest.Issuer {
	t.Helper()
	keys, err := s.openStore(t).SigningKeys(t.Context())
	if err != nil || len(keys) == 0 {
		t.Fatalf("signing keys: %v", err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(keys[0].PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	key, ok := priv.(*rsa.PrivateKey)
	if !ok {
		t.Fatalf("the forger needs an RS256 server (serverOptions.rsaKeys); this one signs with %T", priv)
	}
	return &tokentest.Issuer{URL: s.URL, Key: key, KID: keys[0].ID}
}

// snapshot renders every org, user, flag and override in the database, to
// compare before and after a refused request.
func snapshot(t *testing.T, st store.Store) string {
	t.Helper()
	ctx := t.Context()
	var b strings.Builder
	var orgs []store.Org
	for page := (store.Page{Limit: 100}); ; {
		batch, next, err := st.ListOrgs(ctx, page)
		if err != nil {
			t.Fatal(err)
		}
		orgs = append(orgs, batch...)
		if next == "" {
			break
		}
		page.Cursor = next
	}
	for _, o := range orgs {
		fmt.Fprintf(&b, "org %+v\n", o)
		for page := (store.Page{Limit: 100}); ; {
			users, next, err := st.ListUsers(ctx, o.Code, store.UserFilter{}, page)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range users {
				fmt.Fprintf(&b, "  user %+v\n", u)
			}
			if next == "" {
				break
			}
			page.Cursor = next
		}
		for page := (store.Page{Limit: 100}); ; {
			flags, next, err := st.ListEffectiveFlags(ctx, o.Code, page)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range flags {
				fmt.Fprintf(&b, "  flag %s=%s override=%v\n", f.Definition.Key, f.Value(), f.Override != nil)
			}
			if next == "" {
				break
			}
			page.Cursor = next
		}
	}
	return b.String()
}

// userIDs lists the ids of an org's users, via the store.
func userIDs(t *testing.T, st store.Store, org string) []string {
	t.Helper()
	users, _, err := st.ListUsers(t.Context(), org, store.UserFilter{}, store.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, u := range users {
		ids = append(ids, u.ID)
	}
	slices.Sort(ids)
	return ids
}
