package e2e

import (
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/auth/extauth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
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
