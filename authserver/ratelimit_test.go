package authserver_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/orgscope/orgscope/authserver"
)

// TestRateLimitPerAddress: every endpoint under /oauth2/, GET
// /authorize included, spends the client address's budget; over it the
// OAuth endpoints answer 429 with OAuth JSON and the pages the error page,
// both with Retry-After. Other addresses are not affected, an IPv6
// address shares its /64's budget, and the budget refills with time.
func TestRateLimitPerAddress(t *testing.T) {
	f := newFixture(t, func(o *authserver.Options) { o.RateLimit = authserver.RateLimit{PerSecond: 1, Burst: 2} })
	const a, b = "192.0.2.1:1000", "192.0.2.2:1000"
	token := func(addr string) *httptest.ResponseRecorder {
		rec, _ := f.post(authserver.TokenPath, addr, url.Values{"grant_type": {"client_credentials"}})
		return rec
	}
	authorize := authserver.AuthorizePath + "?" + authorizeQuery("no-such-client", oauth2.GenerateVerifier()).Encode()

	for i := range 2 {
		if rec := token(a); rec.Code == http.StatusTooManyRequests {
			t.Fatalf("request %d within the burst was limited", i+1)
		}
	}
	rec, body := f.post(authserver.TokenPath, a, url.Values{"grant_type": {"client_credentials"}})
	if rec.Code != http.StatusTooManyRequests || body["error"] != "temporarily_unavailable" || body["error_description"] == nil ||
		rec.Header().Get("Retry-After") != "1" || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("over the limit at the token endpoint: %d %v %v", rec.Code, rec.Header(), body)
	}
	page := f.serve(http.MethodGet, authorize, a, "", nil)
	if page.Code != http.StatusTooManyRequests || page.Header().Get("Retry-After") == "" ||
		!strings.HasPrefix(page.Header().Get("Content-Type"), "text/html") || !strings.Contains(alertOf(page.Body.String()), "Too many requests") {
		t.Fatalf("over the limit at the authorization endpoint: %d %v %s", page.Code, page.Header(), page.Body)
	}
	if rec := f.serve(http.MethodGet, authserver.JWKSPath, a, "", nil); rec.Code != http.StatusTooManyRequests {
		t.Errorf("JWKS over the limit: %d", rec.Code)
	}
	if rec := f.serve(http.MethodGet, authserver.AssetsPath+"/style.css", a, "", nil); rec.Code != http.StatusOK {
		t.Errorf("the stylesheet was limited: %d", rec.Code)
	}
	if rec := f.serve(http.MethodGet, authorize, b, "", nil); rec.Code == http.StatusTooManyRequests {
		t.Errorf("another address was limited")
	}

	// IPv6: one /64 is one address.
	for range 2 {
		f.serve(http.MethodGet, authserver.JWKSPath, "[2001:db8:1:2::1]:1", "", nil)
	}
	if rec := f.serve(http.MethodGet, authserver.JWKSPath, "[2001:db8:1:2::ffff]:1", "", nil); rec.Code != http.StatusTooManyRequests {
		t.Errorf("another address of the same /64 was not limited: %d", rec.Code)
	}
	if rec := f.serve(http.MethodGet, authserver.JWKSPath, "[2001:db8:1:3::1]:1", "", nil); rec.Code != http.StatusOK {
		t.Errorf("another /64 was limited: %d", rec.Code)
	}

	f.clock.Advance(time.Second)
	if rec := token(a); rec.Code == http.StatusTooManyRequests {
		t.Errorf("the budget did not refill")
	}
}

// TestRateLimitZeroDisables: without Options.RateLimit nothing is limited.
func TestRateLimitZeroDisables(t *testing.T) {
	f := newFixture(t, nil)
	for i := range 50 {
		if rec := f.serve(http.MethodGet, authserver.JWKSPath, "192.0.2.1:1", "", nil); rec.Code != http.StatusOK {
			t.Fatalf("request %d: %d", i, rec.Code)
		}
	}
}

// TestPendingSignInsPerAddress: one address may have twenty unfinished
// sign-ins at once; the next is refused (429 page with Retry-After) until
// one finishes or expires. HEAD keeps nothing and counts for nothing.
func TestPendingSignInsPerAddress(t *testing.T) {
	f := newFixture(t, nil)
	client, _ := f.registerClient(t, false)
	authorize := func(method, addr string) int {
		q := authorizeQuery(client, oauth2.GenerateVerifier())
		return f.serve(method, authserver.AuthorizePath+"?"+q.Encode(), addr, "", nil).Code
	}
	const loopback = "127.0.0.1:5000" // the address the fixture's browsers come from
	for range 30 {
		if code := authorize(http.MethodHead, loopback); code != http.StatusOK {
			t.Fatalf("HEAD: %d", code)
		}
	}
	for i := range authserver.DefaultPendingSignInsPerAddress - 1 {
		if code := authorize(http.MethodGet, loopback); code != http.StatusOK {
			t.Fatalf("sign-in %d: %d", i+1, code)
		}
	}
	// The twentieth is finished by a person (denied, which finishes it too).
	b := f.browser()
	_, consent := f.signIn(t, b, f.loginPage(t, b, client, oauth2.GenerateVerifier()), "ada@acme.example", adaPassword)
	resp, err := b.PostForm(f.srv.URL+authserver.ConsentPath, formOf(t, consent, "decision", "deny"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("deny: %d", resp.StatusCode)
	}
	if code := authorize(http.MethodGet, loopback); code != http.StatusOK {
		t.Fatalf("a finished sign-in did not free its place: %d", code)
	}
	q := authorizeQuery(client, oauth2.GenerateVerifier())
	rec := f.serve(http.MethodGet, authserver.AuthorizePath+"?"+q.Encode(), loopback, "", nil)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" || !strings.Contains(alertOf(rec.Body.String()), "not finished") {
		t.Fatalf("sign-in 21: %d %v %s", rec.Code, rec.Header(), alertOf(rec.Body.String()))
	}
	if code := authorize(http.MethodGet, "192.0.2.9:1"); code != http.StatusOK {
		t.Errorf("another address was refused: %d", code)
	}
	f.clock.Advance(10*time.Minute + time.Second)
	if code := authorize(http.MethodGet, loopback); code != http.StatusOK {
		t.Errorf("expired sign-ins still count: %d", code)
	}
}

// TestRegistrationsPerAddress: ten registrations an hour per address; the
// eleventh is refused with RFC 7591 error JSON and Retry-After. Refused
// registrations do not count.
func TestRegistrationsPerAddress(t *testing.T) {
	f := newFixture(t, nil)
	good := map[string]any{"client_name": "x", "redirect_uris": []string{flowRedirect}, "token_endpoint_auth_method": "none"}
	bad := map[string]any{"redirect_uris": []string{"http://evil.example/cb"}}
	const a = "192.0.2.7:1"
	for range 15 {
		if rec, _ := f.register(t, a, bad); rec.Code != http.StatusBadRequest {
			t.Fatalf("invalid registration: %d", rec.Code)
		}
	}
	for i := range authserver.DefaultRegistrationsPerAddress {
		if rec, body := f.register(t, a, good); rec.Code != http.StatusCreated {
			t.Fatalf("registration %d: %d %v", i+1, rec.Code, body)
		}
	}
	rec, body := f.register(t, a, good)
	if rec.Code != http.StatusTooManyRequests || body["error"] != "temporarily_unavailable" || body["error_description"] == nil ||
		rec.Header().Get("Retry-After") != "3600" || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("registration 11: %d %v %v", rec.Code, rec.Header(), body)
	}
	if rec, _ := f.register(t, "192.0.2.8:1", good); rec.Code != http.StatusCreated {
		t.Errorf("another address: %d", rec.Code)
	}
	f.clock.Advance(time.Hour)
	if rec, _ := f.register(t, a, good); rec.Code != http.StatusCreated {
		t.Errorf("an hour later: %d", rec.Code)
	}
}
