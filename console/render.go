package console

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/orgscope/orgscope/service"
)

//go:embed web
var web embed.FS

// pageNames are the console's pages; each is web/<name>.html inside
// web/layout.html.
var pageNames = []string{"message", "orgs", "org", "people", "person", "secret", "clients", "client", "flags",
	"flagdefs", "audit", "approvals", "approval", "policy", "keys", "delegations"}

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"whenp": func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"join": strings.Join,
	"has":  slices.Contains[[]string],
	"json": func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(b)
	},
	"pretty": func(v any) string {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return ""
		}
		return string(b)
	},
	"seconds": func(n int64) string {
		if n == 0 {
			return "the server's"
		}
		return (time.Duration(n) * time.Second).String()
	},
	"path": url.PathEscape,
}

var pages = func() map[string]*template.Template {
	m := map[string]*template.Template{}
	for _, name := range pageNames {
		m[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(web, "web/layout.html", "web/"+name+".html"))
	}
	return m
}()

// view is what every page shows: the layout's parts and the page's Data.
type view struct {
	Title string
	// Person is who is signed in; nil on pages for nobody.
	Person *personView
	// Org is the organization the page is about; "" on platform pages.
	Org string
	// Section is the navigation entry of the page.
	Section string
	// CSRF is the session's form token.
	CSRF            string
	Notice, Problem string
	// Link, when set, is offered after the page (back to a form).
	Link, LinkText string
	Data           any
}

type personView struct {
	Email, Org           string
	Platform             bool
	ExpiresAt, IdleUntil time.Time
	Idle                 string
}

type navItem struct {
	Label, Href string
	Current     bool
}

// The sections of the console.
const (
	secOrg         = "org"
	secPeople      = "people"
	secClients     = "clients"
	secDelegations = "delegations"
	secFlags       = "flags"
	secAudit       = "audit"
	secApprovals   = "approvals"
	secPolicy      = "policy"
	secOrgs        = "orgs"
	secFlagDefs    = "flagdefs"
	secKeys        = "keys"
)

// OrgNav is the navigation of an organization's pages.
func (v view) OrgNav() []navItem {
	base := orgBase(v.Org)
	items := []navItem{
		{"Organization", base + "/", v.Section == secOrg},
		{"People", base + "/people", v.Section == secPeople},
		{"Machine clients", base + "/clients", v.Section == secClients},
		{"Delegations and grants", base + "/delegations", v.Section == secDelegations},
		{"Feature flags", base + "/flags", v.Section == secFlags},
		{"Audit", base + "/audit", v.Section == secAudit},
		{"Approvals", base + "/approvals", v.Section == secApprovals},
		{"Policy", base + "/policy", v.Section == secPolicy},
	}
	return items
}

// PlatformNav is the navigation of the platform's pages.
func (v view) PlatformNav() []navItem {
	return []navItem{
		{"Organizations", "/console/orgs", v.Section == secOrgs},
		{"Flag definitions", "/console/flags", v.Section == secFlagDefs},
		{"Signing keys", "/console/keys", v.Section == secKeys},
	}
}

// orgBase is the path of an organization's pages.
func orgBase(org string) string { return "/console/o/" + url.PathEscape(org) }

// page fills the layout's parts of a signed-in person's page.
func (c *Console) page(s *session, r *http.Request, title, org, section string, data any) view {
	v := view{Title: title, Org: org, Section: section, CSRF: s.csrf, Data: data}
	v.Person = &personView{Email: s.person.User.Email, Org: s.home(), Platform: s.platform(),
		ExpiresAt: s.person.ExpiresAt, IdleUntil: s.person.IdleUntil, Idle: s.person.Idle.String()}
	if n, ok := notices[r.URL.Query().Get("done")]; ok {
		v.Notice = n
	}
	return v
}

// notices are what a page says after a change it was redirected to; only
// these fixed texts are shown, never text from the URL.
var notices = map[string]string{
	"org-created":      "The organization was created.",
	"org-renamed":      "The organization was renamed.",
	"property-set":     "The property was set.",
	"property-removed": "The property was removed.",
	"person-created":   "The person was created. Reset their password to let them sign in.",
	"person-suspended": "The person was suspended: they can no longer sign in.",
	"person-activated": "The person was reactivated.",
	"role-changed":     "The role was changed.",
	"client-disabled":  "The client was disabled: it gets no token, and the tokens it has are refused from their next call.",
	"client-enabled":   "The client was enabled. The tokens it had when it was disabled stay refused.",
	"client-deleted":   "The client was deleted, and its tokens are refused from their next call.",
	"client-updated":   "The client was updated. Tokens it holds keep what they were issued with until they expire.",
	"client-keys":      "The client's public keys were replaced.",
	"grant-revoked": "The grant was revoked: the person's sign-in with that client, and every token agents got from it, " +
		"are refused from their next call. The person can sign in again.",
	"grant-already-revoked": "The grant had already been revoked; nothing changed.",
	"flag-set":              "The organization's value was set.",
	"flag-reset":            "The override was removed: the organization has the default value again.",
	"flag-created":          "The flag was defined for every organization.",
	"flag-deleted":          "The flag was deleted, with every organization's override.",
	"key-rotated":           "A new signing key was published. It signs once the overlap has passed; the old key stays published until its tokens have expired.",
	"approval-approved":     "Approved.",
	"approval-denied":       "Denied.",
}

// done redirects after a change to path, with a notice.
func done(w http.ResponseWriter, r *http.Request, path, notice string) {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	http.Redirect(w, r, path+sep+"done="+notice, http.StatusSeeOther)
}

func (c *Console) render(w http.ResponseWriter, status int, name string, _ *session, v view) {
	t, ok := pages[name]
	if !ok {
		panic("console: no page " + name)
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout", v); err != nil {
		c.log.Error("console template", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// show renders a signed-in person's page.
func (c *Console) show(w http.ResponseWriter, r *http.Request, s *session, name, title, org, section string, data any) {
	c.render(w, http.StatusOK, name, s, c.page(s, r, title, org, section, data))
}

func (c *Console) static(name, contentType string) http.HandlerFunc {
	body, err := web.ReadFile("web/" + name)
	if err != nil {
		panic(err)
	}
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Write(body)
	}
}

// errorf is a service error made in the console, for input a form could
// not even express (an unparsable number).
func errorf(format string, a ...any) error {
	return &service.Error{Kind: service.KindInvalid, Message: fmt.Sprintf(format, a...)}
}
