package console

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/internal/clientkeys"
	"github.com/orgscope/orgscope/service"
	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/sqlite"
)

// TestReturnPathStaysInTheConsole: after sign-in the browser goes back only
// to a page of the console, never to another site or another part of this
// one (an open redirect would make the console a phishing relay).
func TestReturnPathStaysInTheConsole(t *testing.T) {
	for p, want := range map[string]bool{
		"/console/approvals/apr_0123": true,
		"/console/":                   true,
		"https://evil.example/":       false,
		"//evil.example/console/":     false,
		"/oauth2/authorize":           false,
		"/console/../oauth2/token":    false,
		"/console/\\evil.example":     false,
		"":                            false,
		"javascript:alert(1)":         false,
	} {
		if got := consolePath(p); got != want {
			t.Errorf("consolePath(%q) = %v, want %v", p, got, want)
		}
	}
}

// TestClientIsPublic: the console's client has no secret — nothing in it
// depends on the signing keys — and one exact redirect URI; every replica
// with the same public URL registers the same one.
func TestClientIsPublic(t *testing.T) {
	a, b := Client("https://mcp.example.com"), Client("https://mcp.example.com/")
	if a.ID != b.ID || len(a.Secrets) != 0 || a.TokenEndpointAuthMethod != "none" || a.Kind != store.ClientRegistered {
		t.Fatalf("client %+v", a)
	}
	if len(a.RedirectURIs) != 1 || a.RedirectURIs[0] != "https://mcp.example.com/console/callback" || a.Name != ClientName ||
		len(a.GrantTypes) != 1 || a.GrantTypes[0] != "authorization_code" {
		t.Errorf("client %+v", a)
	}
	if Client("https://other.example.com").ID == a.ID {
		t.Error("another public URL gives the same client")
	}
}

// env is a console over a real SQLite store, with two organizations.
type env struct {
	t       *testing.T
	st      store.Store
	svc     *service.Service
	console *Console
	public  string
	people  map[string]store.User
	betaID  string // a machine client of org_beta
}

type refuseTokens struct{}

func (refuseTokens) Verify(context.Context, string) (*auth.Principal, error) {
	return nil, errors.New("no sign-in in these tests")
}

func newEnv(t *testing.T, public string) *env {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "console.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := service.New(service.Options{Store: st})
	t.Cleanup(svc.Close)
	e := &env{t: t, st: st, svc: svc, public: public, people: map[string]store.User{}}
	for _, org := range []string{"org_acme", "org_beta"} {
		if _, err := st.CreateOrg(ctx, store.Org{Code: org, Name: org}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []struct {
		key, org string
		role     store.Role
		platform bool
	}{{"acme-admin", "org_acme", store.RoleAdmin, false}, {"acme-member", "org_acme", store.RoleMember, false},
		{"beta-admin", "org_beta", store.RoleAdmin, false}, {"root", "org_beta", store.RoleMember, true}} {
		u, err := st.CreateUser(ctx, store.User{ID: store.NewID(store.UserIDPrefix), OrgCode: p.org, Email: p.key + "@example.com",
			Status: store.UserActive, Role: p.role, PlatformAdmin: p.platform})
		if err != nil {
			t.Fatal(err)
		}
		e.people[p.key] = u
	}
	op := service.Caller{Principal: service.Operator("test"), Via: service.ViaCLI, Command: "clients create"}
	beta, err := svc.CreateClient(ctx, op, service.CreateClientInput{Name: "Beta agent", OrgCode: "org_beta", Scopes: []string{"read:users"}})
	if err != nil {
		t.Fatal(err)
	}
	e.betaID = beta.Client.ClientID
	c, err := New(Options{PublicURL: public, Resource: public + "/mcp", Service: svc, Verifier: refuseTokens{},
		Issuer: http.NotFoundHandler(), Client: Client(public), Clients: st})
	if err != nil {
		t.Fatal(err)
	}
	e.console = c
	return e
}

// signIn opens a session for a person as the console does after a sign-in,
// and returns its token.
func (e *env) signIn(key string) string {
	e.t.Helper()
	u := e.people[key]
	sess, err := e.svc.StartConsoleSession(e.t.Context(), service.Caller{Via: service.ViaConsole, Principal: &auth.Principal{
		Issuer: e.public, Subject: u.ID, ClientID: Client(e.public).ID, OrgCode: u.OrgCode, GrantID: "grt_test", Scopes: []string{"read:orgs"}}})
	if err != nil {
		e.t.Fatalf("sign-in of %s: %v", key, err)
	}
	return sess.Token
}

func (e *env) cookieName() string {
	if strings.HasPrefix(e.public, "https://") {
		return "__Host-" + sessionCookie
	}
	return sessionCookie
}

// do sends a request with the session token (none when empty); a form is
// posted from the console's own origin unless headers say otherwise.
func (e *env) do(method, path, token string, form url.Values, headers ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	var r *http.Request
	if form != nil {
		r = httptest.NewRequest(method, e.public+path, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Origin", e.public)
	} else {
		r = httptest.NewRequest(method, e.public+path, nil)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	if token != "" {
		r.AddCookie(&http.Cookie{Name: e.cookieName(), Value: token})
	}
	w := httptest.NewRecorder()
	e.console.ServeHTTP(w, r)
	return w
}

// post posts a form with the session's form token.
func (e *env) post(path, token string, form url.Values, headers ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", csrfToken(token))
	}
	return e.do(http.MethodPost, path, token, form, headers...)
}

func (e *env) clients(org string) int {
	e.t.Helper()
	clients, _, err := e.st.ListClients(e.t.Context(), store.ClientFilter{Kind: store.ClientMachine, OrgCode: org}, store.Page{Limit: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	return len(clients)
}

// TestFormsNeedTheSessionToken: a form without the session's token, with
// another session's, from another origin, or without a session, is
// refused and changes nothing; the same form with it works.
func TestFormsNeedTheSessionToken(t *testing.T) {
	e := newEnv(t, "http://127.0.0.1:8080")
	admin, other := e.signIn("acme-admin"), e.signIn("acme-admin")
	create := func() url.Values { return url.Values{"name": {"Billing agent"}, "scope": {"read:users"}} }
	for name, tc := range map[string]struct {
		status int
		send   func() *httptest.ResponseRecorder
	}{
		"no form token": {http.StatusForbidden, func() *httptest.ResponseRecorder {
			return e.do(http.MethodPost, "/console/o/org_acme/clients", admin, create())
		}},
		"another session's form token": {http.StatusForbidden, func() *httptest.ResponseRecorder {
			f := create()
			f.Set("csrf", csrfToken(other))
			return e.do(http.MethodPost, "/console/o/org_acme/clients", admin, f)
		}},
		"from another origin": {http.StatusForbidden, func() *httptest.ResponseRecorder {
			return e.post("/console/o/org_acme/clients", admin, create(), "Origin", "https://evil.example")
		}},
		"from another site, without Origin": {http.StatusForbidden, func() *httptest.ResponseRecorder {
			return e.post("/console/o/org_acme/clients", admin, create(), "Origin", "", "Sec-Fetch-Site", "cross-site")
		}},
		"without a session": {http.StatusUnauthorized, func() *httptest.ResponseRecorder {
			f := create()
			f.Set("csrf", csrfToken(admin))
			return e.do(http.MethodPost, "/console/o/org_acme/clients", "", f)
		}},
		"with a made-up session": {http.StatusUnauthorized, func() *httptest.ResponseRecorder {
			return e.post("/console/o/org_acme/clients", "made-up", create())
		}},
	} {
		w := tc.send()
		if w.Code != tc.status || !strings.Contains(w.Body.String(), "nothing was changed") {
			t.Errorf("%s: %d, want %d:\n%s", name, w.Code, tc.status, w.Body.String())
		}
	}
	if n := e.clients("org_acme"); n != 0 {
		t.Fatalf("the refused forms created %d clients", n)
	}
	w := e.post("/console/o/org_acme/clients", admin, create())
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `id="secret"`) || e.clients("org_acme") != 1 {
		t.Fatalf("the form with the token: %d\n%s", w.Code, w.Body.String())
	}
}

// TestTenantBoundary: an administrator of Acme cannot see or touch Beta —
// not by its pages' URLs, not by Beta's client named under Acme's path,
// not by a forged form with a valid form token — and is answered "not
// found" (the platform's pages: "not allowed"); nothing of Beta changes.
func TestTenantBoundary(t *testing.T) {
	e := newEnv(t, "http://127.0.0.1:8080")
	acme := e.signIn("acme-admin")
	before := snapshot(t, e.st)
	beta := e.people["beta-admin"]
	for _, path := range []string{"/console/o/org_beta/", "/console/o/org_beta/people", "/console/o/org_beta/people/" + beta.ID,
		"/console/o/org_acme/people/" + beta.ID, "/console/o/org_beta/clients", "/console/o/org_beta/clients/" + e.betaID,
		"/console/o/org_acme/clients/" + e.betaID, "/console/o/org_beta/flags", "/console/o/org_beta/audit",
		"/console/o/org_beta/audit/export", "/console/o/org_beta/approvals", "/console/o/org_beta/policy", "/console/o/org_beta/delegations",
		"/console/o/org_nope/"} {
		if w := e.do(http.MethodGet, path, acme, nil); w.Code != http.StatusNotFound || strings.Contains(w.Body.String(), "Beta agent") {
			t.Errorf("GET %s: %d", path, w.Code)
		}
	}
	for _, path := range []string{"/console/orgs", "/console/keys", "/console/flags"} {
		if w := e.do(http.MethodGet, path, acme, nil); w.Code != http.StatusForbidden {
			t.Errorf("GET %s: %d", path, w.Code)
		}
	}
	forged := map[string]url.Values{
		"/console/o/org_beta/rename":                                                  {"name": {"Owned"}},
		"/console/o/org_beta/properties":                                              {"name": {"plan"}, "value": {"free"}},
		"/console/o/org_beta/people":                                                  {"email": {"mole@beta.example"}},
		"/console/o/org_beta/people/" + beta.ID + "/status":                           {"status": {"suspended"}},
		"/console/o/org_acme/people/" + beta.ID + "/status":                           {"status": {"suspended"}},
		"/console/o/org_beta/people/" + beta.ID + "/role":                             {"role": {"member"}},
		"/console/o/org_beta/people/" + beta.ID + "/password":                         nil,
		"/console/o/org_acme/people/" + beta.ID + "/password":                         nil,
		"/console/o/org_beta/clients":                                                 {"name": {"mole"}, "scope": {"read:users"}},
		"/console/o/org_beta/clients/" + e.betaID + "/disable":                        nil,
		"/console/o/org_acme/clients/" + e.betaID + "/disable":                        nil,
		"/console/o/org_acme/clients/" + e.betaID + "/rotate":                         {"grace_seconds": {"0"}},
		"/console/o/org_acme/clients/" + e.betaID + "/delete":                         {"confirm": {"yes"}},
		"/console/o/org_acme/clients/" + e.betaID + "/update":                         {"name": {"owned"}, "scope": {"read:users"}},
		"/console/o/org_beta/flags/dark_mode":                                         {"type": {"boolean"}, "value": {"true"}},
		"/console/o/org_beta/policy":                                                  {"client_id": {e.betaID}, "tool": {"list_users"}},
		"/console/o/org_acme/policy":                                                  {"client_id": {e.betaID}, "tool": {"list_users"}},
		"/console/o/org_beta/approvals/apr_0123456789abcdef0123456789abcdef":          {"decision": {"approve"}},
		"/console/o/org_beta/delegations/grt_0123456789abcdef0123456789abcdef/revoke": nil,
	}
	for path, form := range forged {
		if w := e.post(path, acme, form); w.Code != http.StatusNotFound {
			t.Errorf("POST %s: %d\n%s", path, w.Code, w.Body.String())
		}
	}
	for path, form := range map[string]url.Values{"/console/orgs": {"org_code": {"org_mole"}, "name": {"Mole"}},
		"/console/flags": {"key": {"mole"}, "type": {"boolean"}, "default_value": {"true"}}, "/console/keys/rotate": nil} {
		if w := e.post(path, acme, form); w.Code != http.StatusForbidden {
			t.Errorf("POST %s: %d", path, w.Code)
		}
	}
	if after := snapshot(t, e.st); after != before {
		t.Errorf("Acme's administrator changed something:\nbefore %s\nafter  %s", before, after)
	}
	denied, _, err := e.st.ListAuditEvents(t.Context(), "org_acme", store.AuditFilter{Decision: "deny"}, store.Page{Limit: 100})
	if err != nil || len(denied) < 20 || denied[0].Subject != e.people["acme-admin"].ID || !strings.HasPrefix(denied[0].Action, "console:") {
		t.Errorf("the refusals are not in Acme's trail as the person's: %d %v %+v", len(denied), err, denied[:min(1, len(denied))])
	}

	// A platform administrator may.
	root := e.signIn("root")
	if w := e.do(http.MethodGet, "/console/o/org_acme/clients", root, nil); w.Code != http.StatusOK {
		t.Errorf("a platform administrator on Acme's clients: %d", w.Code)
	}
	if w := e.post("/console/o/org_beta/clients/"+e.betaID+"/disable", root, nil); w.Code != http.StatusSeeOther {
		t.Errorf("a platform administrator disables Beta's client: %d %s", w.Code, w.Body.String())
	}
}

// snapshot renders what the tenant-boundary test must not change.
func snapshot(t *testing.T, st store.Store) string {
	t.Helper()
	var b strings.Builder
	for _, org := range []string{"org_acme", "org_beta"} {
		o, _ := st.GetOrg(t.Context(), org)
		users, _, _ := st.ListUsers(t.Context(), org, store.UserFilter{}, store.Page{Limit: 100})
		clients, _, _ := st.ListClients(t.Context(), store.ClientFilter{OrgCode: org}, store.Page{Limit: 100})
		flags, _, _ := st.ListEffectiveFlags(t.Context(), org, store.Page{Limit: 100})
		b.WriteString(strings.Join([]string{o.Name, show(o.Properties), show(users), show(clients), show(flags)}, "|"))
	}
	orgs, _, _ := st.ListOrgs(t.Context(), store.Page{Limit: 100})
	b.WriteString(show(orgs))
	return b.String()
}

func show(v any) string {
	return strings.ReplaceAll(strings.TrimSpace(strings.ReplaceAll(fmtAny(v), "\n", " ")), "  ", " ")
}

func fmtAny(v any) string { return fmt.Sprintf("%+v", v) }

// TestMembersAndDemotions: a member gets no session; an administrator
// demoted while signed in is refused at the next page, and the session is
// gone.
func TestMembersAndDemotions(t *testing.T) {
	e := newEnv(t, "http://127.0.0.1:8080")
	u := e.people["acme-member"]
	_, err := e.svc.StartConsoleSession(t.Context(), service.Caller{Via: service.ViaConsole, Principal: &auth.Principal{
		Subject: u.ID, ClientID: Client(e.public).ID, OrgCode: u.OrgCode, GrantID: "grt_test"}})
	if err == nil || !strings.Contains(err.Error(), "only an administrator of org_acme") {
		t.Fatalf("a member's sign-in: %v", err)
	}
	admin := e.signIn("acme-admin")
	if w := e.do(http.MethodGet, "/console/o/org_acme/people", admin, nil); w.Code != http.StatusOK {
		t.Fatalf("before the demotion: %d", w.Code)
	}
	role := store.RoleMember
	if _, err := e.st.UpdateUser(t.Context(), "org_acme", e.people["acme-admin"].ID, store.UserUpdate{Role: &role}); err != nil {
		t.Fatal(err)
	}
	w := e.do(http.MethodGet, "/console/o/org_acme/people", admin, nil)
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "only an administrator of org_acme") ||
		!strings.Contains(w.Header().Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("after the demotion: %d %q\n%s", w.Code, w.Header().Get("Set-Cookie"), w.Body.String())
	}
	if w := e.do(http.MethodGet, "/console/o/org_acme/people", admin, nil); w.Code != http.StatusSeeOther ||
		!strings.Contains(w.Header().Get("Location"), "/oauth2/authorize") {
		t.Errorf("the demoted session again: %d %q", w.Code, w.Header().Get("Location"))
	}
}

// TestSignOut: signing out ends the session on the server; the cookie
// left behind signs nobody in.
func TestSignOut(t *testing.T) {
	e := newEnv(t, "http://127.0.0.1:8080")
	admin := e.signIn("acme-admin")
	if w := e.do(http.MethodPost, SignOutPath, admin, url.Values{"csrf": {"forged"}}); w.Code != http.StatusForbidden {
		t.Errorf("a forged sign-out: %d", w.Code)
	}
	w := e.post(SignOutPath, admin, nil)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "You are signed out") || !strings.Contains(w.Header().Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("sign-out: %d %q", w.Code, w.Header().Get("Set-Cookie"))
	}
	if w := e.do(http.MethodGet, "/console/o/org_acme/", admin, nil); w.Code != http.StatusSeeOther {
		t.Errorf("the old cookie after sign-out: %d", w.Code)
	}
	events, _, _ := e.st.ListAuditEvents(t.Context(), "org_acme", store.AuditFilter{Action: "console:console_sign_out"}, store.Page{})
	if len(events) != 1 || events[0].Subject != e.people["acme-admin"].ID {
		t.Errorf("sign-out events: %+v", events)
	}
}

var scriptOrStyle = regexp.MustCompile(`(?i)<script(?:[^>]*)>[^<]|\sstyle=|\son[a-z]+=`)

// TestPagesAndHeaders: every page renders for those who may see it, with
// a CSP that allows no inline script or style, no framing, no caching, no
// inline script, style or handler in its HTML, and __Host- cookies over
// https.
func TestPagesAndHeaders(t *testing.T) {
	e := newEnv(t, "https://console.example")
	e.addGrants()
	admin, root := e.signIn("acme-admin"), e.signIn("root")
	pages := map[string]string{
		"/console/o/org_acme/": admin, "/console/o/org_acme/people": admin,
		"/console/o/org_acme/people/" + e.people["acme-member"].ID: admin,
		"/console/o/org_acme/clients":                              admin, "/console/o/org_acme/flags": admin, "/console/o/org_acme/audit": admin,
		"/console/o/org_acme/approvals": admin, "/console/o/org_acme/policy": admin, "/console/o/org_acme/delegations": admin,
		"/console/o/org_beta/delegations?include_revoked=on": root,
		"/console/o/org_beta/clients/" + e.betaID:            root, "/console/orgs": root, "/console/flags": root, "/console/keys": root,
	}
	for path, token := range pages {
		w := e.do(http.MethodGet, path, token, nil)
		h := w.Header()
		csp := h.Get("Content-Security-Policy")
		if w.Code != http.StatusOK || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") ||
			!strings.Contains(csp, "script-src 'self'") || h.Get("X-Frame-Options") != "DENY" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s: %d, headers %v", path, w.Code, h)
		}
		body := w.Body.String()
		if m := scriptOrStyle.FindString(body); m != "" {
			t.Errorf("GET %s: inline script or style %q", path, m)
		}
		if !strings.Contains(body, `name="csrf" value="`+csrfToken(token)+`"`) {
			t.Errorf("GET %s: the sign-out form lacks the session's token", path)
		}
	}
	w := e.do(http.MethodGet, "/console/o/org_acme/", "", nil)
	if w.Code != http.StatusSeeOther || !strings.Contains(w.Header().Get("Set-Cookie"), "__Host-orgscope-console-flow=") ||
		!strings.Contains(w.Header().Get("Set-Cookie"), "Secure") || !strings.Contains(w.Header().Get("Set-Cookie"), "Path=/;") {
		t.Errorf("a sign-in over https: %d %q", w.Code, w.Header().Get("Set-Cookie"))
	}
}

// publicKeys is the JWKS of a fresh ES256 key, as a client registers it.
func publicKeys(t *testing.T, kid string) string {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	set, err := clientkeys.PublicSet(jose.JSONWebKey{Key: priv, KeyID: kid}, "ES256")
	if err != nil {
		t.Fatal(err)
	}
	return string(set)
}

// TestKeyClients: a client created with public keys has no secret to
// show, its keys are replaced from its page, and its secret cannot be
// rotated (it has none); every change is the person's in the audit trail.
func TestKeyClients(t *testing.T) {
	e := newEnv(t, "http://127.0.0.1:8080")
	admin := e.signIn("acme-admin")
	w := e.post("/console/o/org_acme/clients", admin, url.Values{"name": {"Signed agent"}, "scope": {"read:users"},
		"jwks": {publicKeys(t, "first")}})
	if w.Code != http.StatusSeeOther || strings.Contains(w.Body.String(), `id="secret"`) {
		t.Fatalf("create a key client: %d\n%s", w.Code, w.Body.String())
	}
	page := w.Header().Get("Location")
	id := strings.TrimPrefix(strings.Split(page, "?")[0], "/console/o/org_acme/clients/")
	if w := e.do(http.MethodGet, strings.Split(page, "?")[0], admin, nil); w.Code != http.StatusOK ||
		!strings.Contains(w.Body.String(), "<code>first</code>") || strings.Contains(w.Body.String(), "Rotate the secret") {
		t.Fatalf("the key client's page: %d\n%s", w.Code, w.Body.String())
	}
	if w := e.post("/console/o/org_acme/clients/"+id+"/keys", admin, url.Values{"jwks": {publicKeys(t, "second")}}); w.Code != http.StatusSeeOther {
		t.Fatalf("replace the keys: %d\n%s", w.Code, w.Body.String())
	}
	if w := e.post("/console/o/org_acme/clients/"+id+"/keys", admin, url.Values{"jwks": {`{"keys": "nope"}`}}); w.Code != http.StatusBadRequest {
		t.Errorf("bad keys: %d", w.Code)
	}
	if w := e.post("/console/o/org_acme/clients/"+id+"/rotate", admin, url.Values{"grace_seconds": {"0"}}); w.Code != http.StatusBadRequest ||
		!strings.Contains(w.Body.String(), "no secret to rotate") {
		t.Errorf("rotate a key client's secret: %d\n%s", w.Code, w.Body.String())
	}
	cl, err := e.st.GetClient(t.Context(), id)
	if err != nil || !strings.Contains(string(cl.JWKS), `"kid":"second"`) || len(cl.Secrets) != 0 {
		t.Fatalf("stored client: %+v %v", cl, err)
	}
	events, _, _ := e.st.ListAuditEvents(t.Context(), "org_acme", store.AuditFilter{Subject: e.people["acme-admin"].ID}, store.Page{Limit: 50})
	actions := map[string]int{}
	for _, ev := range events {
		actions[ev.Action+" "+ev.Decision]++
	}
	if actions["console:create_client allow"] != 1 || actions["console:update_client allow"] != 1 || actions["console:update_client deny"] != 1 ||
		actions["console:rotate_client_secret deny"] != 1 {
		t.Errorf("the person's trail: %v", actions)
	}
}
