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

	"github.com/orgscope/orgscope/mcpserver"
	"github.com/orgscope/orgscope/store"
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
	var out strings.Builder
	var mu sync.Mutex
	logger := slog.New(mcpserver.LogHandler(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return out.Write(p)
	}), nil)))
	f := newFixture(t, fixtureOptions{options: func(o *mcpserver.Options) { o.Logger = logger }})
	call := func(tool, args string) string {
		return `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"` + tool + `","arguments":` + args + `}}`
	}
	f.post(f.token(t, "org_acme", "read:users"), call("create_user", `{"email":"x@acme.example"}`)) // 403
	f.post(f.token(t, "org_acme", "read:users"), call("list_users", `{"org_code":"org_beta"}`))     // tenant
	f.post(f.token(t, "", "read:users"), call("list_users", `{"org_code":"org_beta"}`))             // global, allowed
	mu.Lock()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	mu.Unlock()
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

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

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
