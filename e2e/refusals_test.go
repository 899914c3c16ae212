package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/orgscope/orgscope/cmd/orgscope/app"
	"github.com/orgscope/orgscope/internal/tokentest"
)

// TestMCPRefusals: every bad token is refused with the right status and
// challenge, and the create_user it carried changed nothing.
func TestMCPRefusals(t *testing.T) {
	s := startServer(t, serverOptions{rsaKeys: true})
	st := s.openStore(t)
	forge := s.forger(t)
	stranger := tokentest.NewIssuer(t, s.URL)
	valid := func() map[string]any { return forge.Claims(s.Resource, "org_acme", "write:users read:users") }
	with := func(k string, v any) map[string]any { c := valid(); c[k] = v; return c }
	readOnly := s.token(t, s.Clients["org_acme"], "read:users")

	if resp, _ := s.callTool(t, forge.Sign(t, valid()), "whoami", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("the forger's valid token is refused (%d): the cases below would prove nothing", resp.StatusCode)
	}

	cases := []struct {
		name   string
		token  string
		status int
		error  string // RFC 6750 error code in the challenge
	}{
		{"no token", "", http.StatusUnauthorized, ""},
		{"garbage token", "garbage", http.StatusUnauthorized, "invalid_token"},
		{"tampered signature", tokentest.Tamper(t, forge.Sign(t, valid()), "org_code", "org_beta"), http.StatusUnauthorized, "invalid_token"},
		{"signed by another key", stranger.Sign(t, valid()), http.StatusUnauthorized, "invalid_token"},
		{"wrong audience", forge.Sign(t, with("aud", []string{"http://127.0.0.1:1/mcp"})), http.StatusUnauthorized, "invalid_token"},
		{"wrong issuer", forge.Sign(t, with("iss", "https://evil.example")), http.StatusUnauthorized, "invalid_token"},
		{"expired", forge.Sign(t, with("exp", time.Now().Add(-5*time.Minute).Unix())), http.StatusUnauthorized, "invalid_token"},
		{"alg none", tokentest.Unsigned(valid()), http.StatusUnauthorized, "invalid_token"},
		{"HS256 signed with the public key", forge.HS256WithPublicKey(valid()), http.StatusUnauthorized, "invalid_token"},
		{"typ JWT", forge.SignWith(t, map[string]any{"typ": "JWT"}, valid()), http.StatusUnauthorized, "invalid_token"},
		{"no typ", forge.SignWith(t, nil, valid()), http.StatusUnauthorized, "invalid_token"},
		{"scope missing", readOnly, http.StatusForbidden, "insufficient_scope"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot(t, st)
			email := fmt.Sprintf("refused-%d@acme.example", i)
			resp, body := s.callTool(t, tc.token, "create_user", map[string]any{"email": email})
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			challenges, err := oauthex.ParseWWWAuthenticate(resp.Header.Values("WWW-Authenticate"))
			if err != nil || len(challenges) != 1 {
				t.Fatalf("WWW-Authenticate %q: %v", resp.Header.Get("WWW-Authenticate"), err)
			}
			p := challenges[0].Params
			if p["error"] != tc.error || p["resource_metadata"] != s.URL+"/.well-known/oauth-protected-resource/mcp" {
				t.Errorf("challenge %v", p)
			}
			switch {
			case tc.status == http.StatusForbidden:
				// A legacy-protocol call: the challenge names the token's scopes
				// and the operation's (clients of 2025-11-25 replace theirs with it).
				if !sameScopes(p["scope"], []string{"read:users", "write:users"}) {
					t.Errorf("scope %q, want read:users write:users", p["scope"])
				}
			case tc.error == "":
				if p["scope"] != "write:users" {
					t.Errorf("scope %q, want the operation's scope write:users", p["scope"])
				}
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q", ct)
			}
			if tc.token != "" && strings.Contains(string(body), tc.token) {
				t.Error("the body echoes the token")
			}
			if after := snapshot(t, st); after != before {
				t.Errorf("a refused request changed the database:\n%s", after)
			}
		})
	}
}

// TestCrossTenant: acme's token cannot see or touch beta's users, whatever
// the arguments, and the answer is the same as for a user that does not exist.
func TestCrossTenant(t *testing.T) {
	s := startServer(t, serverOptions{})
	st := s.openStore(t)
	acme := s.token(t, s.Clients["org_acme"])
	betaUser := userIDs(t, st, "org_beta")[0]
	missing := "usr_0000000000000000000000000000beef"

	calls := []struct {
		tool string
		args map[string]any
	}{
		{"get_user", map[string]any{"user_id": betaUser}},
		{"get_user", map[string]any{"user_id": betaUser, "org_code": "org_beta"}},
		{"update_user", map[string]any{"user_id": betaUser, "given_name": "Mallory"}},
		{"delete_user", map[string]any{"user_id": betaUser}},
		{"create_user", map[string]any{"email": "mallory@beta.example", "org_code": "org_beta"}},
		{"list_users", map[string]any{"org_code": "org_beta"}},
		{"get_organization", map[string]any{"org_code": "org_beta"}},
		{"set_feature_flag", map[string]any{"key": "dark_mode", "value": true, "org_code": "org_beta"}},
	}
	before := snapshot(t, st)
	for _, c := range calls {
		r := s.tool(t, acme, c.tool, c.args)
		if !r.Result.IsError || !strings.Contains(r.text(), "not found") {
			t.Errorf("%s %v: %s", c.tool, c.args, r.text())
		}
	}
	if after := snapshot(t, st); after != before {
		t.Errorf("cross-tenant calls changed the database")
	}
	// Indistinguishable from a user that does not exist.
	cross := s.tool(t, acme, "get_user", map[string]any{"user_id": betaUser}).text()
	none := s.tool(t, acme, "get_user", map[string]any{"user_id": missing}).text()
	if strings.ReplaceAll(cross, betaUser, "ID") != strings.ReplaceAll(none, missing, "ID") {
		t.Errorf("cross-tenant %q differs from missing %q", cross, none)
	}
}

// tokenRequest posts a form to the token endpoint.
func tokenRequest(t *testing.T, s *testServer, form url.Values, basic *credentials) (*http.Response, map[string]string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic != nil {
		req.SetBasicAuth(url.QueryEscape(basic.ID), url.QueryEscape(basic.Secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]string
	json.Unmarshal(body, &m)
	return resp, m
}

// TestTokenEndpointRefusals: RFC 6749 §5.2 errors for each bad request.
func TestTokenEndpointRefusals(t *testing.T) {
	s := startServer(t, serverOptions{})
	acme := s.Clients["org_acme"]

	// A client allowed read:users only, made with the admin command.
	var out bytes.Buffer
	if code := app.Main(t.Context(), []string{"clients", "create", "--db", s.DBPath, "--name", "reader",
		"--org", "org_acme", "--scopes", "read:users", "--json"}, &out, io.Discard); code != 0 {
		t.Fatalf("clients create exited %d", code)
	}
	var reader credentials
	var created map[string]string
	if err := json.Unmarshal(out.Bytes(), &created); err != nil {
		t.Fatalf("clients create --json printed %q", out.String())
	}
	reader = credentials{ID: created["client_id"], Secret: created["client_secret"]}

	cc := url.Values{"grant_type": {"client_credentials"}}
	post := func(extra url.Values, c credentials) url.Values {
		f := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ID}, "client_secret": {c.Secret}}
		for k, v := range extra {
			f[k] = v
		}
		return f
	}
	cases := []struct {
		name   string
		form   url.Values
		basic  *credentials
		status int
		error  string
	}{
		{"wrong secret (basic)", cc, &credentials{acme.ID, "wrong"}, 401, "invalid_client"},
		{"wrong secret (post)", post(nil, credentials{acme.ID, "wrong"}), nil, 401, "invalid_client"},
		{"unknown client", post(nil, credentials{"nope", "wrong"}), nil, 401, "invalid_client"},
		{"no client", cc, nil, 401, "invalid_client"},
		{"unknown grant", url.Values{"grant_type": {"password"}}, &acme, 400, "unsupported_grant_type"},
		{"no grant", url.Values{}, &acme, 400, "invalid_request"},
		{"other resource", post(url.Values{"resource": {"https://other.example/mcp"}}, acme), nil, 400, "invalid_target"},
		{"other audience", post(url.Values{"audience": {"https://other.example/mcp"}}, acme), nil, 400, "invalid_target"},
		{"no allowed scope", post(url.Values{"scope": {"write:flags"}}, reader), nil, 400, "invalid_scope"},
		{"repeated parameter", url.Values{"grant_type": {"client_credentials", "client_credentials"}}, &acme, 400, "invalid_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := tokenRequest(t, s, tc.form, tc.basic)
			if resp.StatusCode != tc.status || body["error"] != tc.error || body["error_description"] == "" {
				t.Fatalf("%d %v, want %d %s", resp.StatusCode, body, tc.status, tc.error)
			}
			if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("headers %v", resp.Header)
			}
			if tc.basic != nil && tc.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("401 after Basic authentication without a Basic challenge")
			}
			if _, ok := body["access_token"]; ok {
				t.Error("an access token was issued")
			}
		})
	}

	// Unknown client and wrong secret are indistinguishable.
	_, unknown := tokenRequest(t, s, post(nil, credentials{"nope", "x"}), nil)
	_, wrong := tokenRequest(t, s, post(nil, credentials{acme.ID, "x"}), nil)
	if fmt.Sprint(unknown) != fmt.Sprint(wrong) {
		t.Errorf("unknown client %v differs from wrong secret %v", unknown, wrong)
	}

	// Down-scoping: the reader asking for more gets what it may have.
	resp, body := tokenRequest(t, s, post(url.Values{"scope": {"read:users write:users"}}, reader), nil)
	if resp.StatusCode != 200 || body["scope"] != "read:users" {
		t.Errorf("down-scoped request: %d %v", resp.StatusCode, body)
	}
	// Kinde's audience parameter naming us works like resource.
	resp, body = tokenRequest(t, s, post(url.Values{"audience": {s.Resource}}, acme), nil)
	if resp.StatusCode != 200 || body["access_token"] == "" {
		t.Errorf("audience parameter: %d %v", resp.StatusCode, body)
	}
}
