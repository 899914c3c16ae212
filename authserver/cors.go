package authserver

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Browser-based clients — the MCP Inspector's web UI, for one — call the
// token, registration and revocation endpoints from their own origin, so
// those answer CORS: for the origins of Options.AllowedOrigins ("*" for
// any), and for loopback origins when the issuer itself is on loopback.
// Credentials (cookies) are never allowed: these endpoints take none.
// The pages are not for other origins, and introspection is a
// server-to-server call.

// corsPaths are the endpoints that answer cross-origin requests.
var corsPaths = []string{TokenPath, RegisterPath, RevokePath}

const (
	corsAllowHeaders  = "Authorization, Content-Type, MCP-Protocol-Version"
	corsExposeHeaders = "WWW-Authenticate, Retry-After"
	corsMaxAge        = "7200"
)

// corsPolicy says which origins may call.
type corsPolicy struct {
	any      bool
	origins  []string
	loopback bool
}

func newCORSPolicy(issuer string, allowed []string) *corsPolicy {
	p := &corsPolicy{}
	for _, o := range allowed {
		if o == "*" {
			p.any = true
		} else {
			p.origins = append(p.origins, strings.TrimSuffix(strings.ToLower(o), "/"))
		}
	}
	if u, err := url.Parse(issuer); err == nil {
		p.loopback = isLoopback(u.Hostname())
	}
	return p
}

func (p *corsPolicy) allows(origin string) bool {
	if p.any {
		return true
	}
	if slices.Contains(p.origins, strings.ToLower(origin)) {
		return true
	}
	u, err := url.Parse(origin)
	return p.loopback && err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Path == "" && isLoopback(u.Hostname())
}

// withCORS answers preflights of the CORS endpoints itself (204, or 403 for
// an origin not allowed) and adds the CORS headers to their answers, 429s
// and errors included, so that a browser client can read why it was
// refused.
func (s *Server) withCORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !slices.Contains(corsPaths, r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		origin := r.Header.Get("Origin")
		preflight := r.Method == http.MethodOptions
		h := w.Header()
		if origin != "" {
			h.Add("Vary", "Origin")
		}
		switch {
		case origin == "" && preflight:
			h.Set("Allow", "OPTIONS, POST")
			w.WriteHeader(http.StatusNoContent)
			return
		case origin == "":
		case !s.cors.allows(origin):
			if preflight {
				s.log.InfoContext(r.Context(), "cross-origin request refused", "path", r.URL.Path, "origin", origin)
				writeOAuthError(w, &oauthError{status: http.StatusForbidden, code: "invalid_request",
					description: "this origin may not call the authorization server"})
				return
			}
		default:
			if s.cors.any {
				h.Set("Access-Control-Allow-Origin", "*")
			} else {
				h.Set("Access-Control-Allow-Origin", origin)
			}
			h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
			if preflight {
				h.Set("Access-Control-Allow-Methods", "POST")
				h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
				h.Set("Access-Control-Max-Age", corsMaxAge)
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
