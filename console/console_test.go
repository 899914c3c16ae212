package console

import (
	"testing"

	"github.com/orgscope/orgscope/internal/credential"
)

// TestReturnPathStaysInTheConsole: after sign-in the browser goes back only
// to a page of the console, never to another site or another part of this
// one (an open redirect would make the console a phishing relay).
func TestReturnPathStaysInTheConsole(t *testing.T) {
	for p, want := range map[string]bool{
		"/console/approvals/apr_0123": true,
		"/console/":                   true,
		"https://evil.example/":       false,
		"//evil.example/console/":     false,
		"/oauth2/authorize":           false,
		"/console/../oauth2/token":    false,
		"":                            false,
		"javascript:alert(1)":         false,
	} {
		if got := consolePath(p); got != want {
			t.Errorf("consolePath(%q) = %v, want %v", p, got, want)
		}
	}
}

// TestClientIsDerived: replicas with the same signing key derive the same
// console client and secret; another key or public URL gives another.
func TestClientIsDerived(t *testing.T) {
	a, secretA := Client("https://mcp.example.com", []byte("key one"))
	b, secretB := Client("https://mcp.example.com/", []byte("key one"))
	if a.ID != b.ID || secretA != secretB || len(a.Secrets) != 1 || a.Secrets[0].Hash != credential.HashSecret(secretA) {
		t.Fatalf("the same seed: %s/%s", a.ID, b.ID)
	}
	if a.RedirectURIs[0] != "https://mcp.example.com/console/callback" || a.Name != ClientName {
		t.Errorf("client %+v", a)
	}
	for _, other := range []struct{ url, seed string }{{"https://mcp.example.com", "key two"}, {"https://other.example.com", "key one"}} {
		c, secret := Client(other.url, []byte(other.seed))
		if c.ID == a.ID || secret == secretA {
			t.Errorf("%s with %q gives the same client", other.url, other.seed)
		}
	}
}
