package authserver

import (
	"errors"
	"net"
	"net/url"
	"slices"
	"strings"
)

// DefaultRedirectSchemes are the private-use URI schemes (RFC 8252 §7.1)
// accepted for redirect URIs besides https and loopback http: those of
// desktop MCP clients that register them. Cursor, for one, registers
// cursor://anysphere.cursor-mcp/oauth/callback next to its https and
// loopback callbacks, and refusing one URI refuses its whole registration.
var DefaultRedirectSchemes = []string{"cursor", "vscode", "vscode-insiders", "windsurf"}

// forbiddenSchemes can never be redirect targets.
var forbiddenSchemes = []string{"javascript", "data", "file", "vbscript", "about", "blob", "ftp", "ws", "wss", "http", "https"}

// checkRedirectURI validates a redirect URI a client registers: https;
// http on a loopback address (RFC 8252 §7.3); or a private-use scheme that
// is reverse-domain style (contains a dot) or in allowedSchemes. No
// fragment, no userinfo. The error says what is wrong without repeating
// the URI (it ends up in error_description); callers say which URI.
func checkRedirectURI(raw string, allowedSchemes []string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return errors.New("is not an absolute URI")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return errors.New("must not have a fragment")
	}
	if u.User != nil {
		return errors.New("must not carry userinfo")
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme == "https":
		if u.Host == "" {
			return errors.New("has no host")
		}
		return nil
	case scheme == "http":
		if !isLoopback(u.Hostname()) {
			return errors.New("uses plain http, which is allowed only for loopback addresses (127.0.0.1, [::1], localhost)")
		}
		return nil
	case slices.Contains(forbiddenSchemes, scheme):
		return errors.New("uses a forbidden scheme")
	case strings.Contains(scheme, ".") || slices.Contains(allowedSchemes, scheme):
		return nil
	}
	return errors.New("must use https, http on a loopback address, or a reverse-domain private-use scheme")
}

// isLoopback reports whether host is a loopback address or "localhost".
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// matchRedirect returns the registered redirect URI that requested names.
// Matching is exact string equality, with one exception from RFC 8252
// §7.3: for http loopback URIs the port may differ, because native apps
// listen on an ephemeral port. An empty request is allowed when exactly
// one URI is registered.
func matchRedirect(registered []string, requested string) (string, bool) {
	if requested == "" {
		if len(registered) == 1 {
			return registered[0], true
		}
		return "", false
	}
	if slices.Contains(registered, requested) {
		return requested, true
	}
	req, err := url.Parse(requested)
	if err != nil || req.Scheme != "http" || !isLoopback(req.Hostname()) || req.Fragment != "" {
		return "", false
	}
	for _, r := range registered {
		reg, err := url.Parse(r)
		if err != nil || reg.Scheme != "http" || !isLoopback(reg.Hostname()) {
			continue
		}
		if reg.Hostname() == req.Hostname() && reg.EscapedPath() == req.EscapedPath() && reg.RawQuery == req.RawQuery {
			return requested, true
		}
	}
	return "", false
}
