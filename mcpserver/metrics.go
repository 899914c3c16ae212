package mcpserver

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/orgscope/orgscope/authz"
	"github.com/orgscope/orgscope/internal/request"
	"github.com/orgscope/orgscope/telemetry"
)

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
	case strings.HasPrefix(path, "/console/"):
		return "/console"
	}
	return "other"
}

// count reports one finished request to the metrics: its latency, each
// tool call's outcome, and every refusal by reason — a tool error is an
// error, not a success because it came in a 200.
func count(m *telemetry.Metrics, r *http.Request, rec *request.Record, status int, header http.Header, elapsed time.Duration) {
	m.Request(routeOf(r.URL.Path), strconv.Itoa(status), elapsed)
	challenge := header.Get("WWW-Authenticate")
	switch status {
	case http.StatusUnauthorized:
		if strings.Contains(challenge, `error="invalid_token"`) {
			m.Refusal("invalid_token")
		} else {
			m.Refusal("no_token")
		}
	case http.StatusForbidden:
		if strings.Contains(challenge, `error="insufficient_scope"`) {
			m.Refusal(authz.ReasonInsufficientScope)
		}
	case http.StatusTooManyRequests:
		m.Refusal("rate_limited")
		m.RateLimited(limitOf(r, header))
	}
	outcomes := rec.Outcomes()
	for _, o := range outcomes {
		if o.Decision == "deny" && o.Reason != authz.ReasonInsufficientScope {
			m.Refusal(o.Reason)
		}
	}
	for _, c := range rec.Calls {
		if c.Method != "tools/call" {
			continue
		}
		tool := c.Tool
		if _, ok := authz.Lookup(tool); !ok {
			tool = "unknown" // bodies must not grow the label set
		}
		m.ToolCall(tool, callOutcome(rec, outcomes, c.Tool, status), elapsed)
	}
}

// callOutcome is what became of one tool call: ok, error, denied,
// unavailable, or refused when the tool never ran.
func callOutcome(rec *request.Record, outcomes []request.Outcome, tool string, status int) string {
	if rec.Unavailable() {
		return "unavailable"
	}
	for _, o := range outcomes {
		if o.Tool != tool {
			continue
		}
		switch {
		case o.Decision == "deny":
			return "denied"
		case o.Result == "ok" && status < 400:
			return "ok"
		}
		return "error"
	}
	return "refused"
}

// limitOf names the limit that refused a request: on /mcp the policy its
// RateLimit field names (principal, organization), elsewhere the issuer's
// per-address limit.
func limitOf(r *http.Request, header http.Header) string {
	if routeOf(r.URL.Path) != MCPPath {
		return "address"
	}
	name, _, _ := strings.Cut(header.Get("RateLimit"), ";")
	switch name = strings.Trim(name, `"`); name {
	case "principal", "organization":
		return name
	}
	return "principal"
}
