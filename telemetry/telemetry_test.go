package telemetry_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/orgscope/orgscope/telemetry"
)

func TestTracingIsOffWithoutOTLPVariables(t *testing.T) {
	tp, shutdown, err := telemetry.SetupTracing(t.Context(), telemetry.TracingOptions{
		ServiceName: "orgscope", Getenv: func(string) string { return "" }})
	if err != nil || tp != nil {
		t.Fatalf("SetupTracing without OTEL_EXPORTER_OTLP_ENDPOINT = %v, %v; want no provider", tp, err)
	}
	if err := shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestTracingExportsWithServiceAndVersion(t *testing.T) {
	exporter := tracetest.NewInMemoryExporter()
	tp, shutdown, err := telemetry.SetupTracing(t.Context(), telemetry.TracingOptions{
		ServiceName: "orgscope", Version: "v1.2.3", Exporter: exporter, Sync: true})
	if err != nil || tp == nil {
		t.Fatalf("SetupTracing with an exporter = %v, %v", tp, err)
	}
	defer shutdown(context.Background())
	_, span := tp.Tracer("test").Start(t.Context(), "work")
	span.End()
	spans := exporter.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans exported, want 1", len(spans))
	}
	attrs := map[string]string{}
	for _, kv := range spans[0].Resource.Attributes() {
		attrs[string(kv.Key)] = kv.Value.AsString()
	}
	if attrs["service.name"] != "orgscope" || attrs["service.version"] != "v1.2.3" {
		t.Errorf("resource %v, want service.name orgscope and service.version v1.2.3", attrs)
	}
}

func TestMetricsExposition(t *testing.T) {
	m := telemetry.NewMetrics()
	m.Request("/mcp", "200", 3*time.Millisecond)
	m.ToolCall("whoami", "ok", time.Millisecond)
	m.Refusal("policy")
	m.TokenIssued("client_credentials")
	m.VerificationCache(true)
	m.KeyFetch()
	m.StoreCall("get_user", "unavailable", time.Second)
	m.RateLimited("org")
	m.StorePool(func() (int, int, int) { return 2, 3, 10 })
	m.PolicyReloads(func() (uint64, uint64) { return 4, 1 })
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, want := range []string{
		`orgscope_http_request_duration_seconds_bucket{code="200",route="/mcp",le="0.005"} 1`,
		`orgscope_tool_call_duration_seconds_count{outcome="ok",tool="whoami"} 1`,
		`orgscope_refusals_total{reason="policy"} 1`,
		`orgscope_tokens_issued_total{grant_type="client_credentials"} 1`,
		`orgscope_token_verification_cache_total{result="hit"} 1`,
		`orgscope_jwks_fetches_total 1`,
		`orgscope_store_call_duration_seconds_count{op="get_user",outcome="unavailable"} 1`,
		`orgscope_rate_limited_total{limit="org"} 1`,
		`orgscope_store_pool_connections{state="in_use"} 2`,
		`orgscope_store_pool_connections{state="max"} 10`,
		`orgscope_policy_reloads_total{result="ok"} 4`,
		`orgscope_policy_reloads_total{result="refused"} 1`,
		`go_goroutines `,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("exposition lacks %s", want)
		}
	}

	var none *telemetry.Metrics // a nil *Metrics records nothing, and does not panic
	none.Request("/mcp", "200", time.Millisecond)
	none.StorePool(func() (int, int, int) { return 0, 0, 0 })
}
