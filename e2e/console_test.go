package e2e

import (
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/cmd/orgscope/app"
)

// signInConsole signs a person in to the console over HTTP: the console
// sends the browser to the issuer's sign-in, they sign in and allow the
// console, and land on the console. It returns the page they land on.
func (b *httpBrowser) signInConsole(s *testServer, user demoUser) page {
	b.t.Helper()
	p := b.get(s.URL + "/console/")
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), s.URL+"/oauth2/authorize?") {
		b.t.Fatalf("the console without a session: %d to %q", p.status, p.header.Get("Location"))
	}
	login := b.follow(s.URL, p, 1)
	consent := b.signIn(s.URL, login, user.Email, user.Password)
	if consent.status != http.StatusOK || !strings.Contains(consent.body, "OrgScope console") {
		b.t.Fatalf("sign-in for the console: %d %s", consent.status, consent.errorText())
	}
	back := b.decide(s.URL, consent, "approve")
	if loc := back.header.Get("Location"); !strings.HasPrefix(loc, s.URL+"/console/callback?") {
		b.t.Fatalf("consent sent the browser to %q, want the console's callback", loc)
	}
	return b.follow(s.URL, back, 4)
}

// sessionCookie returns the browser's console session cookie.
func (b *httpBrowser) sessionCookie(s *testServer) string {
	u, _ := url.Parse(s.URL + "/console/")
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == "orgscope-console" {
			return c.Value
		}
	}
	return ""
}

// TestConsoleSignInSurvivesKeyRotation: the console's client depends on no
// signing key, so a session, and a new sign-in, work after `keys rotate`
// and `keys retire` of the key that signed before — on the replica that
// was running, and on one started after.
func TestConsoleSignInSurvivesKeyRotation(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := startServer(t, serverOptions{addr: addr, config: func(c *app.Config) { c.KeyPollInterval = 100e6 }})
	ada := s.Users["ada@acme.example"]
	db := []string{"--db", s.DBPath}
	before := newHTTPBrowser(t)
	if p := before.signInConsole(s, ada); p.status != http.StatusOK || !strings.Contains(p.body, "Organizations") {
		t.Fatalf("sign-in before the rotation: %d\n%s", p.status, p.body)
	}
	old := jwksKids(t, s.URL)
	keysCommand(t, db, "rotate", "--key-overlap", rotationOverlap)
	for _, kid := range old {
		keysCommand(t, db, "retire", kid)
	}
	waitFor(t, "the server to stop publishing the retired key", func() bool {
		kids := jwksKids(t, s.URL)
		return len(kids) > 0 && !slices.Contains(kids, old[0])
	})
	check := func(when string, s *testServer) {
		t.Helper()
		if p := before.get(s.URL + "/console/orgs"); p.status != http.StatusOK {
			t.Errorf("%s: the session from before the rotation: %d", when, p.status)
		}
		fresh := newHTTPBrowser(t)
		if p := fresh.signInConsole(s, ada); p.status != http.StatusOK || !strings.Contains(p.body, "Organizations") {
			t.Errorf("%s: a new sign-in: %d\n%s", when, p.status, p.body)
		}
	}
	check("after keys rotate and retire", s)
	s.stop()
	again := startServer(t, serverOptions{addr: addr, dbPath: s.DBPath})
	check("on a replica started after", again)
}

// TestConsoleSessionIsNoBearerToken: what the browser holds is a session
// handle /mcp cannot read, and the token the console's sign-in got is
// refused at /mcp (it is revoked, and the console's client's tokens are
// the console's); a member gets no session.
func TestConsoleSessionIsNoBearerToken(t *testing.T) {
	s := startServer(t, serverOptions{})
	b := newHTTPBrowser(t)
	if p := b.signInConsole(s, s.Users["ada@acme.example"]); p.status != http.StatusOK {
		t.Fatalf("sign-in: %d", p.status)
	}
	cookie := b.sessionCookie(s)
	if len(cookie) < 40 || strings.Count(cookie, ".") == 2 {
		t.Fatalf("the session cookie %q looks like a JWT", cookie)
	}
	if s.accepts(t, cookie) {
		t.Error("/mcp accepted the console's session cookie as a bearer token")
	}

	// The console's client doing the flow by hand, as anyone could with a
	// public client: its token is refused at /mcp.
	f := newFlow(t, s, consoleClientID(t, s))
	f.params.Set("redirect_uri", s.URL+"/console/callback")
	f.params.Set("scope", "read:orgs")
	q := f.code(s.Users["ada@acme.example"])
	status, tok := f.exchange(q.Get("code"), nil)
	access, _ := tok["access_token"].(string)
	if status != http.StatusOK || access == "" {
		t.Fatalf("exchange: %d %v", status, tok)
	}
	if s.accepts(t, access) {
		t.Error("/mcp accepted a token issued to the console's client")
	}

	member := newHTTPBrowser(t)
	p := member.get(s.URL + "/console/")
	login := member.follow(s.URL, p, 1)
	consent := member.signIn(s.URL, login, s.Users["alan@acme.example"].Email, s.Users["alan@acme.example"].Password)
	landed := member.follow(s.URL, member.decide(s.URL, consent, "approve"), 3)
	if landed.status != http.StatusForbidden || !strings.Contains(landed.body, "Only an administrator of org_acme") || member.sessionCookie(s) != "" {
		t.Errorf("a member signing in: %d, cookie %q\n%s", landed.status, member.sessionCookie(s), landed.body)
	}
}

// consoleClientID reads the console's client id from the authorization
// request the console starts.
func consoleClientID(t *testing.T, s *testServer) string {
	t.Helper()
	p := newHTTPBrowser(t).get(s.URL + "/console/")
	u, err := url.Parse(p.header.Get("Location"))
	if err != nil || u.Query().Get("client_id") == "" {
		t.Fatalf("no sign-in started: %d %q", p.status, p.header.Get("Location"))
	}
	return u.Query().Get("client_id")
}

// TestConsoleOffWithExternalIssuer: with an external issuer there is no
// console, and its pages say why.
func TestConsoleOffWithExternalIssuer(t *testing.T) {
	dead := "http://" + freeAddr(t) // the issuer is never asked
	s := startServer(t, serverOptions{config: func(c *app.Config) { c.Issuers = []auth.Issuer{{URL: dead, AllowGlobal: true}} }})
	resp, err := http.Get(s.URL + "/console/")
	if err != nil {
		t.Fatal(err)
	}
	p := readPage(t, resp)
	if p.status != http.StatusNotFound || !strings.Contains(p.body, "The console is off") || !strings.Contains(p.body, "external issuer") {
		t.Errorf("the console with an external issuer: %d\n%s", p.status, p.body)
	}
}
