package auth_test

import (
	"testing"

	"github.com/orgscope/orgscope/auth"
)

func TestResourceMatches(t *testing.T) {
	const res = "https://api.example.com/mcp"
	tests := []struct {
		aud  string
		want bool
	}{
		{"https://api.example.com/mcp", true},
		{"https://api.example.com/mcp/", true},
		{"HTTPS://API.Example.COM/mcp", true},
		{"https://api.example.com:443/mcp", true},
		{"https://api.example.com/MCP", false},
		{"https://api.example.com/mcp2", false},
		{"https://api.example.com/mcp/x", false},
		{"https://api.example.com", false},
		{"http://api.example.com/mcp", false},
		{"https://api.example.com:8443/mcp", false},
		{"https://evil.example.com/mcp", false},
		{"https://api.example.com/mcp?x=1", false},
		{"https://api.example.com/mcp#frag", false},
		{"https://user@api.example.com/mcp", false},
		{"api.example.com/mcp", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := auth.ResourceMatches([]string{tt.aud}, res); got != tt.want {
			t.Errorf("ResourceMatches(%q) = %v, want %v", tt.aud, got, tt.want)
		}
	}
	if !auth.ResourceMatches([]string{"http://127.0.0.1:8080/mcp"}, "http://127.0.0.1:8080/mcp") {
		t.Error("loopback resource refused")
	}
	if auth.ResourceMatches([]string{"http://[::1]:8080/mcp"}, "http://127.0.0.1:8080/mcp") {
		t.Error("different loopback address accepted")
	}
	if auth.ResourceMatches(nil, res) {
		t.Error("empty audience accepted")
	}
}

// FuzzCanonicalResource: the normal form never panics, is idempotent, and
// equal normal forms are what ResourceMatches accepts.
func FuzzCanonicalResource(f *testing.F) {
	for _, s := range []string{"https://a.example/mcp", "HTTP://A:80/x/", "https://[::1]:443/", "http://x/%2F/", "mailto:x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := auth.CanonicalResource(s)
		if !ok {
			return
		}
		c2, ok2 := auth.CanonicalResource(c)
		if !ok2 || c2 != c {
			t.Fatalf("not idempotent: %q -> %q -> %q (%v)", s, c, c2, ok2)
		}
		if !auth.ResourceMatches([]string{s}, c) {
			t.Fatalf("%q does not match its own normal form %q", s, c)
		}
	})
}
