package e2e

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orgscope/orgscope/cmd/orgscope/app"
	"github.com/orgscope/orgscope/internal/testdeps"
)

// testClock is a clock a test moves on; it starts at the real time.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// cli runs an orgscope command against dbArgs (--db … or --database-url …)
// and decodes its --json output.
func cli(t *testing.T, dbArgs []string, args ...string) map[string]any {
	t.Helper()
	var out, errOut strings.Builder
	if code := app.Main(t.Context(), append(append(args, dbArgs...), "--json"), &out, &errOut); code != 0 {
		t.Fatalf("orgscope %v: exit %d: %s", args, code, errOut.String())
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out.String()), &v); err != nil {
		t.Fatalf("orgscope %v printed %q", args, out.String())
	}
	return v
}

// createClient makes a machine client with the command line.
func createClient(t *testing.T, dbArgs []string, args ...string) credentials {
	t.Helper()
	v := cli(t, dbArgs, append([]string{"clients", "create", "--name", "e2e agent"}, args...)...)
	return credentials{ID: v["client_id"].(string), Secret: v["client_secret"].(string)}
}

// tokenResponse asks the token endpoint for a client_credentials token.
func (s *testServer) tokenResponse(t *testing.T, c credentials, scope string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ID}, "client_secret": {c.Secret}, "resource": {s.audience()}}
	if scope != "" {
		form.Set("scope", scope)
	}
	return formPost(t, s.URL+"/oauth2/token", form)
}

// TestClientSecretRotationGrace: after `clients rotate-secret --grace 1h`
// both secrets get tokens, and the tokens work; once the hour has passed
// (on the server's clock) the old secret is refused with invalid_client and
// the new one goes on working.
func TestClientSecretRotationGrace(t *testing.T) {
	clock := &testClock{}
	s := startServer(t, serverOptions{config: func(c *app.Config) { c.Now = clock.Now }})
	db := []string{"--db", s.DBPath}
	old := createClient(t, db, "--org", "org_acme", "--scopes", "read:users")

	rotated := cli(t, db, "clients", "rotate-secret", old.ID, "--grace", "1h")
	fresh := credentials{ID: old.ID, Secret: rotated["client_secret"].(string)}
	if fresh.Secret == old.Secret || rotated["client"].(map[string]any)["secret_count"] != float64(2) {
		t.Fatalf("rotate-secret: %v", rotated)
	}
	for name, c := range map[string]credentials{"old": old, "new": fresh} {
		if who := s.tool(t, s.token(t, c), "whoami", nil); !strings.Contains(who.text(), old.ID) {
			t.Errorf("the %s secret's token during the grace: %s", name, who.text())
		}
	}

	clock.Advance(time.Hour + time.Second)
	status, body := s.tokenResponse(t, old, "")
	if status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("the old secret after the grace: %d %v, want 401 invalid_client", status, body)
	}
	tok := s.token(t, fresh)
	if who := s.tool(t, tok, "whoami", nil); !strings.Contains(who.text(), old.ID) {
		t.Errorf("the new secret's token after the grace: %s", who.text())
	}
}

// TestClientDisableEnableDeleteOnReplicas: two replicas on PostgreSQL. A
// client disabled from the command line is refused at the token endpoint at
// once and its live token on both replicas within the denylist's poll; a
// client disabled with the tool through one replica is refused by that
// replica at the very next call. Enabling lets it get tokens again while
// its old ones stay refused; deleting refuses it for good.
func TestClientDisableEnableDeleteOnReplicas(t *testing.T) {
	c := startCluster(t, 2, testdeps.RequirePostgres(t))
	r0, r1 := c.via(0), c.via(1)
	db := []string{"--database-url", c.dbURL, "--database-schema", c.schema}
	agent := createClient(t, db, "--org", "org_beta", "--scopes", "read:users")
	token := r0.token(t, agent)
	for _, r := range []*testServer{r0, r1} {
		if resp, body := r.callTool(t, token, "whoami", nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("before disable: %d %s", resp.StatusCode, body)
		}
	}
	// Refused at the next call once the replica has seen the cutoff: within
	// a poll (1 s) plus a generous margin.
	refusedEverywhere := func(token string, since time.Time, what string) {
		t.Helper()
		for i, r := range []*testServer{r0, r1} {
			for {
				resp, body := r.callTool(t, token, "whoami", nil)
				if resp.StatusCode == http.StatusUnauthorized {
					if !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
						t.Errorf("replica %d refused %s with %q %s", i, what, resp.Header.Get("WWW-Authenticate"), body)
					}
					break
				}
				if time.Since(since) > 5*time.Second {
					t.Fatalf("replica %d still accepts %s 5 s later: %d %s", i, what, resp.StatusCode, body)
				}
				time.Sleep(50 * time.Millisecond)
			}
			t.Logf("replica %d refused %s %v after it was cut off", i, what, time.Since(since).Round(10*time.Millisecond))
		}
	}

	disabled := cli(t, db, "clients", "disable", agent.ID)
	at := time.Now()
	if disabled["client"].(map[string]any)["disabled"] != true {
		t.Fatalf("disable: %v", disabled)
	}
	for i, r := range []*testServer{r0, r1} {
		if status, body := r.tokenResponse(t, agent, ""); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
			t.Errorf("replica %d issued a token to a disabled client: %d %v", i, status, body)
		}
	}
	refusedEverywhere(token, at, "the disabled client's token")

	cli(t, db, "clients", "enable", agent.ID)
	again := r1.token(t, agent)
	for i, r := range []*testServer{r0, r1} {
		if resp, body := r.callTool(t, again, "whoami", nil); resp.StatusCode != http.StatusOK {
			t.Errorf("replica %d refused the enabled client's new token: %d %s", i, resp.StatusCode, body)
		}
		if resp, _ := r.callTool(t, token, "whoami", nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("replica %d accepts the token of before the disable again: %d", i, resp.StatusCode)
		}
	}

	// The tool, through replica 0: that replica refuses at once.
	admin := r0.token(t, r0.Clients["global"])
	res := r0.tool(t, admin, "disable_client", map[string]any{"client_id": agent.ID})
	if res.Result.IsError {
		t.Fatalf("disable_client: %s", res.text())
	}
	at = time.Now()
	if resp, body := r0.callTool(t, again, "whoami", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the replica that disabled the client accepted its token at the next call: %d %s", resp.StatusCode, body)
	}
	refusedEverywhere(again, at, "the token of a client disabled by the tool")

	cli(t, db, "clients", "enable", agent.ID)
	last := r0.token(t, agent)
	if resp, body := r1.callTool(t, last, "whoami", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("after the second enable: %d %s", resp.StatusCode, body)
	}
	cli(t, db, "clients", "delete", agent.ID)
	at = time.Now()
	if status, body := r1.tokenResponse(t, agent, ""); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("a deleted client got a token: %d %v", status, body)
	}
	refusedEverywhere(last, at, "the deleted client's token")
}

// TestClientUpdateScopesAndLifetime: narrowing a client's scopes narrows
// its next tokens, and its token lifetime is honoured in expires_in and
// exp, within the server's --token-ttl.
func TestClientUpdateScopesAndLifetime(t *testing.T) {
	s := startServer(t, serverOptions{config: func(c *app.Config) { c.TokenTTL = 10 * time.Minute }})
	db := []string{"--db", s.DBPath}
	agent := createClient(t, db, "--org", "org_acme", "--scopes", "read:users read:flags")
	lifetime := func(body map[string]any) (float64, float64) {
		t.Helper()
		_, claims := decodeJWT(t, body["access_token"].(string))
		return body["expires_in"].(float64), claims["exp"].(float64) - claims["iat"].(float64)
	}

	status, body := s.tokenResponse(t, agent, "")
	if in, exp := lifetime(body); status != http.StatusOK || body["scope"] != "read:users read:flags" || in != 600 || exp != 600 {
		t.Fatalf("before the update (15 min capped at the server's 10): %d %v", status, body)
	}
	oldToken := body["access_token"].(string)

	cli(t, db, "clients", "update", agent.ID, "--scopes", "read:users", "--token-ttl", "2m")
	status, body = s.tokenResponse(t, agent, "")
	if in, exp := lifetime(body); status != http.StatusOK || body["scope"] != "read:users" || in != 120 || exp != 120 {
		t.Errorf("after narrowing: %d %v (expires_in, exp-iat %v %v)", status, body, in, exp)
	}
	newToken := body["access_token"].(string)
	if resp, body := s.callTool(t, newToken, "list_feature_flags", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a new token used a scope the client no longer has: %d %s", resp.StatusCode, body)
	}
	if r := s.tool(t, newToken, "list_users", nil); r.Result.IsError {
		t.Errorf("list_users with the narrowed token: %s", r.text())
	}
	if status, body := s.tokenResponse(t, agent, "read:flags"); status != http.StatusBadRequest || body["error"] != "invalid_scope" {
		t.Errorf("asking for a scope the client lost: %d %v", status, body)
	}
	// Tokens issued before keep what they were issued with until they expire.
	if r := s.tool(t, oldToken, "list_feature_flags", nil); r.Result.IsError {
		t.Errorf("the token of before the update: %s", r.text())
	}

	cli(t, db, "clients", "update", agent.ID, "--token-ttl", "1h")
	if _, body = s.tokenResponse(t, agent, ""); body["expires_in"] != float64(600) {
		t.Errorf("a client lifetime above the server's: expires_in %v, want the server's 600", body["expires_in"])
	}
}

// decodeJWT splits a compact JWS into header and claims, unverified.
func decodeJWT(t *testing.T, token string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", token)
	}
	for i, into := range []*map[string]any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(raw, into) != nil {
			t.Fatalf("JWS part %d: %v", i, err)
		}
	}
	return header, claims
}
