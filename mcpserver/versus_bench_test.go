package mcpserver_test

import (
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	mcpauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/orgscope/orgscope/mcpserver"
	"github.com/orgscope/orgscope/store"
)

// bareServer is the yardstick's "d2" server in process: a go-sdk server
// with one typed tool, stateless with JSON answers, behind the go-sdk's
// RequireBearerToken with a go-oidc verifier (RS256, static key set) that
// verifies every token — no cache, no tenant, no audit. It is what a
// go-sdk user writes from the documentation.
func bareServer(issuer string, key crypto.PublicKey) http.Handler {
	type echoIn struct {
		Text string `json:"text" jsonschema:"the text to echo back"`
	}
	s := mcp.NewServer(&mcp.Implementation{Name: "bare", Version: "v0.0.1"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "echo", Description: "Echo back the input text"},
		func(ctx context.Context, req *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: in.Text}}}, nil, nil
		})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s },
		&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true})
	v := oidc.NewVerifier(issuer, &oidc.StaticKeySet{PublicKeys: []crypto.PublicKey{key}},
		&oidc.Config{ClientID: mcpserver.Resource(issuer), SupportedSigningAlgs: []string{oidc.RS256}})
	verify := func(ctx context.Context, token string, _ *http.Request) (*mcpauth.TokenInfo, error) {
		idt, err := v.Verify(ctx, token)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", mcpauth.ErrInvalidToken, err)
		}
		var claims struct {
			Scope string `json:"scope"`
		}
		if err := idt.Claims(&claims); err != nil {
			return nil, fmt.Errorf("%w: %v", mcpauth.ErrInvalidToken, err)
		}
		return &mcpauth.TokenInfo{Scopes: strings.Fields(claims.Scope), Expiration: idt.Expiry, UserID: idt.Subject}, nil
	}
	return mcpauth.RequireBearerToken(verify, &mcpauth.RequireBearerTokenOptions{
		ResourceMetadataURL: issuer + "/.well-known/oauth-protected-resource/mcp"})(h)
}

// BenchmarkVersusBareSDK puts OrgScope's handler and the bare go-sdk +
// go-oidc server (bareServer, the yardstick's d2) side by side in one
// process, called in turn, one call each per iteration, so that both see
// the same machine: bare-µs and orgscope-µs are the medians of their
// calls and orgscope/bare their ratio (below 1: OrgScope is faster). Each
// OrgScope tool is compared with the bare echo; ns/op is one call of each.
// The sub-benchmarks under alone/ measure each side by itself, for
// allocations (-benchmem).
//
//	go test -run '^$' -bench VersusBareSDK -benchmem -count 6 ./mcpserver/
func BenchmarkVersusBareSDK(b *testing.B) {
	f := newFixture(b, fixtureOptions{})
	ctx := b.Context()
	if _, err := f.store.CreateFlag(ctx, store.FlagDefinition{Key: "dark_mode", Type: store.FlagBoolean, DefaultValue: json.RawMessage(`false`)}); err != nil {
		b.Fatal(err)
	}
	var users []store.User
	for i := range 20 {
		users = append(users, store.User{ID: store.NewID(store.UserIDPrefix), OrgCode: "org_acme", Status: store.UserActive,
			Role: store.RoleMember, Email: fmt.Sprintf("user%02d@acme.example", i), GivenName: "Ann", FamilyName: "Example"})
	}
	if err := f.store.CreateUsers(ctx, users); err != nil {
		b.Fatal(err)
	}
	token := f.token(b, "org_acme", "read:users read:orgs read:flags")
	bare := bareServer(publicURL, f.issuer.PublicKey())

	call := func(tool, args string) string {
		return `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"` + tool + `","arguments":` + args + `}}`
	}
	echo := call("echo", `{"text":"hello"}`)
	post := func(h http.Handler, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, publicURL+"/mcp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	check := func(b *testing.B, rec *httptest.ResponseRecorder, want string) {
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), want) || strings.Contains(rec.Body.String(), `"isError":true`) {
			b.Fatalf("%d %.300s", rec.Code, rec.Body)
		}
	}
	tools := []struct{ name, body, want string }{
		{"whoami", call("whoami", `{}`), `"org_code":"org_acme"`},
		{"get_feature_flag", call("get_feature_flag", `{"key":"dark_mode"}`), `"key":"dark_mode"`},
		{"list_users_20", call("list_users", `{"limit":20}`), `user19@acme.example`},
	}

	b.Run("alone/bare_echo", func(b *testing.B) {
		for b.Loop() {
			check(b, post(bare, echo), `"hello"`)
		}
	})
	for _, tc := range tools {
		b.Run("alone/"+tc.name, func(b *testing.B) {
			for b.Loop() {
				check(b, post(f.handler, tc.body), tc.want)
			}
		})
	}
	for _, tc := range tools {
		b.Run("ratio/"+tc.name, func(b *testing.B) {
			var bareTimes, ourTimes []time.Duration
			timed := func(h http.Handler, body, want string, into *[]time.Duration) {
				start := time.Now()
				rec := post(h, body)
				*into = append(*into, time.Since(start))
				check(b, rec, want)
			}
			i := 0
			for b.Loop() {
				if i++; i%2 == 0 { // alternate which goes first
					timed(bare, echo, `"hello"`, &bareTimes)
					timed(f.handler, tc.body, tc.want, &ourTimes)
				} else {
					timed(f.handler, tc.body, tc.want, &ourTimes)
					timed(bare, echo, `"hello"`, &bareTimes)
				}
			}
			bm, om := median(bareTimes), median(ourTimes)
			b.ReportMetric(float64(bm.Nanoseconds())/1e3, "bare-µs")
			b.ReportMetric(float64(om.Nanoseconds())/1e3, "orgscope-µs")
			b.ReportMetric(float64(om)/float64(bm), "orgscope/bare")
		})
	}
}
