package mcpserver

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/orgscope/orgscope/authz"
)

// metrics counts requests and tool calls and serves them in the Prometheus
// text format. It is a few counters, so it is written by hand rather than
// pulling in a client library.
type metrics struct {
	mu       sync.Mutex
	requests map[[2]string]uint64 // route, status
	seconds  map[string]float64   // route
	tools    map[[3]string]uint64 // tool, status, result
	more     func(io.Writer)      // other parts' metrics, written after these
}

func newMetrics() *metrics {
	return &metrics{
		requests: map[[2]string]uint64{},
		seconds:  map[string]float64{},
		tools:    map[[3]string]uint64{},
	}
}

func (m *metrics) request(route string, status int, d time.Duration) {
	m.mu.Lock()
	m.requests[[2]string{route, fmt.Sprint(status)}]++
	m.seconds[route] += d.Seconds()
	m.mu.Unlock()
}

// toolCall counts a call by tool, HTTP status and result: a tool error
// answered in a 200 is an error, not a success.
func (m *metrics) toolCall(tool string, status int, result string) {
	if _, ok := authz.Lookup(tool); !ok {
		tool = "unknown" // bodies must not grow the label set
	}
	if result == "" {
		result = "none"
	}
	m.mu.Lock()
	m.tools[[3]string{tool, fmt.Sprint(status), result}]++
	m.mu.Unlock()
}

// knownRoutes bounds the route label.
var knownRoutes = []string{"/mcp", "/oauth2/token", "/oauth2/jwks", "/oauth2/authorize", "/oauth2/register",
	"/oauth2/revoke", "/oauth2/introspect", "/healthz", "/readyz", "/metrics"}

func routeOf(path string) string {
	switch {
	case slices.Contains(knownRoutes, path):
		return path
	case strings.HasPrefix(path, "/.well-known/"):
		return "/.well-known"
	case strings.HasPrefix(path, "/oauth2/"):
		return "/oauth2/other"
	}
	return "other"
}

func (m *metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	var b strings.Builder
	b.WriteString("# HELP orgscope_http_requests_total HTTP requests by route and status.\n")
	b.WriteString("# TYPE orgscope_http_requests_total counter\n")
	for _, k := range sortedKeys(m.requests) {
		fmt.Fprintf(&b, "orgscope_http_requests_total{route=%q,status=%q} %d\n", k[0], k[1], m.requests[k])
	}
	b.WriteString("# HELP orgscope_http_request_seconds_total Time spent serving requests, by route.\n")
	b.WriteString("# TYPE orgscope_http_request_seconds_total counter\n")
	routes := make([]string, 0, len(m.seconds))
	for r := range m.seconds {
		routes = append(routes, r)
	}
	slices.Sort(routes)
	for _, r := range routes {
		fmt.Fprintf(&b, "orgscope_http_request_seconds_total{route=%q} %g\n", r, m.seconds[r])
	}
	b.WriteString("# HELP orgscope_tool_calls_total MCP tool calls by tool, HTTP status and result (ok, error, or none when the tool never ran).\n")
	b.WriteString("# TYPE orgscope_tool_calls_total counter\n")
	toolKeys := slices.SortedFunc(maps.Keys(m.tools), func(a, b [3]string) int { return slices.Compare(a[:], b[:]) })
	for _, k := range toolKeys {
		fmt.Fprintf(&b, "orgscope_tool_calls_total{tool=%q,status=%q,result=%q} %d\n", k[0], k[1], k[2], m.tools[k])
	}
	if m.more != nil {
		m.more(&b)
	}
	w.Write([]byte(b.String()))
}

func sortedKeys(m map[[2]string]uint64) [][2]string {
	keys := make([][2]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int {
		if c := strings.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return strings.Compare(a[1], b[1])
	})
	return keys
}
