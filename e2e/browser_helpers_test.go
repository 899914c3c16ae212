package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// httpBrowser plays a person's browser over plain HTTP: it keeps cookies,
// does not follow redirects (the test reads them), and submits the forms
// the sign-in pages show.
type httpBrowser struct {
	t      *testing.T
	client *http.Client
}

func newHTTPBrowser(t *testing.T) *httpBrowser {
	jar, _ := cookiejar.New(nil)
	return &httpBrowser{t: t, client: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// page is one HTTP answer, body read.
type page struct {
	status int
	header http.Header
	body   string
}

func (b *httpBrowser) get(u string) page {
	b.t.Helper()
	resp, err := b.client.Get(u)
	if err != nil {
		b.t.Fatal(err)
	}
	return readPage(b.t, resp)
}

func (b *httpBrowser) post(u string, form url.Values) page {
	b.t.Helper()
	resp, err := b.client.PostForm(u, form)
	if err != nil {
		b.t.Fatal(err)
	}
	return readPage(b.t, resp)
}

func readPage(t *testing.T, resp *http.Response) page {
	t.Helper()
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="(\w+)" value="([^"]*)">`)
var formAction = regexp.MustCompile(`<form method="post" action="([^"]+)"`)

// form returns the action and hidden fields of the page's form.
func (p page) form(t *testing.T) (string, url.Values) {
	t.Helper()
	m := formAction.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no form on the page (HTTP %d):\n%s", p.status, p.body)
	}
	fields := url.Values{}
	for _, h := range hiddenInput.FindAllStringSubmatch(p.body, -1) {
		fields.Set(h[1], h[2])
	}
	return m[1], fields
}

// formAt returns the action and hidden fields of the page's form whose
// action contains part (a console page has its sign-out form first).
func (p page) formAt(t *testing.T, part string) (string, url.Values) {
	t.Helper()
	for _, m := range formAction.FindAllStringSubmatch(p.body, -1) {
		if strings.Contains(m[1], part) {
			_, fields := p.form(t)
			return m[1], fields
		}
	}
	t.Fatalf("no form posting to %s on the page (HTTP %d):\n%s", part, p.status, p.body)
	return "", nil
}

// errorText returns the alert the page shows, or "".
func (p page) errorText() string {
	m := regexp.MustCompile(`role="alert">([^<]*)<`).FindStringSubmatch(p.body)
	if m == nil {
		return ""
	}
	return m[1]
}

// signIn submits the login form of p with the credentials.
func (b *httpBrowser) signIn(base string, p page, email, password string) page {
	b.t.Helper()
	action, fields := p.form(b.t)
	fields.Set("email", email)
	fields.Set("password", password)
	return b.post(base+action, fields)
}

// decide submits the consent form of p.
func (b *httpBrowser) decide(base string, p page, decision string) page {
	b.t.Helper()
	action, fields := p.form(b.t)
	fields.Set("decision", decision)
	return b.post(base+action, fields)
}

// redirectParams returns the query of the redirect p answers with.
func (p page) redirectParams(t *testing.T) (string, url.Values) {
	t.Helper()
	if p.status != http.StatusSeeOther {
		t.Fatalf("want a 303 redirect, got %d:\n%s", p.status, p.body)
	}
	u, err := url.Parse(p.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	u.RawQuery = ""
	return u.String(), q
}

// registerClient registers a client through RFC 7591.
func registerClient(t *testing.T, s *testServer, metadata map[string]any) (int, map[string]any) {
	t.Helper()
	body, _ := json.Marshal(metadata)
	resp, err := http.Post(s.URL+"/oauth2/register", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// publicClient registers a public client with a loopback redirect URI.
func publicClient(t *testing.T, s *testServer, redirect string) string {
	t.Helper()
	status, out := registerClient(t, s, map[string]any{
		"client_name": "E2E agent", "redirect_uris": []string{redirect},
		"token_endpoint_auth_method": "none", "grant_types": []string{"authorization_code", "refresh_token"},
	})
	if status != http.StatusCreated {
		t.Fatalf("register: %d %v", status, out)
	}
	return out["client_id"].(string)
}

// authorizeURL builds an authorization request.
func authorizeURL(s *testServer, params url.Values) string {
	return s.URL + "/oauth2/authorize?" + params.Encode()
}

func formPost(t *testing.T, u string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(u, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}
