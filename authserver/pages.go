package authserver

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/orgscope/orgscope/auth"
)

//go:embed web
var webFS embed.FS

var pages = struct {
	login, consent, failure *template.Template
}{
	login:   template.Must(template.ParseFS(webFS, "web/layout.html", "web/login.html")),
	consent: template.Must(template.ParseFS(webFS, "web/layout.html", "web/consent.html")),
	failure: template.Must(template.ParseFS(webFS, "web/layout.html", "web/error.html")),
}

// AssetsPath is where the pages' stylesheet is served.
const AssetsPath = "/oauth2/assets"

// scopeDescriptions say in plain words what each scope lets a client do.
var scopeDescriptions = map[string]string{
	auth.ScopeReadUsers:    "see the people in your organization",
	auth.ScopeWriteUsers:   "add people and change their details",
	auth.ScopeDeleteUsers:  "delete people",
	auth.ScopeReadOrgs:     "see your organization's settings",
	auth.ScopeWriteOrgs:    "change your organization's name and properties",
	auth.ScopeReadFlags:    "see feature flags",
	auth.ScopeWriteFlags:   "change feature flags",
	auth.ScopeReadAudit:    "read the audit log",
	auth.ScopeReadClients:  "see your organization's machine clients",
	auth.ScopeWriteClients: "create, rotate and disable machine clients",
	auth.ScopeReadGrants:   "see which apps and agents act for you (an administrator: for anyone in the organization)",
	auth.ScopeWriteGrants:  "revoke what acts for you (an administrator: for anyone in the organization)",
}

type scopeView struct{ Name, Description string }

func scopeViews(scopes []string) []scopeView {
	out := make([]scopeView, 0, len(scopes))
	for _, s := range scopes {
		out = append(out, scopeView{Name: s, Description: scopeDescriptions[s]})
	}
	return out
}

// pageHeaders are sent with every HTML page: no framing (clickjacking),
// forms post only to this server (and, for the consent page, to the
// client's redirect origin, which browsers check on the redirect that
// follows a form post), nothing cached, no referrer leaking the request.
func pageHeaders(w http.ResponseWriter, formTargets ...string) {
	formAction := strings.Join(append([]string{"'self'"}, formTargets...), " ")
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "+
		"form-action "+formAction+"; frame-ancestors 'none'")
}

// render executes a page into a buffer first, so that a template error
// never leaves half a page behind.
func (s *Server) render(w http.ResponseWriter, status int, t *template.Template, data map[string]any, formTargets ...string) {
	data["Assets"] = AssetsPath
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		s.log.Error("render page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	pageHeaders(w, formTargets...)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// renderError shows an error the browser must not be redirected with (an
// unknown client, an unregistered redirect URI, a stale form).
func (s *Server) renderError(w http.ResponseWriter, status int, heading, message string) {
	s.render(w, status, pages.failure, map[string]any{"Title": heading, "Heading": heading, "Message": message})
}

// renderTooMany shows a 429 page with Retry-After.
func (s *Server) renderTooMany(w http.ResponseWriter, wait time.Duration, message string) {
	w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(wait)))
	s.renderError(w, http.StatusTooManyRequests, "Too many requests", message)
}

// formTarget returns the CSP source of a redirect URI: its origin for
// http(s), its scheme for a private-use scheme.
func formTarget(redirectURI string) string {
	u, err := url.Parse(redirectURI)
	if err != nil {
		return ""
	}
	if u.Scheme == "http" || u.Scheme == "https" {
		return u.Scheme + "://" + u.Host
	}
	return u.Scheme + ":"
}

func (s *Server) handleAssets(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != AssetsPath+"/style.css" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "use GET", http.StatusMethodNotAllowed)
		return
	}
	css, _ := webFS.ReadFile("web/style.css")
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(css)
}
