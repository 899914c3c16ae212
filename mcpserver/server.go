package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"go.opentelemetry.io/otel/trace"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authz"
	"github.com/orgscope/orgscope/internal/problem"
	"github.com/orgscope/orgscope/service"
	"github.com/orgscope/orgscope/telemetry"
	"github.com/orgscope/orgscope/tools"
	"github.com/orgscope/orgscope/wellknown"
)

// MCPPath is where the MCP endpoint is served; the canonical resource URI
// is the public base URL followed by it.
const MCPPath = "/mcp"

// DefaultMaxBodyBytes bounds a request body when Options.MaxBodyBytes is zero.
const DefaultMaxBodyBytes = 1 << 20

// DefaultMaxBatch bounds the messages of one JSON-RPC batch (protocol
// 2025-03-26 and older) when Options.MaxBatch is zero: every message is a
// call the server answers in one response, and counts against the rate
// limit on its own.
const DefaultMaxBatch = 16

// DefaultScopes are named in the 401 challenge when the request does not
// say what it wants to do: enough to look around, and a client steps up
// from there.
var DefaultScopes = []string{auth.ScopeReadUsers, auth.ScopeReadOrgs, auth.ScopeReadFlags}

// Pinger reports whether the database answers, for /readyz.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Options configures New.
type Options struct {
	// PublicURL is the base URL clients reach the server at (scheme, host,
	// optional port, no path). Required.
	PublicURL string
	// Service performs the tools' operations; its decision point also
	// decides the 403 before dispatch and tools/list, and its audit trail
	// records those refusals. Required.
	Service *service.Service
	// Store answers /readyz. Required.
	Store Pinger
	// Verifier checks access tokens. Required.
	Verifier auth.Verifier
	// AuthorizationServers are the issuer identifiers listed in the
	// Protected Resource Metadata. Required.
	AuthorizationServers []string
	// AuthServer, when set, is the embedded issuer's handler, mounted at
	// /oauth2/; AuthServerMetadata is then served at the well-known paths.
	AuthServer         http.Handler
	AuthServerMetadata *oauthex.AuthServerMeta
	// Console, when set, is the web console (or the page saying why there
	// is none), mounted at /console/.
	Console http.Handler
	// AllowedOrigins are browser origins, besides the server's own (and
	// loopback ones for a loopback server), that may call /mcp; "*" allows all.
	AllowedOrigins []string
	// AllowedHosts are Host header values accepted besides the public
	// URL's host.
	AllowedHosts []string
	// Aliases are other base URLs the server answers as, the same server
	// under another name: on loopback without a configured public URL,
	// http://localhost:PORT and http://[::1]:PORT besides
	// http://127.0.0.1:PORT, since people type localhost and both SDKs
	// refuse metadata naming a host other than the one they asked. A
	// request to an alias gets discovery documents and challenges built for
	// that name (and, in embedded mode, the issuer under that name); the
	// verifier must accept the tokens of every name.
	Aliases []string
	// RateLimits bounds callers; nil means no limits.
	RateLimits *RateLimits
	// MaxBodyBytes bounds request bodies; zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxBatch bounds the messages of one JSON-RPC batch; zero means
	// DefaultMaxBatch.
	MaxBatch int
	// ResourceDocumentation is the resource_documentation URL in the PRM;
	// empty means the project's README.
	ResourceDocumentation string
	// Version is reported to MCP clients.
	Version string
	// Logger receives the access log and every refusal; nil discards.
	Logger *slog.Logger
	// Metrics are served at /metrics and fed by every request; nil means a
	// registry of the server's own.
	Metrics *telemetry.Metrics
	// TracerProvider, when set, gets a span for every HTTP request and MCP
	// call, with children for token verification and store calls; nil
	// means no tracing (telemetry.SetupTracing returns one when OTLP is
	// configured).
	TracerProvider trace.TracerProvider
}

// Server is the assembled handler.
type Server struct {
	handler  http.Handler
	resource string
	mcp      *mcp.Server
	service  *service.Service
}

// ToolsChanged tells MCP clients listening for notifications that the
// tools they may call may have changed: the server calls it when the
// access policy is reloaded.
func (s *Server) ToolsChanged() { tools.Relist(s.mcp, tools.Options{Service: s.service}) }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Resource returns the canonical resource URI (the PRM's resource).
func (s *Server) Resource() string { return s.resource }

// Resource returns the canonical resource URI for a public base URL.
func Resource(publicURL string) string { return strings.TrimSuffix(publicURL, "/") + MCPPath }

// New assembles the handler.
func New(opts Options) (*Server, error) {
	if opts.Service == nil || opts.Store == nil || opts.Verifier == nil || len(opts.AuthorizationServers) == 0 {
		return nil, errors.New("mcpserver: Options needs Service, Store, Verifier and AuthorizationServers")
	}
	public, err := url.Parse(strings.TrimSuffix(opts.PublicURL, "/"))
	if err != nil || (public.Scheme != "http" && public.Scheme != "https") || public.Host == "" {
		return nil, fmt.Errorf("mcpserver: public URL %q must be an absolute http(s) URL", opts.PublicURL)
	}
	if public.Path != "" || public.RawQuery != "" {
		return nil, fmt.Errorf("mcpserver: public URL %q must not have a path or query", opts.PublicURL)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}

	if opts.ResourceDocumentation == "" {
		opts.ResourceDocumentation = "https://github.com/orgscope/orgscope#readme"
	}
	calls := newCallLimits(opts.RateLimits, logger)
	server := newMCPServer(opts, logger)
	mcpHandler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, &mcp.StreamableHTTPOptions{
		// Stateless: every request is authenticated on its own, any replica
		// can serve it, and 2026-07-28 clients are accepted.
		Stateless: true,
		// JSON answers: readable with curl, no SSE framing.
		JSONResponse: true,
		// hostGuard below does the DNS-rebinding check, with the public URL.
		DisableLocalhostProtection: true,
		MaxRequestBodyBytes:        opts.MaxBodyBytes,
		Logger:                     slog.New(atLeast(slog.LevelWarn, logger.Handler())),
	})
	m := opts.Metrics
	if m == nil {
		m = telemetry.NewMetrics()
	}

	// One set of routes per name the server answers as: the public URL and
	// its aliases differ only in the URLs their documents and challenges
	// carry.
	names := []*url.URL{public}
	allowedHosts := slices.Clone(opts.AllowedHosts)
	for _, a := range opts.Aliases {
		u, err := url.Parse(strings.TrimSuffix(a, "/"))
		if err != nil || u.Host == "" || u.Path != "" {
			return nil, fmt.Errorf("mcpserver: alias %q must be a base URL like the public URL", a)
		}
		names = append(names, u)
		allowedHosts = append(allowedHosts, strings.ToLower(u.Host))
	}
	byHost := map[string]http.Handler{}
	for _, name := range names {
		h, err := routes(opts, name, public, mcpHandler, calls, m, logger)
		if err != nil {
			return nil, err
		}
		byHost[strings.ToLower(name.Host)] = h
	}
	canonical := byHost[strings.ToLower(public.Host)]
	routed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := byHost[strings.ToLower(r.Host)]; ok {
			h.ServeHTTP(w, r)
			return
		}
		canonical.ServeHTTP(w, r)
	})

	// Probes and scrapers address the server by IP, so they skip the Host check.
	root := http.NewServeMux()
	root.Handle("/healthz", canonical)
	root.Handle("/readyz", canonical)
	root.Handle("/metrics", canonical)
	root.Handle("/", hostGuard(public, allowedHosts, routed))
	handler := observe(logger, m, plainErrorsAsProblems(root))
	if opts.TracerProvider != nil {
		handler = traced(opts.TracerProvider, handler)
	}
	return &Server{handler: handler, resource: public.String() + MCPPath, mcp: server, service: opts.Service}, nil
}

// routes builds the routes of the server as it is named name: its
// discovery documents, the issuer's endpoints, the /mcp chain and the
// probes.
func routes(opts Options, name, public *url.URL, mcpHandler http.Handler, calls *callLimits, m *telemetry.Metrics, logger *slog.Logger) (http.Handler, error) {
	base := name.Scheme + "://" + name.Host
	resource := base + MCPPath
	metadataURL, err := wellknown.ResourceMetadataURL(resource)
	if err != nil {
		return nil, err
	}
	servers := opts.AuthorizationServers
	var asMeta *oauthex.AuthServerMeta
	if opts.AuthServerMetadata != nil {
		// The embedded issuer answers under this name too.
		servers = []string{base}
		asMeta = rebaseMetadata(opts.AuthServerMetadata, public.Scheme+"://"+public.Host, base)
	}
	mux := http.NewServeMux()
	err = wellknown.Mount(mux, wellknown.Documents{
		Resource: &oauthex.ProtectedResourceMetadata{
			Resource:               resource,
			AuthorizationServers:   servers,
			ScopesSupported:        auth.AllScopes,
			BearerMethodsSupported: []string{"header"},
			ResourceName:           "OrgScope",
			ResourceDocumentation:  opts.ResourceDocumentation,
		},
		AuthServer: asMeta,
	})
	if err != nil {
		return nil, err
	}
	if opts.AuthServer != nil {
		// The issuer limits its own callers per address.
		mux.Handle("/oauth2/", opts.AuthServer)
	}
	if opts.Console != nil {
		mux.Handle("/console/", opts.Console)
	}
	authn := auth.Middleware(auth.MiddlewareOptions{
		Verifier:            opts.Verifier,
		ResourceMetadataURL: metadataURL,
		Scopes:              scopesOfCalls,
		DefaultScopes:       DefaultScopes,
		Logger:              logger,
	})
	// The way a call to /mcp travels, outermost first (observe, the host
	// check and problem documents wrap every route).
	mux.Handle(MCPPath, chain(mcpHandler,
		func(h http.Handler) http.Handler { return crossOrigin(newOrigins(name, opts.AllowedOrigins), h) },
		func(h http.Handler) http.Handler { return readCalls(opts.MaxBodyBytes, opts.MaxBatch, h) },
		authn,
		notePrincipal,
		calls.limit,
		func(h http.Handler) http.Handler {
			return decide(opts.Service.Authorizer(), metadataURL, opts.Service, h)
		},
		answerOutages,
		acceptJSON,
	))

	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := opts.Store.Ping(ctx); err != nil {
			logger.WarnContext(r.Context(), "not ready", "err", err)
			w.Header().Set("Retry-After", "5")
			problem.Error(w, http.StatusServiceUnavailable, "the database is unreachable")
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"name":                        "OrgScope",
			"mcp_endpoint":                resource,
			"protected_resource_metadata": metadataURL,
			"authorization_servers":       servers,
			"documentation":               opts.ResourceDocumentation,
		})
	})
	return mux, nil
}

// rebaseMetadata returns meta with every URL under from moved under to.
func rebaseMetadata(meta *oauthex.AuthServerMeta, from, to string) *oauthex.AuthServerMeta {
	if from == to {
		return meta
	}
	b, _ := json.Marshal(meta)
	var fields map[string]any
	json.Unmarshal(b, &fields)
	for k, v := range fields {
		if s, ok := v.(string); ok && (s == from || strings.HasPrefix(s, from+"/")) {
			fields[k] = to + strings.TrimPrefix(s, from)
		}
	}
	b, _ = json.Marshal(fields)
	out := &oauthex.AuthServerMeta{}
	json.Unmarshal(b, out)
	return out
}

// chain wraps h in middlewares, the first outermost.
func chain(h http.Handler, middlewares ...func(http.Handler) http.Handler) http.Handler {
	for i := len(middlewares) - 1; i >= 0; i-- {
		h = middlewares[i](h)
	}
	return h
}

// notePrincipal records the authenticated principal in the request record.
func notePrincipal(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		recordOf(r.Context()).SetPrincipal(auth.PrincipalFromContext(r.Context()))
		next.ServeHTTP(w, r)
	})
}

// scopesOfCalls returns every scope the request's tool calls need, for the
// challenge to a request that brought no token.
func scopesOfCalls(r *http.Request) []string {
	var scopes []string
	for _, c := range recordOf(r.Context()).Calls {
		if a, ok := authz.Lookup(c.Tool); ok && c.Method == "tools/call" {
			scopes = union(scopes, a.Scopes)
		}
	}
	return scopes
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
