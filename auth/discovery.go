package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// IssuerMetadata is the part of an issuer's discovery document the
// resource server uses.
type IssuerMetadata struct {
	Issuer                string `json:"issuer"`
	JWKSURI               string `json:"jwks_uri"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
}

// Discover fetches an issuer's metadata: RFC 8414 first
// (/.well-known/oauth-authorization-server, inserted before the issuer's
// path), then OpenID Connect discovery (/.well-known/openid-configuration
// appended to it). The document's issuer must equal the one asked for.
//
// Written here because the libraries fall short for a resource server:
// go-oidc tries OIDC discovery only, and the go-sdk's helper refuses
// issuers whose metadata lists no PKCE methods, which some (Entra ID's
// among them) do not, although PKCE is the client's business, not ours.
func Discover(ctx context.Context, client *http.Client, issuer string) (*IssuerMetadata, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("auth: issuer %q is not an absolute URL", issuer)
	}
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	base := u.Scheme + "://" + u.Host
	candidates := []string{
		base + "/.well-known/oauth-authorization-server" + path,
		base + path + "/.well-known/openid-configuration",
	}
	var errs []string
	for _, c := range candidates {
		m, err := fetchMetadata(ctx, client, c)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if strings.TrimSuffix(m.Issuer, "/") != strings.TrimSuffix(issuer, "/") {
			return nil, fmt.Errorf("auth: %s names issuer %q, not %q", c, m.Issuer, issuer)
		}
		if m.JWKSURI == "" && m.IntrospectionEndpoint == "" {
			return nil, fmt.Errorf("auth: %s lists neither jwks_uri nor introspection_endpoint", c)
		}
		return m, nil
	}
	return nil, fmt.Errorf("%w: discovery of %s: %s", ErrUnavailable, issuer, strings.Join(errs, "; "))
}

func fetchMetadata(ctx context.Context, client *http.Client, u string) (*IssuerMetadata, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", u, resp.StatusCode)
	}
	var m IssuerMetadata
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&m); err != nil {
		return nil, fmt.Errorf("GET %s: %v", u, err)
	}
	return &m, nil
}
