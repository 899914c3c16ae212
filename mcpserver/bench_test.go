package mcpserver_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authz"
	"github.com/orgscope/orgscope/policy"
)

const whoamiCall = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami"}}`

// BenchmarkVerifyToken is signature and claim verification alone (RS256,
// go-oidc), without and with the verified-token cache.
func BenchmarkVerifyToken(b *testing.B) {
	var jwt auth.Verifier
	f := newFixture(b, fixtureOptions{verifier: func(v auth.Verifier) auth.Verifier { jwt = v; return v }})
	token := f.token(b, "org_acme", "read:users")
	cached := auth.NewCachingVerifier(jwt, nil)
	for _, bc := range []struct {
		name string
		v    auth.Verifier
	}{{"uncached", jwt}, {"cached", cached}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := b.Context()
			for b.Loop() {
				if _, err := bc.v.Verify(ctx, token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWhoamiCall is a whole tools/call of whoami through the assembled
// handler, in process (httptest, no sockets):
//
//	noauth:   authentication reduced to handing over a fixed principal
//	cached:   as shipped — JWT verification with the verified-token cache
//	uncached: JWT verification on every call (first use of each token)
//
// auth's share of a call = (cached − noauth) / cached.
func BenchmarkWhoamiCall(b *testing.B) {
	principal := &auth.Principal{Issuer: publicURL, Subject: "c", ClientID: "c", OrgCode: "org_acme",
		Scopes: []string{"read:users"}, Expiry: time.Now().Add(time.Hour)}
	setups := []struct {
		name     string
		verifier func(auth.Verifier) auth.Verifier
	}{
		{"noauth", func(auth.Verifier) auth.Verifier { return trusting{principal} }},
		{"cached", nil},
		{"uncached", func(v auth.Verifier) auth.Verifier { return v }},
	}
	for _, s := range setups {
		b.Run(s.name, func(b *testing.B) {
			f := newFixture(b, fixtureOptions{verifier: s.verifier})
			token := f.token(b, "org_acme", "read:users")
			for b.Loop() {
				rec := f.post(token, whoamiCall)
				if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"org_code":"org_acme"`) {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// BenchmarkAuthLayer is everything authentication adds to a call — bearer
// parsing, verification, the scope check, handing the principal to the
// go-sdk — measured alone: auth.Middleware as the server configures it,
// around a handler that does nothing. Compared with BenchmarkWhoamiCall in
// the same run, it gives auth's share of a call.
func BenchmarkAuthLayer(b *testing.B) {
	var jwt auth.Verifier
	f := newFixture(b, fixtureOptions{verifier: func(v auth.Verifier) auth.Verifier { jwt = v; return v }})
	token := f.token(b, "org_acme", "read:users")
	for _, bc := range []struct {
		name string
		v    auth.Verifier
	}{{"cached", auth.NewCachingVerifier(jwt, nil)}, {"uncached", jwt}} {
		b.Run(bc.name, func(b *testing.B) {
			h := auth.Middleware(auth.MiddlewareOptions{
				Verifier:            bc.v,
				ResourceMetadataURL: publicURL + "/.well-known/oauth-protected-resource/mcp",
				Scopes:              func(*http.Request) []string { return []string{auth.ScopeReadUsers} },
			})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
			req := httptest.NewRequest(http.MethodPost, publicURL+"/mcp", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatal(rec.Code)
				}
			}
		})
	}
}

// BenchmarkToolCallDecider is a whole tools/call through the assembled
// handler, in process, deciding with the compiled rules (authz.Rules) and
// with the built-in Cedar policy that replaces them, in the same run:
// whoami (which also lists the 17 tools the token may call) and list_users
// (one page, as an agent reads). Each call is decided three times (before
// dispatch by the HTTP layer and by the service, then with the arguments)
// and written to the audit trail.
//
// The two servers are called in turn, one call each per iteration, so
// that both see the same machine (a shared one drifts by more than the
// difference): rules-µs and cedar-µs are the medians of their calls,
// cedar/rules their ratio. ns/op is one call of each.
//
//	go test -run - -bench ToolCallDecider -count 6 ./mcpserver/
func BenchmarkToolCallDecider(b *testing.B) {
	engine, err := policy.New(policy.Options{})
	if err != nil {
		b.Fatal(err)
	}
	calls := []struct{ name, body, want string }{
		{"whoami", whoamiCall, `"org_code":"org_acme"`},
		{"list_users", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_users","arguments":{"limit":5}}}`, `"users":[]`},
	}
	for _, call := range calls {
		b.Run(call.name, func(b *testing.B) {
			rules := newFixture(b, fixtureOptions{authorizer: authz.Rules{}})
			cedar := newFixture(b, fixtureOptions{authorizer: engine})
			rulesToken, cedarToken := rules.token(b, "org_acme", "read:users"), cedar.token(b, "org_acme", "read:users")
			var rulesTimes, cedarTimes []time.Duration
			timed := func(f *fixture, token string, into *[]time.Duration) {
				start := time.Now()
				rec := f.post(token, call.body)
				*into = append(*into, time.Since(start))
				if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), call.want) {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
			i := 0
			for b.Loop() {
				if i++; i%2 == 0 { // alternate which goes first
					timed(rules, rulesToken, &rulesTimes)
					timed(cedar, cedarToken, &cedarTimes)
				} else {
					timed(cedar, cedarToken, &cedarTimes)
					timed(rules, rulesToken, &rulesTimes)
				}
			}
			r, c := median(rulesTimes), median(cedarTimes)
			b.ReportMetric(float64(r.Microseconds()), "rules-µs")
			b.ReportMetric(float64(c.Microseconds()), "cedar-µs")
			b.ReportMetric(float64(c)/float64(r), "cedar/rules")
		})
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
