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

	"golang.org/x/sync/singleflight"

	"github.com/orgscope/orgscope/internal/clientkeys"
)

// Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document):
// a client whose client_id is an https URL publishes its metadata there, and
// the issuer fetches it instead of keeping a registration. Fetching a URL
// an anonymous party chose is a server-side request forgery risk, so the
// fetcher refuses private, loopback and link-local addresses (checked on
// the address actually dialed, so DNS rebinding cannot slip past), follows
// no redirect to another host, bounds time and size, and caches per the
// response's Cache-Control.
//
// It is also an amplifier: every authorization request naming a new URL
// would cost an outbound fetch. So failures are remembered too (for
// cimdFailureTTL), the cache is bounded, requests for one URL share one
// fetch, and at most cimdMaxInFlight fetches run at once.

const (
	cimdMaxBytes   = 64 << 10
	cimdTimeout    = 5 * time.Second
	cimdDefaultTTL = 5 * time.Minute
	cimdMaxTTL     = 24 * time.Hour
	cimdCacheSize  = 1000
	// cimdFailureTTL is how long a document that could not be fetched or
	// used is answered from memory before it is tried again.
	cimdFailureTTL = time.Minute
	// cimdMaxInFlight bounds the fetches running at once, over all URLs;
	// a request that finds no free slot within cimdTimeout is refused.
	cimdMaxInFlight = 8
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
	// For private_key_jwt: where the client's public keys are, and the
	// algorithm it signs with.
	JWKSURI                     string          `json:"jwks_uri"`
	JWKS                        json.RawMessage `json:"jwks"`
	TokenEndpointAuthSigningAlg string          `json:"token_endpoint_auth_signing_alg"`
}

// cimdFetcher fetches and caches metadata documents.
type cimdFetcher struct {
	client  *http.Client
	schemes []string // private-use redirect schemes allowed
	now     func() time.Time

	inFlight chan struct{} // one token per running fetch
	group    singleflight.Group

	mu    sync.Mutex
	cache map[string]cimdEntry
}

// cimdEntry is a cached answer: a client, or the error its document gave.
type cimdEntry struct {
	client  *interactiveClient
	err     error
	expires time.Time
}

// errCIMDBusy is returned when no fetch slot freed up in time; it is not
// the document's fault, so it is not remembered.
var errCIMDBusy = errors.New("too many client metadata documents are being fetched right now; try again shortly")

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
		schemes:  schemes,
		now:      now,
		inFlight: make(chan struct{}, cimdMaxInFlight),
		cache:    map[string]cimdEntry{},
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

// get returns the client a metadata document describes, from the cache
// or freshly fetched. Errors are safe to show to the user.
func (f *cimdFetcher) get(ctx context.Context, clientID string) (*interactiveClient, error) {
	if e, ok := f.cached(clientID); ok {
		return e.client, e.err
	}
	// Concurrent requests for one URL share one fetch, which runs on its
	// own clock: one caller giving up does not fail the others.
	ch := f.group.DoChan(clientID, func() (any, error) {
		if e, ok := f.cached(clientID); ok {
			return e, nil
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*cimdTimeout)
		defer cancel()
		c, ttl, err := f.load(fctx, clientID)
		if errors.Is(err, errCIMDBusy) {
			return nil, err
		}
		e := cimdEntry{client: c, err: err}
		if err != nil {
			ttl = cimdFailureTTL
		}
		f.remember(clientID, e, ttl)
		return e, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		e := res.Val.(cimdEntry)
		return e.client, e.err
	case <-ctx.Done():
		return nil, errors.New("the request ended before the client's metadata document was fetched")
	}
}

// cached returns a live cache entry.
func (f *cimdFetcher) cached(clientID string) (cimdEntry, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.cache[clientID]
	return e, ok && f.now().Before(e.expires)
}

// remember caches an entry for ttl (not at all for zero), keeping the
// cache within cimdCacheSize: expired entries go first, then the entry
// closest to expiring.
func (f *cimdFetcher) remember(clientID string, e cimdEntry, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	now := f.now()
	e.expires = now.Add(ttl)
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.cache[clientID]; !ok && len(f.cache) >= cimdCacheSize {
		soonest := ""
		for k, old := range f.cache {
			if !now.Before(old.expires) {
				delete(f.cache, k)
			} else if soonest == "" || old.expires.Before(f.cache[soonest].expires) {
				soonest = k
			}
		}
		if len(f.cache) >= cimdCacheSize {
			delete(f.cache, soonest)
		}
	}
	f.cache[clientID] = e
}

// load fetches and validates a document, holding one of the fetch slots.
func (f *cimdFetcher) load(ctx context.Context, clientID string) (*interactiveClient, time.Duration, error) {
	wait := time.NewTimer(cimdTimeout)
	defer wait.Stop()
	select {
	case f.inFlight <- struct{}{}:
		defer func() { <-f.inFlight }()
	case <-wait.C:
		return nil, 0, errCIMDBusy
	case <-ctx.Done():
		return nil, 0, errCIMDBusy
	}
	doc, ttl, err := f.fetch(ctx, clientID)
	if err != nil {
		return nil, 0, err
	}
	c, err := f.validate(clientID, doc)
	if err != nil {
		return nil, 0, err
	}
	return c, ttl, nil
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
		return nil, errors.New("the client's metadata document names client_id other than the URL it was fetched from")
	}
	if len(doc.RedirectURIs) == 0 {
		return nil, errors.New("the client's metadata document lists no redirect_uris")
	}
	for i, r := range doc.RedirectURIs {
		if err := checkRedirectURI(r, f.schemes); err != nil {
			return nil, fmt.Errorf("the client's metadata document: redirect_uris[%d] %w", i, err)
		}
	}
	// A document client has no secret: it is public, or it signs
	// assertions with keys it publishes (CIMD §6.2).
	var keys clientKeys
	switch m := doc.TokenEndpointAuthMethod; m {
	case "", "none":
	case clientkeys.Method:
		var err error
		if keys, err = documentKeys(doc); err != nil {
			return nil, err
		}
	default:
		return nil, errors.New("the client's metadata document asks for a token_endpoint_auth_method other than none and private_key_jwt; a client without registration has no secret")
	}
	grants := doc.GrantTypes
	if len(grants) == 0 {
		grants = []string{"authorization_code"}
	}
	for _, g := range grants {
		if g != "authorization_code" && g != "refresh_token" {
			return nil, errors.New("the client's metadata document asks for a grant type other than authorization_code and refresh_token, which a self-described client may not use")
		}
	}
	// The MCP authorization text requires client_name: it is what the
	// person is asked to trust on the consent page.
	name := strings.TrimSpace(doc.ClientName)
	if name == "" {
		return nil, errors.New("the client's metadata document has no client_name")
	}
	u, _ := url.Parse(clientID)
	return &interactiveClient{
		ID:           clientID,
		Name:         name,
		Label:        u.Host,
		RedirectURIs: slices.Clone(doc.RedirectURIs),
		GrantTypes:   grants,
		Keys:         keys,
		LocalOnly:    localOnly(doc.RedirectURIs),
	}, nil
}

// keysClient is the client that fetches clients' jwks_uris: the fetcher's
// own (no proxy, no private addresses unless allowed, redirects only to
// the same host, bounded in time), each request holding one of its slots.
func (f *cimdFetcher) keysClient() *http.Client {
	return &http.Client{
		Transport:     slotTransport{base: f.client.Transport, slots: f.inFlight},
		Timeout:       f.client.Timeout,
		CheckRedirect: f.client.CheckRedirect,
	}
}
