package e2e

import (
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/orgscope/orgscope/store"
)

// formFields returns the hidden fields (the session's form token among
// them) of the page's first form that posts to action, as a browser
// would send them.
func (p page) formFields(action string) (url.Values, bool) {
	for _, m := range formAction.FindAllStringSubmatchIndex(p.body, -1) {
		if html.UnescapeString(p.body[m[2]:m[3]]) != action {
			continue
		}
		end := strings.Index(p.body[m[1]:], "</form>")
		if end < 0 {
			return nil, false
		}
		fields := url.Values{}
		for _, h := range hiddenInput.FindAllStringSubmatch(p.body[m[0]:m[1]+end], -1) {
			fields.Add(h[1], html.UnescapeString(h[2]))
		}
		return fields, true
	}
	return nil, false
}

// consoleForm opens the console page at path and returns the fields of
// its form that posts to action.
func (b *httpBrowser) consoleForm(s *testServer, path, action string) url.Values {
	b.t.Helper()
	p := b.get(s.URL + path)
	if p.status != http.StatusOK {
		b.t.Fatalf("%s: HTTP %d\n%s", path, p.status, p.body)
	}
	fields, ok := p.formFields(action)
	if !ok {
		b.t.Fatalf("%s has no form posting to %s:\n%s", path, action, p.body)
	}
	return fields
}

// with is the same browser (its cookies) reporting to t: a subtest's
// failures stop the subtest only.
func (b *httpBrowser) with(t *testing.T) *httpBrowser { return &httpBrowser{t: t, client: b.client} }

// submit posts a console form as a browser does: from the console's own
// origin, with the session's cookie.
func (b *httpBrowser) submit(s *testServer, action string, fields url.Values) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+action, strings.NewReader(fields.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", s.URL)
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	return readPage(b.t, resp)
}

var (
	problemText = regexp.MustCompile(`id="problem">([^<]*)<`)
	noticeText  = regexp.MustCompile(`id="notice">([^<]*)<`)
	secretValue = regexp.MustCompile(`id="secret" class="select-all" value="([^"]*)"`)
)

// problem and notice return what a console page reports, or "".
func (p page) problem() string { return firstGroup(problemText, p.body) }
func (p page) notice() string  { return firstGroup(noticeText, p.body) }

func firstGroup(re *regexp.Regexp, s string) string {
	if m := re.FindStringSubmatch(s); m != nil {
		return html.UnescapeString(m[1])
	}
	return ""
}

// consoleEvents counts the allowed, completed events of action by subject
// in org's audit trail, and reports whether one is about target.
func consoleEvents(t *testing.T, st store.Store, org, action, subject, target string) (n int, about bool) {
	t.Helper()
	for pg := (store.Page{Limit: store.MaxPageSize}); ; {
		evs, next, err := st.ListAuditEvents(t.Context(), org, store.AuditFilter{Action: action, Subject: subject, Decision: "allow"}, pg)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Outcome == "ok" {
				n++
				about = about || e.Target == target
			}
		}
		if pg.Cursor = next; next == "" {
			return n, about
		}
	}
}

// trySignIn signs in with email and password at the issuer's page, for a
// registered agent, and returns the answer: the consent page when the
// sign-in is accepted.
func trySignIn(t *testing.T, s *testServer, clientID, email, password string) page {
	t.Helper()
	f := newFlow(t, s, clientID)
	f.params.Set("scope", "read:users")
	return f.browser.signIn(s.URL, f.browser.get(authorizeURL(s, f.params)), email, password)
}

// TestConsoleActions performs the console's changes end to end, as an
// administrator's browser does (the page, its form token, the form): it
// creates, renames and edits an organization; adds a person, resets a
// password and suspends a person; enables, updates and deletes machine
// clients. Each answer is checked, then the change itself — in the store,
// on a later page, at the issuer or at /mcp — and the audit event naming
// the administrator. Then, for each family, forms with bad input, an
// unknown record, or a missing or foreign form token are refused with a
// clear message and change nothing.
func TestConsoleActions(t *testing.T) {
	s := startServer(t, serverOptions{})
	st := s.openStore(t)
	ctx := t.Context()
	db := []string{"--db", s.DBPath}
	ada, alan, katherine := s.Users["ada@acme.example"], s.Users["alan@acme.example"], s.Users["katherine@acme.example"]
	people := map[string]string{}
	for _, u := range mustUsers(t, st, "org_acme") {
		people[u.Email] = u.ID
	}
	adaID := people[ada.Email]
	agent := publicClient(t, s, redirect)

	admin := newHTTPBrowser(t)
	if p := admin.signInConsole(s, ada); p.status != http.StatusOK {
		t.Fatalf("ada's sign-in to the console: %d\n%s", p.status, p.body)
	}
	const acme = "/console/o/org_acme"
	person := func(email string) string { return acme + "/people/" + people[email] }
	client := func(c credentials) string { return acme + "/clients/" + c.ID }
	// disable disables a client in the console: the server that does it
	// refuses the client's tokens from the next call.
	disable := func(c credentials) {
		t.Helper()
		f := admin.consoleForm(s, client(c), client(c)+"/disable")
		if p := admin.submit(s, client(c)+"/disable", f); p.status != http.StatusSeeOther {
			t.Fatalf("disable %s: %d %s", c.ID, p.status, p.problem())
		}
	}
	alanToken := signInToken(t, s, alan, "read:users")
	toEnable := createClient(t, db, "--org", "org_acme", "--scopes", "read:users")
	beforeDisable := s.token(t, toEnable)
	disable(toEnable)
	toUpdate := createClient(t, db, "--org", "org_acme", "--scopes", "read:users")
	toDelete := createClient(t, db, "--org", "org_acme", "--scopes", "read:users")
	deletedToken := s.token(t, toDelete)
	keptDisabled := createClient(t, db, "--org", "org_acme", "--scopes", "read:users")
	disable(keptDisabled)

	getClient := func(t *testing.T, id string) store.Client {
		t.Helper()
		cl, err := st.GetClient(ctx, id)
		if err != nil {
			t.Fatalf("client %s: %v", id, err)
		}
		return cl
	}
	org := func(t *testing.T, code string) store.Org {
		t.Helper()
		o, err := st.GetOrg(ctx, code)
		if err != nil {
			t.Fatalf("organization %s: %v", code, err)
		}
		return o
	}
	user := func(t *testing.T, id string) store.User {
		t.Helper()
		u, err := st.GetUser(ctx, "org_acme", id)
		if err != nil {
			t.Fatalf("user %s: %v", id, err)
		}
		return u
	}
	const hedy = "hedy@acme.example"
	created := func() string {
		for _, u := range mustUsers(t, st, "org_acme") {
			if u.Email == hedy {
				return u.ID
			}
		}
		return ""
	}
	fixed := func(s string) func() string { return func() string { return s } }

	actions := []struct {
		name string
		// page shows the form, which posts to action; fill is what the
		// person types, picks or ticks.
		page, action string
		fill         url.Values
		// landing is where the answer sends the browser (with the notice
		// done); nil when the answer is a page of its own. says is on the
		// page shown at the end.
		landing func() string
		done    string
		says    string
		effect  func(t *testing.T, shown page)
		// The audit event: in org, action event, about target.
		org, event string
		target     func() string
	}{{
		name: "create an organization",
		page: "/console/orgs", action: "/console/orgs",
		fill:    url.Values{"org_code": {"org_delta"}, "name": {"Delta Labs"}},
		landing: fixed("/console/o/org_delta/"), done: "org-created", says: "The organization was created.",
		effect: func(t *testing.T, shown page) {
			if o := org(t, "org_delta"); o.Name != "Delta Labs" || len(o.Properties) != 0 {
				t.Errorf("the new organization: %+v", o)
			}
			if !strings.Contains(shown.body, `<h1>Delta Labs</h1>`) || !strings.Contains(shown.body, `id="org-code">org_delta<`) {
				t.Errorf("the new organization's page:\n%s", shown.body)
			}
			if list := admin.with(t).get(s.URL + "/console/orgs"); !strings.Contains(list.body, "Delta Labs") {
				t.Errorf("the organizations page does not list Delta Labs:\n%s", list.body)
			}
		},
		org: "org_delta", event: "console:create_organization", target: fixed("org_delta"),
	}, {
		name: "rename an organization",
		page: "/console/o/org_delta/", action: "/console/o/org_delta/rename",
		fill:    url.Values{"name": {"Delta Group"}},
		landing: fixed("/console/o/org_delta/"), done: "org-renamed", says: "The organization was renamed.",
		effect: func(t *testing.T, shown page) {
			if o := org(t, "org_delta"); o.Name != "Delta Group" {
				t.Errorf("the organization's name: %q", o.Name)
			}
			// An agent sees the new name.
			r := s.tool(t, s.token(t, s.Clients["global"]), "get_organization", map[string]any{"org_code": "org_delta"})
			var o store.Org
			if structured(t, r, &o); o.Name != "Delta Group" {
				t.Errorf("get_organization after the rename: %+v", o)
			}
			if !strings.Contains(shown.body, `<h1>Delta Group</h1>`) {
				t.Errorf("the organization's page after the rename:\n%s", shown.body)
			}
		},
		org: "org_delta", event: "console:update_organization", target: fixed("org_delta"),
	}, {
		name: "set an organization's property",
		page: "/console/o/org_delta/", action: "/console/o/org_delta/properties",
		fill:    url.Values{"name": {"plan"}, "value": {"pro"}},
		landing: fixed("/console/o/org_delta/"), done: "property-set", says: "The property was set.",
		effect: func(t *testing.T, shown page) {
			if o := org(t, "org_delta"); o.Properties["plan"] != "pro" || len(o.Properties) != 1 || o.Name != "Delta Group" {
				t.Errorf("the organization after setting plan: %+v", o)
			}
			if !strings.Contains(shown.body, "<code>plan</code></td><td>pro</td>") {
				t.Errorf("the organization's page does not show plan=pro:\n%s", shown.body)
			}
		},
		org: "org_delta", event: "console:update_organization", target: fixed("org_delta"),
	}, {
		// The remove button of the property's row: the page's form names it.
		name: "remove an organization's property",
		page: "/console/o/org_delta/", action: "/console/o/org_delta/properties/remove",
		landing: fixed("/console/o/org_delta/"), done: "property-removed", says: "The property was removed.",
		effect: func(t *testing.T, shown page) {
			if o := org(t, "org_delta"); len(o.Properties) != 0 {
				t.Errorf("the organization's properties after the removal: %v", o.Properties)
			}
			if !strings.Contains(shown.body, "No properties.") {
				t.Errorf("the organization's page after the removal:\n%s", shown.body)
			}
		},
		org: "org_delta", event: "console:update_organization", target: fixed("org_delta"),
	}, {
		name: "add a person",
		page: acme + "/people", action: acme + "/people",
		fill:    url.Values{"email": {hedy}, "given_name": {"Hedy"}, "family_name": {"Lamarr"}, "role": {"member"}},
		landing: func() string { return acme + "/people/" + created() }, done: "person-created",
		says: "The person was created. Reset their password to let them sign in.",
		effect: func(t *testing.T, shown page) {
			id := created()
			if id == "" {
				t.Fatal("no person hedy@acme.example in the store")
			}
			if u := user(t, id); u.GivenName != "Hedy" || u.FamilyName != "Lamarr" || u.Role != store.RoleMember || u.Status != store.UserActive {
				t.Errorf("the new person: %+v", u)
			}
			if !strings.Contains(shown.body, "<h1>"+hedy+"</h1>") {
				t.Errorf("the new person's page:\n%s", shown.body)
			}
			if list := admin.with(t).get(s.URL + acme + "/people?email=hedy"); !strings.Contains(list.body, hedy) {
				t.Errorf("the people page does not list Hedy:\n%s", list.body)
			}
		},
		org: "org_acme", event: "console:create_user", target: created,
	}, {
		// The new password is shown once; the old one stops working.
		name: "reset a person's password",
		page: person(katherine.Email), action: person(katherine.Email) + "/password",
		says: "New password for " + katherine.Email,
		effect: func(t *testing.T, shown page) {
			password := firstGroup(secretValue, shown.body)
			if len(password) < 16 || password == katherine.Password {
				t.Fatalf("the new password shown: %q", password)
			}
			if p := trySignIn(t, s, agent, katherine.Email, katherine.Password); p.status != http.StatusUnauthorized ||
				p.errorText() != "The email or password is incorrect." {
				t.Errorf("the old password after the reset: %d %q", p.status, p.errorText())
			}
			tok := signInToken(t, s, demoUser{Email: katherine.Email, Password: password}, "read:users")
			if !s.accepts(t, tok) {
				t.Error("/mcp refused the token of a sign-in with the new password")
			}
			if again := admin.with(t).get(s.URL + person(katherine.Email)); strings.Contains(again.body, password) {
				t.Error("the person's page shows the new password again")
			}
		},
		org: "org_acme", event: "console:set_user_password", target: fixed(people[katherine.Email]),
	}, {
		// The page's form says status=suspended.
		name: "suspend a person",
		page: person(alan.Email), action: person(alan.Email) + "/status",
		landing: fixed(person(alan.Email)), done: "person-suspended", says: "The person was suspended: they can no longer sign in.",
		effect: func(t *testing.T, shown page) {
			if u := user(t, people[alan.Email]); u.Status != store.UserSuspended {
				t.Errorf("Alan's status: %q", u.Status)
			}
			if !strings.Contains(shown.body, `id="status"><span class="state off">suspended</span>`) || !strings.Contains(shown.body, `id="activate"`) {
				t.Errorf("Alan's page after the suspension:\n%s", shown.body)
			}
			if s.accepts(t, alanToken) {
				t.Error("/mcp accepted the token Alan signed in for before his suspension")
			}
			if p := trySignIn(t, s, agent, alan.Email, alan.Password); p.status == http.StatusOK || !strings.Contains(p.errorText(), "This account is suspended") {
				t.Errorf("Alan signing in after his suspension: %d %q", p.status, p.errorText())
			}
		},
		org: "org_acme", event: "console:update_user", target: fixed(people[alan.Email]),
	}, {
		name: "enable a disabled client",
		page: client(toEnable), action: client(toEnable) + "/enable",
		landing: fixed(client(toEnable)), done: "client-enabled", says: "The client was enabled.",
		effect: func(t *testing.T, shown page) {
			if cl := getClient(t, toEnable.ID); cl.Disabled() {
				t.Errorf("the client is still disabled since %v", cl.DisabledAt)
			}
			if !strings.Contains(shown.body, `id="client-state"><span class="state on">enabled</span>`) || !strings.Contains(shown.body, `id="disable"`) {
				t.Errorf("the client's page after enabling:\n%s", shown.body)
			}
			if tok, err := clientToken(t, s, toEnable.ID, toEnable.Secret); err != nil || !s.accepts(t, tok) {
				t.Errorf("the enabled client's new token: %v", err)
			}
			if s.accepts(t, beforeDisable) {
				t.Error("/mcp accepted the token the client had before it was disabled")
			}
		},
		org: "org_acme", event: "console:enable_client", target: fixed(toEnable.ID),
	}, {
		name: "update a client",
		page: client(toUpdate), action: client(toUpdate) + "/update",
		fill:    url.Values{"name": {"Reporting agent"}, "scope": {"read:users", "read:orgs"}, "token_ttl_minutes": {"5"}},
		landing: fixed(client(toUpdate)), done: "client-updated", says: "The client was updated.",
		effect: func(t *testing.T, shown page) {
			cl := getClient(t, toUpdate.ID)
			if cl.Name != "Reporting agent" || strings.Join(cl.Scopes, " ") != "read:users read:orgs" || cl.TokenTTL.Minutes() != 5 {
				t.Errorf("the updated client: %q %v %v", cl.Name, cl.Scopes, cl.TokenTTL)
			}
			if !strings.Contains(shown.body, "<h1>Reporting agent</h1>") || !strings.Contains(shown.body, "<dd>read:users read:orgs</dd>") ||
				!strings.Contains(shown.body, "<dd>5m0s</dd>") {
				t.Errorf("the client's page after the update:\n%s", shown.body)
			}
			status, tok := s.tokenResponse(t, toUpdate, "")
			if status != http.StatusOK || tok["scope"] != "read:users read:orgs" || tok["expires_in"] != float64(300) {
				t.Errorf("a token after the update: %d %v", status, tok)
			}
			access, _ := tok["access_token"].(string)
			r := s.tool(t, access, "get_organization", map[string]any{})
			if r.Result.IsError || !strings.Contains(string(r.Result.StructuredContent), `"org_acme"`) {
				t.Errorf("get_organization with the new scope: %q", r.text())
			}
		},
		org: "org_acme", event: "console:update_client", target: fixed(toUpdate.ID),
	}, {
		name: "delete a client",
		page: client(toDelete), action: client(toDelete) + "/delete",
		fill:    url.Values{"confirm": {"yes"}},
		landing: fixed(acme + "/clients"), done: "client-deleted", says: "The client was deleted, and its tokens are refused from their next call.",
		effect: func(t *testing.T, shown page) {
			if _, err := st.GetClient(ctx, toDelete.ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("the deleted client in the store: %v", err)
			}
			if strings.Contains(shown.body, toDelete.ID) {
				t.Errorf("the clients page still lists %s:\n%s", toDelete.ID, shown.body)
			}
			if status, body := s.tokenResponse(t, toDelete, ""); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
				t.Errorf("a token for the deleted client: %d %v", status, body)
			}
			if s.accepts(t, deletedToken) {
				t.Error("/mcp accepted the deleted client's token")
			}
		},
		org: "org_acme", event: "console:delete_client", target: fixed(toDelete.ID),
	}}
	for _, a := range actions {
		t.Run(a.name, func(t *testing.T) {
			b := admin.with(t)
			before, _ := consoleEvents(t, st, a.org, a.event, adaID, "")
			fields := b.consoleForm(s, a.page, a.action)
			if fields.Get("csrf") == "" {
				t.Fatalf("the form posting to %s carries no form token", a.action)
			}
			for k, v := range a.fill {
				fields[k] = v
			}
			answer := b.submit(s, a.action, fields)
			shown := answer
			if a.landing != nil {
				want := a.landing() + "?done=" + a.done
				if loc := answer.header.Get("Location"); answer.status != http.StatusSeeOther || loc != want {
					t.Fatalf("the answer: %d to %q, want 303 to %q; %s", answer.status, loc, want, answer.problem())
				}
				shown = b.follow(s.URL, answer, 1)
				if n := shown.notice(); shown.status != http.StatusOK || !strings.Contains(n, a.says) {
					t.Errorf("the page after the change: %d, notice %q, want %q", shown.status, n, a.says)
				}
			} else if answer.status != http.StatusOK || !strings.Contains(answer.body, a.says) {
				t.Fatalf("the answer: %d %s\n%s", answer.status, answer.problem(), answer.body)
			}
			a.effect(t, shown)

			target := a.target()
			if n, about := consoleEvents(t, st, a.org, a.event, adaID, target); n != before+1 || !about {
				t.Errorf("audit events %s by %s in %s: %d (%d before), one about %s: %v", a.event, adaID, a.org, n, before, target, about)
			}
			q := url.Values{"action": {a.event}, "subject": {adaID}, "decision": {"allow"}}
			if trail := b.get(s.URL + "/console/o/" + a.org + "/audit?" + q.Encode()); trail.status != http.StatusOK ||
				!strings.Contains(trail.body, "<code>"+target+"</code>") {
				t.Errorf("the audit page of %s does not show %s about %s: %d\n%s", a.org, a.event, target, trail.status, trail.body)
			}
		})
	}

	// Refusals: each changes no record.
	records := func(t *testing.T) string {
		t.Helper()
		var b strings.Builder
		b.WriteString(snapshot(t, st))
		for _, c := range []credentials{toEnable, toUpdate, keptDisabled} {
			cl := getClient(t, c.ID)
			cl.LastUsedAt = time.Time{} // stamped by token use, not by a form
			fmt.Fprintf(&b, "client %+v\n", cl)
		}
		return b.String()
	}
	other := newHTTPBrowser(t)
	if p := other.signInConsole(s, ada); p.status != http.StatusOK {
		t.Fatalf("ada's second sign-in: %d", p.status)
	}
	otherToken := other.consoleForm(s, acme+"/", acme+"/rename").Get("csrf")
	grace := person("grace@acme.example")
	refusals := []struct {
		name string
		// page shows the form posting to action; it is posted to to ("":
		// action) with fill, after csrf spoils its form token (nil: kept).
		page, action, to string
		fill             url.Values
		csrf             func(url.Values)
		status           int
		says             string
		// still checks that what was asked did not happen, beyond the
		// records being unchanged.
		still func(t *testing.T)
	}{{
		name: "create an organization without a name",
		page: "/console/orgs", action: "/console/orgs",
		fill:   url.Values{"org_code": {"org_epsilon"}, "name": {"  "}},
		status: http.StatusBadRequest, says: "Name is required. Nothing was changed.",
		still: func(t *testing.T) {
			if _, err := st.GetOrg(ctx, "org_epsilon"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("org_epsilon: %v", err)
			}
		},
	}, {
		name: "rename an organization to nothing",
		page: acme + "/", action: acme + "/rename",
		fill:   url.Values{"name": {""}},
		status: http.StatusBadRequest, says: "Name must not be empty. Nothing was changed.",
	}, {
		name: "rename an organization that does not exist",
		page: acme + "/", action: acme + "/rename", to: "/console/o/org_nowhere/rename",
		fill:   url.Values{"name": {"Nowhere"}},
		status: http.StatusNotFound, says: "org_nowhere",
	}, {
		name: "rename an organization with another session's form token",
		page: acme + "/", action: acme + "/rename",
		fill:   url.Values{"name": {"Hijacked"}},
		csrf:   func(f url.Values) { f.Set("csrf", otherToken) },
		status: http.StatusForbidden, says: "This form did not come from a page of your session in this browser; nothing was changed.",
	}, {
		name: "add a person with an invalid email",
		page: acme + "/people", action: acme + "/people",
		fill:   url.Values{"email": {"not-an-email"}, "role": {"member"}},
		status: http.StatusBadRequest, says: "Nothing was changed.",
	}, {
		name: "suspend a person who does not exist",
		page: grace, action: grace + "/status", to: acme + "/people/" + store.NewID(store.UserIDPrefix) + "/status",
		status: http.StatusNotFound, says: "not found",
	}, {
		name: "suspend a person without the form token",
		page: grace, action: grace + "/status",
		csrf:   func(f url.Values) { f.Del("csrf") },
		status: http.StatusForbidden, says: "This form did not come from a page of your session in this browser; nothing was changed.",
		still: func(t *testing.T) {
			if u := user(t, people["grace@acme.example"]); u.Status != store.UserActive {
				t.Errorf("Grace's status: %q", u.Status)
			}
		},
	}, {
		name: "update a client with no scope ticked",
		page: client(toUpdate), action: client(toUpdate) + "/update",
		fill:   url.Values{"name": {"Scopeless agent"}},
		status: http.StatusBadRequest, says: "A client needs at least one scope",
	}, {
		name: "enable a client with a forged form token",
		page: client(keptDisabled), action: client(keptDisabled) + "/enable",
		csrf:   func(f url.Values) { f.Set("csrf", "forged") },
		status: http.StatusForbidden, says: "nothing was changed",
		still: func(t *testing.T) {
			if status, body := s.tokenResponse(t, keptDisabled, ""); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
				t.Errorf("a token for the client still disabled: %d %v", status, body)
			}
		},
	}, {
		name: "delete a client without ticking the box",
		page: client(toUpdate), action: client(toUpdate) + "/delete",
		status: http.StatusBadRequest, says: "Tick the box to confirm that the client and its tokens go for good. Nothing was changed.",
		still: func(t *testing.T) {
			if _, err := clientToken(t, s, toUpdate.ID, toUpdate.Secret); err != nil {
				t.Errorf("the client after a delete without confirmation: %v", err)
			}
		},
	}, {
		name: "delete a client that does not exist",
		page: client(toUpdate), action: client(toUpdate) + "/delete", to: acme + "/clients/" + toDelete.ID + "/delete",
		fill:   url.Values{"confirm": {"yes"}},
		status: http.StatusNotFound, says: "not found",
	}}
	for _, r := range refusals {
		t.Run("refused: "+r.name, func(t *testing.T) {
			b := admin.with(t)
			fields := b.consoleForm(s, r.page, r.action)
			for k, v := range r.fill {
				fields[k] = v
			}
			if r.csrf != nil {
				r.csrf(fields)
			}
			to := r.to
			if to == "" {
				to = r.action
			}
			before := records(t)
			p := b.submit(s, to, fields)
			if problem := p.problem(); p.status != r.status || !strings.Contains(problem, r.says) {
				t.Errorf("the answer: %d %q, want %d saying %q", p.status, problem, r.status, r.says)
			}
			if loc := p.header.Get("Location"); loc != "" {
				t.Errorf("a refusal redirected to %q", loc)
			}
			if after := records(t); after != before {
				t.Errorf("the refusal changed records:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			if r.still != nil {
				r.still(t)
			}
		})
	}
}
