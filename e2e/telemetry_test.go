package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/orgscope/orgscope/internal/otlptest"
	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/sqlite"
)

// TestTracesOfOneToolCall runs the binary with the standard OTLP variables
// pointing at an in-process receiver, makes one tools/call with a
// traceparent header and one with a traceparent in params._meta, and checks
// the spans that arrive: the HTTP server span continues the caller's trace,
// the tool call's span is its child and named and attributed after the MCP
// conventions with the caller's identity, token verification and store
// calls are children — and no span carries the token. The audit event of
// the call holds the trace id.
func TestTracesOfOneToolCall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	receiver := otlptest.Start(t)
	bin := buildBinary(t)
	db := filepath.Join(t.TempDir(), "orgscope.db")
	base, banner, stop := startBinary(t, bin,
		[]string{"--addr", "127.0.0.1:0", "--db", db, "--demo=true", "--rate-limit", "0"},
		"OTEL_EXPORTER_OTLP_ENDPOINT="+receiver.URL, "OTEL_BSP_SCHEDULE_DELAY=50")
	defer stop()
	s := &testServer{URL: base, Resource: base + "/mcp"}
	acme := parseCredentials(banner)["org_acme"]
	token := s.token(t, acme, "read:users")

	const traceID, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	resp, body := s.callTool(t, token, "list_users", map[string]any{}, "traceparent", "00-"+traceID+"-"+callerSpan+"-01",
		"Mcp-Protocol-Version", "2025-11-25")
	if resp.StatusCode != http.StatusOK || bytes.Contains(body, []byte(`"isError":true`)) {
		t.Fatalf("list_users: HTTP %d: %s", resp.StatusCode, body)
	}

	spans, err := receiver.WaitFor(10*time.Second, func(spans []otlptest.Span) bool {
		inTrace := ofTrace(spans, traceID)
		return len(otlptest.Named(inTrace, "tools/call list_users")) == 1 && len(otlptest.Named(inTrace, "POST /mcp")) == 1 &&
			slices.ContainsFunc(inTrace, func(s otlptest.Span) bool { return strings.HasPrefix(s.Name, "store ") })
	})
	if err != nil {
		t.Fatalf("%v: %+v", err, spans)
	}
	trace := ofTrace(spans, traceID)
	httpSpan := otlptest.Named(trace, "POST /mcp")[0]
	if httpSpan.ParentSpanID != callerSpan || httpSpan.Kind.String() != "SPAN_KIND_SERVER" || httpSpan.Service != "orgscope" {
		t.Errorf("HTTP span: parent %q kind %v service %q; want parent %s (the traceparent's), a server span of service orgscope",
			httpSpan.ParentSpanID, httpSpan.Kind, httpSpan.Service, callerSpan)
	}
	toolSpan := otlptest.Named(trace, "tools/call list_users")[0]
	if toolSpan.ParentSpanID != httpSpan.SpanID {
		t.Errorf("tool span's parent is %s, want the HTTP span %s", toolSpan.ParentSpanID, httpSpan.SpanID)
	}
	for key, want := range map[string]any{
		"mcp.method.name":       "tools/call",
		"gen_ai.tool.name":      "list_users",
		"gen_ai.operation.name": "execute_tool",
		"mcp.protocol.version":  "2025-11-25",
		"jsonrpc.request.id":    "1",
		"orgscope.client_id":    acme.ID,
		"orgscope.org_code":     "org_acme",
	} {
		if got := toolSpan.Attributes[key]; got != want {
			t.Errorf("tool span %s = %v, want %v", key, got, want)
		}
	}
	verify := otlptest.Named(trace, "verify access token")
	if len(verify) != 1 || verify[0].ParentSpanID != httpSpan.SpanID || verify[0].Attributes["orgscope.client_id"] != acme.ID {
		t.Errorf("want one token verification span under the HTTP span, naming the client; got %+v", verify)
	}
	storeUnderTool := 0
	for _, sp := range trace {
		if strings.HasPrefix(sp.Name, "store ") && descends(trace, sp, toolSpan.SpanID) {
			storeUnderTool++
		}
	}
	if storeUnderTool == 0 {
		t.Error("no store span under the tool call's span")
	}
	for _, sp := range spans {
		for k, v := range sp.Attributes {
			if str, ok := v.(string); ok && (strings.Contains(str, token) || strings.Contains(str, acme.Secret)) {
				t.Errorf("span %q attribute %s carries a credential", sp.Name, k)
			}
		}
	}

	// The audit event of the call names the same trace.
	st, err := sqlite.Open(t.Context(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	events, _, err := st.ListAuditEvents(t.Context(), "org_acme", store.AuditFilter{Action: "tools/call:list_users"}, store.Page{Limit: 10})
	if err != nil || len(events) != 1 || events[0].TraceID != traceID {
		t.Errorf("audit events of list_users: %+v, %v; want one with trace id %s", events, err, traceID)
	}

	// A traceparent in params._meta (the MCP convention) is the tool
	// span's parent; the HTTP span it arrived in is linked.
	const metaTrace, metaSpan = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	raw := `{"jsonrpc":"2.0","id":"call-7","method":"tools/call","params":{"name":"whoami","arguments":{},` +
		`"_meta":{"traceparent":"00-` + metaTrace + `-` + metaSpan + `-01"}}}`
	if code, body := postRaw(t, s.Resource, token, raw); code != http.StatusOK {
		t.Fatalf("whoami: HTTP %d: %s", code, body)
	}
	spans, err = receiver.WaitFor(10*time.Second, func(spans []otlptest.Span) bool {
		return len(otlptest.Named(ofTrace(spans, metaTrace), "tools/call whoami")) == 1
	})
	if err != nil {
		t.Fatal(err)
	}
	whoami := otlptest.Named(ofTrace(spans, metaTrace), "tools/call whoami")[0]
	if whoami.ParentSpanID != metaSpan || whoami.Attributes["jsonrpc.request.id"] != "call-7" {
		t.Errorf("whoami span: parent %s, request id %v; want parent %s (from _meta), id call-7",
			whoami.ParentSpanID, whoami.Attributes["jsonrpc.request.id"], metaSpan)
	}
	if len(whoami.Links) != 1 || len(otlptest.Named(ofTrace(spans, whoami.Links[0].TraceID), "POST /mcp")) == 0 {
		t.Errorf("whoami span links %+v, want a link to the HTTP span it arrived in", whoami.Links)
	}
}

// TestMetricsOfTheRunningServer scrapes /metrics of the running server after
// an allowed and a refused call and checks what the operator's dashboards
// read: tool calls by outcome, refusals by reason, tokens issued by grant
// type, verification cache use, store call latency and pool, and the Go
// runtime.
func TestMetricsOfTheRunningServer(t *testing.T) {
	s := startServer(t, serverOptions{})
	acme := s.Clients["org_acme"]
	read := s.token(t, acme, "read:users")
	s.tool(t, read, "list_users", map[string]any{})
	s.tool(t, read, "list_users", map[string]any{})
	if resp, _ := s.callTool(t, read, "create_user", map[string]any{"email": "m@acme.example"}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("create_user with a read token: HTTP %d, want 403", resp.StatusCode)
	}

	families := scrapeMetrics(t, s)
	checks := []struct {
		family  string
		labels  map[string]string
		atLeast float64
	}{
		{"orgscope_tool_call_duration_seconds", map[string]string{"tool": "list_users", "outcome": "ok"}, 2},
		{"orgscope_tool_call_duration_seconds", map[string]string{"tool": "create_user", "outcome": "denied"}, 1},
		{"orgscope_refusals_total", map[string]string{"reason": "insufficient_scope"}, 1},
		{"orgscope_tokens_issued_total", map[string]string{"grant_type": "client_credentials"}, 1},
		{"orgscope_token_verification_cache_total", map[string]string{"result": "hit"}, 1},
		{"orgscope_token_verification_cache_total", map[string]string{"result": "miss"}, 1},
		{"orgscope_store_call_duration_seconds", map[string]string{"outcome": "ok"}, 1},
		{"orgscope_store_pool_connections", map[string]string{"state": "max"}, 1},
		{"orgscope_http_request_duration_seconds", map[string]string{"route": "/mcp", "code": "403"}, 1},
		{"go_goroutines", nil, 1},
		{"process_resident_memory_bytes", nil, 1},
	}
	for _, c := range checks {
		if got := sumOf(families[c.family], c.labels); got < c.atLeast {
			t.Errorf("%s%v = %v, want at least %v", c.family, c.labels, got, c.atLeast)
		}
	}
}

// scrapeMetrics reads the server's /metrics, which must parse.
func scrapeMetrics(t *testing.T, s *testServer) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return families
}

// sumOf adds the values (counts, for histograms) of a family's series that
// carry labels.
func sumOf(f *dto.MetricFamily, labels map[string]string) float64 {
	if f == nil {
		return 0
	}
	var sum float64
	for _, m := range f.GetMetric() {
		match := true
		for k, v := range labels {
			if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == k && l.GetValue() == v }) {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		}
	}
	return sum
}

func ofTrace(spans []otlptest.Span, traceID string) []otlptest.Span {
	var out []otlptest.Span
	for _, s := range spans {
		if s.TraceID == traceID {
			out = append(out, s)
		}
	}
	return out
}

// descends reports whether span is below the span ancestor in trace.
func descends(trace []otlptest.Span, span otlptest.Span, ancestor string) bool {
	bySpan := map[string]otlptest.Span{}
	for _, s := range trace {
		bySpan[s.SpanID] = s
	}
	for hops := 0; span.ParentSpanID != "" && hops < 64; hops++ {
		if span.ParentSpanID == ancestor {
			return true
		}
		parent, ok := bySpan[span.ParentSpanID]
		if !ok {
			return false
		}
		span = parent
	}
	return false
}

// postRaw posts a JSON-RPC body as it is and returns the status and body.
func postRaw(t *testing.T, url, token, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var probe json.RawMessage
	if json.Unmarshal(b, &probe) != nil {
		t.Fatalf("not JSON: %s", b)
	}
	return resp.StatusCode, b
}
