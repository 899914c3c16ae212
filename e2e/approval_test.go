package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orgscope/orgscope/store"
)

// approvalPolicy is the example custom policy: the built-in rules, and
// deleting a user only with a person's approval.
func approvalPolicy(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "policy", "examples", "custom.cedar"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "policy.cedar")
	writePolicy(t, file, src)
	return file
}

// ticket is the _meta "orgscope/approval" of a tool error.
type ticket struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// toolAnswer is a tools/call answer with its _meta.
type toolAnswer struct {
	IsError           bool            `json:"isError"`
	StructuredContent json.RawMessage `json:"structuredContent"`
	Content           []struct {
		Text string `json:"text"`
	} `json:"content"`
	Meta struct {
		Approval *ticket `json:"orgscope/approval"`
	} `json:"_meta"`
}

func (a toolAnswer) text() string {
	if len(a.Content) == 0 {
		return ""
	}
	return a.Content[0].Text
}

// callApproved calls a tool with _meta {"orgscope/approval_id": approvalID}
// (none when empty).
// createTempUsers creates temp1@ and temp2@acme.example with token, which
// may create users without an approval, and returns their ids.
func createTempUsers(t *testing.T, s *testServer, token string) []string {
	t.Helper()
	var ids []string
	for _, email := range []string{"temp1@acme.example", "temp2@acme.example"} {
		var u store.User
		r := s.callApproved(t, token, "create_user", map[string]any{"email": email}, "")
		if r.IsError || json.Unmarshal(r.StructuredContent, &u) != nil {
			t.Fatalf("create_user: %s", r.text())
		}
		ids = append(ids, u.ID)
	}
	return ids
}

func (s *testServer) callApproved(t *testing.T, token, tool string, args map[string]any, approvalID string) toolAnswer {
	t.Helper()
	params := map[string]any{"name": tool, "arguments": args}
	if approvalID != "" {
		params["_meta"] = map[string]any{"orgscope/approval_id": approvalID}
	}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params})
	req, _ := http.NewRequest(http.MethodPost, s.Resource, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct {
		Result *toolAnswer `json:"result"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &out) != nil || out.Result == nil {
		t.Fatalf("%s: HTTP %d %s", tool, resp.StatusCode, b)
	}
	return *out.Result
}

// agentFor signs user in for a registered agent (an MCP client acting for
// them) and returns its access token.
func agentFor(t *testing.T, s *testServer, user demoUser, scopes string) string {
	t.Helper()
	f := newFlow(t, s, publicClient(t, s, redirect))
	f.params.Set("scope", scopes)
	q := f.code(user)
	status, tok := f.exchange(q.Get("code"), nil)
	access, _ := tok["access_token"].(string)
	if status != http.StatusOK || access == "" {
		t.Fatalf("exchange: %d %v", status, tok)
	}
	return access
}

// follow follows the redirects of p in the browser, up to n of them.
func (b *httpBrowser) follow(base string, p page, n int) page {
	b.t.Helper()
	for ; n > 0 && (p.status == http.StatusSeeOther || p.status == http.StatusFound); n-- {
		loc := p.header.Get("Location")
		if strings.HasPrefix(loc, "/") {
			loc = base + loc
		}
		p = b.get(loc)
	}
	return p
}

// openApproval opens an approval's URL in the browser as a person: the
// console sends them to the issuer's sign-in, they sign in and allow, and
// land back on the approval page.
func (b *httpBrowser) openApproval(s *testServer, approvalURL string, user demoUser) page {
	b.t.Helper()
	p := b.get(approvalURL)
	if p.status == http.StatusOK {
		return p // signed in already
	}
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), s.URL+"/oauth2/authorize?") {
		b.t.Fatalf("an approval page without a session: %d to %q", p.status, p.header.Get("Location"))
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
	return b.follow(s.URL, back, 3)
}

// decideApproval posts the approval page's form.
func (b *httpBrowser) decideApproval(s *testServer, p page, decision string, edit func(url.Values)) page {
	b.t.Helper()
	action, fields := p.formAt(b.t, "/approvals/")
	fields.Set("decision", decision)
	if edit != nil {
		edit(fields)
	}
	return b.post(s.URL+action, fields)
}

// TestApprovalFlow: a call the policy marks for approval is answered with
// a ticket; an administrator signs in through the issuer's own page and
// approves it; the call then runs once, only with the same arguments; a
// denial stops it; members, other sites and agents' tokens decide nothing;
// every step is in the audit trail.
func TestApprovalFlow(t *testing.T) {
	s := startWithPolicy(t, approvalPolicy(t), -1, &syncBuffer{})
	ada, grace := s.Users["ada@acme.example"], s.Users["grace@acme.example"]
	agent := agentFor(t, s, ada, "read:users write:users delete:users")
	st := s.openStore(t)
	victims := createTempUsers(t, s, agent)
	del := func(i int) map[string]any { return map[string]any{"user_id": victims[i]} }

	// 1. The call is refused with a ticket; asking again gives the same one.
	first := s.callApproved(t, agent, "delete_user", del(0), "")
	tk := first.Meta.Approval
	if !first.IsError || tk == nil || tk.URL != s.URL+"/console/approvals/"+tk.ID || time.Until(tk.ExpiresAt) < 10*time.Minute {
		t.Fatalf("delete_user without approval: %+v %q", tk, first.text())
	}
	for _, want := range []string{"needs a person's approval", tk.URL, `"orgscope/approval_id": "` + tk.ID + `"`, "deleting a user cannot be undone"} {
		if !strings.Contains(first.text(), want) {
			t.Errorf("the refusal does not say %q: %s", want, first.text())
		}
	}
	if again := s.callApproved(t, agent, "delete_user", del(0), ""); again.Meta.Approval == nil || again.Meta.Approval.ID != tk.ID {
		t.Errorf("asking again opened another approval: %+v", again.Meta.Approval)
	}
	if r := s.callApproved(t, agent, "delete_user", del(0), tk.ID); !r.IsError || !strings.Contains(r.text(), "still waiting for a person's decision") {
		t.Errorf("use before the decision: %q", r.text())
	}
	raw := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_user","arguments":{"user_id":"` + victims[0] +
		`"},"_meta":{"orgscope/approval_id":5}}}`
	req, _ := http.NewRequest(http.MethodPost, s.Resource, strings.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+agent)
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), "orgscope/approval_id must be the approval's id, a string") {
			t.Errorf("a number as the approval id: %s", body)
		}
	}

	// 2. Neither a member nor an agent's own token may decide.
	member := newHTTPBrowser(t)
	if p := member.openApproval(s, tk.URL, grace); p.status != http.StatusForbidden || !strings.Contains(p.body, "Only an administrator of org_acme") {
		t.Errorf("a member opening the approval: %d %s", p.status, p.errorText())
	}
	impostor := newHTTPBrowser(t)
	consoleURL, _ := url.Parse(s.URL + "/console/")
	impostor.client.Jar.SetCookies(consoleURL, []*http.Cookie{{Name: "orgscope-console", Value: agent, Path: "/console/"}})
	if p := impostor.get(tk.URL); p.status != http.StatusSeeOther || !strings.Contains(p.header.Get("Location"), "/oauth2/authorize") {
		t.Errorf("the agent's token as a console session: %d %q", p.status, p.header.Get("Location"))
	}

	// 3. The administrator sees what is asked, on a page that cannot be
	// framed, and approves; forms from elsewhere are refused.
	admin := newHTTPBrowser(t)
	pg := admin.openApproval(s, tk.URL, ada)
	if pg.status != http.StatusOK {
		t.Fatalf("the approval page: %d %s", pg.status, pg.body)
	}
	for _, want := range []string{"Approve this call?", "E2E agent", "ada@acme.example", "delete_user", victims[0], "delete-with-approval"} {
		if !strings.Contains(pg.body, want) {
			t.Errorf("the approval page does not show %q", want)
		}
	}
	if csp := pg.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || pg.header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("framing headers: %q %q", csp, pg.header.Get("X-Frame-Options"))
	}
	if p := admin.decideApproval(s, pg, "approve", func(f url.Values) { f.Set("csrf", "forged") }); p.status != http.StatusForbidden {
		t.Errorf("a form without the page's CSRF token: %d", p.status)
	}
	action, fields := pg.formAt(t, "/approvals/")
	fields.Set("decision", "approve")
	req, _ = http.NewRequest(http.MethodPost, s.URL+action, strings.NewReader(fields.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	if resp, err := admin.client.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("a form posted from another origin: %v %v", resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}
	done := admin.decideApproval(s, pg, "approve", nil)
	if done.status != http.StatusOK || !strings.Contains(done.body, "Approved. The agent may now repeat its call") {
		t.Fatalf("approve: %d %s", done.status, done.body)
	}

	// 4. The call runs once, with the same arguments only.
	if r := s.callApproved(t, agent, "delete_user", del(1), tk.ID); !r.IsError || !strings.Contains(r.text(), "with other arguments") {
		t.Errorf("another user with the approval: %q", r.text())
	}
	if r := s.callApproved(t, agent, "delete_user", del(0), tk.ID); r.IsError || !strings.Contains(string(r.StructuredContent), `"deleted":true`) {
		t.Fatalf("the approved call: %q %s", r.text(), r.StructuredContent)
	}
	if r := s.callApproved(t, agent, "delete_user", del(0), tk.ID); !r.IsError || !strings.Contains(r.text(), "was used already") {
		t.Errorf("a replay of the approval: %q", r.text())
	}
	if _, err := st.GetUser(t.Context(), "org_acme", victims[0]); err == nil {
		t.Error("the approved deletion did not happen")
	}

	// 5. A denial stops the call.
	second := s.callApproved(t, agent, "delete_user", del(1), "").Meta.Approval
	if second == nil || second.ID == tk.ID {
		t.Fatalf("a second approval: %+v", second)
	}
	if p := admin.decideApproval(s, admin.openApproval(s, second.URL, ada), "deny", nil); p.status != http.StatusOK || !strings.Contains(p.body, "Denied") {
		t.Fatalf("deny: %d %s", p.status, p.body)
	}
	if r := s.callApproved(t, agent, "delete_user", del(1), second.ID); !r.IsError || !strings.Contains(r.text(), "denied by a person") {
		t.Errorf("the denied call: %q", r.text())
	}
	if _, err := st.GetUser(t.Context(), "org_acme", victims[1]); err != nil {
		t.Errorf("the denied deletion happened: %v", err)
	}

	// 6. The audit trail has the asks, the decisions and the approved call.
	events := map[string][]store.AuditEvent{}
	for page := (store.Page{Limit: store.MaxPageSize}); ; {
		evs, next, err := st.ListAuditEvents(t.Context(), "org_acme", store.AuditFilter{}, page)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			events[e.Action] = append(events[e.Action], e)
		}
		if page.Cursor = next; next == "" {
			break
		}
	}
	adaID := ""
	for _, u := range mustUsers(t, st, "org_acme") {
		if u.Email == ada.Email {
			adaID = u.ID
		}
	}
	if got := events["console:approve_call"]; len(got) != 1 || got[0].Target != tk.ID || got[0].Subject != adaID || got[0].Decision != "allow" {
		t.Errorf("approve events: %+v", got)
	}
	if got := events["console:deny_call"]; len(got) != 1 || got[0].Target != second.ID || got[0].Subject != adaID {
		t.Errorf("deny events: %+v", got)
	}
	var asked, approved, refused int
	for _, e := range events["tools/call:delete_user"] {
		switch {
		case e.Decision == "allow" && e.Reason == "approved:"+tk.ID:
			approved++
		case e.Decision == "deny" && e.Reason == "approval_required" && slices.Equal(e.Policies, []string{"delete-with-approval"}):
			asked++
		case e.Decision == "deny" && e.Reason == "approval_refused":
			refused++
		}
	}
	if asked != 3 || approved != 1 || refused != 4 {
		t.Errorf("delete_user events: %d asks, %d approved, %d refused uses; want 3, 1, 4", asked, approved, refused)
	}
	if got := events["console:get_approval"]; len(got) < 3 {
		t.Errorf("approval page views recorded: %d", len(got))
	}
}

func mustUsers(t *testing.T, st store.Store, org string) []store.User {
	t.Helper()
	users, _, err := st.ListUsers(t.Context(), org, store.UserFilter{}, store.Page{Limit: store.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	return users
}
