package console

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/service"
	"github.com/orgscope/orgscope/store"
)

// grants are the grants of newEnv's people to a desktop app: Acme's
// member one, with a support agent acting for them through it; Beta's
// administrator one.
type grants struct {
	member, beta store.Grant
	agent        string
}

const purpose = "onboard the hire of ticket 42"

func (e *env) addGrants() grants {
	e.t.Helper()
	ctx := e.t.Context()
	if _, err := e.st.CreateClient(ctx, store.Client{ID: "dcr_desktop", Name: "Desktop app", Kind: store.ClientRegistered,
		GrantTypes: []string{"authorization_code"}, TokenEndpointAuthMethod: "none"}); err != nil {
		e.t.Fatal(err)
	}
	grant := func(key string) store.Grant {
		u := e.people[key]
		g := store.Grant{ID: store.NewID(store.GrantIDPrefix), ClientID: "dcr_desktop", OrgCode: u.OrgCode, UserID: u.ID,
			Scopes: []string{"read:users", "write:users"}, Resource: e.public + "/mcp"}
		if err := e.st.CreateGrant(ctx, g); err != nil {
			e.t.Fatal(err)
		}
		return g
	}
	var g grants
	g.member, g.beta = grant("acme-member"), grant("beta-admin")
	op := service.Caller{Principal: service.Operator("test"), Via: service.ViaCLI, Command: "clients create"}
	agent, err := e.svc.CreateClient(ctx, op, service.CreateClientInput{Name: "Support agent", OrgCode: "org_acme",
		Scopes: []string{"read:users"}, Delegate: true})
	if err != nil {
		e.t.Fatal(err)
	}
	g.agent = agent.Client.ClientID
	now := time.Now()
	for _, d := range []store.Delegation{
		{TokenID: "jti-member", GrantID: g.member.ID, OrgCode: "org_acme", UserID: g.member.UserID, ClientID: g.agent,
			ActorChain: []string{g.agent}, SubjectTokenID: "jti-person", Scopes: []string{"read:users"}, Purpose: purpose,
			CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)},
		{TokenID: "jti-beta", GrantID: g.beta.ID, OrgCode: "org_beta", UserID: g.beta.UserID, ClientID: e.betaID,
			ActorChain: []string{e.betaID}, SubjectTokenID: "jti-beta-person", Scopes: []string{"read:users"}, Purpose: "a secret errand for Beta",
			CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)},
	} {
		if err := e.st.CreateDelegation(ctx, d); err != nil {
			e.t.Fatal(err)
		}
	}
	return g
}

func (e *env) revoked(id string) bool {
	e.t.Helper()
	g, err := e.st.GetGrant(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return g.Revoked()
}

// TestDelegations: an organization's administrator sees who acts for whom
// — the person, the client they signed in with, the scopes, the agent
// chain, the purpose and expiry of each delegated token — filters by
// person and revokes a grant; the revocation is the administrator's in
// the organization's trail, with the grant as its target, and the page
// comes back to the filtered list it was made from.
func TestDelegations(t *testing.T) {
	e := newEnv(t, "http://127.0.0.1:8080")
	g := e.addGrants()
	admin := e.signIn("acme-admin")
	list := "/console/o/org_acme/delegations"

	w := e.do(http.MethodGet, list, admin, nil)
	body := w.Body.String()
	for _, want := range []string{"acme-member@example.com", "Desktop app", "dcr_desktop", g.member.ID, "read:users write:users",
		"/console/o/org_acme/clients/" + g.agent, purpose, `aria-current="page">Delegations and grants`, "standing",
		`action="/console/o/org_acme/delegations/` + g.member.ID + `/revoke"`, `name="csrf" value="` + csrfToken(admin) + `"`} {
		if w.Code != http.StatusOK || !strings.Contains(body, want) {
			t.Fatalf("the delegations page: %d, lacks %q\n%s", w.Code, want, body)
		}
	}
	if strings.Contains(body, g.beta.ID) || strings.Contains(body, "a secret errand for Beta") {
		t.Errorf("Acme's page shows Beta's grant")
	}

	// Filtered by person: nobody else's.
	w = e.do(http.MethodGet, list+"?email=acme-admin@example.com", admin, nil)
	if w.Code != http.StatusOK || strings.Contains(w.Body.String(), g.member.ID) || !strings.Contains(w.Body.String(), "No grant matches") {
		t.Errorf("filtered by another person: %d\n%s", w.Code, w.Body.String())
	}
	if w := e.do(http.MethodGet, list+"?email=not-an-email", admin, nil); w.Code != http.StatusBadRequest ||
		!strings.Contains(w.Body.String(), "Nothing was changed") {
		t.Errorf("a bad email: %d\n%s", w.Code, w.Body.String())
	}

	// Revoked from the filtered page: back to it, with a notice.
	filtered := "email=ACME-member%40example.com"
	w = e.post(list+"/"+g.member.ID+"/revoke", admin, url.Values{"back": {filtered}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != list+"?email=ACME-member%40example.com&done=grant-revoked" {
		t.Fatalf("revoke: %d %q\n%s", w.Code, w.Header().Get("Location"), w.Body.String())
	}
	if !e.revoked(g.member.ID) {
		t.Fatal("the grant stands after its revocation")
	}
	w = e.do(http.MethodGet, w.Header().Get("Location"), admin, nil)
	if body := w.Body.String(); w.Code != http.StatusOK || !strings.Contains(body, "The grant was revoked") || strings.Contains(body, g.member.ID) {
		t.Errorf("after the revocation: %d\n%s", w.Code, body)
	}
	w = e.do(http.MethodGet, list+"?include_revoked=on", admin, nil)
	if body := w.Body.String(); !strings.Contains(body, g.member.ID) || !strings.Contains(body, ">revoked<") ||
		strings.Contains(body, purpose) || strings.Contains(body, "/"+g.member.ID+"/revoke") {
		t.Errorf("the revoked grant, listed: %d\n%s", w.Code, body)
	}
	if w := e.post(list+"/"+g.member.ID+"/revoke", admin, nil); w.Code != http.StatusSeeOther ||
		w.Header().Get("Location") != list+"?done=grant-already-revoked" {
		t.Errorf("revoked twice: %d %q", w.Code, w.Header().Get("Location"))
	}
	// What the form says to come back to is read as filters, nothing else.
	if w := e.post(list+"/"+g.member.ID+"/revoke", admin, url.Values{"back": {"next=https://evil.example/&cursor=x"}}); w.Code != http.StatusSeeOther ||
		w.Header().Get("Location") != list+"?cursor=x&done=grant-already-revoked" {
		t.Errorf("a made-up return: %d %q", w.Code, w.Header().Get("Location"))
	}
	if w := e.post(list+"/grt_nope/revoke", admin, nil); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "grant ids look like") {
		t.Errorf("a bad grant id: %d\n%s", w.Code, w.Body.String())
	}

	events, _, err := e.st.ListAuditEvents(t.Context(), "org_acme", store.AuditFilter{Action: "console:revoke_delegation", Decision: "allow"},
		store.Page{Limit: 10})
	if err != nil || len(events) != 3 {
		t.Fatalf("the revocations in Acme's trail: %d %v", len(events), err)
	}
	first := events[len(events)-1] // newest first
	if first.Subject != e.people["acme-admin"].ID || first.Target != g.member.ID || first.OrgCode != "org_acme" || first.Outcome != "ok" ||
		first.ClientID != Client(e.public).ID {
		t.Errorf("the revocation's event: %+v", first)
	}
	if e.revoked(g.beta.ID) {
		t.Error("Beta's grant was revoked")
	}

	// A platform administrator sees and revokes any organization's.
	root := e.signIn("root")
	w = e.do(http.MethodGet, "/console/o/org_beta/delegations", root, nil)
	if !strings.Contains(w.Body.String(), g.beta.ID) || !strings.Contains(w.Body.String(), "a secret errand for Beta") {
		t.Errorf("Beta's page for the platform administrator: %d\n%s", w.Code, w.Body.String())
	}
	if w := e.post("/console/o/org_beta/delegations/"+g.beta.ID+"/revoke", root, nil); w.Code != http.StatusSeeOther || !e.revoked(g.beta.ID) {
		t.Errorf("the platform administrator revokes Beta's grant: %d\n%s", w.Code, w.Body.String())
	}
	events, _, _ = e.st.ListAuditEvents(t.Context(), "org_beta", store.AuditFilter{Action: "console:revoke_delegation"}, store.Page{Limit: 10})
	if len(events) != 1 || events[0].Subject != e.people["root"].ID || events[0].Target != g.beta.ID {
		t.Errorf("the platform administrator's revocation in Beta's trail: %+v", events)
	}
}

// TestDelegationsTenantBoundary: Acme's administrator can neither see nor
// revoke Beta's grant — by Beta's page, by Beta's grant under Acme's path,
// by a forged post with a valid form token — and is answered "not found";
// the grant stands, and every refusal is in Acme's trail as the person's.
func TestDelegationsTenantBoundary(t *testing.T) {
	e := newEnv(t, "http://127.0.0.1:8080")
	g := e.addGrants()
	acme := e.signIn("acme-admin")
	for _, path := range []string{"/console/o/org_beta/delegations", "/console/o/org_beta/delegations?include_revoked=on",
		"/console/o/org_beta/delegations?email=beta-admin@example.com", "/console/o/org_nope/delegations"} {
		w := e.do(http.MethodGet, path, acme, nil)
		if body := w.Body.String(); w.Code != http.StatusNotFound || strings.Contains(body, g.beta.ID) || strings.Contains(body, "errand") {
			t.Errorf("GET %s: %d\n%s", path, w.Code, body)
		}
	}
	for _, path := range []string{"/console/o/org_beta/delegations/" + g.beta.ID + "/revoke",
		"/console/o/org_acme/delegations/" + g.beta.ID + "/revoke"} {
		w := e.post(path, acme, url.Values{"back": {"email=beta-admin%40example.com"}})
		if body := w.Body.String(); w.Code != http.StatusNotFound || !strings.Contains(body, "not found") || strings.Contains(body, "org_beta/people") {
			t.Errorf("POST %s: %d\n%s", path, w.Code, body)
		}
	}
	if e.revoked(g.beta.ID) {
		t.Fatal("Acme's administrator revoked Beta's grant")
	}
	// Naming Beta is a refusal at the decision point; Beta's grant under
	// Acme's path is a grant Acme does not have (allowed, answered "not
	// found").
	events, _, err := e.st.ListAuditEvents(t.Context(), "org_acme", store.AuditFilter{Subject: e.people["acme-admin"].ID}, store.Page{Limit: 100})
	outcomes := map[string]int{}
	for _, ev := range events {
		outcomes[ev.Action+" "+ev.Decision+" "+ev.Outcome]++
	}
	if err != nil || len(events) != 7 || outcomes["console:console_sign_in allow ok"] != 1 || outcomes["console:list_delegations deny error"] != 4 ||
		outcomes["console:revoke_delegation deny error"] != 1 || outcomes["console:revoke_delegation allow error"] != 1 {
		t.Errorf("Acme's trail of the person's attempts: %v %v", outcomes, err)
	}
	beta, _, _ := e.st.ListAuditEvents(t.Context(), "org_beta", store.AuditFilter{Subject: e.people["acme-admin"].ID}, store.Page{Limit: 100})
	if len(beta) != 0 {
		t.Errorf("Beta's trail holds Acme's attempts: %+v", beta)
	}
}

// TestDelegationsNotForMembers: a member gets no session, so no page and
// no revocation; an administrator demoted while signed in is refused at
// the next page and form, and nothing changes.
func TestDelegationsNotForMembers(t *testing.T) {
	e := newEnv(t, "http://127.0.0.1:8080")
	g := e.addGrants()
	list := "/console/o/org_acme/delegations"
	if w := e.do(http.MethodGet, list, "", nil); w.Code != http.StatusSeeOther || !strings.Contains(w.Header().Get("Location"), "/oauth2/authorize") {
		t.Errorf("without a session: %d %q", w.Code, w.Header().Get("Location"))
	}
	member := e.people["acme-member"]
	if _, err := e.svc.StartConsoleSession(t.Context(), service.Caller{Via: service.ViaConsole, Principal: &auth.Principal{
		Subject: member.ID, ClientID: Client(e.public).ID, OrgCode: member.OrgCode, GrantID: "grt_test"}}); err == nil {
		t.Fatal("a member got a console session")
	}
	admin := e.signIn("acme-admin")
	role := store.RoleMember
	if _, err := e.st.UpdateUser(t.Context(), "org_acme", e.people["acme-admin"].ID, store.UserUpdate{Role: &role}); err != nil {
		t.Fatal(err)
	}
	if w := e.post(list+"/"+g.member.ID+"/revoke", admin, nil); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "only an administrator") {
		t.Errorf("the demoted administrator's revocation: %d\n%s", w.Code, w.Body.String())
	}
	if w := e.do(http.MethodGet, list, admin, nil); w.Code == http.StatusOK || strings.Contains(w.Body.String(), g.member.ID) {
		t.Errorf("the demoted administrator's page: %d", w.Code)
	}
	if e.revoked(g.member.ID) {
		t.Error("a member revoked a grant through the console")
	}
}

var nextLink = regexp.MustCompile(`<a href="([^"]+)" id="next">`)

// TestDelegationsPaging: 20 grants a page, oldest first; the next page
// keeps the filters.
func TestDelegationsPaging(t *testing.T) {
	e := newEnv(t, "http://127.0.0.1:8080")
	g := e.addGrants()
	admin := e.people["acme-admin"]
	var ids []string
	for range 22 {
		gr := store.Grant{ID: store.NewID(store.GrantIDPrefix), ClientID: "dcr_desktop", OrgCode: "org_acme", UserID: admin.ID,
			Scopes: []string{"read:users"}, Resource: e.public + "/mcp"}
		if err := e.st.CreateGrant(t.Context(), gr); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, gr.ID)
	}
	session := e.signIn("acme-admin")
	w := e.do(http.MethodGet, "/console/o/org_acme/delegations?email=acme-admin%40example.com&include_revoked=on", session, nil)
	body := w.Body.String()
	m := nextLink.FindStringSubmatch(body)
	if w.Code != http.StatusOK || m == nil || strings.Count(body, `class="panel grant"`) != 20 || !strings.Contains(body, ids[19]) ||
		strings.Contains(body, ids[20]) || strings.Contains(body, g.member.ID) {
		t.Fatalf("the first page: %d, next %v\n%s", w.Code, m, body)
	}
	next := strings.ReplaceAll(m[1], "&amp;", "&")
	if !strings.Contains(next, "email=acme-admin%40example.com") || !strings.Contains(next, "include_revoked=on") {
		t.Errorf("the next page's link drops the filters: %s", next)
	}
	w = e.do(http.MethodGet, next, session, nil)
	body = w.Body.String()
	if w.Code != http.StatusOK || strings.Count(body, `class="panel grant"`) != 2 || !strings.Contains(body, ids[20]) ||
		!strings.Contains(body, ids[21]) || nextLink.MatchString(body) {
		t.Errorf("the second page: %d\n%s", w.Code, body)
	}
}
