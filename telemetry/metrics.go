package telemetry

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// latencyBuckets run from 100 µs to 10 s: a cached read answers in well
// under a millisecond, and the OpenTelemetry MCP convention's buckets,
// which start at 10 ms, would put every call in the first one.
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Metrics are OrgScope's Prometheus metrics. Label values are bounded by
// construction: routes and tools come from fixed lists, reasons and
// outcomes from the code, never from a request. A nil *Metrics records
// nothing.
type Metrics struct {
	registry *prometheus.Registry

	requests    *prometheus.HistogramVec // route, code
	toolCalls   *prometheus.HistogramVec // tool, outcome
	refusals    *prometheus.CounterVec   // reason
	tokens      *prometheus.CounterVec   // grant_type
	verifyCache *prometheus.CounterVec   // result
	keyFetches  prometheus.Counter
	storeCalls  *prometheus.HistogramVec // op, outcome
	rateLimited *prometheus.CounterVec   // limit
}

// NewMetrics registers OrgScope's metrics and the Go runtime and process
// collectors in a registry of their own.
func NewMetrics() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{registry: r}
	m.requests = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "orgscope_http_request_duration_seconds", Help: "HTTP requests by route and status code.",
		Buckets: latencyBuckets,
	}, []string{"route", "code"})
	m.toolCalls = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "orgscope_tool_call_duration_seconds",
		Help:    "MCP tool calls by tool and outcome: ok, error (a tool error after an allow), denied, unavailable (answered 503), or refused (before the tool ran: 401, 403, 429, a malformed body).",
		Buckets: latencyBuckets,
	}, []string{"tool", "outcome"})
	m.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "orgscope_refusals_total",
		Help: "Refused requests and calls by reason: invalid_token, no_token, insufficient_scope, policy, tenant, validation, global_only, rate_limited, …",
	}, []string{"reason"})
	m.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "orgscope_tokens_issued_total", Help: "Access tokens the embedded issuer signed, by grant type.",
	}, []string{"grant_type"})
	m.verifyCache = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "orgscope_token_verification_cache_total", Help: "Token verifications answered from the cache (hit) or verified (miss).",
	}, []string{"result"})
	m.keyFetches = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "orgscope_jwks_fetches_total", Help: "Fetches of an external issuer's key set.",
	})
	m.storeCalls = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "orgscope_store_call_duration_seconds", Help: "Store calls by operation and outcome (ok, error, unavailable).",
		Buckets: latencyBuckets,
	}, []string{"op", "outcome"})
	m.rateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "orgscope_rate_limited_total", Help: "Calls refused with 429, by the limit that refused them.",
	}, []string{"limit"})
	r.MustRegister(m.requests, m.toolCalls, m.refusals, m.tokens, m.verifyCache, m.keyFetches, m.storeCalls,
		m.rateLimited,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Request observes an HTTP request.
func (m *Metrics) Request(route, code string, d time.Duration) {
	if m != nil {
		m.requests.WithLabelValues(route, code).Observe(d.Seconds())
	}
}

// ToolCall observes a tool call.
func (m *Metrics) ToolCall(tool, outcome string, d time.Duration) {
	if m != nil {
		m.toolCalls.WithLabelValues(tool, outcome).Observe(d.Seconds())
	}
}

// Refusal counts a refusal.
func (m *Metrics) Refusal(reason string) {
	if m != nil {
		m.refusals.WithLabelValues(reason).Inc()
	}
}

// TokenIssued counts a token the embedded issuer signed.
func (m *Metrics) TokenIssued(grantType string) {
	if m != nil {
		m.tokens.WithLabelValues(grantType).Inc()
	}
}

// VerificationCache counts a verification answered from the cache or not.
func (m *Metrics) VerificationCache(hit bool) {
	if m != nil {
		result := "miss"
		if hit {
			result = "hit"
		}
		m.verifyCache.WithLabelValues(result).Inc()
	}
}

// KeyFetch counts a fetch of an external issuer's key set.
func (m *Metrics) KeyFetch() {
	if m != nil {
		m.keyFetches.Inc()
	}
}

// StoreCall observes a store call.
func (m *Metrics) StoreCall(op, outcome string, d time.Duration) {
	if m != nil {
		m.storeCalls.WithLabelValues(op, outcome).Observe(d.Seconds())
	}
}

// RateLimited counts a call refused by a rate limit.
func (m *Metrics) RateLimited(limit string) {
	if m != nil {
		m.rateLimited.WithLabelValues(limit).Inc()
	}
}

// StorePool reports the store's connections, read when scraped.
func (m *Metrics) StorePool(stats func() (inUse, idle, max int)) {
	if m == nil || stats == nil {
		return
	}
	for i, state := range []string{"in_use", "idle", "max"} {
		m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "orgscope_store_pool_connections",
			Help:        "Database connections of the store's pools, by state (in_use, idle, max).",
			ConstLabels: prometheus.Labels{"state": state},
		}, func() float64 {
			inUse, idle, max := stats()
			return float64([]int{inUse, idle, max}[i])
		}))
	}
}

// PolicyReloads reports the access policy's reloads, read when scraped:
// those that put a new policy in force and those refused.
func (m *Metrics) PolicyReloads(stats func() (ok, refused uint64)) {
	if m == nil || stats == nil {
		return
	}
	for i, result := range []string{"ok", "refused"} {
		m.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "orgscope_policy_reloads_total",
			Help:        "Access policy reloads, by result: ok (a new policy is in force) or refused (the file did not load; the previous policy stays).",
			ConstLabels: prometheus.Labels{"result": result},
		}, func() float64 {
			ok, refused := stats()
			return float64([]uint64{ok, refused}[i])
		}))
	}
}
