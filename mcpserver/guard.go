package mcpserver

import (
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/orgscope/orgscope/internal/problem"
)

// origins decides which browser origins may call the MCP endpoint.
type origins struct {
	allowed []string // normalised scheme://host[:port]
	any     bool
}

// newOrigins allows the server's own origin, loopback origins when the
// server itself is on loopback (local tools such as the MCP Inspector), and
// the configured ones ("*" allows every origin).
func newOrigins(public *url.URL, configured []string) origins {
	o := origins{allowed: []string{strings.ToLower(public.Scheme + "://" + public.Host)}}
	for _, c := range configured {
		if c == "*" {
			o.any = true
			continue
		}
		o.allowed = append(o.allowed, strings.ToLower(strings.TrimSuffix(c, "/")))
	}
	if isLoopbackHost(public.Hostname()) {
		o.allowed = append(o.allowed, "loopback")
	}
	return o
}

func (o origins) ok(origin string) bool {
	if o.any {
		return true
	}
	origin = strings.ToLower(origin)
	if slices.Contains(o.allowed, origin) {
		return true
	}
	if slices.Contains(o.allowed, "loopback") {
		if u, err := url.Parse(origin); err == nil && (u.Scheme == "http" || u.Scheme == "https") && isLoopbackHost(u.Hostname()) {
			return true
		}
	}
	return false
}

// Headers a browser client of the MCP endpoint sends and must be able to read.
const (
	corsAllowHeaders  = "Authorization, Content-Type, Accept, Mcp-Protocol-Version, Mcp-Session-Id, Mcp-Method, Mcp-Name, Last-Event-Id, X-Request-Id"
	corsExposeHeaders = "WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version, Retry-After, RateLimit, RateLimit-Policy, X-Request-Id"
)

// crossOrigin answers CORS preflights for allowed origins, lets browsers
// read the WWW-Authenticate challenge, and refuses a request whose Origin is
// present but not allowed with 403, as the MCP transport spec requires (it
// is the DNS-rebinding defence for browsers). Requests without an Origin
// (curl, SDK clients) pass.
func crossOrigin(o origins, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		if !o.ok(origin) {
			problem.Error(w, http.StatusForbidden, "requests from origin "+origin+
				" are not allowed; start the server with --allowed-origins to allow it")
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "POST, GET, DELETE, OPTIONS")
			h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hostGuard refuses requests whose Host is not the public host (or, for a
// server on loopback, a loopback name), so that a DNS-rebinding page cannot
// reach a local server under its own name. It replaces the go-sdk's check,
// which knows nothing of a public URL behind a proxy.
func hostGuard(public *url.URL, extra []string, next http.Handler) http.Handler {
	allowed := append([]string{strings.ToLower(public.Host)}, extra...)
	loopbackOK := isLoopbackHost(public.Hostname())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := strings.ToLower(r.Host)
		if slices.Contains(allowed, host) {
			next.ServeHTTP(w, r)
			return
		}
		if loopbackOK {
			h, _, err := net.SplitHostPort(host)
			if err != nil {
				h = host
			}
			if isLoopbackHost(h) {
				next.ServeHTTP(w, r)
				return
			}
		}
		problem.Error(w, http.StatusForbidden, "Host "+r.Host+" is not this server's public host ("+public.Host+
			"); if clients reach the server under that name, start it with --public-url")
	})
}

func isLoopbackHost(h string) bool {
	h = strings.Trim(h, "[]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// acceptJSON lets a plain `curl --json` call the endpoint: the go-sdk wants
// Accept to list both application/json and text/event-stream, but with
// JSON responses on, application/json alone is enough to read the answer.
func acceptJSON(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			accept := strings.ToLower(strings.Join(r.Header.Values("Accept"), ","))
			if accept == "" || !strings.Contains(accept, "text/event-stream") && !strings.Contains(accept, "*/*") {
				r.Header.Set("Accept", "application/json, text/event-stream")
			}
		}
		next.ServeHTTP(w, r)
	})
}
