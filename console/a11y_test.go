package console

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/orgscope/orgscope/store"
)

// TestConsoleAccessibility: every page of the console, as an
// organization's administrator and the platform's see it (with data in
// every state the pages show), is usable with a screen reader and
// without colour: each form control has a label, each button and link
// has text, images have alt text, the page has a language, a title,
// one h1, one main landmark and unique ids, and every status shown in
// colour (a client's or person's state, a grant's, allow or deny) is in
// text too. Every error page says what went wrong and what to do next.
func TestConsoleAccessibility(t *testing.T) {
	e := newEnv(t, "http://127.0.0.1:8080")
	g := e.addGrants()
	admin, root := e.signIn("acme-admin"), e.signIn("root")
	const acme = "/console/o/org_acme"

	// pages are the pages checked, by name; each is an answer of the
	// console to a request.
	pages := map[string]*httptest.ResponseRecorder{}
	get := func(name, path, token string) {
		t.Helper()
		w := e.do(http.MethodGet, path, token, nil)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: GET %s: %d\n%s", name, path, w.Code, w.Body.String())
		}
		pages[name] = w
	}
	// change posts a form and opens the page it was redirected to, with
	// its notice.
	change := func(name, path, token string, form url.Values) {
		t.Helper()
		w := e.post(path, token, form)
		if w.Code != http.StatusSeeOther {
			t.Fatalf("%s: POST %s: %d\n%s", name, path, w.Code, w.Body.String())
		}
		get(name, w.Header().Get("Location"), token)
	}

	// Flags of every kind, one of them overridden by Acme.
	for _, f := range []url.Values{{"key": {"dark_mode"}, "type": {"boolean"}, "default_value": {"false"}},
		{"key": {"greeting"}, "type": {"string"}, "default_value": {"hello"}, "description": {"What agents say first"}},
		{"key": {"max_seats"}, "type": {"integer"}, "default_value": {"10"}}} {
		change("flag definitions after a change", "/console/flags", root, f)
	}
	change("flags after an override", acme+"/flags/dark_mode", admin, url.Values{"type": {"boolean"}, "value": {"true"}})
	change("organization after a change", acme+"/properties", admin, url.Values{"name": {"plan"}, "value": {"free"}})

	// A client with a secret (shown once), then disabled; one with keys.
	w := e.post(acme+"/clients", admin, url.Values{"name": {"Billing agent"}, "scope": {"read:users"}})
	if w.Code != http.StatusOK {
		t.Fatalf("create a client: %d\n%s", w.Code, w.Body.String())
	}
	pages["a new client's secret"] = w
	var secretClient string
	for _, c := range mustClients(t, e.st, "org_acme") {
		if c.Name == "Billing agent" {
			secretClient = c.ID
		}
	}
	change("client with a property", acme+"/clients/"+secretClient+"/properties", admin, url.Values{"name": {"team"}, "value": {"billing"}})
	change("disabled client", acme+"/clients/"+secretClient+"/disable", admin, nil)
	w = e.post(acme+"/clients", admin, url.Values{"name": {"Signed agent"}, "scope": {"read:users"}, "jwks": {publicKeys(t, "k1")}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("create a key client: %d\n%s", w.Code, w.Body.String())
	}
	get("key client", w.Header().Get("Location"), admin)

	// People: one suspended, one shown a new password.
	member := e.people["acme-member"].ID
	change("suspended person", acme+"/people/"+member+"/status", admin, url.Values{"status": {"suspended"}})
	w = e.post(acme+"/people/"+member+"/password", admin, nil)
	if w.Code != http.StatusOK {
		t.Fatalf("reset a password: %d\n%s", w.Code, w.Body.String())
	}
	pages["a new password"] = w
	change("people after adding one", acme+"/people", admin, url.Values{"email": {"new@example.com"}, "given_name": {"New"}})

	// Approvals: one pending, one denied.
	approval := func(purpose string) string {
		a, err := e.st.CreateApproval(t.Context(), store.Approval{ID: store.NewID(store.ApprovalIDPrefix), OrgCode: "org_acme",
			ClientID: g.agent, Subject: member, ActorChain: []string{g.agent}, Purpose: purpose, Tool: "delete_user",
			ParamsSHA256: strings.Repeat("ab", 32), Args: `{"user_id":"usr_0123456789abcdef0123456789abcdef"}`,
			Policies: []string{"delete-with-approval"}, Status: store.ApprovalPending, ExpiresAt: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return a.ID
	}
	pending, denied := approval("clean up"), approval("clean up again")
	get("pending approval", acme+"/approvals/"+pending, admin)
	get("pending approval by the agent's link", ApprovalsPath+pending, admin)
	w = e.post(acme+"/approvals/"+denied, admin, url.Values{"decision": {"deny"}})
	if w.Code >= 400 {
		t.Fatalf("deny an approval: %d\n%s", w.Code, w.Body.String())
	}
	get("denied approval", acme+"/approvals/"+denied, admin)

	// A refusal, so that the trail has a denial next to the allowed
	// changes; a revoked grant of Beta.
	if w := e.do(http.MethodGet, "/console/o/org_beta/", admin, nil); w.Code != http.StatusNotFound {
		t.Fatalf("Beta's page for Acme's administrator: %d", w.Code)
	}
	change("Beta's grants after a revocation", "/console/o/org_beta/delegations/"+g.beta.ID+"/revoke", root, nil)
	get("Beta's grants, revoked ones included", "/console/o/org_beta/delegations?include_revoked=on", root)

	// A dry run of each decision.
	for name, tool := range map[string]string{"dry run allowed": "list_users", "dry run denied": "delete_user"} {
		w := e.post(acme+"/policy", admin, url.Values{"client_id": {g.agent}, "tool": {tool}, "arguments": {"{}"}})
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d\n%s", name, w.Code, w.Body.String())
		}
		pages[name] = w
	}

	for name, path := range map[string]string{"organization": acme + "/", "people": acme + "/people",
		"people filtered": acme + "/people?status=suspended", "person": acme + "/people/" + e.people["acme-admin"].ID,
		"clients": acme + "/clients", "client": acme + "/clients/" + g.agent, "flags": acme + "/flags",
		"delegations": acme + "/delegations", "audit": acme + "/audit", "audit filtered": acme + "/audit?decision=deny",
		"approvals": acme + "/approvals", "policy": acme + "/policy"} {
		get(name, path, admin)
	}
	// Signing keys: one signing, the next published before it signs.
	if _, err := e.st.EnsureSigningKey(t.Context(), store.SigningKey{ID: "k-current", Algorithm: "ES256", PrivateKey: []byte("opaque")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.AddSigningKey(t.Context(), store.SigningKey{ID: "k-next", Algorithm: "ES256", PrivateKey: []byte("opaque"),
		ActivateAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{"organizations": "/console/orgs", "flag definitions": "/console/flags",
		"signing keys": "/console/keys", "Beta's client": "/console/o/org_beta/clients/" + e.betaID,
		"Acme as the platform sees it": acme + "/"} {
		get(name, path, root)
	}
	w = e.post(SignOutPath, e.signIn("acme-admin"), nil)
	if w.Code != http.StatusOK {
		t.Fatalf("sign out: %d", w.Code)
	}
	pages["signed out"] = w

	seen := map[string]bool{}
	for name, w := range pages {
		doc, err := html.Parse(strings.NewReader(w.Body.String()))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, p := range accessibilityProblems(doc, seen) {
			t.Errorf("%s: %s", name, p)
		}
	}
	// A key's state is a word in its row.
	keys, _ := html.Parse(strings.NewReader(pages["signing keys"].Body.String()))
	var states []string
	walk(keys, func(n *html.Node) {
		if n.DataAtom == atom.Tr && n.Parent != nil && n.Parent.DataAtom == atom.Tbody {
			var cells []string
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				if c.DataAtom == atom.Td {
					cells = append(cells, strings.TrimSpace(textOf(c)))
				}
			}
			if len(cells) < 3 || cells[2] == "" {
				t.Errorf("signing keys: a row without its state in text: %q", cells)
				return
			}
			states = append(states, cells[2])
		}
	})
	if len(states) != 2 || states[0] == states[1] {
		t.Errorf("signing keys: the states of the two keys: %q", states)
	}
	// The pages showed every status there is, so the check above saw each.
	for _, want := range []string{"state on", "state off", "allow", "deny", "badge", "notice ok"} {
		if !seen[want] {
			t.Errorf("no page showed a %q status", want)
		}
	}

	// Error pages: they say what went wrong, and what to do next — a link
	// to go on with, or the step in their text.
	token := func(f url.Values) url.Values { f.Set("csrf", csrfToken(admin)); return f }
	for _, tc := range []struct {
		name   string
		status int
		send   func() *httptest.ResponseRecorder
		// next is what to do: the text of the page's link on, or a part
		// of the problem's text.
		next string
		// names, if set, is in the problem's text (the field to correct).
		names string
	}{
		{"a form without its token", http.StatusForbidden, func() *httptest.ResponseRecorder {
			return e.do(http.MethodPost, acme+"/clients", admin, url.Values{"name": {"x"}})
		}, "Reload the page and try again", ""},
		{"a form from another site", http.StatusForbidden, func() *httptest.ResponseRecorder {
			return e.post(acme+"/clients", admin, url.Values{"name": {"x"}}, "Origin", "https://evil.example")
		}, "Go to the console", ""},
		{"a form without a session", http.StatusUnauthorized, func() *httptest.ResponseRecorder {
			return e.do(http.MethodPost, acme+"/clients", "", token(url.Values{"name": {"x"}}))
		}, "Sign in", "Sign in again and repeat it"},
		{"a form too large to read", http.StatusBadRequest, func() *httptest.ResponseRecorder {
			return e.post(acme+"/clients/"+secretClient+"/keys", admin, url.Values{"jwks": {strings.Repeat("k", maxFormBytes)}})
		}, "shorten what you entered", ""},
		{"a property with a bad name", http.StatusBadRequest, func() *httptest.ResponseRecorder {
			return e.post(acme+"/properties", admin, url.Values{"name": {"Bad Name"}, "value": {"x"}})
		}, "Back to the form", "Property name"},
		{"a flag value of the wrong type", http.StatusBadRequest, func() *httptest.ResponseRecorder {
			return e.post(acme+"/flags/max_seats", admin, url.Values{"type": {"integer"}, "value": {"many"}})
		}, "Back to the form", "max_seats"},
		{"a dry run with bad arguments", http.StatusBadRequest, func() *httptest.ResponseRecorder {
			return e.post(acme+"/policy", admin, url.Values{"client_id": {g.agent}, "tool": {"list_users"}, "arguments": {"{"}})
		}, "Back to the form", "Arguments"},
		{"a person who does not exist", http.StatusNotFound, func() *httptest.ResponseRecorder {
			return e.do(http.MethodGet, acme+"/people/usr_0123456789abcdef0123456789abcdef", admin, nil)
		}, "Back", ""},
		{"another organization's client", http.StatusNotFound, func() *httptest.ResponseRecorder {
			return e.do(http.MethodGet, acme+"/clients/"+e.betaID, admin, nil)
		}, "Back", ""},
		{"a platform page", http.StatusForbidden, func() *httptest.ResponseRecorder {
			return e.do(http.MethodGet, "/console/keys", admin, nil)
		}, "Back", ""},
		{"a page that does not exist", http.StatusNotFound, func() *httptest.ResponseRecorder {
			return e.do(http.MethodGet, "/console/nowhere", admin, nil)
		}, "Go to the console", ""},
	} {
		w := tc.send()
		if w.Code != tc.status {
			t.Errorf("%s: %d, want %d\n%s", tc.name, w.Code, tc.status, w.Body.String())
			continue
		}
		doc, err := html.Parse(strings.NewReader(w.Body.String()))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for _, p := range accessibilityProblems(doc, seen) {
			t.Errorf("%s: %s", tc.name, p)
		}
		var problem, link *html.Node
		walk(doc, func(n *html.Node) {
			switch attr(n, "id") {
			case "problem":
				problem = n
			case "back":
				link = n
			}
		})
		if problem == nil || attr(problem, "role") != "alert" {
			t.Errorf("%s: no problem announced as an alert:\n%s", tc.name, w.Body.String())
			continue
		}
		text := strings.TrimSpace(strings.TrimPrefix(textOf(problem), "Problem:"))
		if len(text) < 10 || !strings.HasSuffix(text, ".") {
			t.Errorf("%s: the problem says %q", tc.name, text)
		}
		if tc.names != "" && !strings.Contains(text, tc.names) {
			t.Errorf("%s: the problem %q does not name %q", tc.name, text, tc.names)
		}
		onward := link != nil && strings.TrimSpace(textOf(link)) == tc.next && strings.HasPrefix(attr(link, "href"), "/console/")
		if tc.next != "" && !onward && !strings.Contains(text, tc.next) {
			t.Errorf("%s: the page does not say what to do (%q): problem %q, link %v", tc.name, tc.next, text, link != nil)
		}
	}
}

func mustClients(t *testing.T, st store.Store, org string) []store.Client {
	t.Helper()
	clients, _, err := st.ListClients(t.Context(), store.ClientFilter{Kind: store.ClientMachine, OrgCode: org}, store.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return clients
}

// statusClasses are the classes that colour a status; an element with
// one must say the status in its text too. seen records each shown.
var statusClasses = []string{"state", "badge", "allow", "deny", "notice"}

// accessibilityProblems returns what in doc a screen reader, or a person
// who cannot tell its colours apart, would miss. seen collects the
// status classes the page showed ("state on", "allow", ...).
func accessibilityProblems(doc *html.Node, seen map[string]bool) []string {
	var out []string
	bad := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }

	ids := map[string]int{}
	labelFor := map[string]*html.Node{}
	var h1s, mains, titles int
	var lang string
	walk(doc, func(n *html.Node) {
		if id := attr(n, "id"); id != "" {
			ids[id]++
		}
		switch n.DataAtom {
		case atom.Label:
			if f := attr(n, "for"); f != "" {
				labelFor[f] = n
			}
		case atom.H1:
			h1s++
			if strings.TrimSpace(textOf(n)) == "" {
				bad("an empty h1")
			}
		case atom.Main:
			mains++
		case atom.Title:
			titles++
			if strings.TrimSpace(textOf(n)) == "" {
				bad("an empty title")
			}
		case atom.Html:
			lang = attr(n, "lang")
		}
		if attr(n, "role") == "main" && n.DataAtom != atom.Main {
			mains++
		}
	})
	if lang == "" {
		bad("<html> has no lang")
	}
	if titles != 1 {
		bad("%d titles", titles)
	}
	if h1s != 1 {
		bad("%d h1 headings, want one", h1s)
	}
	if mains != 1 {
		bad("%d main landmarks, want one", mains)
	}
	for id, n := range ids {
		if n > 1 {
			bad("id %q is used %d times", id, n)
		}
	}
	for f := range labelFor {
		if ids[f] == 0 {
			bad("a label for %q, which is no element", f)
		}
	}
	// refsName: every id that aria-labelledby names exists, and together
	// they have text.
	refsName := func(n *html.Node, a string) bool {
		refs := strings.Fields(attr(n, a))
		if len(refs) == 0 {
			return false
		}
		for _, r := range refs {
			if ids[r] == 0 {
				bad("%s names %q, which is no element", a, r)
				return false
			}
		}
		return true
	}
	named := func(n *html.Node) bool {
		return strings.TrimSpace(attr(n, "aria-label")) != "" || refsName(n, "aria-labelledby")
	}

	walk(doc, func(n *html.Node) {
		if n.Type != html.ElementNode {
			return
		}
		desc := describe(n)
		if attr(n, "aria-describedby") != "" {
			refsName(n, "aria-describedby")
		}
		switch n.DataAtom {
		case atom.Input, atom.Select, atom.Textarea:
			typ := strings.ToLower(attr(n, "type"))
			if n.DataAtom == atom.Input {
				switch typ {
				case "hidden":
					return
				case "submit", "button", "reset":
					if strings.TrimSpace(attr(n, "value")) == "" && !named(n) {
						bad("%s has no text", desc)
					}
					return
				case "image":
					if strings.TrimSpace(attr(n, "alt")) == "" {
						bad("%s has no alt text", desc)
					}
					return
				}
			}
			if named(n) {
				return
			}
			if l, ok := labelFor[attr(n, "id")]; ok && attr(n, "id") != "" && strings.TrimSpace(textOf(l)) != "" {
				return
			}
			for p := n.Parent; p != nil; p = p.Parent {
				if p.DataAtom == atom.Label && strings.TrimSpace(textOf(p)) != "" {
					return
				}
			}
			bad("%s has no label", desc)
		case atom.Button:
			if strings.TrimSpace(textOf(n)) == "" && !named(n) {
				bad("%s has no text", desc)
			}
		case atom.A:
			if _, link := attrOK(n, "href"); link && strings.TrimSpace(textOf(n)) == "" && !named(n) {
				bad("%s has no text", desc)
			}
		case atom.Img:
			if _, ok := attrOK(n, "alt"); !ok {
				bad("%s has no alt attribute", desc)
			}
		}
		classes := strings.Fields(attr(n, "class"))
		for _, c := range statusClasses {
			if !slices.Contains(classes, c) {
				continue
			}
			text := strings.ToLower(strings.TrimSpace(textOf(n)))
			if text == "" {
				bad("%s shows a status by colour alone", desc)
			}
			key := strings.Join(classes, " ")
			if c == "allow" || c == "deny" {
				key = c
				if !strings.Contains(text, c) {
					bad("%s is coloured %s but says %q", desc, c, text)
				}
			}
			seen[key] = true
		}
	})
	return out
}

func walk(n *html.Node, f func(*html.Node)) {
	f(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

func attrOK(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func attr(n *html.Node, key string) string {
	v, _ := attrOK(n, key)
	return v
}

// textOf is the text n has for a screen reader: its text, and the alt
// text of its images.
func textOf(n *html.Node) string {
	var b strings.Builder
	walk(n, func(c *html.Node) {
		switch {
		case c.Type == html.TextNode:
			b.WriteString(c.Data)
		case c.DataAtom == atom.Img:
			b.WriteString(attr(c, "alt"))
		}
	})
	return b.String()
}

// describe names an element in a failure: its tag and what identifies it.
func describe(n *html.Node) string {
	var b strings.Builder
	b.WriteString("<" + n.Data)
	for _, k := range []string{"id", "name", "type", "class", "href", "value"} {
		if v, ok := attrOK(n, k); ok {
			fmt.Fprintf(&b, " %s=%q", k, v)
		}
	}
	b.WriteString(">")
	return b.String()
}
