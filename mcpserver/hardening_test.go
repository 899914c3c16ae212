package mcpserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"

	"github.com/orgscope/orgscope/internal/otlptest"
	"github.com/orgscope/orgscope/mcpserver"
	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/telemetry"
)

// rpcErrorOf decodes a JSON-RPC error answer.
func rpcErrorOf(t *testing.T, body []byte) (id json.RawMessage, code int, message string) {
	t.Helper()
	var r struct {
		ID    json.RawMessage `json:"id"`
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("not a JSON-RPC answer: %s", body)
	}
	return r.ID, r.Error.Code, r.Error.Message
}

// TestAmbiguousBodiesAreRefused: a body the go-sdk could read differently
// from the check (a name differing only in case, a duplicate name,
// trailing data) is refused before any decision, and nothing runs. Today's
// attack: a delete_user executed and logged as whoami.
func TestAmbiguousBodiesAreRefused(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ctx := t.Context()
	u, err := f.store.CreateUser(ctx, store.User{ID: store.NewID(store.UserIDPrefix), OrgCode: "org_acme",
		Email: "victim@acme.example", Status: store.UserActive, Role: store.RoleMember})
	if err != nil {
		t.Fatal(err)
	}
	token := f.token(t, "org_acme", "delete:users read:users")
	del := fmt.Sprintf(`"arguments":{"user_id":%q}`, u.ID)
	cases := []struct {
		name, body string
		code       int
	}{
		{"case twin of name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","Name":"delete_user",` + del + `}}`, -32600},
		{"case twin of params", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami"},"Params":{"name":"delete_user",` + del + `}}`, -32600},
		{"case twin of method", `{"jsonrpc":"2.0","id":1,"method":"tools/list","METHOD":"tools/call","params":{"name":"delete_user",` + del + `}}`, -32600},
		{"duplicate name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","name":"delete_user",` + del + `}}`, -32600},
		{"duplicate method", `{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"name":"delete_user",` + del + `}}`, -32600},
		{"duplicate argument", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_user","arguments":{"user_id":"usr_x","user_id":"` + u.ID + `"}}}`, -32600},
		{"trailing data", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami"}} {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"delete_user",` + del + `}}`, -32700},
		{"invalid UTF-8", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"whoami\xff\"}}", -32700},
		{"not JSON", `{"jsonrpc":"2.0",`, -32700},
		{"method not a string", `{"jsonrpc":"2.0","id":1,"method":7}`, -32600},
		{"tool name not a string", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":["delete_user"]}}`, -32600},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.post(token, tc.body)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", rec.Code, rec.Body)
			}
			if _, code, _ := rpcErrorOf(t, rec.Body.Bytes()); code != tc.code {
				t.Errorf("JSON-RPC code %d, want %d: %s", code, tc.code, rec.Body)
			}
			if _, err := f.store.GetUser(ctx, "org_acme", u.ID); err != nil {
				t.Fatalf("the user is gone: %v", err)
			}
		})
	}
}

// TestBatches: a batch is bounded, and every call in it counts against the
// principal's rate limit.
func TestBatches(t *testing.T) {
	call := func(i int) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"whoami"}}`, i)
	}
	batch := func(n int) string {
		calls := make([]string, n)
		for i := range calls {
			calls[i] = call(i + 1)
		}
		return "[" + strings.Join(calls, ",") + "]"
	}
	legacy := []string{"Mcp-Protocol-Version", "2025-03-26"}

	t.Run("bounded", func(t *testing.T) {
		f := newFixture(t, fixtureOptions{})
		token := f.token(t, "org_acme", "")
		rec := f.post(token, batch(mcpserver.DefaultMaxBatch+1), legacy...)
		if _, code, msg := rpcErrorOf(t, rec.Body.Bytes()); rec.Code != http.StatusBadRequest || code != -32600 || !strings.Contains(msg, "at most") {
			t.Errorf("an oversized batch: %d %s", rec.Code, rec.Body)
		}
		rec = f.post(token, batch(mcpserver.DefaultMaxBatch), legacy...)
		var answers []json.RawMessage
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &answers) != nil || len(answers) != mcpserver.DefaultMaxBatch {
			t.Errorf("a full batch: %d %s", rec.Code, rec.Body)
		}
	})
	t.Run("every call counts", func(t *testing.T) {
		f := newFixture(t, fixtureOptions{options: func(o *mcpserver.Options) {
			o.RateLimits = &mcpserver.RateLimits{PerPrincipal: 0.001, PrincipalBurst: 20}
		}})
		token := f.token(t, "org_acme", "")
		if rec := f.post(token, batch(15), legacy...); rec.Code != http.StatusOK {
			t.Fatalf("first batch: %d %s", rec.Code, rec.Body)
		}
		// 15 of the burst of 20 are spent: a batch of 6 would exceed it.
		if rec := f.post(token, batch(6), legacy...); rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
			t.Errorf("a batch beyond the limit: %d %s", rec.Code, rec.Body)
		}
		if rec := f.post(token, call(1)); rec.Code != http.StatusOK {
			t.Errorf("a single call within the limit: %d %s", rec.Code, rec.Body)
		}
	})
}

// TestIDsEchoedByteForByte: the go-sdk reads numeric ids as float64 and
// re-encodes strings; the client gets back exactly the id it sent.
func TestIDsEchoedByteForByte(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	token := f.token(t, "org_acme", "")
	for _, id := range []string{`1`, `-7`, `"abc-1"`, `18446744073709551616`, `9007199254740993`, `1.5`, `1e2`, `-0`,
		`"\u0041"`, `"a<b>&c"`, `"é"`, `0.0`} {
		body := `{"jsonrpc":"2.0","id":` + id + `,"method":"tools/call","params":{"name":"whoami"}}`
		rec := f.post(token, body)
		if rec.Code != http.StatusOK {
			t.Errorf("id %s: status %d %s", id, rec.Code, rec.Body)
			continue
		}
		if !strings.Contains(rec.Body.String(), `"id":`+id+`,`) && !strings.Contains(rec.Body.String(), `"id":`+id+`}`) {
			t.Errorf("id %s came back changed: %s", id, rec.Body)
		}
	}
	// In a batch each id comes back in its own answer.
	rec := f.post(token, `[{"jsonrpc":"2.0","id":18446744073709551616,"method":"tools/call","params":{"name":"whoami"}},`+
		`{"jsonrpc":"2.0","id":18446744073709551617,"method":"tools/call","params":{"name":"whoami"}}]`, "Mcp-Protocol-Version", "2025-03-26")
	for _, id := range []string{"18446744073709551616", "18446744073709551617"} {
		if !strings.Contains(rec.Body.String(), `"id":`+id) {
			t.Errorf("batch id %s came back changed: %s", id, rec.Body)
		}
	}
}

// TestStepUpScopesByProtocol: 2025-11-25 clients replace their scopes with
// the challenge's, so it names the granted and the needed; 2026-07-28
// clients take the union themselves, so it names what the operation needs.
func TestStepUpScopesByProtocol(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	token := f.token(t, "org_acme", "read:users read:flags")
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_user","arguments":{"email":"x@acme.example"}}}`
	for _, tc := range []struct{ version, want string }{
		{"2025-11-25", "read:flags read:users write:users"},
		{"", "read:flags read:users write:users"},
		{"2026-07-28", "write:users"},
	} {
		var headers []string
		if tc.version != "" {
			headers = []string{"Mcp-Protocol-Version", tc.version}
		}
		rec := f.post(token, body, headers...)
		if want := `scope="` + tc.want + `"`; rec.Code != http.StatusForbidden || !strings.Contains(rec.Header().Get("WWW-Authenticate"), want) {
			t.Errorf("protocol %q: %d %q, want %s", tc.version, rec.Code, rec.Header().Get("WWW-Authenticate"), want)
		}
	}
}

// TestMcpNameHeaderEncoding: a base64-encoded Mcp-Name is decoded before it
// is compared; a raw value with characters a header may not carry is
// refused with -32020.
func TestMcpNameHeaderEncoding(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	token := f.token(t, "org_acme", "")
	body := `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"whoami","arguments":{},` +
		`"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"t","version":"1"}}}}`
	headers := func(name string) []string {
		return []string{"Mcp-Protocol-Version", "2026-07-28", "Mcp-Method", "tools/call", "Mcp-Name", name}
	}
	if rec := f.post(token, body, headers("=?base64?d2hvYW1p?=")...); rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), `"error"`) {
		t.Errorf("base64 Mcp-Name: %d %s", rec.Code, rec.Body)
	}
	for _, bad := range []string{"who\x01ami", "whoami\x7f", " whoami", "=?base64?!!!?="} {
		rec := f.post(token, body, headers(bad)...)
		if _, code, _ := rpcErrorOf(t, rec.Body.Bytes()); rec.Code != http.StatusBadRequest || code != -32020 {
			t.Errorf("Mcp-Name %q: %d %s", bad, rec.Code, rec.Body)
		}
	}
}

// TestToolListIsPrivate: tools/list differs per token, so no shared cache
// may keep it, and 2026-07-28 results say so.
func TestToolListIsPrivate(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	rec := f.post(f.token(t, "org_acme", "read:users"), listCall)
	if cc := rec.Header().Get("Cache-Control"); !strings.Contains(cc, "no-store") && !strings.Contains(cc, "private") {
		t.Errorf("Cache-Control %q", cc)
	}
	var r struct {
		Result struct {
			CacheScope string `json:"cacheScope"`
		} `json:"result"`
	}
	json.Unmarshal(rec.Body.Bytes(), &r)
	if r.Result.CacheScope != "private" {
		t.Errorf("cacheScope %q: %s", r.Result.CacheScope, rec.Body)
	}
}

// bearer adds a token to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// TestListenStreamFlows: a 2026-07-28 client that wants tool-list
// notifications opens a subscriptions/listen stream while it connects;
// the acknowledgement must arrive at once (a layer that buffered answers
// made Connect hang).
func TestListenStreamFlows(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	srv := httptest.NewServer(f.handler)
	defer srv.Close()
	transport := &mcp.StreamableClientTransport{
		Endpoint:   srv.URL + "/mcp",
		HTTPClient: &http.Client{Transport: bearer{f.token(t, "org_acme", "read:users"), http.DefaultTransport}},
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "listener", Version: "1"}, &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {},
	})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	session, err := client.Connect(ctx, transport, nil)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	defer session.Close()
	if v := session.InitializeResult().ProtocolVersion; v < "2026-07-28" {
		t.Fatalf("negotiated %s; this test is about 2026-07-28 listen streams", v)
	}
	res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
	if err != nil || res.IsError {
		t.Fatalf("whoami over the listening session: %v %+v", err, res)
	}
}

// TestAccessLogNamesWhoAndWhere: every access line of /mcp names the client
// and the org — a refusal's too, and for a global token the org it acted on.
func TestAccessLogNamesWhoAndWhere(t *testing.T) {
	out := &logBuffer{}
	logger := slog.New(mcpserver.LogHandler(slog.NewTextHandler(out, nil)))
	f := newFixture(t, fixtureOptions{options: func(o *mcpserver.Options) { o.Logger = logger }})
	call := func(tool, args string) string {
		return `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"` + tool + `","arguments":` + args + `}}`
	}
	f.post(f.token(t, "org_acme", "read:users"), call("create_user", `{"email":"x@acme.example"}`)) // 403
	f.post(f.token(t, "org_acme", "read:users"), call("list_users", `{"org_code":"org_beta"}`))     // tenant
	f.post(f.token(t, "", "read:users"), call("list_users", `{"org_code":"org_beta"}`))             // global, allowed
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var access []string
	for _, l := range lines {
		if strings.Contains(l, "msg=request") {
			access = append(access, l)
		}
	}
	if len(access) != 3 {
		t.Fatalf("%d access lines:\n%s", len(access), out.String())
	}
	for i, want := range []string{
		"status=403 .*client_id=client-\\d+ org_code=org_acme tool=create_user decision=deny reason=insufficient_scope",
		"status=200 .*client_id=client-\\d+ org_code=org_acme tool=list_users decision=deny reason=tenant",
		"status=200 .*client_id=client-\\d+ org_code=org_beta tool=list_users",
	} {
		if !regexp.MustCompile(want).MatchString(access[i]) {
			t.Errorf("access line %d: %s\nwant it to match %s", i, access[i], want)
		}
	}
}

// TestAccessLogCarriesTraceID: the access line of a tools/call names the
// trace the call belongs to, and its audit event names the same one.
// Without tracing that is the trace of the caller's traceparent; with
// tracing it is the trace of the server span exported for the request —
// the caller's when it sent one, a fresh one otherwise. A malformed
// traceparent (W3C Trace Context §3.2) is ignored, as the tracer ignores
// it: no trace id without tracing, a fresh trace with it, and the call is
// served either way.
func TestAccessLogCarriesTraceID(t *testing.T) {
	const callerTrace, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	valid := "00-" + callerTrace + "-" + callerSpan + "-01"
	malformed := []struct{ name, traceparent string }{
		{"not a traceparent", "garbage"},
		{"no flags", "00-" + callerTrace + "-" + callerSpan},
		{"upper-case trace id", "00-" + strings.ToUpper(callerTrace) + "-" + callerSpan + "-01"},
		{"zero trace id", "00-" + strings.Repeat("0", 32) + "-" + callerSpan + "-01"},
		{"zero parent id", "00-" + callerTrace + "-" + strings.Repeat("0", 16) + "-01"},
		{"parent id not hex", "00-" + callerTrace + "-zzzzzzzzzzzzzzzz-01"},
		{"flags not hex", "00-" + callerTrace + "-" + callerSpan + "-0x"},
		{"version ff", "ff-" + callerTrace + "-" + callerSpan + "-01"},
		{"version not hex", "0z-" + callerTrace + "-" + callerSpan + "-01"},
		{"version 00 with a fifth field", valid + "-extra"},
	}

	t.Run("without tracing", func(t *testing.T) {
		call := traceLoggedServer(t, nil)
		if got := call(t, valid); got.logTrace != callerTrace || got.auditTrace != callerTrace {
			t.Errorf("traceparent %s: access line trace_id %q, audit trace id %q; want %s in both",
				valid, got.logTrace, got.auditTrace, callerTrace)
		}
		if got := call(t, ""); got.logTrace != "" || got.auditTrace != "" {
			t.Errorf("no traceparent: access line trace_id %q, audit trace id %q; want none", got.logTrace, got.auditTrace)
		}
		for _, tc := range malformed {
			t.Run(tc.name, func(t *testing.T) {
				if got := call(t, tc.traceparent); got.logTrace != "" || got.auditTrace != "" {
					t.Errorf("traceparent %q: access line trace_id %q, audit trace id %q; want none",
						tc.traceparent, got.logTrace, got.auditTrace)
				}
			})
		}
	})

	t.Run("with tracing", func(t *testing.T) {
		call := traceLoggedServer(t, otlptest.Start(t))
		got := call(t, valid)
		if got.logTrace != callerTrace || got.span.TraceID != callerTrace || got.span.ParentSpanID != callerSpan || got.auditTrace != callerTrace {
			t.Errorf("traceparent %s: access line trace_id %q, server span %s/%s (parent %q), audit trace id %q; "+
				"want trace %s, parent %s everywhere", valid, got.logTrace, got.span.TraceID, got.span.SpanID,
				got.span.ParentSpanID, got.auditTrace, callerTrace, callerSpan)
		}
		fresh := func(t *testing.T, traceparent string) {
			t.Helper()
			got := call(t, traceparent)
			if got.logTrace == "" || got.logTrace == callerTrace || got.span.TraceID != got.logTrace ||
				got.span.ParentSpanID != "" || got.auditTrace != got.logTrace {
				t.Errorf("traceparent %q: access line trace_id %q, server span %s (parent %q), audit trace id %q; "+
					"want a fresh trace, the server span's, everywhere", traceparent, got.logTrace, got.span.TraceID,
					got.span.ParentSpanID, got.auditTrace)
			}
		}
		fresh(t, "")
		for _, tc := range malformed {
			t.Run(tc.name, func(t *testing.T) { fresh(t, tc.traceparent) })
		}
	})
}

// tracedCall is what one tools/call left behind: the trace id of its
// access line ("" when it has none), of its audit event, and, with
// tracing, the server span exported for it.
type tracedCall struct {
	logTrace, auditTrace string
	span                 otlptest.Span
}

// traceLoggedServer starts a server logging to a buffer, tracing to
// receiver when it is not nil, and returns a function that makes one
// list_users call with a traceparent (none when "") and reports what the
// call left behind. The call must be served: a 200 with a result, and no
// warning or error logged.
func traceLoggedServer(t *testing.T, receiver *otlptest.Receiver) func(*testing.T, string) tracedCall {
	out := &logBuffer{}
	logger := slog.New(mcpserver.LogHandler(slog.NewTextHandler(out, nil)))
	f := newFixture(t, fixtureOptions{options: func(o *mcpserver.Options) {
		o.Logger = logger
		if receiver == nil {
			return
		}
		exporter, err := otlptracehttp.New(t.Context(), otlptracehttp.WithEndpointURL(receiver.URL+"/v1/traces"))
		if err != nil {
			t.Fatal(err)
		}
		tp, shutdown, err := telemetry.SetupTracing(t.Context(), telemetry.TracingOptions{ServiceName: "orgscope", Exporter: exporter, Sync: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { shutdown(context.Background()) })
		o.TracerProvider = tp
	}})
	token := f.token(t, "org_acme", "read:users")
	traceID := regexp.MustCompile(` trace_id=(\S+)`)
	calls := 0
	return func(t *testing.T, traceparent string) tracedCall {
		t.Helper()
		calls++
		requestID := fmt.Sprintf("traced-%d", calls)
		headers := []string{"X-Request-Id", requestID}
		if traceparent != "" {
			headers = append(headers, "Traceparent", traceparent)
		}
		rec := f.post(token, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_users","arguments":{}}}`, headers...)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"result"`) || strings.Contains(rec.Body.String(), `"isError":true`) {
			t.Fatalf("list_users with traceparent %q: %d %s", traceparent, rec.Code, rec.Body)
		}
		var got tracedCall
		text := out.String()
		var access []string
		for _, l := range strings.Split(text, "\n") {
			if !strings.HasSuffix(l, " request_id="+requestID) {
				continue
			}
			if strings.Contains(l, " level=WARN ") || strings.Contains(l, " level=ERROR ") {
				t.Errorf("traceparent %q was logged as a problem: %s", traceparent, l)
			}
			if strings.Contains(l, " msg=request ") {
				access = append(access, l)
			}
		}
		if len(access) != 1 {
			t.Fatalf("%d access lines of request %s:\n%s", len(access), requestID, text)
		}
		if m := traceID.FindStringSubmatch(access[0]); m != nil {
			got.logTrace = m[1]
		}
		events, _, err := f.store.ListAuditEvents(t.Context(), "org_acme", store.AuditFilter{Action: "tools/call:list_users"}, store.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var audited []store.AuditEvent
		for _, ev := range events {
			if ev.RequestID == requestID {
				audited = append(audited, ev)
			}
		}
		if len(audited) != 1 {
			t.Fatalf("%d audit events of request %s: %+v", len(audited), requestID, events)
		}
		got.auditTrace = audited[0].TraceID
		if receiver != nil {
			// One server span per request, exported as it ends: this
			// request's is the calls-th.
			spans, err := receiver.WaitFor(10*time.Second, func(s []otlptest.Span) bool {
				return len(otlptest.Named(s, "POST /mcp")) >= calls
			})
			if err != nil {
				t.Fatal(err)
			}
			server := otlptest.Named(spans, "POST /mcp")
			if len(server) != calls {
				t.Fatalf("%d server spans after %d requests", len(server), calls)
			}
			got.span = server[calls-1]
			if tool := otlptest.Named(spans, "tools/call list_users"); len(tool) != calls || tool[calls-1].ParentSpanID != got.span.SpanID {
				t.Fatalf("the tool span of request %s is not under its server span %s: %+v", requestID, got.span.SpanID, tool)
			}
		}
		return got
	}
}

// logBuffer is a log the server's goroutines write and the test reads.
type logBuffer struct {
	mu  sync.Mutex
	out strings.Builder
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.String()
}

// TestDeclaredCapabilities: what OrgScope answers it declares: tools, and
// prompts and resources (of which there are none) — the go-sdk answers
// their lists, and a client must be able to trust the declaration.
func TestDeclaredCapabilities(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	token := f.token(t, "org_acme", "")
	rec := f.post(token, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`,
		"Mcp-Protocol-Version", "2025-11-25")
	var r struct {
		Result struct {
			Capabilities map[string]json.RawMessage `json:"capabilities"`
		} `json:"result"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatalf("initialize: %d %s", rec.Code, rec.Body)
	}
	for _, c := range []string{"tools", "prompts", "resources"} {
		if _, ok := r.Result.Capabilities[c]; !ok {
			t.Errorf("%s is not declared: %s", c, rec.Body)
		}
	}
	for _, method := range []string{"prompts/list", "resources/list"} {
		rec := f.post(token, `{"jsonrpc":"2.0","id":9,"method":"`+method+`"}`)
		if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), `"error"`) {
			t.Errorf("%s: %d %s", method, rec.Code, rec.Body)
		}
	}
}

// TestMetricsCountOutcomes: after an allowed call, a tool error, a policy
// of the decision point refusing (tenant), a 403 and a 401, the scrape shows
// each in the latency histograms and the refusal counters — a tool error
// is an error, not a 200 success.
func TestMetricsCountOutcomes(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	read := f.token(t, "org_acme", "read:users")
	call := func(token, tool, args string) {
		f.post(token, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"`+tool+`","arguments":`+args+`}}`)
	}
	call(read, "list_users", `{}`)                                               // ok
	call(read, "get_user", `{"user_id":"usr_00000000000000000000000000000000"}`) // error (not found)
	call(read, "list_users", `{"org_code":"org_beta"}`)                          // denied (tenant)
	call(read, "list_users", `{"limit":1000}`)                                   // denied (validation)
	call(read, "create_user", `{"email":"x@acme.example"}`)                      // 403
	call("not-a-token", "list_users", `{}`)                                      // 401 invalid_token
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, publicURL+"/metrics", nil))
	metrics := rec.Body.String()
	for _, want := range []string{
		`orgscope_tool_call_duration_seconds_count{outcome="ok",tool="list_users"} 1`,
		`orgscope_tool_call_duration_seconds_count{outcome="error",tool="get_user"} 1`,
		`orgscope_tool_call_duration_seconds_count{outcome="denied",tool="list_users"} 2`,
		`orgscope_tool_call_duration_seconds_count{outcome="denied",tool="create_user"} 1`,
		`orgscope_tool_call_duration_seconds_count{outcome="refused",tool="list_users"} 1`,
		`orgscope_refusals_total{reason="tenant"} 1`,
		`orgscope_refusals_total{reason="validation"} 1`,
		`orgscope_refusals_total{reason="insufficient_scope"} 1`,
		`orgscope_refusals_total{reason="invalid_token"} 1`,
		`orgscope_http_request_duration_seconds_bucket{code="200",route="/mcp",le="10"} 4`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
