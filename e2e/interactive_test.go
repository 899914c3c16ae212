package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	mcpauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// fetcher is an AuthorizationCodeFetcher that plays the user in a browser:
// it opens the authorization URL, signs in as user, approves, and returns
// what the redirect carried. It records every authorization URL it saw.
type fetcher struct {
	t    *testing.T
	s    *testServer
	user demoUser

	mu   sync.Mutex
	urls []string
}

func (f *fetcher) fetch(ctx context.Context, args *mcpauth.AuthorizationArgs) (*mcpauth.AuthorizationResult, error) {
	f.mu.Lock()
	f.urls = append(f.urls, args.URL)
	f.mu.Unlock()
	b := newHTTPBrowser(f.t)
	login := b.get(args.URL)
	if login.status != http.StatusOK {
		return nil, fmt.Errorf("authorize: HTTP %d: %s", login.status, login.body)
	}
	consent := b.signIn(f.s.URL, login, f.user.Email, f.user.Password)
	if consent.status != http.StatusOK {
		return nil, fmt.Errorf("sign-in: HTTP %d: %s", consent.status, consent.errorText())
	}
	_, q := b.decide(f.s.URL, consent, "approve").redirectParams(f.t)
	if q.Get("error") != "" {
		return nil, fmt.Errorf("authorization error %s: %s", q.Get("error"), q.Get("error_description"))
	}
	return &mcpauth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
}

// connectAs connects the go-sdk client to the server through its
// AuthorizationCodeHandler (PRM and AS discovery, dynamic registration,
// PKCE, resource), with a fetcher signing in as user.
func connectAs(t *testing.T, s *testServer, user demoUser, scopeFilter func([]string) []string) (*mcp.ClientSession, *fetcher) {
	t.Helper()
	f := &fetcher{t: t, s: s, user: user}
	handler, err := mcpauth.NewAuthorizationCodeHandler(&mcpauth.AuthorizationCodeHandlerConfig{
		DynamicClientRegistrationConfig: &mcpauth.DynamicClientRegistrationConfig{
			Metadata: &oauthex.ClientRegistrationMetadata{
				ClientName:              "go-sdk e2e agent",
				RedirectURIs:            []string{"http://127.0.0.1:53682/callback"},
				TokenEndpointAuthMethod: "none",
				GrantTypes:              []string{"authorization_code", "refresh_token"},
			},
		},
		AuthorizationCodeFetcher: f.fetch,
		ScopeFilter:              scopeFilter,
	})
	if err != nil {
		t.Fatal(err)
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "e2e-interactive", Version: "1"}, nil)
	session, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: s.Resource, OAuthHandler: handler}, nil)
	if err != nil {
		t.Fatalf("connect as %s: %v", user.Email, err)
	}
	t.Cleanup(func() { session.Close() })
	return session, f
}

func callJSON(t *testing.T, session *mcp.ClientSession, tool string, args map[string]any, into any) *mcp.CallToolResult {
	t.Helper()
	res, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	if into != nil && !res.IsError {
		remarshal(t, res.StructuredContent, into)
	}
	return res
}

// TestAuthorizationCodeWithGoSDK: a person signs in through the go-sdk's
// client-side OAuth handler and the agent then works inside that person's
// organization only.
func TestAuthorizationCodeWithGoSDK(t *testing.T) {
	s := startServer(t, serverOptions{})
	ada := s.Users["ada@acme.example"]
	session, f := connectAs(t, s, ada, nil)
	if len(f.urls) != 1 {
		t.Fatalf("the browser was opened %d times", len(f.urls))
	}
	authURL, _ := url.Parse(f.urls[0])
	q := authURL.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("resource") != s.Resource || q.Get("state") == "" {
		t.Errorf("authorization URL %s", f.urls[0])
	}

	var who struct {
		Subject, OrgCode, ClientID, GrantType string
		Scopes                                []string
	}
	var raw map[string]any
	callJSON(t, session, "whoami", nil, &raw)
	who.Subject, who.OrgCode, who.GrantType = fmt.Sprint(raw["subject"]), fmt.Sprint(raw["org_code"]), fmt.Sprint(raw["grant_type"])
	if who.OrgCode != "org_acme" || !strings.HasPrefix(who.Subject, "usr_") || who.GrantType != "authorization_code" {
		t.Errorf("whoami %v", raw)
	}

	var page struct {
		Users []struct {
			UserID, OrgCode string `json:"-"`
			Email           string `json:"email"`
			Org             string `json:"org_code"`
			ID              string `json:"user_id"`
		} `json:"users"`
	}
	callJSON(t, session, "list_users", map[string]any{"limit": 100}, &page)
	found := false
	for _, u := range page.Users {
		if u.Org != "org_acme" {
			t.Errorf("a user of %s listed", u.Org)
		}
		found = found || u.ID == who.Subject && u.Email == ada.Email
	}
	if !found {
		t.Errorf("the signed-in user %s is not among acme's users", who.Subject)
	}
	betaID := userIDs(t, s.openStore(t), "org_beta")[0]
	if res := callJSON(t, session, "get_user", map[string]any{"user_id": betaID}, nil); !res.IsError {
		t.Error("acme's user reached a beta user")
	}
	created := callJSON(t, session, "create_user", map[string]any{"email": "new.hire@acme.example"}, nil)
	if created.IsError {
		t.Errorf("an admin's agent could not create a user")
	}
}

// TestStepUpWithGoSDK: a token without the scope a tool needs gets a 403
// insufficient_scope challenge, and the go-sdk client reacts by asking the
// user again for the union of scopes, then retries.
func TestStepUpWithGoSDK(t *testing.T) {
	s := startServer(t, serverOptions{})
	ada := s.Users["ada@acme.example"]
	// The 401 names the read scopes only, so the first token has no write
	// scope (scope minimisation).
	session, f := connectAs(t, s, ada, nil)
	var raw map[string]any
	callJSON(t, session, "whoami", nil, &raw)
	if fmt.Sprint(raw["scopes"]) != "[read:flags read:orgs read:users]" {
		t.Fatalf("initial scopes %v", raw["scopes"])
	}
	res := callJSON(t, session, "create_user", map[string]any{"email": "stepped.up@acme.example"}, nil)
	if res.IsError {
		t.Fatalf("after step-up, create_user failed: %+v", res.Content)
	}
	if len(f.urls) != 2 {
		t.Fatalf("the user was asked %d times, want 2 (initial + step-up)", len(f.urls))
	}
	second, _ := url.Parse(f.urls[1])
	scopes := second.Query().Get("scope")
	if !strings.Contains(scopes, "write:users") || !strings.Contains(scopes, "read:users") {
		t.Errorf("step-up asked for %q, want the union with write:users", scopes)
	}
}

// TestMemberRoleIsDownScoped: a member's consent grants only what the
// member role allows, whatever the client asked for, and the agent can
// read but not write.
func TestMemberRoleIsDownScoped(t *testing.T) {
	s := startServer(t, serverOptions{})
	grace := s.Users["grace@acme.example"]
	if grace.Role != "member" {
		t.Fatalf("grace is %q", grace.Role)
	}
	session, _ := connectAs(t, s, grace, nil)
	var raw map[string]any
	callJSON(t, session, "whoami", nil, &raw)
	if got := fmt.Sprint(raw["scopes"]); got != "[read:flags read:orgs read:users]" {
		t.Errorf("member scopes %s", got)
	}
	_, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: "delete_user",
		Arguments: map[string]any{"user_id": userIDs(t, s.openStore(t), "org_acme")[0]}})
	if err == nil {
		t.Error("a member's agent deleted a user")
	}
}
