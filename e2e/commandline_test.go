package e2e

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/orgscope/orgscope/cmd/orgscope/app"
)

// serveCommand runs `orgscope serve args…` in this process, as the
// command line parses it (flags and ORGSCOPE_* variables the test set),
// and returns the server once its banner names the MCP endpoint and it is
// healthy. It stops when the test ends.
func serveCommand(t *testing.T, args ...string) *testServer {
	t.Helper()
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- app.Main(ctx, append([]string{"serve", "--log-level", "warn"}, args...), out, t.Output())
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("orgscope serve exited %d", code)
			}
		case <-time.After(15 * time.Second):
			t.Error("orgscope serve did not stop within 15s")
		}
	})
	endpoint := regexp.MustCompile(`MCP endpoint:\s+(\S+)`)
	deadline := time.Now().Add(20 * time.Second)
	for endpoint.FindStringSubmatch(out.String()) == nil {
		select {
		case code := <-done:
			t.Fatalf("orgscope serve exited %d:\n%s", code, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no MCP endpoint in the banner after 20s:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	resource := endpoint.FindStringSubmatch(out.String())[1]
	s := &testServer{URL: resource[:len(resource)-len("/mcp")], Resource: resource, Stdout: out,
		Clients: parseCredentials(out.String()), Users: parseUsers(out.String())}
	waitHealthy(t, s.URL, nil)
	return s
}

// TestIntrospectionClientsFromTheCommandLine: the clients
// --introspection-clients (or ORGSCOPE_INTROSPECTION_CLIENTS) lists are
// told about any token at /oauth2/introspect; an unlisted client learns
// only about its own tokens, and {"active": false} about the rest.
func TestIntrospectionClientsFromTheCommandLine(t *testing.T) {
	for _, viaEnv := range []bool{false, true} {
		name := "flag"
		if viaEnv {
			name = "environment"
		}
		t.Run(name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "orgscope.db")
			var stdout, stderr bytes.Buffer
			if rc := app.Main(t.Context(), []string{"orgs", "create", "--code", "org_x", "--name", "X Corp", "--db", db}, &stdout, &stderr); rc != 0 {
				t.Fatalf("orgs create: %d %s", rc, stderr.String())
			}
			dbArgs := []string{"--db", db}
			resourceServer := createClient(t, dbArgs, "--org", "org_x", "--scopes", "read:users")
			agent := createClient(t, dbArgs, "--org", "org_x", "--scopes", "read:users")
			unlisted := createClient(t, dbArgs, "--org", "org_x", "--scopes", "read:users")

			args := []string{"--addr", "127.0.0.1:0", "--db", db, "--demo=false"}
			if viaEnv {
				t.Setenv("ORGSCOPE_INTROSPECTION_CLIENTS", "cl_not_there,"+resourceServer.ID)
			} else {
				args = append(args, "--introspection-clients", "cl_not_there,"+resourceServer.ID)
			}
			s := serveCommand(t, args...)
			token := s.token(t, agent)
			for _, tc := range []struct {
				name   string
				caller credentials
				active bool
			}{
				{"the listed client, about another client's token", resourceServer, true},
				{"the token's own client", agent, true},
				{"an unlisted client", unlisted, false},
			} {
				status, got := formPost(t, s.URL+"/oauth2/introspect", url.Values{"token": {token},
					"client_id": {tc.caller.ID}, "client_secret": {tc.caller.Secret}})
				switch {
				case status != http.StatusOK || got["active"] != tc.active:
					t.Errorf("%s: %d %v, want active %v", tc.name, status, got, tc.active)
				case tc.active && (got["client_id"] != agent.ID || got["org_code"] != "org_x"):
					t.Errorf("%s: %v, want the agent's token described", tc.name, got)
				case !tc.active && len(got) != 1:
					t.Errorf("%s: %v, want {\"active\": false} and nothing else", tc.name, got)
				}
			}
		})
	}
}

// TestIntrospectionClientsNeedTheEmbeddedIssuer: with --issuer OrgScope
// issues nothing, so --introspection-clients is refused at start.
func TestIntrospectionClientsNeedTheEmbeddedIssuer(t *testing.T) {
	var stdout, stderr bytes.Buffer
	rc := app.Main(t.Context(), []string{"serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "o.db"),
		"--issuer", "https://idp.example.com", "--introspection-clients", "rs"}, &stdout, &stderr)
	if rc != 2 || !bytes.Contains(stderr.Bytes(), []byte("--introspection-clients (ORGSCOPE_INTROSPECTION_CLIENTS) is for the embedded issuer")) {
		t.Errorf("exit %d: %s", rc, stderr.String())
	}
}
