package authserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document):
// a client whose client_id is an https URL publishes its metadata there, and
// the issuer fetches it instead of keeping a registration. Fetching a URL
// an anonymous party chose is a server-side request forgery risk, so the
// fetcher refuses private, loopback and link-local addresses (checked on
// the address actually dialed, so DNS rebinding cannot slip past), follows
// no redirect to another host, bounds time and size, and caches per the
// response's Cache-Control.

const (
	cimdMaxBytes   = 64 << 10
	cimdTimeout    = 5 * time.Second
	cimdDefaultTTL = 5 * time.Minute
	cimdMaxTTL     = 24 * time.Hour
	cimdCacheSize  = 1000
)

// isMetadataDocumentURL reports whether a client_id names a metadata
// document: an https URL with a path and no fragment.
func isMetadataDocumentURL(clientID string) bool {
	u, err := url.Parse(clientID)
	return err == nil && u.Scheme == "https" && u.Host != "" && u.Path != "" && u.Path != "/" && u.Fragment == ""
}

// metadataDocument is the part of a client's metadata OrgScope reads.
type metadataDocument struct {
	ClientID                string   `json:"client_id"`
	ClientName              string   `json:"client_name"`
	RedirectURIs            []string `json:"redirect_uris"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	Scope                   string   `json:"scope"`
}

// cimdFetcher fetches and caches metadata documents.
type cimdFetcher struct {
	client  *http.Client
	schemes []string // private-use redirect schemes allowed
	now     func() time.Time

	mu    sync.Mutex
	cache map[string]cimdEntry
}

type cimdEntry struct {
	client  *interactiveClient
	expires time.Time
}

// newCIMDFetcher returns a fetcher. base, when non-nil, supplies the
// transport's TLS settings (tests trust their own CA through it);
// allowPrivate lifts the address restriction (development only).
func newCIMDFetcher(base *http.Client, allowPrivate bool, schemes []string, now func() time.Time) *cimdFetcher {
	var transport *http.Transport
	if base != nil {
		if t, ok := base.Transport.(*http.Transport); ok {
			transport = t.Clone()
		}
	}
	if transport == nil {
		transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	transport.Proxy = nil // a proxy would dial on our behalf, past the address check
	dialer := &net.Dialer{Timeout: cimdTimeout}
	if !allowPrivate {
		dialer.Control = refusePrivateAddresses
	}
	transport.DialContext = dialer.DialContext
	return &cimdFetcher{
		client: &http.Client{
			Transport: transport,
			Timeout:   cimdTimeout,
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if len(via) >= 3 {
					return errors.New("too many redirects")
				}
				if req.URL.Scheme != "https" || req.URL.Host != via[0].URL.Host {
					return errors.New("redirect to another host")
				}
				return nil
			},
		},
		schemes: schemes,
		now:     now,
		cache:   map[string]cimdEntry{},
	}
}

// errPrivateAddress is returned when a document's host resolves to an
// address the fetcher may not reach.
var errPrivateAddress = errors.New("the address is private, loopback or link-local")

// refusePrivateAddresses runs on every dial with the resolved address.
func refusePrivateAddresses(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return err
	}
	ip = ip.Unmap()
	if !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() ||
		netip.MustParsePrefix("100.64.0.0/10").Contains(ip) || netip.MustParsePrefix("192.0.0.0/24").Contains(ip) ||
		netip.MustParsePrefix("198.18.0.0/15").Contains(ip) || netip.MustParsePrefix("64:ff9b::/96").Contains(ip) {
		return fmt.Errorf("%s: %w", ip, errPrivateAddress)
	}
	return nil
}

// client returns the client a metadata document describes, from the cache
// or freshly fetched. Errors are safe to show to the user.
func (f *cimdFetcher) get(ctx context.Context, clientID string) (*interactiveClient, error) {
	now := f.now()
	f.mu.Lock()
	e, ok := f.cache[clientID]
	f.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.client, nil
	}

	doc, ttl, err := f.fetch(ctx, clientID)
	if err != nil {
		return nil, err
	}
	c, err := f.validate(clientID, doc)
	if err != nil {
		return nil, err
	}
	if ttl > 0 {
		f.mu.Lock()
		if len(f.cache) >= cimdCacheSize {
			for k, old := range f.cache {
				if !now.Before(old.expires) || len(f.cache) >= cimdCacheSize {
					delete(f.cache, k)
				}
			}
		}
		f.cache[clientID] = cimdEntry{client: c, expires: now.Add(ttl)}
		f.mu.Unlock()
	}
	return c, nil
}

func (f *cimdFetcher) fetch(ctx context.Context, clientID string) (*metadataDocument, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, clientID, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("the client id is not a usable URL")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		if errors.Is(err, errPrivateAddress) {
			return nil, 0, fmt.Errorf("the client's metadata document is on a private, loopback or link-local address, which this server does not fetch from")
		}
		return nil, 0, fmt.Errorf("the client's metadata document could not be fetched")
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("the client's metadata document answered HTTP %d", resp.StatusCode)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return nil, 0, fmt.Errorf("the client's metadata document is not JSON")
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, cimdMaxBytes+1))
	if err != nil {
		return nil, 0, fmt.Errorf("the client's metadata document could not be read")
	}
	if len(body) > cimdMaxBytes {
		return nil, 0, fmt.Errorf("the client's metadata document is larger than %d bytes", cimdMaxBytes)
	}
	var doc metadataDocument
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, 0, fmt.Errorf("the client's metadata document is not valid JSON")
	}
	return &doc, cacheTTL(resp.Header.Get("Cache-Control")), nil
}

// cacheTTL reads max-age (bounded) from Cache-Control; no-store and
// no-cache mean zero, nothing means the default.
func cacheTTL(cc string) time.Duration {
	ttl := cimdDefaultTTL
	for _, d := range strings.Split(cc, ",") {
		d = strings.ToLower(strings.TrimSpace(d))
		switch {
		case d == "no-store" || d == "no-cache":
			return 0
		case strings.HasPrefix(d, "max-age="):
			if secs, err := strconv.Atoi(strings.TrimPrefix(d, "max-age=")); err == nil {
				ttl = min(time.Duration(secs)*time.Second, cimdMaxTTL)
			}
		}
	}
	return ttl
}

// validate checks a document against its URL and OrgScope's rules.
func (f *cimdFetcher) validate(clientID string, doc *metadataDocument) (*interactiveClient, error) {
	if doc.ClientID != clientID {
		return nil, fmt.Errorf("the client's metadata document names client_id %q, not the URL it was fetched from", doc.ClientID)
	}
	if len(doc.RedirectURIs) == 0 {
		return nil, errors.New("the client's metadata document lists no redirect_uris")
	}
	for _, r := range doc.RedirectURIs {
		if err := checkRedirectURI(r, f.schemes); err != nil {
			return nil, fmt.Errorf("the client's metadata document: %v", err)
		}
	}
	if m := doc.TokenEndpointAuthMethod; m != "" && m != "none" {
		return nil, fmt.Errorf("the client's metadata document asks for token_endpoint_auth_method %q; only public clients (none) are supported", m)
	}
	grants := doc.GrantTypes
	if len(grants) == 0 {
		grants = []string{"authorization_code"}
	}
	for _, g := range grants {
		if g != "authorization_code" && g != "refresh_token" {
			return nil, fmt.Errorf("the client's metadata document asks for grant type %q, which a self-described client may not use", g)
		}
	}
	u, _ := url.Parse(clientID)
	name := strings.TrimSpace(doc.ClientName)
	if name == "" {
		name = u.Host
	}
	return &interactiveClient{
		ID:           clientID,
		Name:         name,
		Label:        u.Host,
		RedirectURIs: slices.Clone(doc.RedirectURIs),
		GrantTypes:   grants,
		LocalOnly:    localOnly(doc.RedirectURIs),
	}, nil
}
