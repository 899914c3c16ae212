package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/auth/extauth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/orgscope/orgscope/cmd/orgscope/app"
)

// TestLocalhostIsTheSameServer: started with the defaults (no --public-url,
// on loopback), OrgScope answers http://localhost:PORT/mcp as the same
// server as http://127.0.0.1:PORT/mcp: its discovery documents name the
// host the client used, so the go-sdk's client, which refuses a resource
// or issuer that differs from the URL it asked, connects — with client
// credentials and through the interactive flow — and a token issued under
// one name is accepted under it.
func TestLocalhostIsTheSameServer(t *testing.T) {
	s := startServer(t, serverOptions{})
	local := *s
	local.URL = strings.Replace(s.URL, "127.0.0.1", "localhost", 1)
	local.Resource = local.URL + "/mcp"

	t.Run("client credentials", func(t *testing.T) {
		acme := s.Clients["org_acme"]
		handler, err := extauth.NewClientCredentialsHandler(&extauth.ClientCredentialsHandlerConfig{
			Credentials: &oauthex.ClientCredentials{ClientID: acme.ID, ClientSecretAuth: &oauthex.ClientSecretAuth{ClientSecret: acme.Secret}},
		})
		if err != nil {
			t.Fatal(err)
		}
		client := mcp.NewClient(&mcp.Implementation{Name: "localhost-agent", Version: "1"}, nil)
		session, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: local.Resource, OAuthHandler: handler}, nil)
		if err != nil {
			t.Fatalf("connect at %s: %v", local.Resource, err)
		}
		defer session.Close()
		var who struct {
			OrgCode string `json:"org_code"`
		}
		res := callJSON(t, session, "whoami", nil, &who)
		if res.IsError || who.OrgCode != "org_acme" {
			t.Fatalf("whoami at localhost: %+v %+v", res, who)
		}
	})

	t.Run("interactive", func(t *testing.T) {
		session, _ := connectAs(t, &local, s.Users["ada@acme.example"], nil)
		var who struct {
			OrgCode string `json:"org_code"`
			Issuer  string `json:"issuer"`
		}
		res := callJSON(t, session, "whoami", nil, &who)
		if res.IsError || who.OrgCode != "org_acme" || who.Issuer != local.URL {
			t.Fatalf("whoami after signing in at localhost: %+v %+v", res, who)
		}
	})

	t.Run("documents name the host asked", func(t *testing.T) {
		for _, base := range []string{s.URL, local.URL} {
			prm := getJSON[oauthex.ProtectedResourceMetadata](t, base+"/.well-known/oauth-protected-resource/mcp")
			as := getJSON[oauthex.AuthServerMeta](t, base+"/.well-known/oauth-authorization-server")
			if prm.Resource != base+"/mcp" || len(prm.AuthorizationServers) != 1 || prm.AuthorizationServers[0] != base ||
				as.Issuer != base || as.TokenEndpoint != base+"/oauth2/token" {
				t.Errorf("%s: resource %q servers %v issuer %q token endpoint %q", base, prm.Resource, prm.AuthorizationServers, as.Issuer, as.TokenEndpoint)
			}
		}
	})
}

// asHost sends a request to base (where the server listens) with the Host
// header host: the name the client used.
func asHost(t *testing.T, method, base, host, path, contentType, body, token string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// tokenAs asks the token endpoint, reached under the name host, for a
// client_credentials token for resource.
func tokenAs(t *testing.T, base, host string, c credentials, resource string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ID}, "client_secret": {c.Secret}, "resource": {resource}}
	status, body := asHost(t, http.MethodPost, base, host, "/oauth2/token", "application/x-www-form-urlencoded", form.Encode(), "")
	var out map[string]any
	json.Unmarshal(body, &out)
	return status, out
}

// whoamiAs calls whoami under the name host and returns the status and the
// issuer the call was verified against.
func whoamiAs(t *testing.T, base, host, token string) (int, string) {
	t.Helper()
	status, body := asHost(t, http.MethodPost, base, host, "/mcp", "application/json",
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`, token)
	var rpc struct {
		Result struct {
			StructuredContent struct {
				Issuer string `json:"issuer"`
			} `json:"structuredContent"`
			IsError bool `json:"isError"`
		} `json:"result"`
	}
	if json.Unmarshal(body, &rpc) != nil || rpc.Result.IsError {
		return status, ""
	}
	return status, rpc.Result.StructuredContent.Issuer
}

// TestLoopbackNamesAreOneAudience: without --public-url, the loopback
// names of the server's port are one server with three resource URIs.
// Each name's issuer signs tokens for its own resource only (iss and aud
// go together), and the resource server accepts a token of any of its
// names whichever name the call used: the audience rule is that aud names
// this server, and a request's Host — the sender's choice — cannot make a
// token for this server any more or less its own. A token whose aud is not
// its issuer's resource, or names the same host on another port, is
// refused.
func TestLoopbackNamesAreOneAudience(t *testing.T) {
	s := startServer(t, serverOptions{rsaKeys: true})
	port := strings.TrimPrefix(s.URL, "http://127.0.0.1:")
	byIP, byName := "127.0.0.1:"+port, "localhost:"+port
	local := "http://" + byName
	acme := s.Clients["org_acme"]

	status, tok := tokenAs(t, s.URL, byName, acme, local+"/mcp")
	if status != http.StatusOK {
		t.Fatalf("a token under localhost for localhost's resource: %d %v", status, tok)
	}
	token := tok["access_token"].(string)
	for _, host := range []string{byName, byIP, "[::1]:" + port} {
		if status, issuer := whoamiAs(t, s.URL, host, token); status != http.StatusOK || issuer != local {
			t.Errorf("the localhost token at http://%s/mcp: %d, issuer %q; want 200 and %s", host, status, issuer, local)
		}
	}

	// Under localhost the issuer signs for localhost's resource, not
	// for another name's: a token's iss and aud go together.
	if status, out := tokenAs(t, s.URL, byName, acme, s.Resource); status != http.StatusBadRequest || out["error"] != "invalid_target" {
		t.Errorf("a token under localhost for 127.0.0.1's resource: %d %v, want invalid_target", status, out)
	}

	forge := s.forger(t)
	forge.URL = local
	for _, tc := range []struct {
		name, aud string
		status    int
	}{
		{"localhost's own resource", local + "/mcp", http.StatusOK},
		{"aud of another name than its iss", s.Resource, http.StatusUnauthorized},
		{"aud of another port", "http://localhost:1/mcp", http.StatusUnauthorized},
	} {
		signed := forge.Sign(t, forge.Claims(tc.aud, "org_acme", "read:users"))
		if status, _ := whoamiAs(t, s.URL, byIP, signed); status != tc.status {
			t.Errorf("iss %s, %s (%s) at http://%s/mcp: %d, want %d", local, tc.name, tc.aud, byIP, status, tc.status)
		}
	}
}

// TestPublicURLHasNoAliases: with an explicit --public-url the server has
// that one name. Under a name that is not loopback, a request with any
// other Host — 127.0.0.1 or localhost included — is refused by the host
// check, at /mcp and at the issuer alike. Under a loopback public URL,
// other loopback Hosts pass the check (they cannot be a rebinding attack)
// but are answered as the public URL: its documents, its issuer, and no
// trust in tokens issued under another name.
func TestPublicURLHasNoAliases(t *testing.T) {
	t.Run("a name that is not loopback", func(t *testing.T) {
		var public string
		s := startServer(t, serverOptions{config: func(c *app.Config) {
			public = "http://mcp.test:" + strings.Split(c.Listener.Addr().String(), ":")[1]
			c.PublicURL, c.Demo = public, app.DemoOn
		}})
		host := strings.TrimPrefix(public, "http://")
		port := strings.Split(host, ":")[1]
		base := "http://127.0.0.1:" + port // where it listens
		acme := s.Clients["org_acme"]
		status, tok := tokenAs(t, base, host, acme, public+"/mcp")
		if status != http.StatusOK {
			t.Fatalf("a token under the public URL: %d %v", status, tok)
		}
		token := tok["access_token"].(string)
		if status, issuer := whoamiAs(t, base, host, token); status != http.StatusOK || issuer != public {
			t.Fatalf("whoami under the public URL: %d %q", status, issuer)
		}
		for _, other := range []string{"127.0.0.1:" + port, "localhost:" + port} {
			for _, path := range []string{"/mcp", "/oauth2/token", "/.well-known/oauth-protected-resource/mcp"} {
				status, body := asHost(t, http.MethodPost, base, other, path, "application/json", `{}`, token)
				if status != http.StatusForbidden || !strings.Contains(string(body), "is not this server's public host") {
					t.Errorf("%s with Host %s: %d %s, want 403 from the host check", path, other, status, body)
				}
			}
		}
	})

	t.Run("a loopback name", func(t *testing.T) {
		var public string
		s := startServer(t, serverOptions{rsaKeys: true, config: func(c *app.Config) {
			public = "http://" + c.Listener.Addr().String()
			c.PublicURL = public
		}})
		port := strings.TrimPrefix(public, "http://127.0.0.1:")
		byName := "localhost:" + port
		acme := s.Clients["org_acme"]
		var doc struct {
			Resource string `json:"resource"`
		}
		if status, body := asHost(t, http.MethodGet, s.URL, byName, "/.well-known/oauth-protected-resource/mcp", "", "", ""); status != http.StatusOK ||
			json.Unmarshal(body, &doc) != nil || doc.Resource != public+"/mcp" {
			t.Errorf("PRM with Host %s: %d %s, want the public URL's resource %s", byName, status, body, public+"/mcp")
		}
		if status, out := tokenAs(t, s.URL, byName, acme, "http://"+byName+"/mcp"); status != http.StatusBadRequest || out["error"] != "invalid_target" {
			t.Errorf("a token for localhost's resource: %d %v, want invalid_target", status, out)
		}
		forge := s.forger(t)
		forge.URL = "http://" + byName
		signed := forge.Sign(t, forge.Claims("http://"+byName+"/mcp", "org_acme", "read:users"))
		for _, host := range []string{byName, "127.0.0.1:" + port} {
			if status, _ := whoamiAs(t, s.URL, host, signed); status != http.StatusUnauthorized {
				t.Errorf("a token issued under localhost, at Host %s: %d, want 401", host, status)
			}
		}
		if status, issuer := whoamiAs(t, s.URL, byName, s.token(t, acme)); status != http.StatusOK || issuer != public {
			t.Errorf("the public URL's token with Host %s: %d %q", byName, status, issuer)
		}
	})
}
