package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/orgscope/orgscope/cmd/orgscope/app"
	"github.com/orgscope/orgscope/internal/clientkeys"
	"github.com/orgscope/orgscope/internal/testdeps"
	"github.com/orgscope/orgscope/internal/tokentest"
)

// createKeyClient makes a machine client with the command line, with a
// JWKS file (jwks) or a jwks_uri, and returns its id.
func createKeyClient(t *testing.T, dbArgs []string, jwks []byte, jwksURI string, args ...string) string {
	t.Helper()
	if jwks != nil {
		file := filepath.Join(t.TempDir(), "keys.json")
		if err := os.WriteFile(file, jwks, 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--jwks-file", file)
	} else {
		args = append(args, "--jwks-uri", jwksURI)
	}
	v := cli(t, dbArgs, append([]string{"clients", "create", "--name", "signing agent"}, args...)...)
	id, _ := v["client_id"].(string)
	if id == "" || v["client_secret"] != nil || v["token_endpoint_auth_method"] != "private_key_jwt" {
		t.Fatalf("clients create with keys printed %v", v)
	}
	return id
}

// assertionTokenSource gets client_credentials tokens with x/oauth2,
// authenticating with a fresh assertion each time (an assertion works
// once, and x/oauth2's EndpointParams are fixed per Config).
type assertionTokenSource struct {
	ctx                context.Context
	key                jose.JSONWebKey
	clientID, issuer   string
	tokenURL, resource string
	now                func() time.Time
}

func (s assertionTokenSource) Token() (*oauth2.Token, error) {
	assertion, err := clientkeys.Sign(s.key, s.key.Algorithm, clientkeys.Assertion{ClientID: s.clientID, Audience: s.issuer, Now: s.now()})
	if err != nil {
		return nil, err
	}
	cc := clientcredentials.Config{ClientID: s.clientID, TokenURL: s.tokenURL, AuthStyle: oauth2.AuthStyleInParams,
		EndpointParams: url.Values{"client_assertion_type": {clientkeys.AssertionType}, "client_assertion": {assertion},
			"resource": {s.resource}}}
	return cc.Token(s.ctx)
}

// assertionForm is a client_credentials request authenticated by assertion.
func assertionForm(assertion, resource string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {clientkeys.AssertionType},
		"client_assertion": {assertion}, "resource": {resource}}
}

// TestAssertionGoSDKClient: a machine client registered with a JWKS file
// and no secret finds the token endpoint by discovery, gets its tokens with
// x/oauth2 and an assertion signed by go-jose, and calls tools through the
// go-sdk MCP client; the AS metadata lists the method and its algorithms.
func TestAssertionGoSDKClient(t *testing.T) {
	s := startServer(t, serverOptions{})
	ctx := t.Context()
	key := tokentest.ClientKey(t, "ES256", "agent-1")
	id := createKeyClient(t, []string{"--db", s.DBPath}, tokentest.PublicJWKS(t, key), "", "--org", "org_acme", "--scopes", "read:users read:orgs")

	prm, err := oauthex.GetProtectedResourceMetadata(ctx, s.URL+"/.well-known/oauth-protected-resource/mcp", s.Resource, http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	asm := getJSON[oauthex.AuthServerMeta](t, prm.AuthorizationServers[0]+"/.well-known/oauth-authorization-server")
	if !slices.Contains(asm.TokenEndpointAuthMethodsSupported, "private_key_jwt") ||
		!slices.Equal(asm.TokenEndpointAuthSigningAlgValuesSupported, []string{"RS256", "PS256", "ES256", "EdDSA"}) {
		t.Fatalf("AS metadata: methods %v, algorithms %v", asm.TokenEndpointAuthMethodsSupported, asm.TokenEndpointAuthSigningAlgValuesSupported)
	}

	var issued atomic.Int64
	src := assertionTokenSource{ctx: ctx, key: key, clientID: id, issuer: asm.Issuer, tokenURL: asm.TokenEndpoint,
		resource: prm.Resource, now: time.Now}
	counting := oauth2.TokenSource(tokenSourceFunc(func() (*oauth2.Token, error) { issued.Add(1); return src.Token() }))
	client := mcp.NewClient(&mcp.Implementation{Name: "e2e-assertion", Version: "1"}, nil)
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: s.Resource,
		HTTPClient: oauth2.NewClient(ctx, oauth2.ReuseTokenSource(nil, counting))}, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer session.Close()
	who, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
	if err != nil || who.IsError {
		t.Fatalf("whoami: %v %+v", err, who)
	}
	text := who.Content[0].(*mcp.TextContent).Text
	if !strings.Contains(text, id) || !strings.Contains(text, "org_acme") {
		t.Errorf("whoami: %s", text)
	}
	users, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "list_users", Arguments: map[string]any{}})
	if err != nil || users.IsError {
		t.Fatalf("list_users: %v %+v", err, users)
	}
	if n := issued.Load(); n != 1 {
		t.Errorf("%d tokens fetched for one session, want 1 (reused)", n)
	}
	// A second token needs a second assertion; each gets one.
	if _, err := src.Token(); err != nil {
		t.Errorf("a second token: %v", err)
	}
}

type tokenSourceFunc func() (*oauth2.Token, error)

func (f tokenSourceFunc) Token() (*oauth2.Token, error) { return f() }

// TestAssertionReplayAcrossReplicas: two replicas share one PostgreSQL
// database; an assertion that got a token from replica A is refused by
// replica B (invalid_client, 401), whose store holds its jti, while the
// token works on both.
func TestAssertionReplayAcrossReplicas(t *testing.T) {
	c := startCluster(t, 2, testdeps.RequirePostgres(t))
	a, b := c.via(0), c.via(1)
	db := []string{"--database-url", c.dbURL, "--database-schema", c.schema}
	key := tokentest.ClientKey(t, "RS256", "replicated")
	id := createKeyClient(t, db, tokentest.PublicJWKS(t, key), "", "--org", "org_beta", "--scopes", "read:users")
	issuer := c.replicas[0].URL // the public URL: every replica's issuer identifier

	assertion, err := clientkeys.Sign(key, "RS256", clientkeys.Assertion{ClientID: id, Audience: issuer})
	if err != nil {
		t.Fatal(err)
	}
	status, body := formPost(t, a.URL+"/oauth2/token", assertionForm(assertion, a.audience()))
	token, _ := body["access_token"].(string)
	if status != http.StatusOK || token == "" {
		t.Fatalf("replica A: %d %v", status, body)
	}
	status, body = formPost(t, b.URL+"/oauth2/token", assertionForm(assertion, b.audience()))
	if status != http.StatusUnauthorized || body["error"] != "invalid_client" || body["access_token"] != nil {
		t.Errorf("replica B took the assertion replica A used: %d %v", status, body)
	}
	// Both at once on both replicas: one token between them.
	fresh, _ := clientkeys.Sign(key, "RS256", clientkeys.Assertion{ClientID: id, Audience: issuer})
	var wg sync.WaitGroup
	var ok atomic.Int64
	for i := range 6 {
		r := []*testServer{a, b}[i%2]
		wg.Go(func() {
			if status, _ := formPost(t, r.URL+"/oauth2/token", assertionForm(fresh, r.audience())); status == http.StatusOK {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Errorf("one assertion sent 6 times to two replicas got %d tokens, want 1", ok.Load())
	}
	for name, r := range map[string]*testServer{"A": a, "B": b} {
		if who := r.tool(t, token, "whoami", nil); !strings.Contains(who.text(), id) {
			t.Errorf("the token on replica %s: %s", name, who.text())
		}
	}
}

// keyServer publishes a client's JWKS on loopback over plain HTTP and
// counts fetches.
type keyServer struct {
	srv     *httptest.Server
	fetches atomic.Int64
	mu      sync.Mutex
	set     []byte
}

func newKeyServer(t *testing.T, set []byte) *keyServer {
	k := &keyServer{set: set}
	k.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.fetches.Add(1)
		k.mu.Lock()
		defer k.mu.Unlock()
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(k.set)
	}))
	t.Cleanup(k.srv.Close)
	return k
}

func (k *keyServer) publish(set []byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.set = set
}

// TestAssertionJWKSURIRotation: a client registered with a jwks_uri (on
// loopback, which the server fetches from only with --cimd-allow-private)
// gets tokens with the key published there; after it publishes a new key,
// an assertion with the new kid is refused until the refetch cooldown has
// passed on the server's clock, then accepted, with one more fetch.
func TestAssertionJWKSURIRotation(t *testing.T) {
	clock := &testClock{}
	s := startServer(t, serverOptions{config: func(c *app.Config) { c.Now, c.CIMDAllowPrivate = clock.Now, true }})
	first, second := tokentest.ClientKey(t, "ES256", "2026-11"), tokentest.ClientKey(t, "RS256", "2026-12")
	keys := newKeyServer(t, tokentest.PublicJWKS(t, first))
	id := createKeyClient(t, []string{"--db", s.DBPath}, nil, keys.srv.URL+"/jwks.json", "--org", "org_acme", "--scopes", "read:users")
	token := func(key jose.JSONWebKey) (int, map[string]any) {
		a, err := clientkeys.Sign(key, key.Algorithm, clientkeys.Assertion{ClientID: id, Audience: s.URL, Now: clock.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return formPost(t, s.URL+"/oauth2/token", assertionForm(a, s.Resource))
	}
	if status, body := token(first); status != http.StatusOK {
		t.Fatalf("the published key: %d %v", status, body)
	}
	keys.publish(tokentest.PublicJWKS(t, first, second))
	if status, body := token(second); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("a new kid within the cooldown: %d %v", status, body)
	}
	if n := keys.fetches.Load(); n != 1 {
		t.Errorf("%d fetches before the cooldown passed, want 1", n)
	}
	clock.Advance(31 * time.Second)
	status, body := token(second)
	if status != http.StatusOK {
		t.Fatalf("the new key after the cooldown: %d %v", status, body)
	}
	if n := keys.fetches.Load(); n != 2 {
		t.Errorf("%d fetches after the cooldown, want 2", n)
	}
	if who := s.tool(t, body["access_token"].(string), "whoami", nil); !strings.Contains(who.text(), id) {
		t.Errorf("whoami with the new key's token: %s", who.text())
	}
	if status, _ := token(first); status != http.StatusOK {
		t.Errorf("the old key, still published: %d", status)
	}
}
