// Package telemetry holds OrgScope's traces and metrics.
//
// Traces use the OpenTelemetry Go SDK, exported over OTLP/HTTP when the
// standard OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
// variable is set, and not at all otherwise ([SetupTracing]); the other
// OTEL_* variables (headers, sampler, service name and resource) apply as
// the SDK defines them. The provider is handed to the HTTP layer, which
// starts a span per request and per MCP call; token verification and store
// calls start children with their parent span's provider, so with tracing
// off they cost one context lookup. Nothing global is set.
//
// Metrics use the official Prometheus client ([Metrics]): request and tool
// call latency histograms, refusals by reason, tokens issued, verification
// cache use, key fetches, store call latency and pool use, rate-limited
// calls, and the Go runtime and process collectors.
package telemetry
