package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	mcpauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// TestDiscoveryToToolCall walks the path an agent takes, with real clients:
// 401 and its challenge → Protected Resource Metadata → authorization
// server metadata → client_credentials token (x/oauth2, resource
// indicator) → the go-sdk MCP client, in both protocol eras.
func TestDiscoveryToToolCall(t *testing.T) {
	s := startServer(t, serverOptions{})
	ctx := t.Context()

	// 1. Unauthenticated call: 401 with a challenge pointing at the PRM.
	resp, err := http.Post(s.Resource, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unauthenticated: %d", resp.StatusCode)
	}
	challenges, err := oauthex.ParseWWWAuthenticate(resp.Header.Values("WWW-Authenticate"))
	if err != nil || len(challenges) != 1 || challenges[0].Scheme != "bearer" {
		t.Fatalf("challenge: %v %+v", err, challenges)
	}
	prmURL := challenges[0].Params["resource_metadata"]
	if prmURL != s.URL+"/.well-known/oauth-protected-resource/mcp" || challenges[0].Params["scope"] == "" {
		t.Fatalf("challenge params %v", challenges[0].Params)
	}

	// 2. PRM, fetched with the go-sdk's client-side function.
	prm, err := oauthex.GetProtectedResourceMetadata(ctx, prmURL, s.Resource, http.DefaultClient)
	if err != nil {
		t.Fatalf("PRM: %v", err)
	}
	if prm.Resource != s.Resource || len(prm.AuthorizationServers) != 1 || !slices.Contains(prm.ScopesSupported, "read:users") ||
		!slices.Equal(prm.BearerMethodsSupported, []string{"header"}) {
		t.Fatalf("PRM %+v", prm)
	}
	root := getJSON[oauthex.ProtectedResourceMetadata](t, s.URL+"/.well-known/oauth-protected-resource")
	if root.Resource != s.Resource {
		t.Errorf("root PRM resource %q", root.Resource)
	}

	// 3. AS metadata from the PRM's authorization server (the SDK checks
	// the issuer and PKCE support).
	asm, err := mcpauth.GetAuthServerMetadata(ctx, prm.AuthorizationServers[0], http.DefaultClient)
	if err != nil || asm == nil {
		t.Fatalf("AS metadata: %v", err)
	}
	if asm.Issuer != s.URL || asm.TokenEndpoint != s.URL+"/oauth2/token" || !slices.Contains(asm.GrantTypesSupported, "client_credentials") {
		t.Fatalf("AS metadata %+v", asm)
	}
	oidcAlias := getJSON[oauthex.AuthServerMeta](t, s.URL+"/.well-known/openid-configuration")
	if oidcAlias.Issuer != asm.Issuer {
		t.Errorf("OIDC alias issuer %q", oidcAlias.Issuer)
	}

	// 4. A token with client credentials, audience-bound by resource.
	acme := s.Clients["org_acme"]
	cc := clientcredentials.Config{
		ClientID: acme.ID, ClientSecret: acme.Secret, TokenURL: asm.TokenEndpoint,
		EndpointParams: map[string][]string{"resource": {prm.Resource}},
	}
	httpClient := oauth2.NewClient(ctx, cc.TokenSource(ctx))

	// 5. The go-sdk client, in both eras.
	for _, version := range []string{"2026-07-28", "2025-11-25"} {
		t.Run(version, func(t *testing.T) {
			client := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil)
			session, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: s.Resource, HTTPClient: httpClient},
				&mcp.ClientSessionOptions{ProtocolVersion: version})
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			defer session.Close()
			if got := session.InitializeResult().ProtocolVersion; got != version {
				t.Errorf("negotiated %s, want %s", got, version)
			}
			tools, err := session.ListTools(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tool := range tools.Tools {
				names = append(names, tool.Name)
			}
			if !slices.Contains(names, "whoami") || !slices.Contains(names, "list_users") || slices.Contains(names, "list_organizations") {
				t.Errorf("tools for an org-scoped agent: %v", names)
			}

			res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
			if err != nil || res.IsError {
				t.Fatalf("whoami: %v %+v", err, res)
			}
			var who struct {
				OrgCode  string   `json:"org_code"`
				ClientID string   `json:"client_id"`
				Global   bool     `json:"global"`
				Scopes   []string `json:"scopes"`
			}
			remarshal(t, res.StructuredContent, &who)
			if who.OrgCode != "org_acme" || who.ClientID != acme.ID || who.Global || len(who.Scopes) == 0 {
				t.Errorf("whoami %+v", who)
			}

			res, err = session.CallTool(ctx, &mcp.CallToolParams{Name: "list_users", Arguments: map[string]any{"limit": 2}})
			if err != nil || res.IsError {
				t.Fatalf("list_users: %v %+v", err, res)
			}
			var page struct {
				Users []struct {
					OrgCode string `json:"org_code"`
					Email   string `json:"email"`
				} `json:"users"`
				NextCursor string `json:"next_cursor"`
			}
			remarshal(t, res.StructuredContent, &page)
			if len(page.Users) != 2 || page.NextCursor == "" {
				t.Fatalf("first page %+v", page)
			}
			for _, u := range page.Users {
				if u.OrgCode != "org_acme" || !strings.HasSuffix(u.Email, "@acme.example") {
					t.Errorf("user of another org: %+v", u)
				}
			}
		})
	}
}

// TestCurlStyle: a bare POST of tools/call, with no initialize and the
// headers `curl --json` sends, gets a readable JSON answer.
func TestCurlStyle(t *testing.T) {
	s := startServer(t, serverOptions{})
	token := s.token(t, s.Clients["org_beta"])
	req, _ := http.NewRequest(http.MethodPost, s.Resource,
		strings.NewReader(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"whoami"}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json") // what curl --json sends
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("HTTP %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var r rpcResult
	if err := json.Unmarshal(body, &r); err != nil || r.Result == nil || r.Result.IsError {
		t.Fatalf("answer %s", body)
	}
	if !strings.Contains(string(r.Result.StructuredContent), `"org_code":"org_beta"`) {
		t.Errorf("whoami: %s", r.Result.StructuredContent)
	}
	if resp.Header.Get("Mcp-Session-Id") != "" {
		t.Error("a stateless server handed out a session id")
	}
}

func getJSON[T any](t *testing.T, url string) T {
	t.Helper()
	var v T
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return v
}

func remarshal(t *testing.T, from, to any) {
	t.Helper()
	b, err := json.Marshal(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, to); err != nil {
		t.Fatal(err)
	}
}
