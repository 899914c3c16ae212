package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	pngpkg "image/png"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/orgscope/orgscope/store"
)

// consoleArtifacts is where the console's screenshots are kept (committed):
// a run writes them there with ORGSCOPE_UPDATE_SCREENSHOTS=1, and
// elsewhere into the test's temporary directory, so that running the tests
// leaves the checkout as it was.
var consoleArtifacts = filepath.Join("testdata", "artifacts", "console")

// consoleTab is one person's browser on the console.
type consoleTab struct {
	t       *testing.T
	s       *testServer
	ctx     context.Context
	console *browserConsole
	// shots is where screenshots go unless they are being updated.
	shots string
}

func openConsoleTab(t *testing.T, s *testServer, browser context.Context) *consoleTab {
	t.Helper()
	tab := newTab(t, browser)
	c := &consoleTab{t: t, s: s, ctx: tab, console: watchConsole(tab), shots: t.TempDir()}
	c.step("set the viewport to 1280×800", chromedp.EmulateViewport(1280, 800))
	return c
}

func (c *consoleTab) step(what string, actions ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	step(c.t, c.ctx, what, 15*time.Second, actions...)
}

func (c *consoleTab) text(sel string) string {
	c.t.Helper()
	return result(c.t, c.ctx, "read "+sel, 5*time.Second, chromedp.Text(chromedp.CSS(sel)))
}

func (c *consoleTab) location() string {
	c.t.Helper()
	return result(c.t, c.ctx, "read the URL", 5*time.Second, chromedp.Location())
}

// open navigates to a console path and waits for sel.
func (c *consoleTab) open(path, sel string) {
	c.t.Helper()
	c.step("open "+path, chromedp.Navigate(c.s.URL+path), chromedp.WaitVisible(chromedp.CSS(sel)))
}

// shot saves what the viewport shows as name.png.
func (c *consoleTab) shot(name string) {
	c.t.Helper()
	png := result(c.t, c.ctx, "screenshot "+name, 10*time.Second, chromedp.CaptureScreenshot())
	if _, err := pngpkg.DecodeConfig(bytes.NewReader(png)); err != nil {
		c.t.Fatalf("screenshot %s is not a PNG: %v", name, err)
	}
	dir := c.shots
	if os.Getenv("ORGSCOPE_UPDATE_SCREENSHOTS") != "" {
		dir = consoleArtifacts
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// fitsPhone opens each path at a phone's width (390 px) and checks that
// the page does not scroll sideways: what is wider than the screen (a
// table) scrolls in its own box.
func (c *consoleTab) fitsPhone(paths ...string) {
	c.t.Helper()
	c.step("a phone's width", chromedp.EmulateViewport(390, 844))
	for _, path := range paths {
		c.open(path, "h1")
		widths := result(c.t, c.ctx, "measure "+path, 5*time.Second,
			chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, window.innerWidth]`))
		if len(widths) != 2 || widths[0] > widths[1] {
			c.t.Errorf("%s at 390 px: the page is %v px wide (page, window)", path, widths)
		}
	}
	c.step("back to 1280×800", chromedp.EmulateViewport(1280, 800))
}

// signIn signs user in from the console's front door, through the
// issuer's sign-in and consent pages, and waits for landing.
func (c *consoleTab) signIn(user demoUser, landing string) {
	c.t.Helper()
	c.step("open the console", chromedp.Navigate(c.s.URL+"/console/"), chromedp.WaitVisible(chromedp.ID("email")))
	c.step("sign in as "+user.Email,
		chromedp.SendKeys(chromedp.ID("email"), user.Email),
		chromedp.SendKeys(chromedp.ID("password"), user.Password),
		chromedp.Click(chromedp.CSS(`form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[name=decision][value=approve]`)))
	c.step("allow the console", chromedp.Click(chromedp.CSS(`button[name=decision][value=approve]`)),
		chromedp.WaitVisible(chromedp.CSS("a.brand")), chromedp.WaitVisible(chromedp.CSS(landing)))
}

// forgedPost builds and submits a form in the page — one a script of the
// page, or a person editing it, could make — with the session's own form
// token, to path, and returns the heading of the answer.
func (c *consoleTab) forgedPost(path string) string {
	c.t.Helper()
	js := fmt.Sprintf(`(() => {
		const f = document.createElement("form");
		f.method = "post";
		f.action = %q;
		for (const [k, v] of Object.entries({csrf: document.querySelector("input[name=csrf]").value, confirm: "yes", grace_seconds: "0"})) {
			const i = document.createElement("input");
			i.type = "hidden"; i.name = k; i.value = v;
			f.appendChild(i);
		}
		document.body.appendChild(f);
		f.submit();
		return true;
	})()`, path)
	result(c.t, c.ctx, "post "+path, 10*time.Second, chromedp.Evaluate[bool](js))
	c.waitFor("the answer to "+path, fmt.Sprintf(`location.pathname === %q && document.readyState === "complete"`, path))
	return c.text("h1")
}

// waitFor waits until the page's js is true, across navigations (an
// evaluation during one fails, and is tried again).
func (c *consoleTab) waitFor(what, js string) {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: not within 10s (last error: %v)", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cookie returns the tab's console session cookie (HttpOnly: read through
// the DevTools protocol, as the page's scripts cannot).
func (c *consoleTab) cookie() *http.Cookie {
	c.t.Helper()
	cookies := result(c.t, c.ctx, "read the cookies", 5*time.Second, func(ctx context.Context, tg *chromedp.Target) ([]*network.Cookie, error) {
		res, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{c.s.URL + "/console/"}})
		if err != nil {
			return nil, err
		}
		return res.Cookies, nil
	})
	for _, ck := range cookies {
		if ck.Name == "orgscope-console" {
			if !ck.HTTPOnly || ck.SameSite != network.CookieSameSiteLax {
				c.t.Errorf("the session cookie is not HttpOnly and SameSite=Lax: %+v", ck)
			}
			return &http.Cookie{Name: ck.Name, Value: ck.Value}
		}
	}
	c.t.Fatal("no session cookie")
	return nil
}

// clientToken gets a token with client credentials, or the error.
func clientToken(t *testing.T, s *testServer, id, secret string) (string, error) {
	t.Helper()
	cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: s.URL + "/oauth2/token",
		EndpointParams: map[string][]string{"resource": {s.Resource}}}
	tok, err := cfg.Token(t.Context())
	if err != nil {
		return "", err
	}
	return tok.AccessToken, nil
}

// TestBrowserConsole walks the console in a real headless Chromium: the
// platform administrator makes Grace an administrator of Acme; Grace signs
// in, creates a machine client and sees its secret once, rotates it,
// disables it (its token is then refused at /mcp), approves an agent's
// pending call, filters the audit trail, revokes the grant an agent acts
// for Ada through (the agent's token is then refused at /mcp), and cannot
// see or touch Beta, by URL or by a forged form; a member cannot reach the
// console. Every page
// is saved under testdata/artifacts/console/ at 1280×800, and one at a
// phone's width, where no page scrolls sideways.
func TestBrowserConsole(t *testing.T) {
	exe := chromiumPath(t)
	s := startWithPolicy(t, approvalPolicy(t), -1, &syncBuffer{})
	ada, grace, alan := s.Users["ada@acme.example"], s.Users["grace@acme.example"], s.Users["alan@acme.example"]
	st := s.openStore(t)
	browser := startChromiumWithin(t, exe, 3*time.Minute)

	// The platform administrator.
	root := openConsoleTab(t, s, browser)
	root.signIn(ada, "h1")
	if loc := root.location(); loc != s.URL+"/console/orgs" {
		t.Fatalf("the platform administrator landed on %s", loc)
	}
	if who := root.text("#signed-in-as"); who != ada.Email || !strings.Contains(root.text("header.top"), "platform administrator") {
		t.Errorf("the header says %q", root.text("header.top"))
	}
	root.shot("organizations")
	root.open("/console/keys", "#keys")
	before := root.text("#keys tbody")
	root.step("rotate the signing key", chromedp.Click(chromedp.ID("rotate-key")), chromedp.WaitVisible(chromedp.ID("notice")))
	if after := root.text("#keys tbody"); !strings.Contains(after, "next") || after == before {
		t.Errorf("keys after a rotation:\n%s", after)
	}
	root.shot("signing-keys")
	root.open("/console/flags", "h1")
	root.shot("flag-definitions")
	root.open("/console/o/org_acme/people?email=grace", "table")
	root.step("open Grace", chromedp.Click(chromedp.CSS(`table a[href*="/people/usr_"]`)), chromedp.WaitVisible(chromedp.ID("role_select")))
	root.step("make Grace an administrator",
		chromedp.SetValue(chromedp.ID("role_select"), "admin"),
		chromedp.Click(chromedp.CSS(`form[action$="/role"] button`)),
		chromedp.WaitVisible(chromedp.ID("notice")))
	if role := root.text("#role"); role != "admin" {
		t.Fatalf("Grace's role after the change: %q", role)
	}

	// A member.
	member := openConsoleTab(t, s, browser)
	member.signIn(alan, "h1")
	if h1, body := member.text("h1"), member.text("main"); h1 != "Not allowed" || !strings.Contains(body, "Only an administrator of org_acme") {
		t.Errorf("a member reached: %q %q", h1, body)
	}
	member.open("/console/o/org_acme/people", "h1") // no session: back to sign-in
	if !strings.HasPrefix(member.location(), s.URL+"/oauth2/authorize") {
		t.Errorf("a member's second visit is at %s", member.location())
	}

	// Grace, administrator of Acme.
	g := openConsoleTab(t, s, browser)
	g.signIn(grace, "#org-code")
	if loc := g.location(); loc != s.URL+"/console/o/org_acme/" {
		t.Errorf("Grace landed on %s", loc)
	}
	g.shot("organization")
	g.open("/console/o/org_acme/people", "table")
	g.shot("people")

	// A machine client: created, its secret shown once.
	g.open("/console/o/org_acme/clients", "#create-client")
	g.step("create a client",
		chromedp.SendKeys(chromedp.ID("c_name"), "Console agent"),
		chromedp.Click(chromedp.CSS(`#create-client input[name=scope][value="read:users"]`)),
		chromedp.Click(chromedp.CSS(`#create-client button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("secret")))
	secret := result(t, g.ctx, "read the secret", 5*time.Second, chromedp.Value(chromedp.ID("secret")))
	clientID := result(t, g.ctx, "read the client id", 5*time.Second, chromedp.Text(chromedp.CSS(".facts dd code")))
	g.step("copy the secret", chromedp.Click(chromedp.ID("copy")))
	result(t, g.ctx, "the copy button says Copied", 5*time.Second, chromedp.Poll[bool](`document.getElementById("copy").textContent === "Copied"`))
	g.shot("client-secret")
	g.step("go to the client", chromedp.Click(chromedp.ID("continue")), chromedp.WaitVisible(chromedp.ID("client-id")))
	html := result(t, g.ctx, "read the client page", 5*time.Second, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	if strings.Contains(html, secret) || len(secret) < 32 {
		t.Error("the client page shows the secret again")
	}
	g.shot("client")
	first, err := clientToken(t, s, clientID, secret)
	if err != nil || !s.accepts(t, first) {
		t.Fatalf("the new client's token: %v", err)
	}

	// Rotated: the old secret stops at once (no grace), the new works.
	g.step("rotate the secret",
		chromedp.SetValue(chromedp.ID("grace"), "0"),
		chromedp.Click(chromedp.CSS(`#rotate button`)),
		chromedp.WaitVisible(chromedp.ID("secret")))
	rotated := result(t, g.ctx, "read the new secret", 5*time.Second, chromedp.Value(chromedp.ID("secret")))
	if rotated == secret {
		t.Fatal("the rotation showed the same secret")
	}
	if _, err := clientToken(t, s, clientID, secret); err == nil {
		t.Error("the old secret still gets a token after a rotation without grace")
	}
	token, err := clientToken(t, s, clientID, rotated)
	if err != nil || !s.accepts(t, token) {
		t.Fatalf("the rotated secret's token: %v", err)
	}

	// Disabled: its token is refused at the next call.
	g.step("back to the client", chromedp.Click(chromedp.ID("continue")), chromedp.WaitVisible(chromedp.ID("disable")))
	g.step("disable the client", chromedp.Click(chromedp.ID("disable")), chromedp.WaitVisible(chromedp.ID("notice")))
	if state := g.text("#client-state"); !strings.Contains(state, "disabled") {
		t.Errorf("the client's state: %q", state)
	}
	if s.accepts(t, token) {
		t.Error("/mcp accepted the disabled client's token")
	}
	g.open("/console/o/org_acme/clients", "#clients")
	g.shot("clients")
	g.step("a phone's width", chromedp.EmulateViewport(390, 844))
	g.shot("clients-phone")
	g.step("back to 1280×800", chromedp.EmulateViewport(1280, 800))

	// An agent's call waiting for approval: Grace approves it, and it runs.
	agent := agentFor(t, s, ada, "read:users write:users delete:users")
	var victim store.User
	if r := s.callApproved(t, agent, "create_user", map[string]any{"email": "victim@acme.example"}, ""); r.IsError ||
		json.Unmarshal(r.StructuredContent, &victim) != nil {
		t.Fatalf("create_user: %s", r.text())
	}
	ask := s.callApproved(t, agent, "delete_user", map[string]any{"user_id": victim.ID}, "")
	if ask.Meta.Approval == nil {
		t.Fatalf("no approval asked: %s", ask.text())
	}
	g.open("/console/o/org_acme/approvals", "#approvals")
	if rows := g.text("#approvals tbody"); !strings.Contains(rows, "delete_user") || !strings.Contains(rows, ada.Email) {
		t.Errorf("the approvals page lists:\n%s", rows)
	}
	g.shot("approvals")
	g.step("open the approval", chromedp.Click(chromedp.CSS(`#approvals tbody a`)), chromedp.WaitVisible(chromedp.ID("tool")))
	g.shot("approval")
	g.step("approve", chromedp.Click(chromedp.CSS(`button[name=decision][value=approve]`)), chromedp.WaitVisible(chromedp.ID("notice")))
	if r := s.callApproved(t, agent, "delete_user", map[string]any{"user_id": victim.ID}, ask.Meta.Approval.ID); r.IsError {
		t.Errorf("the approved call: %s", r.text())
	}

	// The audit trail, filtered.
	g.open("/console/o/org_acme/audit", "#audit-filter")
	g.step("filter by action",
		chromedp.SendKeys(chromedp.ID("a_action"), "console:disable_client"),
		chromedp.SetValue(chromedp.ID("a_decision"), "allow"),
		chromedp.Click(chromedp.CSS(`#audit-filter button[type=submit]`)))
	g.waitFor("the filtered trail", `location.search.includes("action=console") && document.readyState === "complete"`)
	rows := result(t, g.ctx, "count the events", 5*time.Second, chromedp.Evaluate[int](`document.querySelectorAll("#events tbody tr").length`))
	events := g.text("#events tbody")
	graceID := ""
	for _, u := range mustUsers(t, st, "org_acme") {
		if u.Email == grace.Email {
			graceID = u.ID
		}
	}
	if rows != 1 || !strings.Contains(events, "console:disable_client") || !strings.Contains(events, graceID) || !strings.Contains(events, clientID) {
		t.Errorf("the filtered trail (%d rows):\n%s", rows, events)
	}
	g.shot("audit")
	href := result(t, g.ctx, "read the export link", 5*time.Second, chromedp.Evaluate[string](`document.getElementById("export").getAttribute("href")`))
	req, _ := http.NewRequest(http.MethodGet, s.URL+href, nil)
	req.AddCookie(g.cookie())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	exp := readPage(t, resp)
	if exp.status != http.StatusOK || !strings.Contains(exp.header.Get("Content-Disposition"), `filename="audit-org_acme.jsonl"`) {
		t.Errorf("the export: %d %v", exp.status, exp.header)
	}
	export := exp.body
	lines := strings.Split(strings.TrimSpace(export), "\n")
	var exported store.AuditEvent
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &exported) != nil || exported.Action != "console:disable_client" || exported.Subject != graceID {
		t.Errorf("the export: %q", export)
	}

	// Flags: the value in effect and its source.
	g.open("/console/o/org_acme/flags", "#flags")
	g.step("override max_seats",
		chromedp.SetValue(chromedp.ID("v_max_seats"), "25"),
		chromedp.Click(chromedp.CSS(`form[action$="/flags/max_seats"] button`)),
		chromedp.WaitVisible(chromedp.ID("notice")))
	if row := g.text(`#flags tbody`); !strings.Contains(row, "25") || !strings.Contains(row, "override") {
		t.Errorf("flags after the override:\n%s", row)
	}
	g.shot("flags")

	// The policy, and a dry run with the new client.
	g.open("/console/o/org_acme/policy", "#dry-run")
	g.step("dry-run delete_user",
		chromedp.SetValue(chromedp.ID("d_client"), clientID),
		chromedp.SetValue(chromedp.ID("d_tool"), "delete_user"),
		chromedp.SetValue(chromedp.ID("d_args"), `{"user_id": "`+victim.ID+`"}`),
		chromedp.Click(chromedp.CSS(`#dry-run button`)),
		chromedp.WaitVisible(chromedp.ID("dry-run-result")))
	if d := g.text("#decision-request"); !strings.Contains(d, "DENY") || !strings.Contains(d, "scope-delete-users") {
		t.Errorf("the dry run before dispatch: %q", d)
	}
	g.shot("policy")

	// Delegations: Ada signs in with an app, and a support agent (a
	// delegate machine client) exchanges her token for one acting for her
	// with a purpose. Grace sees who acts for Ada and why, and revokes the
	// grant: the agent's token is refused at its next call.
	db := []string{"--db", s.DBPath}
	v := cli(t, db, "clients", "create", "--name", "Support agent", "--org", "org_acme", "--scopes", "read:users read:grants", "--delegate")
	support := credentials{ID: v["client_id"].(string), Secret: v["client_secret"].(string)}
	person := signInToken(t, s, ada, "read:users read:grants")
	_, personClaims := decodeJWT(t, person)
	grantID, _ := personClaims["grant_id"].(string)
	const purpose = "answer ticket 7 about seat counts"
	derived := s.delegated(t, support, person, url.Values{"purpose": {purpose}})
	if !s.accepts(t, derived) {
		t.Fatal("/mcp refused the agent's token before the revocation")
	}
	g.open("/console/o/org_acme/delegations", "#delegations-filter")
	g.step("filter by Ada",
		chromedp.SendKeys(chromedp.ID("g_email"), ada.Email),
		chromedp.Click(chromedp.CSS(`#delegations-filter button[type=submit]`)))
	g.waitFor("Ada's grants", `location.search.includes("email=ada") && document.readyState === "complete"`)
	row := "#grant-" + grantID
	if text := g.text(row); !strings.Contains(text, ada.Email) || !strings.Contains(text, support.ID) ||
		!strings.Contains(text, purpose) || !strings.Contains(text, "standing") {
		t.Errorf("Ada's grant on the delegations page:\n%s", text)
	}
	if all := g.text("#grants"); strings.Contains(all, grace.Email) {
		t.Errorf("the filter by Ada shows Grace's grants:\n%s", all)
	}
	result(t, g.ctx, "scroll to Ada's grant", 5*time.Second,
		chromedp.Evaluate[bool](`(document.getElementById("grant-`+grantID+`").scrollIntoView({block: "center"}), true)`))
	g.shot("delegations")
	// A forged post naming Ada's grant under Beta's path changes nothing.
	if h1 := g.forgedPost("/console/o/org_beta/delegations/" + grantID + "/revoke"); h1 != "Not found" {
		t.Errorf("a forged revocation under Beta's path: %q", h1)
	}
	if !s.accepts(t, derived) {
		t.Fatal("the forged revocation under Beta's path ended the agent's token")
	}
	g.open("/console/o/org_acme/delegations?email="+url.QueryEscape(ada.Email), row)
	g.step("revoke Ada's grant", chromedp.Click(chromedp.CSS(row+" form.revoke button")), chromedp.WaitVisible(chromedp.ID("notice")))
	if n, loc := g.text("#notice"), g.location(); !strings.Contains(n, "The grant was revoked") || !strings.Contains(loc, "email=ada") {
		t.Errorf("after the revocation: %q at %s", n, loc)
	}
	if s.accepts(t, derived) {
		t.Error("/mcp accepted the agent's token after its grant was revoked")
	}
	if s.accepts(t, person) {
		t.Error("/mcp accepted Ada's own token of the revoked grant")
	}
	revocations, _, err := st.ListAuditEvents(t.Context(), "org_acme", store.AuditFilter{Action: "console:revoke_delegation"}, store.Page{Limit: 5})
	if err != nil || len(revocations) != 2 || revocations[0].Subject != graceID || revocations[0].Target != grantID ||
		revocations[0].Decision != "allow" || revocations[0].Outcome != "ok" {
		t.Errorf("the revocation in the trail: %+v %v", revocations, err)
	}

	// At a phone's width no page scrolls sideways.
	g.fitsPhone("/console/o/org_acme/", "/console/o/org_acme/people", "/console/o/org_acme/clients",
		"/console/o/org_acme/clients/"+clientID, "/console/o/org_acme/delegations?include_revoked=on", "/console/o/org_acme/flags",
		"/console/o/org_acme/audit", "/console/o/org_acme/approvals", "/console/o/org_acme/policy")
	root.fitsPhone("/console/orgs", "/console/flags", "/console/keys")

	// Beta is nowhere to be seen or touched.
	beta := s.Clients["org_beta"]
	for _, path := range []string{"/console/o/org_beta/", "/console/o/org_beta/clients/" + beta.ID, "/console/o/org_acme/clients/" + beta.ID,
		"/console/o/org_beta/delegations"} {
		g.open(path, "h1")
		if h1 := g.text("h1"); h1 != "Not found" {
			t.Errorf("%s shows %q", path, h1)
		}
	}
	g.open("/console/keys", "h1")
	if h1 := g.text("h1"); h1 != "Not allowed" {
		t.Errorf("the keys page shows an organization's administrator %q", h1)
	}
	for _, path := range []string{"/console/o/org_beta/clients/" + beta.ID + "/disable", "/console/o/org_acme/clients/" + beta.ID + "/disable",
		"/console/o/org_acme/clients/" + beta.ID + "/delete", "/console/o/org_acme/clients/" + beta.ID + "/rotate"} {
		g.open("/console/o/org_acme/", "#org-code")
		if h1 := g.forgedPost(path); h1 != "Not found" {
			t.Errorf("a forged post to %s: %q", path, h1)
		}
	}
	if tok, err := clientToken(t, s, beta.ID, beta.Secret); err != nil || !s.accepts(t, tok) {
		t.Errorf("Beta's client after Acme's forged posts: %v", err)
	}

	// Sign-out ends the session.
	g.open("/console/o/org_acme/", "#org-code")
	g.step("sign out", chromedp.Click(chromedp.CSS(`form[action="/console/signout"] button`)), chromedp.WaitVisible(chromedp.ID("notice")))
	if n := g.text("#notice"); !strings.Contains(n, "signed out") {
		t.Errorf("after sign-out: %q", n)
	}
	g.step("the console again", chromedp.Navigate(s.URL+"/console/o/org_acme/"), chromedp.WaitVisible(chromedp.ID("email")))

	if bytes.Contains([]byte(g.console.String()+root.console.String()), []byte("Content Security Policy")) {
		t.Errorf("the browser refused something under the CSP:\n%s\n%s", g.console, root.console)
	}
}
