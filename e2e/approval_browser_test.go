package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/orgscope/orgscope/store"
)

// TestBrowserApproval drives the approval page in a real headless
// Chromium: the agent's ticket URL opens the issuer's sign-in, the
// administrator signs in and allows the console, sees the call and
// approves it (the agent's call then runs) or denies it (it does not).
// The approval page is saved as testdata/artifacts/approval.png.
func TestBrowserApproval(t *testing.T) {
	exe := chromiumPath(t)
	s := startWithPolicy(t, approvalPolicy(t), -1, &syncBuffer{})
	ada := s.Users["ada@acme.example"]
	agent := agentFor(t, s, ada, "read:users write:users delete:users")
	st := s.openStore(t)
	newVictim := func(email string) string {
		var u store.User
		r := s.callApproved(t, agent, "create_user", map[string]any{"email": email}, "")
		if r.IsError || json.Unmarshal(r.StructuredContent, &u) != nil {
			t.Fatalf("create_user: %s", r.text())
		}
		return u.ID
	}
	browser := startChromium(t, exe)

	const (
		signIn    = chromedp.CSS(`form button[type=submit]`)
		allow     = chromedp.CSS(`button[name=decision][value=approve]`)
		approve   = chromedp.CSS(`form[action^="/console/approvals/"] button[value=approve]`)
		deny      = chromedp.CSS(`form[action^="/console/approvals/"] button[value=deny]`)
		shownTool = chromedp.ID("tool")
	)
	for _, tc := range []struct {
		name, decision string
		button         chromedp.CSS
		notice         string
	}{
		{"approve", "approve", approve, "Approved. The agent may now repeat its call"},
		{"deny", "deny", deny, "Denied. The call will not run."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			victim := newVictim(tc.name + "@acme.example")
			ask := s.callApproved(t, agent, "delete_user", map[string]any{"user_id": victim}, "")
			tk := ask.Meta.Approval
			if tk == nil {
				t.Fatalf("no ticket: %s", ask.text())
			}
			tab := newTab(t, browser)
			console := watchConsole(tab)
			step(t, tab, "open the approval link", 10*time.Second,
				chromedp.Navigate(tk.URL),
				chromedp.WaitVisible(chromedp.ID("email")))
			if loc := result(t, tab, "read the URL", 5*time.Second, chromedp.Location()); !strings.HasPrefix(loc, s.URL+"/oauth2/authorize?") {
				t.Errorf("the link led to %s, want the issuer's sign-in", loc)
			}
			step(t, tab, "sign in", 10*time.Second,
				chromedp.SendKeys(chromedp.ID("email"), ada.Email),
				chromedp.SendKeys(chromedp.ID("password"), ada.Password),
				chromedp.Click(signIn),
				chromedp.WaitVisible(allow))
			step(t, tab, "allow the console", 10*time.Second,
				chromedp.Click(allow),
				chromedp.WaitVisible(shownTool))
			if loc := result(t, tab, "read the URL", 5*time.Second, chromedp.Location()); loc != tk.URL {
				t.Errorf("after sign-in the browser is at %s, want %s", loc, tk.URL)
			}
			text := result(t, tab, "read the approval page", 5*time.Second, chromedp.Text(chromedp.CSS("main")))
			for _, want := range []string{"Approve this call?", "E2E agent", ada.Email, "delete_user", victim, "delete-with-approval"} {
				if !strings.Contains(text, want) {
					t.Errorf("the approval page does not show %q:\n%s", want, text)
				}
			}
			if bg := result(t, tab, "read the Approve button's style", 5*time.Second, chromedp.Evaluate[string](
				`getComputedStyle(document.querySelector("button.primary")).backgroundColor`)); bg != "rgb(79, 70, 229)" {
				t.Errorf("Approve button background %q: is the stylesheet applied?\nconsole:\n%s", bg, console)
			}
			if tc.name == "approve" {
				png := result(t, tab, "screenshot the approval page", 10*time.Second, chromedp.FullScreenshot(100))
				dir := filepath.Join("testdata", "artifacts")
				if err := os.MkdirAll(dir, 0o755); err == nil {
					os.WriteFile(filepath.Join(dir, "approval.png"), png, 0o644)
				}
			}
			step(t, tab, "click "+tc.name, 10*time.Second,
				chromedp.Click(tc.button),
				chromedp.WaitVisible(chromedp.ID("notice")))
			notice := result(t, tab, "read the notice", 5*time.Second, chromedp.Text(chromedp.ID("notice")))
			if !strings.Contains(notice, tc.notice) {
				t.Errorf("notice %q, want %q\nconsole:\n%s", notice, tc.notice, console)
			}

			r := s.callApproved(t, agent, "delete_user", map[string]any{"user_id": victim}, tk.ID)
			_, err := st.GetUser(t.Context(), "org_acme", victim)
			switch tc.decision {
			case "approve":
				if r.IsError || err == nil {
					t.Errorf("the approved call: %q; user still there: %v", r.text(), err == nil)
				}
			case "deny":
				if !r.IsError || !strings.Contains(r.text(), "denied") || err != nil {
					t.Errorf("the denied call: %q; user gone: %v", r.text(), err != nil)
				}
			}
		})
	}
}
