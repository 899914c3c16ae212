package mcpserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authz"
	"github.com/orgscope/orgscope/internal/otlptest"
	"github.com/orgscope/orgscope/mcpserver"
	"github.com/orgscope/orgscope/policy"
	"github.com/orgscope/orgscope/service"
	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/telemetry"
	"github.com/orgscope/orgscope/tools"
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

// BenchmarkTracing is a tools/call of list_users (a store read, so store
// spans too) through the assembled handler with tracing off and on — every
// request sampled, spans batched and exported over OTLP/HTTP to an
// in-process receiver, as a deployment with OTEL_EXPORTER_OTLP_ENDPOINT
// runs. Compare the two in one run: on/off is tracing's cost.
func BenchmarkTracing(b *testing.B) {
	const listUsers = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_users","arguments":{}}}`
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			var receiver *otlptest.Receiver
			f := newFixture(b, fixtureOptions{options: func(o *mcpserver.Options) {
				if !on {
					return
				}
				receiver = otlptest.Start(b)
				exporter, err := otlptracehttp.New(b.Context(), otlptracehttp.WithEndpointURL(receiver.URL+"/v1/traces"))
				if err != nil {
					b.Fatal(err)
				}
				tp, shutdown, err := telemetry.SetupTracing(b.Context(), telemetry.TracingOptions{ServiceName: "bench", Exporter: exporter})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { shutdown(context.Background()) })
				o.TracerProvider = tp
			}})
			token := f.token(b, "org_acme", "read:users")
			for b.Loop() {
				if rec := f.post(token, listUsers); rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), `"isError":true`) {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
			b.StopTimer()
			if on {
				if _, err := receiver.WaitFor(10*time.Second, func(s []otlptest.Span) bool { return len(s) > 0 }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWorstRequest builds the requests that make one answer as large
// as OrgScope allows and reports the heap they need at their peak
// (peak-heap-MB: the highest live heap sampled while the request runs,
// above the heap before it) besides the bytes allocated (B/op, an upper
// bound on the peak). The limit is 64 MB:
//
//	batch_list_users:  a batch of DefaultMaxBatch list_users calls, each a
//	                   full page of users with the longest names and emails
//	batch_list_flags:  a batch of DefaultMaxBatch list_feature_flags calls
//	                   over flags of the largest values, each answer just
//	                   under the result cap (tools.MaxResultBytes)
//	body_at_limit:     one call whose arguments fill the 1 MiB body limit
func BenchmarkWorstRequest(b *testing.B) {
	f := newFixture(b, fixtureOptions{})
	ctx := b.Context()
	long := func(n int, c string) string { return strings.Repeat(c, n) }
	var users []store.User
	for i := range 2 * store.MaxPageSize {
		users = append(users, store.User{
			ID: store.NewID(store.UserIDPrefix), OrgCode: "org_acme", Status: store.UserActive, Role: store.RoleMember,
			Email:     fmt.Sprintf("%04d%s@acme.example", i, long(service.MaxEmailLength-len("0000@acme.example"), "e")),
			GivenName: long(service.MaxNameLength, "g"), FamilyName: long(service.MaxNameLength, "f"),
		})
	}
	if err := f.store.CreateUsers(ctx, users); err != nil {
		b.Fatal(err)
	}
	value, _ := json.Marshal(long(service.MaxFlagValueBytes-2, "v"))
	for i := range store.MaxPageSize {
		if _, err := f.store.CreateFlag(ctx, store.FlagDefinition{Key: fmt.Sprintf("flag_%03d", i), Type: store.FlagString,
			DefaultValue: value}); err != nil {
			b.Fatal(err)
		}
	}
	batch := func(call string) string {
		calls := make([]string, mcpserver.DefaultMaxBatch)
		for i := range calls {
			calls[i] = fmt.Sprintf(call, i+1)
		}
		return "[" + strings.Join(calls, ",") + "]"
	}
	bigArgs := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_users","arguments":{"email_prefix":"` +
		long(1<<20-200, "x") + `"}}}`
	token := f.token(b, "org_acme", "read:users read:flags")
	// A flag's entry holds its default and its effective value: this many
	// of the largest make an answer just under the cap.
	const flagsUnderCap = tools.MaxResultBytes / (2*service.MaxFlagValueBytes + 512)
	for _, bc := range []struct {
		name, body string
		answered   bool // every call answered with a result, not a tool error
	}{
		{"batch_list_users", batch(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"list_users","arguments":{"limit":100}}}`), true},
		{"batch_list_flags", batch(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"list_feature_flags","arguments":{"limit":` +
			fmt.Sprint(flagsUnderCap) + `}}}`), true},
		{"body_at_limit", bigArgs, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var peak uint64
			answer := 0
			for b.Loop() {
				runtime.GC()
				before := liveHeap()
				stop := make(chan struct{})
				sampled := make(chan uint64)
				go func() {
					top := before
					for {
						if h := liveHeap(); h > top {
							top = h
						}
						select {
						case <-stop:
							sampled <- top - before
							return
						case <-time.After(50 * time.Microsecond):
						}
					}
				}()
				rec := f.post(token, bc.body) // the legacy protocol: batches allowed
				close(stop)
				peak = max(peak, <-sampled)
				if rec.Code != http.StatusOK || bc.answered && strings.Contains(rec.Body.String(), `"isError":true`) {
					b.Fatalf("HTTP %d: %.300s", rec.Code, rec.Body)
				}
				answer = rec.Body.Len()
			}
			b.ReportMetric(float64(peak)/1e6, "peak-heap-MB")
			b.ReportMetric(float64(answer)/1e6, "answer-MB")
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

// liveHeap is the bytes of heap objects, live and not yet swept.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
