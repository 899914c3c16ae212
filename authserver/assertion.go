package authserver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/internal/clientkeys"
	"github.com/orgscope/orgscope/store"
)

// Clients without a shared secret: private_key_jwt (RFC 7523 §2.2, OpenID
// Connect Core §9). The client signs a short-lived JWT with its private key
// and sends it as client_assertion; the issuer checks it against the public
// keys the client registered — a JWKS kept with it, or a jwks_uri fetched
// with the metadata-document fetcher's guard against server-side request
// forgery — and remembers its jti in the store until it expires, so that
// an assertion works once, on any replica. Every failure is invalid_client
// (RFC 7523 §3.2), 401.

// Bounds of an assertion.
const (
	// MaxAssertionLifetime is how far ahead of now an assertion's exp may
	// be: it is meant for one request.
	MaxAssertionLifetime = 5 * time.Minute
	// AssertionSkew is the clock skew allowed on exp, nbf and iat.
	AssertionSkew = 30 * time.Second
	// maxAssertionJTI bounds the jti kept for each assertion.
	maxAssertionJTI = 256
)

// How long the keys fetched from a client's jwks_uri are used before they
// are fetched again, and the least time between two fetches caused by
// assertions whose kid is unknown (a key the client has just added).
const (
	ClientKeysRefresh  = 5 * time.Minute
	ClientKeysCooldown = 30 * time.Second
	// clientKeySetsCached bounds the jwks_uris whose keys are kept.
	clientKeySetsCached = 1000
)

// assertionAlgorithms is clientkeys.Algorithms as go-jose values: parsing
// refuses any other alg, none and HMAC among them.
var assertionAlgorithms = func() []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, len(clientkeys.Algorithms))
	for i, a := range clientkeys.Algorithms {
		out[i] = jose.SignatureAlgorithm(a)
	}
	return out
}()

// clientAssertion is a client_assertion as read from a request: parsed,
// its claims read but not yet verified.
type clientAssertion struct {
	raw    string
	token  *jwt.JSONWebToken
	alg    string
	kid    string
	claims jwt.Claims
}

// clientKeys are where a client's public keys are: a JWKS kept with it or
// a jwks_uri. Alg, when set, is the one algorithm its assertions may use
// (a metadata document's token_endpoint_auth_signing_alg).
type clientKeys struct {
	jwks    json.RawMessage
	jwksURI string
	alg     string
}

func (k clientKeys) present() bool { return len(k.jwks) > 0 || k.jwksURI != "" }

// errInvalidAssertion is invalid_client with a description of what is
// wrong with the assertion itself; it is only given for what the
// assertion says, never for what the issuer knows of the client, so that
// it tells nobody which clients exist.
func errInvalidAssertion(desc string) *oauthError {
	return &oauthError{status: http.StatusUnauthorized, code: "invalid_client", description: desc}
}

// readAssertion reads client_assertion_type and client_assertion (RFC 7521
// §4.2): the type must be RFC 7523's, and the assertion a JWS with one of
// the allowed algorithms whose iss and sub are both the client's id.
func readAssertion(assertionType, raw string) (*clientAssertion, *oauthError) {
	if assertionType != clientkeys.AssertionType {
		return nil, errInvalidAssertion("client_assertion_type must be " + clientkeys.AssertionType)
	}
	if raw == "" {
		return nil, errInvalidAssertion("client_assertion is missing")
	}
	tok, err := jwt.ParseSigned(raw, assertionAlgorithms)
	if err != nil || len(tok.Headers) != 1 {
		return nil, errInvalidAssertion("the client assertion is not a JWT signed with one of " + strings.Join(clientkeys.Algorithms, ", "))
	}
	h := tok.Headers[0]
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != "" && !strings.EqualFold(typ, "JWT") &&
		!strings.EqualFold(typ, clientkeys.HeaderType) {
		return nil, errInvalidAssertion("the client assertion's typ must be JWT or " + clientkeys.HeaderType)
	}
	a := &clientAssertion{raw: raw, token: tok, alg: h.Algorithm, kid: h.KeyID}
	// Read before the signature is checked, to learn whose keys check it;
	// the signature covers these very bytes, so nothing read here is
	// trusted until it has been checked.
	if err := tok.UnsafeClaimsWithoutVerification(&a.claims); err != nil {
		return nil, errInvalidAssertion("the client assertion's claims are not valid")
	}
	if a.claims.Subject == "" || a.claims.Issuer != a.claims.Subject {
		return nil, errInvalidAssertion("the client assertion's iss and sub must both be the client_id")
	}
	return a, nil
}

// checkAssertionClaims checks what an assertion says, before any key is
// read (RFC 7523 §3): one audience, this issuer; an expiry, not past and
// at most MaxAssertionLifetime ahead; nbf and iat not ahead; a jti.
func (s *Server) checkAssertionClaims(ctx context.Context, a *clientAssertion, now time.Time) *oauthError {
	c := a.claims
	if len(c.Audience) != 1 || !s.isAssertionAudience(ctx, c.Audience[0]) {
		return errInvalidAssertion("the client assertion's aud must be this server's issuer identifier, " + s.issuerOf(ctx) +
			" (or its token endpoint), and nothing else")
	}
	switch {
	case c.Expiry == nil:
		return errInvalidAssertion("the client assertion has no exp")
	case !now.Before(c.Expiry.Time().Add(AssertionSkew)):
		return errInvalidAssertion("the client assertion has expired")
	case c.Expiry.Time().After(now.Add(MaxAssertionLifetime + AssertionSkew)):
		return errInvalidAssertion("the client assertion's exp is too far ahead: at most 5 minutes from now")
	case c.NotBefore != nil && c.NotBefore.Time().After(now.Add(AssertionSkew)):
		return errInvalidAssertion("the client assertion is not valid yet (nbf)")
	case c.IssuedAt != nil && c.IssuedAt.Time().After(now.Add(AssertionSkew)):
		return errInvalidAssertion("the client assertion was issued in the future (iat)")
	case c.ID == "":
		return errInvalidAssertion("the client assertion has no jti; every assertion needs a unique one")
	case len(c.ID) > maxAssertionJTI:
		return errInvalidAssertion("the client assertion's jti is longer than 256 characters")
	}
	return nil
}

// isAssertionAudience reports whether aud names this authorization
// server: its issuer identifier (the name the request reached it under, or
// the canonical one) or its token endpoint URL (RFC 7523 §3 allows it, and
// deployed clients send it).
func (s *Server) isAssertionAudience(ctx context.Context, aud string) bool {
	for _, iss := range []string{s.issuerOf(ctx), s.opts.Issuer} {
		if aud == iss || aud == iss+TokenPath {
			return true
		}
	}
	return false
}

// authenticateAssertion is the one check of a client assertion, for every
// endpoint that authenticates clients and every kind of client: the
// claims, then — if the client may authenticate so (usable) and has keys —
// the signature with its keys, then the single use of the jti. cred.id is
// the assertion's sub, and the caller has looked the client up by it; for
// a client that does not exist it passes no keys and usable false, so
// that the answer is the same as for a wrong key.
func (s *Server) authenticateAssertion(ctx context.Context, cred clientCredentials, keys clientKeys, usable bool) *oauthError {
	a := cred.assertion
	if oerr := s.checkAssertionClaims(ctx, a, s.opts.Now()); oerr != nil {
		return oerr
	}
	if !usable || !keys.present() || (keys.alg != "" && a.alg != keys.alg) {
		return errInvalidClient(false)
	}
	if err := s.verifyAssertion(ctx, a, keys); err != nil {
		s.log.InfoContext(ctx, "client assertion refused", "client_id", cred.id, "kid", a.kid, "alg", a.alg, "err", err)
		return errInvalidClient(false)
	}
	err := s.opts.Store.UseClientAssertion(ctx, cred.id, a.claims.ID, a.claims.Expiry.Time().Add(AssertionSkew))
	switch {
	case errors.Is(err, store.ErrReplayed):
		s.log.WarnContext(ctx, "client assertion replayed", "client_id", cred.id)
		return errInvalidAssertion("this client assertion was used already: make a new one, with a new jti, for every request")
	case err != nil:
		return s.storeFailure(ctx, "use client assertion", err)
	}
	return nil
}

// errNoKeyVerifies: none of the client's keys that may verify the
// assertion's algorithm (and kid) does.
var errNoKeyVerifies = errors.New("no key of the client verifies the assertion")

// verifyAssertion checks the assertion's signature with the client's
// keys, each pinned to its JWK alg or key type (auth.KeyAllows).
func (s *Server) verifyAssertion(ctx context.Context, a *clientAssertion, keys clientKeys) error {
	if keys.jwksURI != "" {
		_, err := s.clientKeySets.get(keys.jwksURI).VerifySignature(ctx, a.raw)
		return err
	}
	set, err := clientkeys.ParseSet(keys.jwks)
	if err != nil {
		return err
	}
	for _, key := range set.Keys {
		if (a.kid != "" && key.KeyID != a.kid) || !auth.KeyAllows(key, a.alg) {
			continue
		}
		var c jwt.Claims
		if a.token.Claims(key.Key, &c) == nil {
			return nil
		}
	}
	return errNoKeyVerifies
}

// machineClientByAssertion authenticates a machine client by assertion. A
// client with secrets never authenticates so (one method per client), and
// neither does a disabled one.
func (s *Server) machineClientByAssertion(ctx context.Context, cred clientCredentials) (store.Client, *oauthError) {
	c, err := s.opts.Store.GetClient(ctx, cred.id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Client{}, s.authenticateAssertion(ctx, cred, clientKeys{}, false)
	case err != nil:
		return store.Client{}, s.storeFailure(ctx, "get client", err)
	}
	usable := len(c.Secrets) == 0 && !c.Disabled()
	if oerr := s.authenticateAssertion(ctx, cred, clientKeys{jwks: c.JWKS, jwksURI: c.JWKSURI}, usable); oerr != nil {
		return store.Client{}, oerr
	}
	return c, nil
}

// clientKeySets keeps the keys fetched from clients' jwks_uris, one
// auth.RemoteKeySet per URL: refreshed every ClientKeysRefresh, fetched
// again for an unknown kid at most once per ClientKeysCooldown, kept while
// the URL is unreachable. At most clientKeySetsCached URLs are kept; the
// one used longest ago goes first.
type clientKeySets struct {
	client *http.Client
	now    func() time.Time

	mu   sync.Mutex
	sets map[string]*clientKeySet
}

type clientKeySet struct {
	keys     *auth.RemoteKeySet
	lastUsed time.Time
}

func newClientKeySets(client *http.Client, now func() time.Time) *clientKeySets {
	return &clientKeySets{client: client, now: now, sets: map[string]*clientKeySet{}}
}

func (c *clientKeySets) get(uri string) *auth.RemoteKeySet {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if e, ok := c.sets[uri]; ok {
		e.lastUsed = now
		return e.keys
	}
	if len(c.sets) >= clientKeySetsCached {
		oldest := ""
		for u, e := range c.sets {
			if oldest == "" || e.lastUsed.Before(c.sets[oldest].lastUsed) {
				oldest = u
			}
		}
		delete(c.sets, oldest)
	}
	e := &clientKeySet{lastUsed: now, keys: auth.NewRemoteKeySet(auth.RemoteKeySetOptions{
		JWKSURL: uri, Client: c.client, Refresh: ClientKeysRefresh, Cooldown: ClientKeysCooldown,
		FetchTimeout: cimdTimeout, Now: c.now,
	})}
	c.sets[uri] = e
	return e.keys
}

// slotTransport makes each request hold one of the metadata-document
// fetcher's slots until its body is closed, so that fetches of client keys
// and of metadata documents together stay within cimdMaxInFlight.
type slotTransport struct {
	base  http.RoundTripper
	slots chan struct{}
}

func (t slotTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	wait := time.NewTimer(cimdTimeout)
	defer wait.Stop()
	select {
	case t.slots <- struct{}{}:
	case <-wait.C:
		return nil, errCIMDBusy
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		<-t.slots
		return nil, err
	}
	resp.Body = &releasingBody{ReadCloser: resp.Body, release: sync.OnceFunc(func() { <-t.slots })}
	return resp, nil
}

type releasingBody struct {
	io.ReadCloser
	release func()
}

func (b *releasingBody) Close() error {
	defer b.release()
	return b.ReadCloser.Close()
}

// documentKeys reads the keys of a metadata document that declares
// private_key_jwt: a jwks_uri or a jwks, not both, and optionally the one
// algorithm its assertions use.
func documentKeys(doc *metadataDocument) (clientKeys, error) {
	var keys clientKeys
	if alg := doc.TokenEndpointAuthSigningAlg; alg != "" {
		if !slices.Contains(clientkeys.Algorithms, alg) {
			return keys, errors.New("the client's metadata document asks for a token_endpoint_auth_signing_alg this server does not accept (accepted: " +
				strings.Join(clientkeys.Algorithms, ", ") + ")")
		}
		keys.alg = alg
	}
	hasSet := len(doc.JWKS) > 0 && string(doc.JWKS) != "null"
	switch {
	case doc.JWKSURI != "" && hasSet:
		return keys, errors.New("the client's metadata document gives both jwks_uri and jwks; give one")
	case doc.JWKSURI != "":
		if err := clientkeys.CheckURI(doc.JWKSURI); err != nil {
			return keys, errors.New("the client's metadata document: " + err.Error())
		}
		keys.jwksURI = doc.JWKSURI
	case hasSet:
		set, err := clientkeys.ParseSet(doc.JWKS)
		if err != nil {
			return keys, errors.New("the client's metadata document: " + err.Error())
		}
		if keys.jwks, err = json.Marshal(set); err != nil {
			return keys, err
		}
	default:
		return keys, errors.New("the client's metadata document declares private_key_jwt but gives no jwks_uri or jwks")
	}
	return keys, nil
}
