package e2e

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/orgscope/orgscope/internal/testdeps"
)

// browserBudget bounds the whole browser test: the browser is killed when it
// ends, so no step can hang past it.
const browserBudget = 60 * time.Second

// chromiumPath finds Chromium. Without it the test is skipped, except in CI,
// where a missing browser must not pass silently.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if fi, err := os.Stat("/usr/bin/chromium"); err == nil && !fi.IsDir() {
		return "/usr/bin/chromium"
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	testdeps.Missing(t, testdeps.Chromium, "chromium is neither at /usr/bin/chromium nor on the PATH")
	return ""
}

// chromiumFlags start a headless Chromium with a fresh profile that opens
// no connection of its own: on a closed network its background requests
// are refused, and they would slow everything down.
func chromiumFlags(exe, profile string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1024, 768),
	}
}

// startChromium starts one browser for the test and returns its context.
// The browser is stopped when the test ends, and killed after browserBudget
// at the latest.
func startChromium(t *testing.T, exe string) context.Context {
	t.Helper()
	return startChromiumWithin(t, exe, browserBudget)
}

// startChromiumWithin is startChromium with a budget of its own, for a
// test that walks through many pages.
func startChromiumWithin(t *testing.T, exe string, budgetFor time.Duration) context.Context {
	t.Helper()
	profile := t.TempDir() // removed after the browser has exited: cleanups run last-in first-out
	budget, cancelBudget := context.WithTimeout(context.Background(), budgetFor)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(budget, chromiumFlags(exe, profile)...)
	var logMu sync.Mutex
	ended := false
	logf := func(format string, args ...any) { // chromedp logs from its own goroutines
		logMu.Lock()
		defer logMu.Unlock()
		if !ended {
			t.Logf("chromedp: "+format, args...)
		}
	}
	ctx, cancelCtx := chromedp.NewContext(allocCtx, chromedp.WithErrorf(logf))
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc() // waits for the browser process to exit
		cancelBudget()
		logMu.Lock()
		ended = true
		logMu.Unlock()
	})
	firstRun(t, ctx, "start "+exe, 20*time.Second, cancelAlloc)
	return ctx
}

// newTab opens a tab in a fresh browser context (its own cookies), closed
// when the (sub)test ends.
func newTab(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	firstRun(t, ctx, "open a tab", 10*time.Second, cancel)
	return ctx
}

// firstRun runs the first action of a chromedp context, which starts the
// browser or opens the tab and binds its life to the context it is given.
// So it must run with ctx itself, not a shorter-lived child (the tab would
// stop working when the child ends); a start that hangs is caught by a
// timer that cancels ctx.
func firstRun(t *testing.T, ctx context.Context, what string, d time.Duration, cancel context.CancelFunc) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(d):
		cancel()
		t.Fatalf("%s: not done within %v", what, d)
	}
}

// step runs browser actions within d.
func step(t *testing.T, ctx context.Context, what string, d time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// result runs one browser action that returns a value, within d.
func result[T any](t *testing.T, ctx context.Context, what string, d time.Duration, action chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	v, err := chromedp.Run(sctx, action)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// browserConsole collects what a tab writes to its console (page messages,
// uncaught exceptions, and the browser's own log: CSP refusals, failed
// loads), to explain a failure.
type browserConsole struct {
	mu    sync.Mutex
	lines []string
}

func watchConsole(tab context.Context) *browserConsole {
	c := &browserConsole{}
	messages := chromedp.Console(tab) // subscribed from here on
	go func() {
		for m, err := range messages { // ends with the tab
			if err != nil {
				return
			}
			c.mu.Lock()
			c.lines = append(c.lines, fmt.Sprintf("[%s %s] %s", m.Source, m.Type, m.Text))
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *browserConsole) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.lines) == 0 {
		return "(empty)"
	}
	return strings.Join(c.lines, "\n")
}

// clientEndpoint plays the client's side: /callback is its redirect URI, and
// /frame is a page of another origin that frames the URLs it is given.
type clientEndpoint struct {
	*httptest.Server
	mu       sync.Mutex
	received []url.Values
}

func newClientEndpoint(t *testing.T) *clientEndpoint {
	c := &clientEndpoint{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.received = append(c.received, r.URL.Query())
		c.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><html lang="en"><title>done</title><p id="done">done</p></html>`)
	})
	mux.HandleFunc("GET /frame", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		var b strings.Builder
		b.WriteString(`<!doctype html><html lang="en"><title>framer</title>`)
		for _, name := range []string{"target", "control"} {
			fmt.Fprintf(&b, `<iframe name="%s" src="%s" width="600" height="400"></iframe>`, name, html.EscapeString(r.URL.Query().Get(name)))
		}
		b.WriteString(`</html>`)
		io.WriteString(w, b.String())
	})
	c.Server = httptest.NewServer(mux) // on 127.0.0.1
	t.Cleanup(c.Close)
	return c
}

// callbacks returns the queries /callback has received so far.
func (c *clientEndpoint) callbacks() []url.Values {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]url.Values(nil), c.received...)
}

// waitCallback polls until /callback has been called n times in all, and
// returns the query of the nth call, or nil after d.
func (c *clientEndpoint) waitCallback(n int, d time.Duration) url.Values {
	deadline := time.Now().Add(d)
	for {
		if got := c.callbacks(); len(got) >= n {
			return got[n-1]
		}
		if time.Now().After(deadline) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// frameReport is what a child frame shows, read from inside it.
type frameReport struct {
	Name, URL, UnreachableURL string
	LoginForm                 bool   // the frame's document has the login form
	Text                      string // the start of its text
}

// childFrames reads every child frame of the tab's page, each from an
// isolated world inside the frame (its origin differs from the page's, so
// the page itself could not look in).
func childFrames(t *testing.T, ctx context.Context) []frameReport {
	t.Helper()
	return result(t, ctx, "read the frames", 10*time.Second, func(ctx context.Context, tg *chromedp.Target) ([]frameReport, error) {
		tree, err := cdp.Call(ctx, tg, cdppage.GetFrameTree, cdp.Empty{})
		if err != nil {
			return nil, err
		}
		var out []frameReport
		for _, child := range tree.FrameTree.ChildFrames {
			f := child.Frame
			world, err := cdp.Call(ctx, tg, cdppage.CreateIsolatedWorld, cdppage.CreateIsolatedWorldParams{FrameID: f.ID, WorldName: "e2e"})
			if err != nil {
				return nil, fmt.Errorf("isolated world in frame %q: %w", f.Name, err)
			}
			ev, err := cdp.Call(ctx, tg, runtime.Evaluate, runtime.EvaluateParams{
				Expression:    `JSON.stringify({login: !!document.getElementById("email"), text: document.body ? document.body.innerText.slice(0, 200) : ""})`,
				ContextID:     world.ExecutionContextID,
				ReturnByValue: new(true),
			})
			if err != nil {
				return nil, err
			}
			if ev.ExceptionDetails != nil {
				return nil, fmt.Errorf("evaluate in frame %q: %s", f.Name, ev.ExceptionDetails.Text)
			}
			var s string
			if err := json.Unmarshal(ev.Result.Value, &s); err != nil {
				return nil, err
			}
			var v struct {
				Login bool   `json:"login"`
				Text  string `json:"text"`
			}
			if err := json.Unmarshal([]byte(s), &v); err != nil {
				return nil, err
			}
			out = append(out, frameReport{Name: f.Name, URL: f.URL, UnreachableURL: f.UnreachableURL, LoginForm: v.Login, Text: v.Text})
		}
		return out, nil
	})
}

// TestBrowserSignInAndConsent drives the login and consent pages in a real
// headless Chromium: sign in, approve, and land on the client's redirect
// URI with a code that works; a wrong password is shown; the pages cannot
// be framed. The consent page is saved as testdata/artifacts/consent.png.
func TestBrowserSignInAndConsent(t *testing.T) {
	exe := chromiumPath(t)
	s := startServer(t, serverOptions{})
	client := newClientEndpoint(t)
	callback := client.URL + "/callback"
	clientID := publicClient(t, s, callback)
	ada, ok := s.Users["ada@acme.example"]
	if !ok {
		t.Fatalf("no demo user ada@acme.example in the banner:\n%s", s.Stdout)
	}
	browser := startChromium(t, exe)

	// authorization is a PKCE (S256) authorization request that returns
	// to the client endpoint, with a fresh state.
	authorization := func(t *testing.T) *flow {
		f := newFlow(t, s, clientID)
		f.params.Set("redirect_uri", callback)
		f.params.Set("state", rand.Text())
		return f
	}
	const (
		signIn = chromedp.CSS(`form button[type=submit]`)
		allow  = chromedp.CSS(`button[name=decision][value=approve]`)
	)

	t.Run("sign in, approve, land on the redirect with a code", func(t *testing.T) {
		tab := newTab(t, browser)
		console := watchConsole(tab)
		f := authorization(t)
		before := len(client.callbacks())

		step(t, tab, "open the authorization URL", 10*time.Second,
			chromedp.Navigate(authorizeURL(s, f.params)),
			chromedp.WaitVisible(chromedp.ID("email")))
		step(t, tab, "sign in", 10*time.Second,
			chromedp.SendKeys(chromedp.ID("email"), ada.Email),
			chromedp.SendKeys(chromedp.ID("password"), ada.Password),
			chromedp.Click(signIn),
			chromedp.WaitVisible(allow))

		text := result(t, tab, "read the consent page", 5*time.Second, chromedp.Text(chromedp.CSS("main")))
		for _, want := range []string{"Allow access?", "E2E agent", ada.Email, "read:users", "write:users"} {
			if !strings.Contains(text, want) {
				t.Errorf("the consent page does not show %q:\n%s", want, text)
			}
		}
		// The stylesheet loaded despite the CSP: Allow has the accent colour.
		if bg := result(t, tab, "read the Allow button's style", 5*time.Second, chromedp.Evaluate[string](
			`getComputedStyle(document.querySelector("button.primary")).backgroundColor`)); bg != "rgb(79, 70, 229)" {
			t.Errorf("Allow button background %q: is style.css applied?\nconsole:\n%s", bg, console)
		}
		png := result(t, tab, "screenshot the consent page", 10*time.Second, chromedp.FullScreenshot(100))
		dir := filepath.Join("testdata", "artifacts")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		shot, err := filepath.Abs(filepath.Join(dir, "consent.png"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(shot, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("consent page screenshot: %s", shot)

		step(t, tab, "click Allow", 10*time.Second, chromedp.Click(allow))
		q := client.waitCallback(before+1, 10*time.Second)
		if q == nil {
			loc, _ := chromedp.Run(tab, chromedp.Location())
			t.Fatalf("the redirect endpoint was not called within 10s; the browser is at %s\nconsole:\n%s", loc, console)
		}
		if q.Get("code") == "" || q.Get("state") != f.params.Get("state") || q.Get("iss") != s.URL || q.Has("error") {
			t.Fatalf("the redirect carried %v; want a code, state %q and iss %q", q, f.params.Get("state"), s.URL)
		}
		step(t, tab, "show the redirect endpoint's page", 10*time.Second, chromedp.WaitVisible(chromedp.ID("done")))
		final := result(t, tab, "read the browser's URL", 5*time.Second, chromedp.Location())
		if u, err := url.Parse(final); err != nil || u.Scheme+"://"+u.Host+u.Path != callback || u.Query().Get("code") != q.Get("code") {
			t.Errorf("the browser ended on %s, want %s?code=…", final, callback)
		}

		status, tok := f.exchange(q.Get("code"), nil)
		access, _ := tok["access_token"].(string)
		if status != http.StatusOK || access == "" {
			t.Fatalf("exchange: %d %v", status, tok)
		}
		who := s.tool(t, access, "whoami", nil)
		if who.Result == nil || who.Result.IsError {
			t.Fatalf("whoami failed: %+v", who)
		}
		var me map[string]any
		if err := json.Unmarshal(who.Result.StructuredContent, &me); err != nil {
			t.Fatalf("whoami: %v: %s", err, who.Result.StructuredContent)
		}
		if me["org_code"] != "org_acme" {
			t.Errorf("whoami %v, want org_code org_acme", me)
		}
	})

	t.Run("a wrong password shows an error and does not redirect", func(t *testing.T) {
		tab := newTab(t, browser)
		f := authorization(t)
		before := len(client.callbacks())

		step(t, tab, "open the authorization URL", 10*time.Second,
			chromedp.Navigate(authorizeURL(s, f.params)),
			chromedp.WaitVisible(chromedp.ID("email")))
		step(t, tab, "sign in with a wrong password", 10*time.Second,
			chromedp.SendKeys(chromedp.ID("email"), ada.Email),
			chromedp.SendKeys(chromedp.ID("password"), "not-the-password"),
			chromedp.Click(signIn),
			chromedp.WaitVisible(chromedp.CSS(`[role=alert]`)))
		alert := result(t, tab, "read the alert", 5*time.Second, chromedp.Text(chromedp.CSS(`[role=alert]`)))
		if strings.TrimSpace(alert) != "The email or password is incorrect." {
			t.Errorf("alert %q", alert)
		}
		step(t, tab, "the login form is shown again", 5*time.Second, chromedp.WaitVisible(chromedp.ID("password")))
		if loc := result(t, tab, "read the browser's URL", 5*time.Second, chromedp.Location()); !strings.HasPrefix(loc, s.URL+"/oauth2/") {
			t.Errorf("the browser left the server: %s", loc)
		}
		if got := client.callbacks(); len(got) != before {
			t.Errorf("the redirect endpoint was called: %v", got[before:])
		}
	})

	t.Run("the pages cannot be framed", func(t *testing.T) {
		tab := newTab(t, browser)
		console := watchConsole(tab)
		f := authorization(t)
		target := authorizeURL(s, f.params)
		control := s.URL + "/oauth2/assets/style.css" // sent without frame-ancestors: may be framed
		framer := client.URL + "/frame?" + url.Values{"target": {target}, "control": {control}}.Encode()
		step(t, tab, "open a page of another origin that frames the login page", 10*time.Second, chromedp.Navigate(framer))

		// Navigate waited for the frames' load events; still, give a
		// frame that has not committed its document a moment.
		got := map[string]frameReport{}
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			clear(got)
			for _, r := range childFrames(t, tab) {
				got[r.Name] = r
			}
			settled := len(got) == 2
			for _, r := range got {
				settled = settled && r.URL != "" && r.URL != "about:blank"
			}
			if settled || time.Now().After(deadline) {
				break
			}
		}
		// The control shows that a frame of the server's origin does
		// render here and that the frames are read correctly.
		if c := got["control"]; c.URL != control || !strings.Contains(c.Text, ":root") {
			t.Fatalf("the control frame did not render: %+v", c)
		}
		r, ok := got["target"]
		if !ok {
			t.Fatalf("no target frame: %+v", got)
		}
		if r.LoginForm || r.URL == target || r.UnreachableURL != target {
			t.Errorf("the login page rendered in a frame: %+v\nconsole:\n%s", r, console)
		}
		t.Logf("the framed login page was replaced by %s (%q)", r.URL, r.Text)
	})
}
