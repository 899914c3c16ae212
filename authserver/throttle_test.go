package authserver_test

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// TestSignInThrottle: after five unsuccessful sign-ins for one email,
// each further attempt must wait a delay that doubles from one second to
// at most a minute. An attempt inside the delay gets the sign-in page again
// with 429 and Retry-After — even with the right password, since neither
// the store nor bcrypt is consulted. Case does not matter, an unknown
// email is treated exactly alike, a success starts the count afresh, and
// every throttling is logged without the email or the password.
func TestSignInThrottle(t *testing.T) {
	f := newFixture(t, nil)
	client, _ := f.registerClient(t, false)
	b := f.browser()
	page := f.loginPage(t, b, client, oauth2.GenerateVerifier())
	attempt := func(email, password string) (int, string, string) {
		resp, body := f.signIn(t, b, page, email, password)
		return resp.StatusCode, resp.Header.Get("Retry-After"), body
	}

	for _, email := range []string{"ada@acme.example", "nobody@acme.example"} {
		t.Run(email, func(t *testing.T) {
			page = f.loginPage(t, b, client, oauth2.GenerateVerifier()) // a sign-in lives ten minutes
			for i := range 6 {
				variant := email
				if i%2 == 1 {
					variant = strings.ToUpper(email)
				}
				if status, _, body := attempt(variant, "wrong password "+strconv.Itoa(i)); status != http.StatusUnauthorized {
					t.Fatalf("attempt %d: %d %s", i+1, status, alertOf(body))
				}
			}
			// Inside the delay: refused before the password is looked at.
			lookups := f.st.credentialLookups.Load()
			status, retry, body := attempt(email, adaPassword)
			if status != http.StatusTooManyRequests || retry != "1" || !strings.Contains(alertOf(body), "Wait 1 seconds") ||
				!strings.Contains(body, `name="request"`) {
				t.Fatalf("attempt 7: %d Retry-After %q %s", status, retry, alertOf(body))
			}
			if n := f.st.credentialLookups.Load() - lookups; n != 0 {
				t.Errorf("a throttled attempt read the store %d times", n)
			}
			// The delay doubles, up to a minute.
			var delays []string
			for range 8 {
				f.clock.Advance(time.Minute)
				if status, _, _ := attempt(email, "still wrong"); status != http.StatusUnauthorized {
					t.Fatalf("after the delay: %d", status)
				}
				_, retry, _ := attempt(email, "still wrong")
				delays = append(delays, retry)
			}
			if got := strings.Join(delays, " "); got != "2 4 8 16 32 60 60 60" {
				t.Errorf("delays %s, want 2 4 8 16 32 60 60 60", got)
			}
		})
	}

	// The right password after the delay signs in and clears the count.
	f.clock.Advance(time.Minute)
	page = f.loginPage(t, b, client, oauth2.GenerateVerifier())
	if status, _, body := attempt("ada@acme.example", adaPassword); status != http.StatusOK {
		t.Fatalf("right password after the delay: %d %s", status, alertOf(body))
	}
	page = f.loginPage(t, b, client, oauth2.GenerateVerifier())
	for i := range 5 {
		if status, _, _ := attempt("ada@acme.example", "wrong again"); status != http.StatusUnauthorized {
			t.Fatalf("attempt %d after a success: %d", i+1, status)
		}
	}

	logs := f.logs.String()
	if n := strings.Count(logs, "sign-in throttled"); n < 2 {
		t.Errorf("%d throttlings logged", n)
	}
	for _, secret := range []string{"ada@acme.example", "nobody@acme.example", "ADA@ACME.EXAMPLE", adaPassword, "still wrong"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains %q", secret)
		}
	}
	if !regexp.MustCompile(`sign-in throttled.* account=[0-9a-f]{16} `).MatchString(logs) {
		t.Errorf("the throttling log line names no hashed account:\n%s", logs)
	}
}

// TestSignInThrottleSameAnswer: a known and an unknown email get the same
// statuses and the same words at every step.
func TestSignInThrottleSameAnswer(t *testing.T) {
	answers := func(email string) []string {
		f := newFixture(t, nil)
		client, _ := f.registerClient(t, false)
		b := f.browser()
		page := f.loginPage(t, b, client, oauth2.GenerateVerifier())
		var out []string
		for range 8 {
			resp, body := f.signIn(t, b, page, email, "wrong password")
			out = append(out, strconv.Itoa(resp.StatusCode)+" "+resp.Header.Get("Retry-After")+" "+alertOf(body))
		}
		return out
	}
	known, unknown := answers("ada@acme.example"), answers("nobody@acme.example")
	if strings.Join(known, "\n") != strings.Join(unknown, "\n") {
		t.Errorf("known email:\n%s\nunknown email:\n%s", strings.Join(known, "\n"), strings.Join(unknown, "\n"))
	}
	if !strings.HasPrefix(known[7], "429 ") {
		t.Errorf("the eighth wrong password was not throttled: %s", known[7])
	}
}
