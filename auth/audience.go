package auth

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ResourceMatches reports whether any audience in aud names resource.
//
// The rule: RFC 8707 resource indicators and RFC 9728 resource identifiers
// are absolute URIs without a fragment. Two of them name the same resource
// when they are equal after RFC 3986 §6.2.2–6.2.3 normalisation of the parts
// that are case-insensitive or have a default: the scheme and host are
// compared case-insensitively, a default port (80 for http, 443 for https)
// equals no port, and trailing slashes on the path are ignored (the MCP spec
// asks clients to omit it; some issuers add it). Path, query and userinfo
// must otherwise be identical. Anything that does not parse as an absolute
// http(s) URI matches only itself byte for byte, so the rule fails closed.
func ResourceMatches(aud []string, resource string) bool {
	want, wantOK := CanonicalResource(resource)
	for _, a := range aud {
		if a == resource {
			return true
		}
		if got, ok := CanonicalResource(a); ok && wantOK && got == want {
			return true
		}
	}
	return false
}

// CanonicalResource returns the normal form ResourceMatches compares, and
// false when s is not an absolute http or https URI without a fragment.
func CanonicalResource(s string) (string, bool) {
	u, err := url.Parse(s)
	if err != nil || u.Fragment != "" || u.Opaque != "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" || u.Hostname() == "" {
		return "", false
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if scheme == "http" && port == "80" || scheme == "https" && port == "443" {
		port = ""
	}
	if strings.Contains(host, ":") { // IPv6 literal
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	path := strings.TrimRight(u.EscapedPath(), "/")
	out := scheme + "://"
	if u.User != nil {
		out += u.User.String() + "@"
	}
	out += host + path
	if u.RawQuery != "" || u.ForceQuery {
		out += "?" + u.RawQuery
	}
	return out, true
}

// checkAudience says whether aud can be the audience a verifier expects.
// An http(s) URI must be one CanonicalResource accepts (ResourceMatches
// then normalises); any other absolute URI — Entra ID's api://APP_ID, a
// urn: — is compared byte for byte; a plain string (a client id) only
// when plain is set. None may hold spaces or control characters, and a
// plain string may not look like a URL without its scheme.
func checkAudience(aud string, plain bool) error {
	if aud == "" {
		return errors.New("the audience is empty")
	}
	if strings.IndexFunc(aud, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return fmt.Errorf("audience %q contains a space or control character", aud)
	}
	u, err := url.Parse(aud)
	switch {
	case err == nil && u.IsAbs():
		scheme := strings.ToLower(u.Scheme)
		if scheme == "http" || scheme == "https" {
			if _, ok := CanonicalResource(aud); !ok {
				return fmt.Errorf("audience %q is not an absolute http(s) URI with a host and no fragment", aud)
			}
		} else if u.Fragment != "" {
			return fmt.Errorf("audience %q has a fragment", aud)
		}
		return nil
	case !plain:
		return fmt.Errorf("audience %q is not an absolute URI", aud)
	case strings.Contains(aud, "/"):
		return fmt.Errorf("audience %q looks like a URL without its scheme (https://…?)", aud)
	}
	return nil
}
